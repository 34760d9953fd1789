"""The money guards: estimate text, --max-cost, confirmation, price sources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jobs.errors import RefusedError, UsageError
from jobs.flow.cost import CostEstimate, Guards, check_max_cost, guard_cost, resolve_price
from jobs.settings import Env, PollSettings


def est(tokens: int | None = 1000, epochs: int | None = 3, price: float | None = 10.0) -> CostEstimate:
    return CostEstimate(billed_tokens_per_epoch=tokens, epochs=epochs, price_per_1m=price)


def test_estimate_is_tokens_times_epochs_times_price() -> None:
    e = est(1_000_000, 3, 25.0)
    assert e.billed_tokens == 3_000_000 and e.cost == 75.0
    assert e.text() == "cost estimate: 1,000,000 billed tokens per epoch x 3 epochs x $25 per 1M tokens = $75.00"


def test_unknown_parts_are_named() -> None:
    assert "unknown price (pass --price-per-1m or set FTJOBS_PRICE_PER_1M)" in est(price=None).text()
    assert "unknown tokens" in est(tokens=None).text() and est(tokens=None).cost is None


def test_confirmation_yes_and_no() -> None:
    said: list[str] = []
    guard_cost(est(), Guards(), say=said.append, confirm=lambda prompt: True)
    assert said and said[0].startswith("cost estimate:")
    with pytest.raises(RefusedError) as info:
        guard_cost(est(), Guards(), say=said.append, confirm=lambda prompt: False)
    assert info.value.exit_code == 3 and "--yes" in (info.value.hint or "")


def test_yes_skips_the_question_but_not_the_limit() -> None:
    def never(prompt: str) -> bool:
        raise AssertionError("asked despite --yes")

    guard_cost(est(), Guards(max_cost=1.0, yes=True), say=lambda m: None, confirm=never)  # $0.03 <= $1
    with pytest.raises(RefusedError) as info:
        guard_cost(est(1_000_000, 3, 25.0), Guards(max_cost=50.0, yes=True), say=lambda m: None, confirm=never)
    assert "$75.00" in info.value.message and "$50.00" in info.value.message


def test_price_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    env = Env({"FTJOBS_PRICE_PER_1M": "12.5"})
    assert resolve_price(None, env) == 12.5
    assert resolve_price(3.0, env) == 3.0  # the option wins
    with pytest.raises(UsageError) as info:
        resolve_price(None, Env({"FTJOBS_PRICE_PER_1M": "cheap"}))
    assert "FTJOBS_PRICE_PER_1M" in info.value.message
    with pytest.raises(UsageError):
        resolve_price(-1.0, env)


# --------------------------------------------------------------------------- bad settings: exit 2, never a traceback


@pytest.mark.parametrize("value, problem", [("-5", "must be at least 0"), ("nan", "is not a finite number")])
def test_negative_max_cost_is_refused_before_anything(value: str, problem: str, runner_env: Path,
                                                      training_copy: Path, jobs_cli: Any) -> None:
    for cmd in (["train", str(training_copy)], ["run", str(training_copy)], ["pipeline", str(training_copy)]):
        # no server at this endpoint: the option is refused before any connection
        out = jobs_cli(*cmd, "--endpoint", "http://127.0.0.1:9", "--yes", "--max-cost", value)
        assert out.exit_code == 2, out.stderr
        assert f"--max-cost {value} {problem}" in out.stderr and "Traceback" not in out.stderr
    with pytest.raises(UsageError):
        check_max_cost(-0.01)
    assert check_max_cost(0.0) == 0.0 and check_max_cost(None) is None


@pytest.mark.parametrize("env, words", [
    ({"FTJOBS_POLL_INTERVAL": "-1"}, ["FTJOBS_POLL_INTERVAL='-1'", "greater than 0"]),
    ({"FTJOBS_POLL_INTERVAL": "0"}, ["FTJOBS_POLL_INTERVAL='0'", "greater than 0"]),  # 0 would busy-loop
    ({"FTJOBS_POLL_INTERVAL": "soon"}, ["FTJOBS_POLL_INTERVAL='soon'", "not a number"]),
    ({"FTJOBS_POLL_MAX": "-2"}, ["FTJOBS_POLL_MAX='-2'"]),
    ({"FTJOBS_POLL_INTERVAL": "5", "FTJOBS_POLL_MAX": "1"}, ["FTJOBS_POLL_MAX=1 is below FTJOBS_POLL_INTERVAL=5"]),
    ({"FTJOBS_POLL_RUNNING_MIN": "-1"}, ["FTJOBS_POLL_RUNNING_MIN='-1'", "at least 0"]),
    ({"FTJOBS_STATUS_EVERY": "x"}, ["FTJOBS_STATUS_EVERY='x'"]),
])
def test_bad_poll_settings_are_usage_errors(env: dict[str, str], words: list[str], runner_env: Path,
                                            jobs_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    # refused before the first request: no server needed
    out = jobs_cli("watch", "ftjob-x", "--endpoint", "http://127.0.0.1:9")
    assert out.exit_code == 2, out.stderr
    for w in words:
        assert w in out.stderr, (w, out.stderr)


def test_poll_interval_alone_raises_the_default_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTJOBS_POLL_INTERVAL", "60")
    monkeypatch.delenv("FTJOBS_POLL_MAX", raising=False)
    poll = PollSettings.from_env(Env.current())
    assert (poll.first, poll.cap, poll.factor) == (60.0, 60.0, 1.5)


def test_state_dir_that_is_a_file(runner_env: Path, jobs_cli: Any, monkeypatch: pytest.MonkeyPatch,
                                  tmp_path: Path) -> None:
    from jobs.state import RunState

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    for where in (blocker, blocker / "sub"):
        monkeypatch.setenv("FTJOBS_STATE_DIR", str(where))
        out = jobs_cli("status", "--endpoint", "http://127.0.0.1:9")  # JOB_ID from the state
        assert out.exit_code == 2, out.stderr
        assert f"FTJOBS_STATE_DIR={str(where)!r} is not a folder" in out.stderr
        with pytest.raises(UsageError):
            with RunState("dev").locked():
                pass


@pytest.mark.parametrize("content, what", [
    ('{"jobs": 5}', '"jobs" is a JSON number, expected an object'),
    ("[1, 2]", "the top level is a JSON array"),
    ('{"files": {"abc": "file-1"}}', '"files"["abc"] is a JSON string'),
    ('{"promoted": "yes"}', '"promoted" is a JSON string'),
    ('{"latest_job": 7}', '"latest_job" is a JSON number'),
])
def test_state_file_with_the_wrong_shape(content: str, what: str, runner_env: Path, jobs_cli: Any) -> None:
    runner_env.mkdir(parents=True, exist_ok=True)
    (runner_env / "dev.json").write_text(content)
    out = jobs_cli("status", "--endpoint", "http://127.0.0.1:9")
    assert out.exit_code == 2, out.stderr
    assert f"run state {runner_env / 'dev.json'} has the wrong shape: {what}" in out.stderr
    assert "move it aside" in out.stderr


def test_train_with_an_unknown_file_id_fails_before_any_estimate(runner_env: Path, job_emulator: Any,
                                                                 jobs_cli: Any) -> None:
    out = jobs_cli("train", "--file-id", "file-nosuch", "--endpoint", job_emulator.url, "--yes",
                   "--price-per-1m", "25")
    assert out.exit_code == 2, out.stderr
    assert "--file-id file-nosuch: no such file" in out.stderr
    assert "cost estimate" not in out.stderr
