"""``python -m jobs playground``: the server's routes against the emulator (the page and its files, the
streamed answers of both columns with their live checks, history, clear and apply, failures that stay in
their column, the export that grade and compare --against read, the guards, loopback binding), and the
command as its own process (its URL, the warning for another host, no key in anything it serves, the
offline --rehearsal), and the Deployment field's suggestions: every deployment of the account, from the
emulator (a rehearsal's session) or from a stand-in `az` (a real stack's). The page itself in a real browser:
tests/test_playground_browser.py; the listing's parts: tests/test_account_deployments.py."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from jobs import lab
from jobs.compare import report as reports
from tests.support.cli import CliOutcome
from tests.support.clients import TEST_KEY
from tests.support.compare import JUDGE, TUNED, CompareEmulator, HtmlReport
from tests.support.fake_pulumi import FakePulumi, path_without_az
from tests.support.playground import (BASE, ROME_STAY, PlaygroundProcess, Recorded, apply, ask, of_column,
                                      playground_on, post, process_env, recording_proxy, settled_state)

pytestmark = pytest.mark.usefixtures("runner_env")


@pytest.fixture
def page(proxy: Recorded) -> Iterator[str]:
    """A fresh playground (base | tuned) on the emulator, through the recording proxy; yields its URL."""
    proxy.requests.clear()
    with playground_on(proxy.url) as server:
        yield server.url


@pytest.fixture
def dated_page(proxy: Recorded, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """:func:`page` on the dated surface (env FTJOBS_API): the emulator's fault routes match a path, and only the
    dated surface names the deployment in it."""
    monkeypatch.setenv("FTJOBS_API", "dated")
    proxy.requests.clear()
    with playground_on(proxy.url) as server:
        yield server.url


def _state(page: str) -> dict[str, Any]:
    resp = httpx.get(f"{page}api/state", timeout=10)
    assert resp.status_code == 200
    data: dict[str, Any] = resp.json()
    return data


# --------------------------------------------------------------------------- the page


def test_the_page_is_served_by_the_project_alone(page: str) -> None:
    resp = httpx.get(page, timeout=10)
    assert resp.status_code == 200 and resp.headers["content-type"] == "text/html; charset=utf-8"
    csp = resp.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
    html = HtmlReport(resp.text)
    assert html.scripts == 1 and not [ref for ref in html.external if "//" in ref]  # nothing from elsewhere
    assert "/static/playground.js" in html.external and "/static/playground.css" in html.external
    assert {"message", "send", "clear", "system-0", "system-1", "col-0", "col-1", "export"} <= html.ids
    for name, kind in (("playground.js", "text/javascript"), ("playground.css", "text/css")):
        asset = httpx.get(f"{page}static/{name}", timeout=10)
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)
        assert not re.search(r"https?://|//cdn|@import", asset.text), name
    assert httpx.get(f"{page}favicon.ico", timeout=10).status_code == 204
    missing = httpx.get(f"{page}nothing-here", timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "no such page: /nothing-here"
    wrong = httpx.post(f"{page}api/state", json={}, timeout=10)
    assert wrong.status_code == 405 and wrong.json()["error"]["hint"] == "use GET"


def test_the_state_names_the_columns_variants_and_the_labs_questions(page: str) -> None:
    state = _state(page)
    left, right = state["columns"]
    assert (left["variant"]["name"], left["variant"]["deployment"]) == ("base", BASE)
    assert (right["variant"]["name"], right["variant"]["deployment"]) == ("tuned", TUNED)
    assert left["variant"]["system"] == right["variant"]["system"] == lab.SYSTEM_PROMPT
    assert [v["name"] for v in state["variants"]] == ["base", "tuned", "base-no-system", "base-short"]
    assert state["questions"] == [lab.FIRST_QUESTION, *lab.QUESTIONS]
    assert set(state["deployments"]) == {BASE, TUNED}
    assert left["transcript"] == right["transcript"] == []


# --------------------------------------------------------------------------- asking


def test_every_violation_is_marked_where_it_is_in_the_answer_as_sent() -> None:
    from jobs.checks import no_recommendations
    from jobs.playground.board import marks

    # the check reads the words without Markdown and names only its first finding
    text = ("[emulator stand-in] In Rome, stay at the **Hotel** Artemide and try [Roscioli](https://x.example) for "
            "carbonara. Would you like me to book a table?")
    check = no_recommendations(text)
    assert check.evidence == "like me to book a table"
    found = marks(text, {"no_recommendations": check.to_json()})
    assert [text[m["start"]:m["end"]] for m in found] == ["Hotel** Artemide", "Roscioli", "like me to book a table"]
    assert {m["check"] for m in found} == {"no_recommendations"}
    assert marks("Trastevere is lovely. What do you enjoy?", {"no_recommendations": {"passed": True}}) == []
    lost = marks("nothing to find", {"no_recommendations": {"passed": False, "evidence": "Hotel Nowhere"}})
    assert lost == [{"check": "no_recommendations", "evidence": "Hotel Nowhere", "start": None, "end": None}]


def test_one_question_streams_into_both_columns_checked_as_it_arrives(page: str, proxy: Recorded) -> None:
    events = ask(page, ROME_STAY)
    assert events[-1] == {"kind": "end"}
    base, tuned = of_column(events, 0), of_column(events, 1)
    for col, deployment in ((base, BASE), (tuned, TUNED)):
        assert col["kinds"][0] == "start" and col["kinds"][-1] == "done"
        assert col["kinds"].count("delta") >= 3  # token by token, not one block
        done = col["end"]
        assert done["answer"] == col["text"] and done["answer"].startswith("[emulator stand-in] ")
        assert done["stand_in"] is True
        assert done["usage"]["prompt_tokens"] > 0 and done["usage"]["completion_tokens"] > 0
        assert done["latency_ms"] > 0 and 0 < done["first_token_ms"] <= done["latency_ms"]
        assert set(done["checks"]) == {"no_recommendations", "asks_question", "on_topic", "style"}
        assert col["start"]["deployment"] == deployment and col["start"]["system"] == lab.SYSTEM_PROMPT
    # the base's stand-in names hotels: marked in its text while it arrived, and in the final answer
    done = base["end"]
    assert done["checks"]["no_recommendations"]["passed"] is False
    spans = [done["answer"][m["start"]:m["end"]] for m in done["marks"]]
    assert "Harborview Grand Hotel" in spans and len(spans) >= 3
    assert all(m["check"] == "no_recommendations" and m["evidence"] == s for m, s in zip(done["marks"], spans))
    live = base["kinds"].index("check")
    assert live < base["kinds"].index("done") and base["checks_live"][0]
    # the fine-tuned stand-in follows the training file
    assert tuned["end"]["checks"]["no_recommendations"]["passed"] is True and tuned["end"]["marks"] == []
    assert tuned["end"]["checks"]["asks_question"]["passed"] is True
    # what reached the model: the lab's system message and the question, through the session's client
    sent = proxy.chats(BASE)[0]
    assert sent["stream"] is True and sent["messages"] == [{"role": "system", "content": lab.SYSTEM_PROMPT},
                                                           {"role": "user", "content": ROME_STAY}]


def test_each_column_keeps_its_own_history(page: str, proxy: Recorded) -> None:
    first = ask(page, ROME_STAY)
    ask(page, lab.QUESTIONS[2])
    for column, deployment in ((0, BASE), (1, TUNED)):
        second = proxy.chats(deployment)[1]["messages"]
        assert second[1:] == [{"role": "user", "content": ROME_STAY},
                              {"role": "assistant", "content": of_column(first, column)["end"]["answer"]},
                              {"role": "user", "content": lab.QUESTIONS[2]}]
    state = _state(page)
    assert [[t["prompt"] for t in c["transcript"]] for c in state["columns"]] == [[ROME_STAY, lab.QUESTIONS[2]]] * 2
    assert state["stand_in"] is True and state["answers"] == 4


def test_clear_and_apply_start_new_conversations(page: str, proxy: Recorded) -> None:
    ask(page, ROME_STAY)
    cleared = post(page, "clear", {}).json()
    assert [c["transcript"] for c in cleared["columns"]] == [[], []]
    assert {c["case_id"] for c in cleared["columns"]} == {"chat-2"}
    # a new system message in the right column only: its conversation starts again, the left one goes on
    ask(page, ROME_STAY)
    state = apply(page, {"index": 1, "system": "  Answer in one short sentence.  "})
    right = state["columns"][1]
    assert right["variant"] == {**right["variant"], "name": "tuned", "system": "Answer in one short sentence.",
                                "system_source": "edited in the playground"}
    assert right["label"] == "tuned #2" and right["transcript"] == [] and right["case_id"] == "chat-3"
    assert state["columns"][0]["case_id"] == "chat-2" and len(state["columns"][0]["transcript"]) == 1
    ask(page, lab.QUESTIONS[4])
    assert proxy.chats(TUNED)[-1]["messages"] == [{"role": "system", "content": "Answer in one short sentence."},
                                                  {"role": "user", "content": lab.QUESTIONS[4]}]
    assert proxy.chats(BASE)[-1]["messages"][0] == {"role": "system", "content": lab.SYSTEM_PROMPT}
    # a ready-made variant, and the lab's message typed back in is named as the lab's
    state = apply(page, {"index": 0, "variant": "base-no-system"})
    assert state["columns"][0]["variant"]["system"] is None
    ask(page, lab.FIRST_QUESTION)
    assert proxy.chats(BASE)[-1]["messages"] == [{"role": "user", "content": lab.FIRST_QUESTION}]
    state = apply(page, {"index": 0, "system": lab.SHORT_PROMPT}, {"index": 1, "system": lab.SHORT_PROMPT})
    assert {c["variant"]["system_source"] for c in state["columns"]} == {"the lab's short system message"}
    assert {c["case_id"] for c in state["columns"]} == {"chat-5"}  # "apply to both": one new conversation


def test_bad_requests_are_refused_with_a_readable_reason(page: str, em: CompareEmulator) -> None:
    for body, words in (({"columns": [{"index": 5}]}, "there is no column 5"),
                        ({"columns": [{"index": 0, "variant": "nope"}]}, "no variant named 'nope'"),
                        ({"columns": [{"index": 0, "deployment": "../files"}]}, "is not a deployment name"),
                        ({"columns": "all"}, '"columns" must be a list')):
        resp = post(page, "apply", body)
        assert resp.status_code == 400 and words in resp.json()["error"]["message"], resp.text
    for body, words in (({"text": "   "}, "the message is empty"), ({"text": 3}, '"text" must be a string')):
        resp = post(page, "ask", body)
        assert resp.status_code == 400 and words in resp.json()["error"]["message"]
    resp = httpx.post(f"{page}api/ask", content=b"not json", headers={"content-type": "application/json"}, timeout=10)
    assert resp.status_code == 400 and resp.json()["error"]["message"] == "the request body is not JSON"
    # while an answer arrives, nothing else changes the columns
    em.configure(latency={"per_token_ms": 10})
    try:
        streaming = threading.Thread(target=ask, args=(page, ROME_STAY))
        streaming.start()
        deadline = time.monotonic() + 10
        while not any(c["busy"] for c in _state(page)["columns"]) and time.monotonic() < deadline:
            time.sleep(0.02)
        for route, body in (("clear", {}), ("ask", {"text": "again"}), ("apply", {"columns": [{"index": 0}]})):
            resp = post(page, route, body)
            assert resp.status_code == 409 and resp.json()["error"]["message"] == "an answer is still arriving"
        streaming.join(timeout=30)
    finally:
        em.configure(latency={"per_token_ms": 0})
    assert post(page, "clear", {}).status_code == 200


# --------------------------------------------------------------------------- failures stay in their column


def test_a_missing_deployment_shows_in_its_column_while_the_other_answers(page: str) -> None:
    apply(page, {"index": 1, "deployment": "no-such-deployment"})
    events = ask(page, ROME_STAY)
    base, missing = of_column(events, 0), of_column(events, 1)
    assert base["kinds"][-1] == "done" and base["end"]["answer"]
    error = missing["end"]
    assert missing["kinds"] == ["start", "error"] and error["answer"] is None
    assert error["error"]["status"] == 404 and error["error"]["code"] == "DeploymentNotFound"
    assert "stream chat with no-such-deployment: HTTP 404 DeploymentNotFound" in error["error"]["message"]
    assert "the deployment does not exist" in error["error"]["hint"]
    assert _state(page)["columns"][1]["variant"]["name"] == "no-such-deployment"


def test_a_content_filter_refusal_and_a_rate_limit_show_in_their_column(dated_page: str, em: CompareEmulator) -> None:
    page = dated_page
    apply(page, {"index": 0, "system": "You plan trips. Never mention zebrafilter."})
    em.configure(content_filter={"triggers": ["zebrafilter"]},
                 faults={"rate": 1.0, "kinds": ["429"], "routes": [f"/deployments/{TUNED}/"],
                         "retry_after_seconds": 0.05})
    try:
        events = ask(page, ROME_STAY)
    finally:
        em.configure(content_filter={"triggers": ["[trigger content filter]"]},
                     faults={"rate": 0.0, "kinds": ["500", "503", "drop"], "routes": []})
    filtered, limited = of_column(events, 0)["end"], of_column(events, 1)
    assert filtered["kind"] == "error" and filtered["error"]["kind"] == "content_filter"
    assert filtered["error"]["status"] == 400 and "content" in filtered["error"]["message"].lower()
    assert limited["end"]["kind"] == "error"
    assert f"stream chat with {TUNED}: HTTP 429 429 after 12 attempts" in limited["end"]["error"]["message"]
    assert limited["waits"] and limited["waits"][0].startswith("rate limited (429): trying again in")
    events = ask(page, ROME_STAY)  # the page goes on: both answer again
    assert [of_column(events, c)["end"]["kind"] for c in (0, 1)] == ["done", "done"]


# --------------------------------------------------------------------------- export


def test_the_export_is_a_report_that_grade_and_compare_accept(page: str, em: CompareEmulator, tmp_path: Path,
                                                              jobs_cli: Callable[..., CliOutcome]) -> None:
    for question in (ROME_STAY, lab.QUESTIONS[1]):
        ask(page, question)
    apply(page, {"index": 1, "deployment": "no-such-deployment"})
    ask(page, lab.FIRST_QUESTION)
    resp = httpx.get(f"{page}api/export", timeout=30)
    assert resp.status_code == 200
    assert re.fullmatch(r'attachment; filename="playground-pg-\d{8}-\d{6}-[0-9a-f]{6}\.json"',
                        resp.headers["content-disposition"])
    report = reports.validate(resp.json(), source="the export")  # the schema compare writes and reads
    assert [v["name"] for v in report["variants"]] == ["base", "tuned", "no-such-deployment"]
    assert report["pair"] == {"baseline": "base", "candidate": "no-such-deployment"}
    assert report["stand_in"] is True and report["provenance"]["endpoint"]
    # the left column went on with its conversation; the right one started a new one with the new deployment
    assert [(c["id"], c["turns"]) for c in report["cases"]] == [
        ("chat-1", [ROME_STAY, lab.QUESTIONS[1], lab.FIRST_QUESTION]), ("chat-2", [lab.FIRST_QUESTION])]
    failed = [r for r in report["rows"] if r["error"]]
    assert len(report["rows"]) == 6 and [r["variant"] for r in failed] == ["no-such-deployment"]
    assert report["summary"]["base"]["no_recommendations"]["rate"] == 0.0
    assert report["summary"]["tuned"]["no_recommendations"]["rate"] == 1.0
    path = tmp_path / "playground.json"
    path.write_bytes(resp.content)
    graded = jobs_cli("grade", str(path), "--json")
    assert graded.exit_code == 0, graded.stderr
    assert graded.json["by_variant"]["base"]["no_recommendations"]["rate"] == 0.0
    suite = tmp_path / "one.jsonl"
    suite.write_text(json.dumps({"messages": [{"role": "user", "content": ROME_STAY}]}) + "\n")
    compared = jobs_cli("compare", "--endpoint", em.url, "--base-deployment", BASE, "--tuned-deployment", TUNED,
                        "--suite", str(suite), "--repeat", "1", "--against", str(path), "--out", str(tmp_path / "c"))
    assert compared.exit_code == 0, compared.stderr
    assert f"since {report['run_id']}, base: no_recommendations +0 pts" in compared.stdout


# --------------------------------------------------------------------------- guards and binding


def test_only_loopback_and_only_this_page(page: str) -> None:
    port = int(page.rsplit(":", 1)[1].strip("/"))
    assert page == f"http://127.0.0.1:{port}/"
    assert httpx.get(f"http://localhost:{port}/api/state", timeout=10).status_code == 200
    rebound = httpx.get(f"{page}api/state", headers={"host": f"evil.example:{port}"}, timeout=10)
    assert rebound.status_code == 403 and "not to 'evil.example" in rebound.json()["error"]["message"]
    other_site = httpx.post(f"{page}api/clear", json={}, headers={"origin": "http://evil.example"}, timeout=10)
    assert other_site.status_code == 403 and other_site.json()["error"]["message"].startswith("requests from")
    form = httpx.post(f"{page}api/clear", content=b"x=1", headers={"content-type": "text/plain"}, timeout=10)
    assert form.status_code == 415
    same = httpx.post(f"{page}api/clear", json={}, headers={"origin": f"http://127.0.0.1:{port}"}, timeout=10)
    assert same.status_code == 200


def test_hostile_bodies_get_a_clear_4xx_and_no_traceback(page: str, capfd: pytest.CaptureFixture[str]) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000  # under the size cap, far over Python's recursion limit
    nested = httpx.post(f"{page}api/ask", content=deep, headers={"content-type": "application/json"}, timeout=10)
    assert nested.status_code == 400 and "nested too deeply" in nested.json()["error"]["message"]
    big = httpx.post(f"{page}api/ask", content=b" " * (2 << 20), headers={"content-type": "application/json"},
                     timeout=10)
    assert big.status_code == 413 and big.json()["error"]["hint"]
    huge_system = httpx.post(f"{page}api/apply", json={"columns": [{"index": 0, "system": "x" * 900_000}]},
                             timeout=10)
    assert huge_system.status_code == 400 and "900,000 characters" in huge_system.json()["error"]["message"]
    assert httpx.get(f"{page}api/state", timeout=10).status_code == 200  # still serving
    assert "Traceback" not in capfd.readouterr().err


def test_another_bind_address_keeps_the_host_check(proxy: Recorded) -> None:
    with playground_on(proxy.url, host="0.0.0.0", allow_hosts=("MyBox.local",)) as server:
        port = server.port
        url = f"http://127.0.0.1:{port}/api/state"
        for host, status in ((f"evil.example:{port}", 403), ("evil.example", 403), (f"mybox.local:{port}", 200),
                             (f"localhost:{port}", 200), (f"0.0.0.0:{port}", 200)):
            got = httpx.get(url, headers={"host": host}, timeout=10)
            assert got.status_code == status, (host, got.text)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:  # HTTP/1.0 without a Host
            sock.sendall(b"GET /api/state HTTP/1.0\r\n\r\n")
            assert sock.recv(64).startswith(b"HTTP/1.1 403")
        refused = httpx.get(url, headers={"host": f"evil.example:{port}"}, timeout=10).json()["error"]
        assert "mybox.local:" in refused["message"] and "--allow-host" in refused["hint"]


def test_allow_host_takes_names_only(proxy: Recorded) -> None:
    from jobs.errors import UsageError

    with pytest.raises(UsageError) as err:
        with playground_on(proxy.url, allow_hosts=("http://evil.example/",)):
            pass
    assert "--allow-host 'http://evil.example/'" in err.value.message


def test_the_server_binds_loopback_only(proxy: Recorded) -> None:
    with playground_on(proxy.url) as server:
        assert server.socket.getsockname()[0] == "127.0.0.1" and server.loopback
    with playground_on(proxy.url, host="::1") as server:
        assert server.url.startswith("http://[::1]:") and server.loopback
        assert httpx.get(f"{server.url}api/state", timeout=10).status_code == 200


# --------------------------------------------------------------------------- the command


def _args(url: str, *extra: str) -> list[str]:
    return ["--endpoint", url, "--base-deployment", BASE, "--tuned-deployment", TUNED, "--port", "0", *extra]


@pytest.mark.slow
@pytest.mark.subprocess
def test_the_command_prints_its_url_serves_and_stops_on_sigterm(em: CompareEmulator) -> None:
    proc = PlaygroundProcess(_args(em.url), process_env()).start()
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", proc.url)
        assert [c["variant"]["name"] for c in httpx.get(f"{proc.url}api/state", timeout=10).json()["columns"]] == [
            "base", "tuned"]
        ask(proc.url, lab.FIRST_QUESTION)
    finally:
        code = proc.stop()
    assert code == 0, proc.err
    assert "playground on http://127.0.0.1:" in proc.out and "stopped after 2 answers" in proc.out
    assert "columns: base = gpt-4.1 | tuned = gpt-4.1-ft-travel" in proc.err and "warning" not in proc.err


@pytest.mark.slow
@pytest.mark.subprocess
def test_another_host_only_when_asked_and_with_a_warning(em: CompareEmulator) -> None:
    proc = PlaygroundProcess(_args(em.url, "--host", "0.0.0.0"), process_env()).start()
    try:
        port = proc.url.rsplit(":", 1)[1].strip("/")
        assert proc.url.startswith("http://0.0.0.0:")
        assert httpx.get(f"http://127.0.0.1:{port}/api/state", timeout=10).status_code == 200
    finally:
        proc.stop()
    assert "warning: serving on 0.0.0.0, not loopback: anyone who can reach this machine" in proc.err


@pytest.mark.slow
@pytest.mark.subprocess
def test_no_key_or_token_reaches_the_browser(em: CompareEmulator) -> None:
    marker = "pg-secret-marker-7f3a"
    with recording_proxy(em.url) as recorded:
        proc = PlaygroundProcess(_args(recorded.url), process_env(AZURE_OPENAI_API_KEY=marker)).start()
        seen: list[bytes] = []
        try:
            for path in ("", "static/playground.js", "static/playground.css", "api/state"):
                seen.append(httpx.get(proc.url + path, timeout=10).content)
            with httpx.stream("POST", f"{proc.url}api/ask", json={"text": ROME_STAY}, timeout=60) as resp:
                seen.append(resp.read())
            apply(proc.url, {"index": 1, "deployment": "no-such-deployment"})
            with httpx.stream("POST", f"{proc.url}api/ask", json={"text": ROME_STAY}, timeout=60) as resp:
                seen.append(resp.read())  # an error answer too
            seen += [httpx.get(f"{proc.url}api/state", timeout=10).content,
                     httpx.get(f"{proc.url}api/export", timeout=10).content]
        finally:
            proc.stop()
    # the key was in use (dated: header api-key; v1, the default: Authorization: Bearer) ...
    assert {r["headers"].get("api-key") or r["headers"].get("authorization", "").removeprefix("Bearer ")
            for r in recorded.requests} == {marker}
    assert all(marker.encode() not in body for body in seen)  # ... and never left the server
    assert b"DeploymentNotFound" in seen[5] and marker not in proc.out + proc.err


@pytest.mark.slow
@pytest.mark.subprocess
def test_rehearsal_needs_no_azure(tmp_path: Path) -> None:
    proc = PlaygroundProcess(["--rehearsal", "--backend", "stand-in", "--port", "0"], process_env(), cwd=tmp_path).start(timeout=90)
    try:
        state = httpx.get(f"{proc.url}api/state", timeout=10).json()
        assert [c["variant"]["deployment"] for c in state["columns"]] == ["gpt-4.1", TUNED]
        events = ask(proc.url, ROME_STAY)
        settled = settled_state(proc.url)  # the emulator's own list: the same two deployments
    finally:
        code = proc.stop()
    assert code == 0, proc.err
    base, tuned = of_column(events, 0)["end"], of_column(events, 1)["end"]
    assert base["stand_in"] and base["checks"]["no_recommendations"]["passed"] is False
    assert tuned["stand_in"] and tuned["checks"]["no_recommendations"]["passed"] is True
    assert "playground --rehearsal: emulator (stand-in) at http://127.0.0.1:" in proc.err
    assert settled["account_deployments"] == "listed" and settled["deployments"] == ["gpt-4.1", TUNED]


def test_the_cli_and_the_command_agree_on_the_default_port() -> None:
    from jobs.cli import cli
    from jobs.commands.playground import DEFAULT_PORT

    port = next(p for p in cli.commands["playground"].params if p.name == "port")
    assert port.default == DEFAULT_PORT  # jobs/cli.py imports only click, so it spells the number itself


def test_rehearsal_refuses_an_endpoint(jobs_cli: Callable[..., CliOutcome]) -> None:
    result = jobs_cli("playground", "--rehearsal", "--endpoint", "http://127.0.0.1:9")
    assert result.exit_code == 2 and "--rehearsal starts its own emulator" in result.stderr


def test_deployments_come_from_the_stack(fake_pulumi: Any, em: CompareEmulator) -> None:
    fake_pulumi.set_outputs({"ai_services_endpoint": em.url, "base_deployment": BASE})
    from jobs.commands.playground import PlaygroundRequest, start
    from jobs.session import Session

    server, columns, note = start(Session.for_stack("dev"), PlaygroundRequest(port=0))
    try:
        assert [(v.name, v.deployment) for v in columns] == [("base", BASE), ("base-no-system", BASE)]
        assert note and "no fine_tuned_deployment output yet" in note
        assert "tuned" not in [v["name"] for v in server.board.state()["variants"]]
    finally:
        server.stop()


# --------------------------------------------------------------------------- the account's deployments

ACCOUNT = {"resource_group": "rg-ftlab-abc123", "ai_services_name": "ais-ftlab-abc123"}
AZ_LIST = ["cognitiveservices", "account", "deployment", "list", "--resource-group", "rg-ftlab-abc123", "--name",
           "ais-ftlab-abc123", "--output", "json"]


def test_the_deployment_field_suggests_every_deployment_of_the_emulator(em: CompareEmulator, tmp_path: Path) -> None:
    """A rehearsal's session on the emulator: its stack names only the base deployment, the emulator also serves
    the fine-tuned one and a judge; the suggestions hold all three, and a suggested one answers in a column."""
    from rehearsal.session import rehearsal_session
    from jobs.commands.playground import PlaygroundRequest, start

    session = rehearsal_session(em.url, tmp_path / "rehearsal", stack="pg-listing", json_mode=True)
    server, columns, _ = start(session, PlaygroundRequest(port=0))
    try:
        assert [v.deployment for v in columns] == [BASE, BASE]  # no fine-tuned model in this stack
        state = settled_state(server.url)
        assert state["account_deployments"] == "listed"
        assert state["deployments"] == sorted([BASE, JUDGE, TUNED])
        assert {v["deployment"] for v in state["variants"]} == {BASE}  # JUDGE and TUNED: from the emulator only
        apply(server.url, {"index": 1, "deployment": JUDGE})
        events = ask(server.url, ROME_STAY)
        assert of_column(events, 1)["start"]["deployment"] == JUDGE and of_column(events, 1)["end"]["kind"] == "done"
    finally:
        server.stop()


def test_a_stacks_suggestions_come_from_az(fake_pulumi: FakePulumi, em: CompareEmulator) -> None:
    from jobs.commands.playground import PlaygroundRequest, start
    from jobs.session import Session

    fake_pulumi.set_outputs({"ai_services_endpoint": em.url, "base_deployment": BASE,
                             "fine_tuned_deployment": TUNED, **ACCOUNT})
    fake_pulumi.set_az(deployments={"rg-ftlab-abc123/ais-ftlab-abc123": [BASE, TUNED, "gpt-4o-mini-eval",
                                                                          "not a/deployment name"]})
    server, _, _ = start(Session.for_stack("dev"), PlaygroundRequest(port=0))
    try:
        state = settled_state(server.url)
    finally:
        server.stop()
    assert state["account_deployments"] == "listed"
    assert state["deployments"] == sorted([BASE, TUNED, "gpt-4o-mini-eval"])  # a name apply would refuse: left out
    assert fake_pulumi.az_calls() == [AZ_LIST]  # once, with the stack's resource group and account
    assert all(TEST_KEY not in json.dumps(env) for env in fake_pulumi.az_envs())  # the data-plane key stays here


@pytest.mark.parametrize("breakage", ["no-az", "not-signed-in", "not-json", "no-such-account", "no-account-outputs",
                                      "another-endpoint"])
def test_without_a_list_the_suggestions_are_the_stacks(breakage: str, fake_pulumi: FakePulumi, em: CompareEmulator,
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jobs.commands.playground import PlaygroundRequest, start
    from jobs.client import Target
    from jobs.session import Session

    outputs: dict[str, Any] = {"ai_services_endpoint": em.url, "base_deployment": BASE, "fine_tuned_deployment": TUNED,
                               **ACCOUNT}
    fake_pulumi.set_az(deployments={"rg-ftlab-abc123/ais-ftlab-abc123": [BASE, TUNED, "gpt-4o-mini-eval"]})
    target = Target()
    if breakage == "no-az":
        monkeypatch.setenv("PATH", path_without_az(tmp_path / "bin"))
    elif breakage == "not-signed-in":
        fake_pulumi.set_az(logged_in=False)
    elif breakage == "not-json":
        fake_pulumi.set_az(raw="WARNING: something went wrong\n")
    elif breakage == "no-such-account":
        outputs["ai_services_name"] = "ais-gone"
    elif breakage == "no-account-outputs":
        del outputs["resource_group"]
    else:  # the page talks to another endpoint than the stack's account: its deployments are not that one's
        outputs["ai_services_endpoint"] = "https://ais-ftlab-abc123.cognitiveservices.azure.com/"
        target = Target(endpoint=em.url)
    fake_pulumi.set_outputs(outputs)
    server, _, _ = start(Session.for_stack("dev", target=target), PlaygroundRequest(port=0))
    try:
        state = settled_state(server.url)
        assert state["account_deployments"] == "unavailable"
        assert state["deployments"] == [BASE, TUNED]  # as before: the stack's
        events = ask(server.url, ROME_STAY)  # and the page works as ever
        assert [of_column(events, c)["end"]["kind"] for c in (0, 1)] == ["done", "done"]
    finally:
        server.stop()
    ran = fake_pulumi.az_calls()
    if breakage in ("no-az", "no-account-outputs", "another-endpoint"):
        assert ran == []
    else:
        assert [c[:5] for c in ran] == [AZ_LIST[:5]]
