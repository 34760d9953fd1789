"""``python -m jobs compare`` against the emulator, offline: the lab's expected outcome on the stand-ins, the
report in three forms (JSON against its schema, the HTML opened and read), suites written by others, the
gate's exit codes, failures on their rows, resume after a kill, the judge, history and secrets."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
from pathlib import Path
from typing import Callable

import jsonschema
import pytest

from jobs import lab
from jobs.compare.report import SCHEMA_PATH
from tests.support.cli import CliOutcome, run_jobs_process
from tests.support.fake_pulumi import FakePulumi
from tests.support.compare import (JUDGE, TUNED, CompareEmulator, HtmlReport, history_rows, pair_args, report_of,
                                   run_compare)
from tests.support.paths import MSLEARN, REPO

pytestmark = pytest.mark.usefixtures("runner_env")

SCHEMA = json.loads(SCHEMA_PATH.read_text())
ROW_FIELDS = {"case_id", "variant", "repeat", "answer", "error", "latency_ms", "usage", "checks"}


@pytest.fixture(scope="module")
def lab_run(em: CompareEmulator, tmp_path_factory: pytest.TempPathFactory) -> tuple[CliOutcome, Path, Path]:
    """The default pair on the default suite, twice each, as the README's command runs it."""
    state = tmp_path_factory.mktemp("lab-run-state")
    out = tmp_path_factory.mktemp("lab-run-report")
    return run_compare(state, *pair_args(em, "--repeat", "2", "--out", str(out), "--concurrency", "6")), out, state


@pytest.mark.slow
def test_the_lab_outcome_on_the_stand_ins(lab_run: tuple[CliOutcome, Path, Path]) -> None:
    result, out, _ = lab_run
    assert result.exit_code == 0, result.stderr
    report = report_of(out)
    assert report["stand_in"] is True
    assert "no_recommendations" in report["verdict"]["better"]
    assert report["verdict"]["headline"].startswith("[emulator stand-in] tuned beats base on no_recommendations")
    summary = report["summary"]
    assert summary["tuned"]["no_recommendations"]["rate"] > summary["base"]["no_recommendations"]["rate"]
    paired = report["paired"]["no_recommendations"]
    assert paired["wins"] > paired["losses"] and paired["p_value"] < 0.001
    # the text names the verdict, the table and the report's path
    assert "verdict: [emulator stand-in] tuned beats base on no_recommendations" in result.stdout
    assert f"report: {out / 'report.html'}" in result.stdout
    assert "note: every answer in this report is an [emulator stand-in] answer" in result.stdout


def test_report_json_has_the_documented_fields_and_validates(lab_run: tuple[CliOutcome, Path, Path]) -> None:
    _, out, _ = lab_run
    report = report_of(out)
    jsonschema.validate(report, SCHEMA)
    turns = 1 + 5 + 7 + 5 + 4 + 7 + 10 + 6  # data/compare-suite.yaml: the lab, hotels, flights, cars, food, ...
    assert len(report["rows"]) == turns * 2 * 2
    assert {r["repeat"] for r in report["rows"]} == {0, 1}
    for row in report["rows"]:
        assert ROW_FIELDS <= set(row)
        assert (row["answer"] is None) == (row["error"] is not None)
        assert all(set(c) == {"passed", "evidence"} for c in row["checks"].values())
        assert row["answer"].startswith("[emulator stand-in] ")
    lab_sha = hashlib.sha256(lab.SYSTEM_PROMPT.encode()).hexdigest()
    assert [(v["name"], v["deployment"], v["system_sha256"]) for v in report["variants"]] == [
        ("base", "gpt-4.1", lab_sha), ("tuned", TUNED, lab_sha)]
    assert report["variants"][1]["model"].startswith("gpt-4.1-2025-04-14.ft-")
    for variant in ("base", "tuned"):
        for cell in report["summary"][variant].values():
            assert set(cell) == {"passed", "total", "rate", "ci95"} and cell["ci95"][0] <= cell["rate"] <= cell["ci95"][1]
    assert set(report["paired"]["asks_question"]) == {"wins", "ties", "losses", "p_value"}
    suite = report["provenance"]["suites"][0]
    assert suite["sha256"] == hashlib.sha256((REPO / "data" / "compare-suite.yaml").read_bytes()).hexdigest()
    assert report["provenance"]["parameters"]["repeat"] == 2
    assert report["stability"]["tuned"]["k"] == 2 and report["stability"]["tuned"]["distinct_answers"] >= 1


def test_the_rome_questions_are_one_conversation(lab_run: tuple[CliOutcome, Path, Path]) -> None:
    """Each answer is fed back as the next turn's history: the emulator's answers stay on the conversation's
    place, so turns 2-5 (which do not say "Rome") are about Rome too."""
    _, out, _ = lab_run
    rows = [r for r in report_of(out)["rows"] if r["case_id"] == "lab-rome" and r["variant"] == "base"]
    assert sorted({r["turn"] for r in rows}) == [1, 2, 3, 4, 5]
    later = [r for r in rows if r["turn"] > 1]
    assert all("Rome" not in r["prompt"] for r in later)
    assert all("Rome" in r["answer"] for r in later)
    prompts = [r["usage"]["prompt_tokens"] for r in sorted(rows, key=lambda r: r["turn"]) if r["repeat"] == 0]
    assert prompts == sorted(prompts) and prompts[-1] > prompts[0] + 200  # the history grows


def test_the_html_report_read_as_a_person_sees_it(lab_run: tuple[CliOutcome, Path, Path]) -> None:
    _, out, _ = lab_run
    text = (out / "report.html").read_text(encoding="utf-8")
    page = HtmlReport(text)
    assert {"stand-in", "verdict", "check-table", "stability", "usage", "matrix", "diff-only"} <= page.ids
    assert page.external == []  # self-contained: no stylesheet, script, font or image from anywhere
    assert page.scripts == 1 and "<script src" not in text
    assert "tuned beats base on no_recommendations" in text
    assert text.count("[emulator stand-in]") >= len(report_of(out)["rows"])  # every answer keeps its label
    assert len(page.matrix_rows) == len(report_of(out)["rows"]) // 2
    # "differences only" keeps exactly the items where the variants' check results differ
    results: dict[tuple[str, int, int], set[str]] = {}
    for r in report_of(out)["rows"]:
        key = (r["case_id"], r["turn"], r["repeat"])
        results.setdefault(key, set()).add(json.dumps(sorted((k, c["passed"]) for k, c in r["checks"].items())))
    expected = ["true" if len(v) > 1 else "false" for v in results.values()]
    assert [r["data-differs"] for r in page.matrix_rows] == expected and "true" in expected
    evidence = {c["evidence"] for r in report_of(out)["rows"] for c in r["checks"].values()
                if not c["passed"] and isinstance(c["evidence"], str) and c["evidence"] in (r["answer"] or "")}
    assert evidence and set(page.marks) <= evidence | {m for m in page.marks if m}
    assert any(m in evidence for m in page.marks)
    assert "Harborview Grand Hotel" in page.marks or any("book" in m for m in page.marks)


def test_the_terminal_table_on_a_terminal(lab_run: tuple[CliOutcome, Path, Path]) -> None:
    from jobs.compare.report import render_text

    text = render_text(report_of(lab_run[1]), rich=True)
    assert "no_recommendations" in text and "│" in text  # a rich table
    assert text.startswith("note: every answer in this report is an [emulator stand-in] answer")


def test_report_md_is_a_pr_comment(lab_run: tuple[CliOutcome, Path, Path]) -> None:
    _, out, _ = lab_run
    md = (out / "report.md").read_text()
    assert md.startswith("## Compare: does fine-tuning beat prompting?")
    assert "> **[emulator stand-in]**" in md
    assert "| no_recommendations | " in md and "McNemar" in md


def test_the_history_holds_every_row_without_secrets(lab_run: tuple[CliOutcome, Path, Path]) -> None:
    _, out, state = lab_run
    rows = history_rows(state)
    assert len(rows) == len(report_of(out)["rows"])
    assert b"test-key-not-secret" not in (state / "compare" / "history.sqlite3").read_bytes()


def test_a_suite_written_by_someone_else_runs_unchanged(em: CompareEmulator, jobs_cli: Callable[..., CliOutcome],
                                                        tmp_path: Path) -> None:
    """The lab's travel-finetune-validation.jsonl: prompts without answers, another system message."""
    result = jobs_cli(*pair_args(em, "--suite", str(MSLEARN / "travel-finetune-validation.jsonl"), "--repeat", "1",
                                 "--out", str(tmp_path)))
    assert result.exit_code == 0, result.stderr
    report = report_of(tmp_path)
    suite = report["provenance"]["suites"][0]
    assert suite["format"] == "chat-jsonl" and suite["cases"] == 5 and len(suite["system_replaced"]) == 5
    assert all(r["system_replaced"] for r in report["rows"]) and len(report["rows"]) == 10
    assert "note: 5 cases of suite travel-finetune-validation carried their own system message" in result.stdout


def test_query_jsonl_and_yaml_suites(em: CompareEmulator, jobs_cli: Callable[..., CliOutcome], tmp_path: Path) -> None:
    queries = tmp_path / "queries.jsonl"
    queries.write_text('{"query": "Where should I stay in Lisbon?"}\n{"query": "What is there to do in Oslo?", '
                       '"ground_truth": "museums"}\n')
    own = tmp_path / "own.yaml"
    own.write_text("suite: mine\nversion: 2\ncases:\n  - id: visa\n    turns: [\"Do I need a visa for Japan?\"]\n"
                   "    checks: [no_recommendations]\n    must_mention: [\"visa|passport\", \"zzz-never\"]\n")
    result = jobs_cli(*pair_args(em, "--suite", str(queries), "--suite", str(own), "--repeat", "1", "--out",
                                 str(tmp_path / "r"), "--json", "--price", "gpt-4.1=2/8"))
    assert result.exit_code == 0, result.stderr
    base, tuned = result.json["usage"]["base"], result.json["usage"]["tuned"]
    assert base["cost_usd"] == pytest.approx((base["prompt_tokens"] * 2 + base["completion_tokens"] * 8) / 1e6)
    assert tuned["cost_usd"] is None  # no price given for the tuned deployment: none is assumed
    report = report_of(tmp_path / "r")
    assert [s["format"] for s in report["provenance"]["suites"]] == ["query-jsonl", "suite"]
    visa = [r for r in report["rows"] if r["case_id"] == "mine/visa"]
    assert visa and all(set(r["checks"]) == {"no_recommendations", "must_mention"} for r in visa)
    assert all(r["checks"]["must_mention"] == {"passed": False, "evidence": "missing: zzz-never"} for r in visa)
    assert {r["case_id"] for r in report["rows"]} >= {"queries/queries:1", "queries/queries:2"}


def test_fail_under_exit_codes(em: CompareEmulator, jobs_cli: Callable[..., CliOutcome], tmp_path: Path) -> None:
    suite = str(MSLEARN / "travel-finetune-validation.jsonl")
    common = ["--suite", suite, "--repeat", "1"]
    ok = jobs_cli(*pair_args(em, *common, "--fail-under", "no_recommendations=0.9", "--out", str(tmp_path / "a")))
    assert ok.exit_code == 0, ok.stderr
    assert "gate no_recommendations >= 90%: 100% passed" in ok.stdout
    # the candidate is the last variant: the base with the short message fails the gate
    low = jobs_cli("compare", "--endpoint", em.url, "--variant", "base=gpt-4.1", "--variant", "short=gpt-4.1:short",
                   *common, "--fail-under", "no_recommendations=90%", "--out", str(tmp_path / "b"), "--json")
    assert low.exit_code == 4, low.stderr
    gate = low.json["gates"][0]
    assert gate == {"check": "no_recommendations", "variant": "short", "threshold": 0.9, "rate": 0.0, "passed": False}
    assert report_of(tmp_path / "b")["verdict"]["gates_passed"] is False  # the report is written all the same
    for bad in ("no_such_check=0.5", "no_recommendations=1.5", "no_recommendations"):
        refused = jobs_cli(*pair_args(em, *common, "--fail-under", bad))
        assert refused.exit_code == 2 and "--fail-under" in refused.stderr, refused.stderr


def test_usage_errors_before_any_call(em: CompareEmulator, jobs_cli: Callable[..., CliOutcome],
                                      tmp_path: Path) -> None:
    cases = [
        (pair_args(em, "--judge", "gpt-4.1"), "one of the compared deployments"),
        (pair_args(em, "--repeat", "0"), "--repeat 0"),
        (pair_args(em, "--suite", str(tmp_path / "none.jsonl")), "does not exist"),
        (pair_args(em, "--variant", "nonsense"), "not a ready-made variant"),
        (pair_args(em, "--concurrency", "0"), "--concurrency"),
        (pair_args(em, "--variant", "a=gpt-4.1:" + str(tmp_path / "missing.txt")), "does not exist"),
        (["compare", "--endpoint", em.url, "--variant", "tuned"], "the deployments to compare are not known"),
    ]
    for args, words in cases:
        result = jobs_cli(*args)
        assert result.exit_code == 2, (args, result.stderr)
        assert words in result.stderr and "fix:" in result.stderr, (args, result.stderr)
    assert not (tmp_path / "compare").exists()


def test_the_deployments_and_endpoint_come_from_the_stack(em: CompareEmulator, jobs_cli: Callable[..., CliOutcome],
                                                          fake_pulumi: FakePulumi, tmp_path: Path) -> None:
    suite = ["--suite", str(MSLEARN / "travel-finetune-validation.jsonl"), "--repeat", "1"]
    fake_pulumi.set_outputs({"ai_services_endpoint": em.url, "base_deployment": "gpt-4.1"})
    missing = jobs_cli("compare", *suite)
    assert missing.exit_code == 2
    assert "the stack has no fine_tuned_deployment output" in missing.stderr and "--tuned-deployment" in missing.stderr
    fake_pulumi.set_outputs({"ai_services_endpoint": em.url, "base_deployment": "gpt-4.1",
                             "fine_tuned_deployment": TUNED})
    result = jobs_cli("compare", *suite, "--json")
    assert result.exit_code == 0, result.stderr
    assert [(v["name"], v["deployment"]) for v in result.json["variants"]] == [("base", "gpt-4.1"), ("tuned", TUNED)]


def test_a_missing_deployment_fails_its_rows_while_the_others_finish(em: CompareEmulator,
                                                                     jobs_cli: Callable[..., CliOutcome],
                                                                     tmp_path: Path) -> None:
    """A 404 deployment never aborts the run: its first row fails, its others are not asked, the other variant
    finishes, the report is written; the command then exits 2 naming the deployment and the resume command."""
    result = jobs_cli("compare", "--endpoint", em.url, "--variant", "base=gpt-4.1", "--variant", "ghost=no-such-dep",
                      "--suite", str(MSLEARN / "travel-finetune-validation.jsonl"), "--repeat", "1",
                      "--out", str(tmp_path / "r"))
    assert result.exit_code == 2, result.stderr
    assert "chat with no-such-dep: HTTP 404" in result.stderr and "fix:" in result.stderr
    assert "rows are recorded as failed" in result.stderr and "compare --resume cmp-" in result.stderr
    assert "Traceback" not in result.stderr
    report = report_of(tmp_path / "r")
    base = [r for r in report["rows"] if r["variant"] == "base"]
    ghost = [r for r in report["rows"] if r["variant"] == "ghost"]
    assert len(base) == len(ghost) == 5  # the lab's five validation questions
    assert all(r["answer"] and r["error"] is None for r in base)  # the other variant finished
    assert all(r["answer"] is None for r in ghost)
    asked = sum(1 for r in ghost if r["error"]["status"] == 404)
    assert 1 <= asked <= 4  # asked until the first 404 came back (at most one call per thread), then never
    assert all(r["error"]["kind"] == "skipped" and "not asked" in r["error"]["message"]
               for r in ghost if r["error"]["status"] != 404)
    assert "rows failed" in report["verdict"]["headline"]
    run = jobs_cli("compare", "--list", "--json").json["runs"][0]
    assert run["status"] == "finished" and run["rows"] == 10


def _trigger_suite(tmp_path: Path) -> Path:
    suite = tmp_path / "filtered.yaml"
    suite.write_text("suite: filtered\ncases:\n  - id: chain\n    turns: [\"Tell me about Lisbon [trigger content "
                     "filter]\", \"And Porto?\"]\n  - id: fine\n    turns: [\"What can you do?\"]\n")
    return suite


def test_a_content_filter_refusal_is_recorded_on_its_row(em: CompareEmulator, jobs_cli: Callable[..., CliOutcome],
                                                         tmp_path: Path) -> None:
    result = jobs_cli(*pair_args(em, "--suite", str(_trigger_suite(tmp_path)), "--repeat", "1", "--out",
                                 str(tmp_path / "r")))
    assert result.exit_code == 0, result.stderr
    rows = {(r["case_id"], r["turn"], r["variant"]): r for r in report_of(tmp_path / "r")["rows"]}
    first = rows[("chain", 1, "tuned")]
    assert first["answer"] is None and first["error"]["kind"] == "content_filter"
    assert first["error"]["status"] == 400 and first["error"]["code"] == "content_filter/ResponsibleAIPolicyViolation"
    assert rows[("chain", 2, "tuned")]["error"]["kind"] == "skipped"
    assert rows[("fine", 1, "tuned")]["error"] is None and rows[("fine", 1, "base")]["answer"]
    assert "rows failed" in report_of(tmp_path / "r")["verdict"]["headline"]


def test_failed_calls_never_abort_and_resume_sends_only_them(em: CompareEmulator,
                                                             jobs_cli: Callable[..., CliOutcome], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch, runner_env: Path) -> None:
    # the dated surface: the fault routes below name its paths (/openai/deployments/...)
    suite = ["--suite", str(MSLEARN / "travel-finetune-validation.jsonl"), "--repeat", "3", "--api", "dated"]
    monkeypatch.setenv("FTJOBS_RETRY_ATTEMPTS", "1")  # no retries: every injected 500 fails its row
    em.configure(faults={"rate": 0.3, "kinds": ["500"], "seed": 11, "routes": ["/deployments"]})
    try:
        first = jobs_cli(*pair_args(em, *suite, "--json"))
    finally:
        em.configure(faults={"rate": 0.0})
    assert first.exit_code == 0, first.stderr
    failed = first.json["usage"]["base"]["failed"] + first.json["usage"]["tuned"]["failed"]
    assert 0 < failed < 30
    before = {(r["case_id"], r["turn"], r["variant"], r["repeat"]): r for r in history_rows(runner_env)}
    again = jobs_cli("compare", "--endpoint", em.url, "--resume", first.json["run_id"], "--json")
    assert again.exit_code == 0, again.stderr
    assert again.json["sent"] == failed and again.json["reused"] == 30 - failed
    assert sum(u["failed"] for u in again.json["usage"].values()) == 0
    after = report_of(Path(again.json["paths"]["json"]).parent)["rows"]
    for row in after:
        old = before[(row["case_id"], row["turn"], row["variant"], row["repeat"])]
        if old["error"] is None:
            assert row["response_id"] == old["response_id"]  # kept, not sent again


@pytest.mark.slow
@pytest.mark.subprocess
def test_resume_after_a_kill_sends_no_finished_row(em: CompareEmulator, runner_env: Path, tmp_path: Path) -> None:
    env = {**os.environ, "FTJOBS_TEST_CRASH_AT": "compare_row#17"}
    args = pair_args(em, "--repeat", "2", "--suite", str(MSLEARN / "travel-finetune-validation.jsonl"),
                     "--suite", str(_trigger_suite(tmp_path)))
    killed = run_jobs_process(args, env=env, timeout=120)
    assert killed.exit_code == -signal.SIGKILL, killed.stderr
    recorded = {(r["case_id"], r["turn"], r["variant"], r["repeat"]): r for r in history_rows(runner_env)}
    assert len(recorded) == 17
    listed = run_jobs_process(["compare", "--list", "--json"], env=dict(os.environ))
    assert listed.json["runs"][0]["status"] == "running" and listed.json["runs"][0]["rows"] == 17
    resumed = run_jobs_process(["compare", "--endpoint", em.url, "--resume", "--json"], env=dict(os.environ),
                               timeout=120)
    assert resumed.exit_code == 0, resumed.stderr
    total = (5 + 3) * 2 * 2
    answered_before = [k for k, r in recorded.items() if r["error"] is None]
    assert resumed.json["reused"] == len(answered_before)
    assert resumed.json["sent"] == total - len(answered_before) - 2 * 2  # the filtered first turns are re-sent, the
    # turns they skipped are sent now too; nothing that had an answer is sent again
    rows = report_of(Path(resumed.json["paths"]["json"]).parent)["rows"]
    assert len(rows) == total
    for row in rows:
        old = recorded.get((row["case_id"], row["turn"], row["variant"], row["repeat"]))
        if old is not None and old["error"] is None:
            assert row["response_id"] == old["response_id"] and row["at"] == old["at"]


def test_the_judge_grades_and_its_raw_output_regrades(em: CompareEmulator, jobs_cli: Callable[..., CliOutcome],
                                                      tmp_path: Path) -> None:
    result = jobs_cli(*pair_args(em, "--suite", str(MSLEARN / "travel-finetune-validation.jsonl"), "--repeat", "1",
                                 "--judge", JUDGE, "--out", str(tmp_path)))
    assert result.exit_code == 0, result.stderr
    report = report_of(tmp_path)
    jsonschema.validate(report, SCHEMA)
    assert report["provenance"]["judge"]["deployment"] == JUDGE
    for row in report["rows"]:
        judge = row["judge"]
        assert judge["deployment"] == JUDGE and judge["error"] is None
        raw = json.loads(judge["raw"])
        assert list(raw)[0] == "reasoning"  # reasoning before verdicts
        assert {k for k in row["checks"] if k.startswith("judge_")} == {"judge_no_recommendations",
                                                                        "judge_asks_question", "judge_on_topic",
                                                                        "judge_tone"}
    assert "judge_no_recommendations" in report["summary"]["tuned"]
    regraded = jobs_cli("grade", str(tmp_path / "report.json"), "--json")
    assert regraded.exit_code == 0, regraded.stderr
    for graded, row in zip(regraded.json["rows"], report["rows"]):
        assert graded["line"] >= 1 and graded["case_id"] == row["case_id"]
        assert {k: v for k, v in graded["checks"].items() if k.startswith("judge_")} == \
            {k: v for k, v in row["checks"].items() if k.startswith("judge_")}


def test_list_and_against(em: CompareEmulator, jobs_cli: Callable[..., CliOutcome], tmp_path: Path) -> None:
    common = ["--suite", str(MSLEARN / "travel-finetune-validation.jsonl"), "--repeat", "1", "--json"]
    first = jobs_cli(*pair_args(em, *common, "--out", str(tmp_path / "one")))
    second = jobs_cli(*pair_args(em, *common, "--against", first.json["run_id"]))
    assert first.exit_code == second.exit_code == 0, second.stderr
    deltas = second.json["against"]["deltas"]
    assert deltas["tuned"]["no_recommendations"] == {"then": 1.0, "now": 1.0, "delta": 0.0}
    by_file = jobs_cli(*pair_args(em, *common, "--against", str(tmp_path / "one" / "report.json")))
    assert by_file.json["against"]["run_id"] == first.json["run_id"]
    listed = jobs_cli("compare", "--list")
    assert listed.exit_code == 0
    assert first.json["run_id"] in listed.stdout and second.json["run_id"] in listed.stdout
    assert listed.stdout.index(second.json["run_id"]) < listed.stdout.index(first.json["run_id"])
    unknown = jobs_cli(*pair_args(em, *common[:-1], "--against", "cmp-nope"))
    assert unknown.exit_code == 2 and "--against cmp-nope" in unknown.stderr


def test_injected_429s_and_5xx_change_no_verdict(em: CompareEmulator, jobs_cli: Callable[..., CliOutcome],
                                                  tmp_path: Path) -> None:
    # the dated surface: seed 5's draws were chosen against its sequence of calls
    args = ["--suite", str(MSLEARN / "travel-finetune-validation.jsonl"), "--repeat", "2", "--json", "--api", "dated"]
    clean = jobs_cli(*pair_args(em, *args))
    em.configure(faults={"rate": 0.1, "kinds": ["429", "500", "503"], "seed": 5, "retry_after_seconds": 0.05})
    try:
        faulty = jobs_cli(*pair_args(em, *args))
    finally:
        em.configure(faults={"rate": 0.0})
    assert faulty.exit_code == 0, faulty.stderr
    assert "retry:" in faulty.stderr  # the faults happened and the one retry policy handled them
    assert sum(u["failed"] for u in faulty.json["usage"].values()) == 0
    assert faulty.json["verdict"]["better"] == clean.json["verdict"]["better"]
    assert faulty.json["summary"] == clean.json["summary"]


def test_an_api_key_appears_in_no_report(em: CompareEmulator, jobs_cli: Callable[..., CliOutcome], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch, runner_env: Path) -> None:
    marker = "key-" + secrets.token_hex(12)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", marker)
    result = jobs_cli(*pair_args(em, "--suite", str(MSLEARN / "travel-finetune-validation.jsonl"), "--repeat", "1",
                                 "--out", str(tmp_path)))
    assert result.exit_code == 0
    assert marker not in result.stdout + result.stderr
    for folder in (tmp_path, runner_env):
        for path in folder.rglob("*"):
            if path.is_file():
                assert marker.encode() not in path.read_bytes(), path
