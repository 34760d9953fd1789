"""A 200 that is not the API stops every command that talks to the service at once: one line naming the
endpoint, where it came from, and what was received; exit 2; nothing written to the run state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.bad_endpoint import bad_endpoint

pytestmark = pytest.mark.usefixtures("runner_env")

ANSWERS = {
    "html": (b"<!DOCTYPE html><html><body>Sign in to continue</body></html>", "text/html; charset=utf-8"),
    "empty-object": (b"{}", "application/json"),
    "foo": (b'{"foo": 1}', "application/json"),
    "array": (b"[]", "application/json"),
    "empty-body": (b"", "application/json"),
    "no-content-type": (b"", None),
    "ids-not-strings": (b'{"id": 5, "status": 3, "data": [{"id": 7}]}', "application/json"),
    "data-not-a-list": (b'{"object": "list", "data": {"id": "x"}}', "application/json"),
}


def _commands(training: Path) -> list[list[str]]:
    return [
        ["upload", str(training)],
        ["train", str(training), "--yes"],
        ["run", str(training), "--yes"],
        ["train", "--file-id", "file-x", "--yes"],
        ["watch", "ftjob-x"],
        ["status", "ftjob-x"],
        ["events", "ftjob-x"],
        ["cancel", "ftjob-x"],
        ["pause", "ftjob-x"],
        ["resume", "ftjob-x"],
        ["list"],
        ["metrics", "ftjob-x"],
        ["promote", "ftjob-x"],
        ["chat", "--deployment", "gpt-4.1", "--prompt", "What can you do?"],  # a stream, not read yet
        ["compare", "--variant", "base=gpt-4.1", "--variant", "tuned=gpt-4.1-ft", "--repeat", "1"],
    ]


@pytest.mark.parametrize("answer", sorted(ANSWERS))
def test_every_command_stops_at_once_naming_what_it_received(answer: str, training_copy: Path, runner_env: Path,
                                                             jobs_cli: Any, no_pulumi: None) -> None:
    body, ctype = ANSWERS[answer]
    with bad_endpoint(body, ctype) as url:
        for args in _commands(training_copy):
            out = jobs_cli(*args, "--endpoint", url)
            assert out.exit_code == 2, (args, out.stderr)
            assert "Traceback" not in out.stderr
            err = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
            assert len(err) == 1, (args, out.stderr)
            line = err[0]
            assert f"{url} (from --endpoint)" in line, (args, line)
            assert "not the Azure OpenAI API" in line, (args, line)
            assert (ctype or "no content type") in line, (args, line)
            if body:
                assert body.decode()[:15] in line, (args, line)  # the first bytes, as received
            assert "fix:" in out.stderr and "openai.azure.com" in out.stderr
    state = runner_env / "dev.json"
    if state.exists():  # e.g. a pending upload marker: never a null id
        data = json.loads(state.read_text())
        assert data["files"] == {} and data["jobs"] == {} and data["latest_job"] is None
        assert "null" not in json.dumps(data.get("files"))


def test_clean_stops_too_and_keeps_the_state(runner_env: Path, jobs_cli: Any, no_pulumi: None) -> None:
    from jobs.state import RunState

    def seed(data: dict[str, Any]) -> None:
        data["files"] = {"sha": {"file_id": "file-1", "filename": "t.jsonl", "status": "processed"}}
        data["jobs"] = {"k": {"job_id": "ftjob-1", "status": "succeeded", "created_at": 1}}

    RunState("dev").update(seed)
    before = (runner_env / "dev.json").read_text()
    body, ctype = ANSWERS["html"]
    with bad_endpoint(body, ctype) as url:
        out = jobs_cli("clean", "--models", "--yes", "--endpoint", url)
    assert out.exit_code == 2 and "not the Azure OpenAI API" in out.stderr and "Traceback" not in out.stderr
    assert (runner_env / "dev.json").read_text() == before


def test_the_message_shows_the_first_bytes_and_the_size(runner_env: Path, jobs_cli: Any) -> None:
    page = b"<html><head><title>Contoso proxy</title></head><body>" + b"x" * 500 + b"</body></html>"
    with bad_endpoint(page, "text/html") as url:
        out = jobs_cli("status", "ftjob-x", "--endpoint", url)
    assert out.exit_code == 2
    assert f"text/html, {len(page)} bytes" in out.stderr
    assert "<html><head><title>Contoso proxy</title>" in out.stderr and "..." in out.stderr


def test_the_playground_shows_it_in_each_column() -> None:
    from tests.support.playground import ask, of_column, playground_on

    body, ctype = ANSWERS["html"]
    with bad_endpoint(body, ctype) as url, playground_on(url) as server:
        events = ask(server.url, "What can you do?")
    for column in (0, 1):
        mine = of_column(events, column)
        assert mine["kinds"] == ["start", "error"], mine
        error = mine["end"]["error"]
        assert "not the Azure OpenAI API" in error["message"] and "text/html" in error["message"], error
        assert "Sign in to continue" in error["message"] and "internal error" not in error["message"]
        assert "openai.azure.com" in error["hint"]
