"""``python -m jobs chat``: the lab's playground driven through click's runner with typed input, one-shot
prompts, and streams that break off midway."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from jobs.compare.suite import load_suite
from tests.support.broken_stream import broken_stream_endpoint
from tests.support.cli import CliOutcome
from tests.support.compare import TUNED, CompareEmulator
from tests.support.fake_pulumi import FakePulumi

pytestmark = pytest.mark.usefixtures("runner_env")


@pytest.fixture
def stack(fake_pulumi: FakePulumi, em: CompareEmulator) -> FakePulumi:
    fake_pulumi.set_outputs({"ai_services_endpoint": em.url, "base_deployment": "gpt-4.1",
                             "fine_tuned_deployment": TUNED})
    return fake_pulumi


def test_the_playground_with_typed_commands(stack: FakePulumi, jobs_cli: Callable[..., CliOutcome],
                                            tmp_path: Path) -> None:
    saved = tmp_path / "chat.jsonl"
    typed = "\n".join([
        "/help", "Where in Rome should I stay?", "/switch", "And what should I eat there?", "/system short",
        "/system", f"/save {saved}", "/clear", "/save", "/nonsense", "", "/quit", "never asked"]) + "\n"
    result = jobs_cli("chat", input=typed)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "commands: /system" in out
    assert f"{TUNED}> [emulator stand-in] " in out  # the stack's tuned deployment by default, streamed
    assert "now chatting with gpt-4.1 (the conversation so far is kept)" in out
    assert "gpt-4.1> [emulator stand-in] " in out
    checks = [ln for ln in out.splitlines() if ln.startswith("  checks: ")]
    assert len(checks) == 2
    assert checks[0].startswith("  checks: no_recommendations pass")
    assert checks[1].startswith("  checks: no_recommendations FAIL (")  # the base model's stand-in recommends
    assert "system message is now the lab's short system message" in out
    assert "system message (the lab's short system message): You are an AI assistant" in out
    assert "error: nothing to save yet" in out and "unknown command /nonsense" in out
    assert "chat ended after 2 answers; saved to" in out and "never asked" not in out
    suite = load_suite(saved)  # the saved conversation is a suite line: compare --suite and grade take it
    case = suite.cases[0]
    assert case.turns == ("And what should I eat there?",) and case.reference is not None
    assert case.history[0] == {"role": "user", "content": "Where in Rome should I stay?"}
    assert "Rome" in case.reference  # the second answer stayed on the conversation's place


def test_one_shot_text_and_json(stack: FakePulumi, jobs_cli: Callable[..., CliOutcome]) -> None:
    text = jobs_cli("chat", "--base", "--prompt", "What can you do?")
    assert text.exit_code == 0, text.stderr
    assert text.stdout.startswith("[emulator stand-in] ") and "\n  checks: no_recommendations" in text.stdout
    data = jobs_cli("chat", "--prompt", "What can you do?", "--system", "none", "--json")
    assert data.exit_code == 0, data.stderr
    obj = data.json
    assert obj["deployment"] == TUNED and obj["stand_in"] is True and obj["answer"].startswith("[emulator stand-in]")
    assert set(obj["checks"]) == {"no_recommendations", "asks_question", "on_topic", "style"}
    assert obj["finish_reason"] == "stop" and obj["restarts"] == []
    refused = jobs_cli("chat", "--json")
    assert refused.exit_code == 2 and "--json needs --prompt" in refused.json["error"]["message"]


def test_a_stream_that_breaks_off_is_sent_again(jobs_cli: Callable[..., CliOutcome]) -> None:
    with broken_stream_endpoint(breaks=1) as (url, requests):
        result = jobs_cli("chat", "--endpoint", url, "--deployment", "gpt-4.1", "--prompt", "Rome?")
    assert result.exit_code == 0, result.stderr
    assert requests[0] == 2
    assert "[stream broke off; the answer starts again]" in result.stdout
    assert result.stdout.rstrip().splitlines()[-2].endswith("Rome is lovely in spring. Which season suits you?")
    assert "chat: the stream broke off" in result.stderr and "Traceback" not in result.stderr


def test_a_stream_that_keeps_breaking_is_reported(jobs_cli: Callable[..., CliOutcome],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTJOBS_RETRY_ATTEMPTS", "3")
    with broken_stream_endpoint(breaks=99) as (url, requests):
        once = jobs_cli("chat", "--endpoint", url, "--deployment", "gpt-4.1", "--prompt", "Rome?")
        typed = jobs_cli("chat", "--endpoint", url, "--deployment", "gpt-4.1", input="Rome?\n/quit\n")
    assert once.exit_code == 1
    assert "the stream broke off" in once.stderr and "gave up after 3 attempts" in once.stderr
    assert "Traceback" not in once.stderr + once.stdout
    assert typed.exit_code == 0 and "error: stream chat with gpt-4.1: the stream broke off" in typed.stdout
    assert "chat ended after 0 answers" in typed.stdout
    assert requests[0] == 6
