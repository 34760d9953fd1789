"""Every number the runner takes, as an option or an env var, refuses nan, inf and out-of-range values naming
the option or the variable (exit 2, before any request); stack names Pulumi would refuse are refused by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("runner_env")

DEAD = ["--endpoint", "http://127.0.0.1:9"]  # nothing listens: a refusal must come before any request
COMPARE = ["compare", "--base-deployment", "b", "--tuned-deployment", "t"]


@pytest.mark.parametrize("args, words", [
    (["watch", "ftjob-x", "--timeout", "nan"], ["--timeout nan", "finite"]),
    (["watch", "ftjob-x", "--timeout", "inf"], ["--timeout inf", "finite"]),
    (["watch", "ftjob-x", "--timeout", "-1"], ["--timeout -1", "greater than 0"]),
    (["watch", "ftjob-x", "--timeout", "0"], ["--timeout 0", "greater than 0"]),
    (["train", "{data}", "--yes", "--price-per-1m", "inf"], ["--price-per-1m inf", "finite"]),
    (["run", "{data}", "--yes", "--price-per-1m", "nan"], ["--price-per-1m nan", "finite"]),
    (["run", "{data}", "--yes", "--price-per-1m", "1e9"], ["--price-per-1m 1e+09", "at most 10000"]),
    (["train", "{data}", "--yes", "--max-cost", "inf"], ["--max-cost inf", "finite"]),
    (["run", "{data}", "--yes", "--max-cost", "-1"], ["--max-cost -1", "must be at least 0"]),
    # nan compares false with every bound: it is "not finite", never "negative" or "too large"
    (["run", "{data}", "--yes", "--max-cost", "nan"], ["--max-cost nan", "is not a finite number", "USD, 0 to"]),
    (["pipeline", "{data}", "--yes", "--max-cost", "nan"], ["--max-cost nan", "is not a finite number"]),
    (["pipeline", "{data}", "--yes", "--max-cost", "-inf"], ["--max-cost -inf", "is not a finite number"]),
    (["train", "{data}", "--yes", "--max-cost", "2e6"], ["--max-cost 2e+06", "must be at most 1e+06"]),
    ([*COMPARE, "--temperature", "nan"], ["--temperature nan", "is not a finite number", "0 to 2"]),
    ([*COMPARE, "--temperature", "2.5"], ["--temperature 2.5", "must be at most 2"]),
    (["train", "{data}", "--yes", "--learning-rate-multiplier", "inf"], ["--learning-rate-multiplier inf"]),
    (["train", "{data}", "--yes", "--learning-rate-multiplier", "-0.5"], ["--learning-rate-multiplier -0.5"]),
    (["train", "{data}", "--yes", "--batch-size", "100000"], ["--batch-size 100000", "at most 2048"]),
    (["train", "{data}", "--yes", "--epochs", "-3"], ["--epochs -3", "1..50"]),
    (["list", "--limit", "0"], ["--limit 0"]),
    (["events", "ftjob-x", "--limit", "100000"], ["--limit 100000"]),
    (["metrics", "ftjob-x", "--rows", "-1"], ["--rows -1"]),
])
def test_bad_number_options(args: list[str], words: list[str], training_copy: Path, jobs_cli: Any) -> None:
    out = jobs_cli(*[a.format(data=training_copy) for a in args], *DEAD)
    assert out.exit_code == 2, out.stderr
    assert "Traceback" not in out.stderr and "cannot connect" not in out.stderr
    for w in words:
        assert w in out.stderr, (w, out.stderr)
    assert "fix:" in out.stderr


@pytest.mark.parametrize("name, value, words", [
    ("FTJOBS_POLL_INTERVAL", "1e-9", ["FTJOBS_POLL_INTERVAL='1e-9'", "at least 0.01"]),
    ("FTJOBS_POLL_INTERVAL", "nan", ["FTJOBS_POLL_INTERVAL='nan'", "finite"]),
    ("FTJOBS_POLL_INTERVAL", "1e9", ["FTJOBS_POLL_INTERVAL='1e9'", "at most 3600"]),
    ("FTJOBS_POLL_MAX", "inf", ["FTJOBS_POLL_MAX='inf'", "finite"]),
    ("FTJOBS_POLL_RUNNING_MIN", "nan", ["FTJOBS_POLL_RUNNING_MIN='nan'"]),
    ("FTJOBS_STATUS_EVERY", "inf", ["FTJOBS_STATUS_EVERY='inf'"]),
    ("FTJOBS_HTTP_TIMEOUT", "inf", ["FTJOBS_HTTP_TIMEOUT='inf'"]),
    # a typo such as 1e-9 fails every request (timeout) or retries back to back (base, cap): each has a minimum
    ("FTJOBS_HTTP_TIMEOUT", "1e-9", ["FTJOBS_HTTP_TIMEOUT='1e-9'", "must be at least 1", "seconds (1 to 3600)"]),
    ("FTJOBS_HTTP_TIMEOUT", "0.5", ["FTJOBS_HTTP_TIMEOUT='0.5'", "must be at least 1"]),
    ("FTJOBS_HTTP_TIMEOUT", "nan", ["FTJOBS_HTTP_TIMEOUT='nan'", "is not a finite number"]),
    ("FTJOBS_RETRY_BASE", "nan", ["FTJOBS_RETRY_BASE='nan'"]),
    ("FTJOBS_RETRY_BASE", "1e-9", ["FTJOBS_RETRY_BASE='1e-9'", "must be at least 0.01", "seconds (0.01 to 600)"]),
    ("FTJOBS_RETRY_CAP", "-1", ["FTJOBS_RETRY_CAP='-1'", "greater than 0"]),
    ("FTJOBS_RETRY_CAP", "1e-9", ["FTJOBS_RETRY_CAP='1e-9'", "must be at least 0.1", "seconds (0.1 to 3600)"]),
    ("FTJOBS_RETRY_CAP", "-inf", ["FTJOBS_RETRY_CAP='-inf'", "is not a finite number"]),
    ("FTJOBS_RETRY_MAX_WAIT", "inf", ["FTJOBS_RETRY_MAX_WAIT='inf'"]),
    ("FTJOBS_RETRY_MAX_TOTAL", "1e12", ["FTJOBS_RETRY_MAX_TOTAL='1e12'", "at most"]),
    ("FTJOBS_RETRY_ATTEMPTS", "0", ["FTJOBS_RETRY_ATTEMPTS='0'", "at least 1"]),
    ("FTJOBS_RETRY_REFUSED", "1.5", ["FTJOBS_RETRY_REFUSED='1.5'", "whole number"]),
    ("FTJOBS_PRICE_PER_1M", "inf", ["FTJOBS_PRICE_PER_1M='inf'", "finite"]),
    ("FTJOBS_PRICE_PER_1M", "-2", ["FTJOBS_PRICE_PER_1M='-2'", "at least 0"]),
])
def test_bad_number_env_vars(name: str, value: str, words: list[str], training_copy: Path, jobs_cli: Any,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, value)
    out = jobs_cli("run", str(training_copy), "--yes", *DEAD)
    assert out.exit_code == 2, out.stderr
    assert "Traceback" not in out.stderr and "cannot connect" not in out.stderr
    for w in words:
        assert w in out.stderr, (w, out.stderr)


def test_a_stack_name_longer_than_pulumi_allows(jobs_cli: Any) -> None:
    out = jobs_cli("status", "--stack", "s" * 5000, *DEAD)
    assert out.exit_code == 2
    assert "--stack=" in out.stderr and "(5000 characters)" in out.stderr
    assert "longer than Pulumi allows (100 characters per part)" in out.stderr
    assert "File name too long" not in out.stderr and "Traceback" not in out.stderr
    assert jobs_cli("status", "--stack", "org/" + "p" * 101 + "/dev", *DEAD).exit_code == 2
    ok = jobs_cli("status", "ftjob-x", "--stack", "s" * 100, *DEAD)  # the longest legal name gets as far as the network
    assert "cannot connect" in ok.stderr


def test_a_stack_name_from_the_env_is_named(jobs_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTJOBS_STACK", "x" * 101)
    out = jobs_cli("status", *DEAD)
    assert out.exit_code == 2 and "env FTJOBS_STACK=" in out.stderr


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_the_shared_number_check_says_finite_before_any_bound(value: float) -> None:
    """One helper orders the checks for options and env vars alike: nan and inf are "not a finite number"."""
    from jobs.errors import UsageError
    from jobs.settings import Env, check_number, out_of_range

    assert out_of_range(value, minimum=0, above=0, maximum=1) == "is not a finite number"
    with pytest.raises(UsageError) as option:
        check_number(value, name="--x", minimum=0, maximum=1)
    assert option.value.message == f"--x {value!r} is not a finite number"
    with pytest.raises(UsageError) as env:
        Env({"FTJOBS_X": str(value)}).number("FTJOBS_X", 1.0, minimum=0, maximum=1)
    assert env.value.message == f"env FTJOBS_X={str(value)!r} is not a finite number"


def test_the_smallest_timeout_and_retry_waits_are_taken() -> None:
    from jobs.retry import RetryPolicy
    from jobs.settings import Env, http_timeout

    assert http_timeout(Env({"FTJOBS_HTTP_TIMEOUT": "1"})) == 1.0
    policy = RetryPolicy.from_env(Env({"FTJOBS_RETRY_BASE": "0.01", "FTJOBS_RETRY_CAP": "0.1"}))
    assert (policy.base, policy.cap) == (0.01, 0.1)
    assert RetryPolicy.from_env(Env({"FTJOBS_RETRY_CAP": "0.3"})).cap == 0.3  # below the default base: allowed
