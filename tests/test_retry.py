"""The retry policy and the translation of final API errors (no network: synthetic SDK errors)."""

from __future__ import annotations

import random
from typing import Any

import httpx2
import openai
import pytest

from jobs.errors import ExitCode, JobsError, UsageError
from jobs.settings import Env
from jobs.retry import RetryPolicy, call_with_retry, classify, retry_after_seconds, translate

URL = "https://example.openai.azure.com/openai/fine_tuning/jobs"


def status_error(status: int, code: str | None = None, message: str = "boom",
                 headers: dict[str, str] | None = None) -> openai.APIStatusError:
    body = {"code": code, "message": message} if code else {"message": message}
    resp = httpx2.Response(status, headers=headers or {}, json={"error": body}, request=httpx2.Request("POST", URL))
    cls = {429: openai.RateLimitError, 404: openai.NotFoundError, 403: openai.PermissionDeniedError,
           401: openai.AuthenticationError, 400: openai.BadRequestError}.get(status, openai.APIStatusError)
    if status >= 500:
        cls = openai.InternalServerError
    return cls(message, response=resp, body=body)


def conn_error() -> openai.APIConnectionError:
    return openai.APIConnectionError(request=httpx2.Request("GET", URL))


class Script:
    """A callable that raises the scripted errors in order, then returns ``value``."""

    def __init__(self, errors: list[BaseException], value: Any = "ok"):
        self.errors = list(errors)
        self.value = value
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.value


def policy(**kw: Any) -> tuple[RetryPolicy, list[float]]:
    slept: list[float] = []
    p = RetryPolicy(sleep=slept.append, rng=random.Random(1), notify=lambda m: None, **kw)
    return p, slept


def test_retry_after_header_is_honoured_beyond_the_sdk_cap() -> None:
    p, slept = policy(max_retry_after=900)
    fn = Script([status_error(429, headers={"retry-after": "300"})])
    assert call_with_retry(fn, policy=p) == "ok"
    assert slept == [300.0]  # not capped at 120 s like the SDK
    assert fn.calls == 2


def test_retry_after_ms_wins_over_seconds() -> None:
    assert retry_after_seconds({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1445412470.0) == 10.0
    assert retry_after_seconds({}) is None


def test_retry_after_longer_than_our_limit_is_an_error_naming_the_fix() -> None:
    p, slept = policy(max_retry_after=60)
    with pytest.raises(JobsError) as info:
        call_with_retry(Script([status_error(429, headers={"retry-after": "3600"})]), policy=p, what="create job")
    assert "3600" in info.value.message and "FTJOBS_RETRY_MAX_WAIT" in (info.value.hint or "")
    assert slept == []


def test_5xx_and_dropped_connections_back_off_exponentially() -> None:
    p, slept = policy(base=1.0, cap=60)
    fn = Script([status_error(503), conn_error(), status_error(500)])
    assert call_with_retry(fn, policy=p) == "ok"
    assert len(slept) == 3
    for n, s in enumerate(slept):  # full jitter within [ceiling/2, ceiling]
        assert 2 ** n / 2 <= s <= 2 ** n


def test_gives_up_after_max_attempts_with_a_clear_error() -> None:
    p, slept = policy(max_attempts=3, base=0.01)
    fn = Script([conn_error()] * 10)
    with pytest.raises(JobsError) as info:
        call_with_retry(fn, policy=p, what="get job")
    assert fn.calls == 3
    assert "could not reach the endpoint after 3 attempts" in info.value.message
    assert "resumes" in (info.value.hint or "")


def test_quota_429_is_not_retried() -> None:
    p, slept = policy()
    fn = Script([status_error(429, code="InsufficientQuota", message="The specified quota has been exceeded")])
    with pytest.raises(JobsError) as info:
        call_with_retry(fn, policy=p, what="create job")
    assert fn.calls == 1 and slept == []
    assert "quota" in (info.value.hint or "").lower()


def test_non_idempotent_create_reconciles_before_retrying() -> None:
    """A dropped connection on a create may have created it: look first, do not post twice."""
    p, _ = policy(base=0.01)
    fn = Script([conn_error()], value="second-object")
    found = call_with_retry(fn, policy=p, idempotent=False, reconcile=lambda: "found-on-server")
    assert found == "found-on-server" and fn.calls == 1


def test_non_idempotent_create_retries_when_reconcile_finds_nothing() -> None:
    p, _ = policy(base=0.01)
    fn = Script([conn_error()], value="created")
    assert call_with_retry(fn, policy=p, idempotent=False, reconcile=lambda: None) == "created"
    assert fn.calls == 2


def test_429_on_create_is_retried_without_reconcile() -> None:
    p, _ = policy(base=0.01)
    looked: list[int] = []
    fn = Script([status_error(429, headers={"retry-after-ms": "10"})], value="created")

    def reconcile() -> None:
        looked.append(1)

    assert call_with_retry(fn, policy=p, idempotent=False, reconcile=reconcile) == "created"
    assert looked == []  # a 429 means the server did not act


def test_classify() -> None:
    assert classify(status_error(429)) == "rate"
    assert classify(status_error(502)) == "transient"
    assert classify(conn_error()) == "transient"
    assert classify(status_error(400)) == "final"
    assert classify(ValueError("x")) == "final"


@pytest.mark.parametrize("status, code, message, expect_type, hint_words", [
    (403, "PermissionDenied", "Principal does not have access", UsageError,
     ["Cognitive Services OpenAI Contributor", "operatorPrincipalId", "pulumi up"]),
    (401, "401", "Access denied due to invalid subscription key", UsageError,
     ["AZURE_OPENAI_API_KEY", "az login", "disables local (key) auth"]),
    (400, "BadRequest", "API version not supported", UsageError, ["--api-version", "OPENAI_API_VERSION"]),
    (404, "DeploymentNotFound", "The API deployment for this resource does not exist.", UsageError,
     ["deployment", "pulumi"]),
    (400, "invalidPayload", "The specified base model does not support fine-tuning.", UsageError,
     ["gpt-4.1-2025-04-14", "gpt-4 0613"]),
    (400, "invalidPayload", "Training file has not completed file import yet.", JobsError, ["processed"]),
    (400, "content_filter", "The training data was flagged by the content filter at line 7", JobsError,
     ["content filter", "line"]),
    (404, "notFound", "File not found: file-x", UsageError, ["python -m jobs upload"]),
    (404, "notFound", "Job not found: ftjob-x", UsageError, ["python -m jobs list"]),
    # the rest of the translation table (jobs/retry.py:_RULES), one row each
    (429, "InsufficientQuota", "You exceeded your quota", JobsError, ["quota", "--training-type GlobalStandard"]),
    (401, "401", "The principal lacks the required role", UsageError, ["operatorPrincipalId"]),
    (400, "UnexpectedEntityState", "The job cannot be cancelled in its current state", UsageError,
     ["python -m jobs status JOB_ID"]),
    (400, "invalidRequest", "Only a running job can be paused", UsageError, ["not in a state"]),
    (404, "404", "Resource not found", UsageError, ["--endpoint", "--api-version"]),
    (422, "invalidValue", "n_epochs must be at most 50", UsageError, ["fix the option it names"]),
    (500, "InternalServerError", "Something broke", JobsError, ["run the same command again"]),
])
def test_translation_names_the_fix(status: int, code: str, message: str, expect_type: type,
                                   hint_words: list[str]) -> None:
    err = translate(status_error(status, code=code, message=message), what="create job")
    assert isinstance(err, expect_type)
    assert message in err.message and f"HTTP {status}" in err.message
    for w in hint_words:
        assert w.lower() in (err.hint or "").lower(), (w, err.hint)


def test_translation_keeps_exit_codes() -> None:
    assert translate(status_error(400, code="bad", message="x")).exit_code == ExitCode.USAGE
    assert translate(status_error(500, code="oops", message="x")).exit_code == ExitCode.FAILED
    assert translate(status_error(409, code="Conflict", message="x")).exit_code == ExitCode.REFUSED
    quota = translate(status_error(429, code="InsufficientQuota", message="x"))
    assert type(quota) is JobsError and quota.exit_code == ExitCode.FAILED


def test_auth_errors_are_usage_errors_not_job_failures() -> None:
    """Exit 1 means "the job failed"; a rejected credential or a missing role is for the user to fix (exit 2)."""
    for status in (401, 403):
        err = translate(status_error(status, code="PermissionDenied" if status == 403 else "401", message="no"))
        assert err.exit_code == ExitCode.USAGE, status


def test_token_provider_failure_is_a_usage_error_naming_every_fix() -> None:
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import CredentialUnavailableError

    for exc in (CredentialUnavailableError("DefaultAzureCredential failed to retrieve a token from the included "
                                           "credentials.\nAttempted credentials:\n\tEnvironmentCredential: ..."),
                ClientAuthenticationError("AADSTS700082: The refresh token has expired")):
        p, slept = policy()
        fn = Script([exc])
        with pytest.raises(UsageError) as info:
            call_with_retry(fn, policy=p, what="list jobs")
        assert fn.calls == 1 and slept == []  # not retried
        err = info.value
        assert err.exit_code == ExitCode.USAGE and err.message.startswith("list jobs: could not get an Entra ID token")
        assert "Attempted credentials" not in err.message  # the first line only
        for fix in ("az login", "DefaultAzureCredential", "AZURE_OPENAI_AD_TOKEN", "AZURE_OPENAI_API_KEY",
                    "disables local (key) auth"):
            assert fix in (err.hint or ""), fix


def test_other_exceptions_still_propagate() -> None:
    p, _ = policy()
    with pytest.raises(KeyError):
        call_with_retry(Script([KeyError("x")]), policy=p)


@pytest.mark.parametrize("name, value, words", [
    ("FTJOBS_RETRY_ATTEMPTS", "0", ["at least 1", "attempts"]),
    ("FTJOBS_RETRY_ATTEMPTS", "2.5", ["whole number", "attempts"]),
    ("FTJOBS_RETRY_BASE", "-1", ["greater than 0", "seconds"]),
    ("FTJOBS_RETRY_BASE", "0", ["greater than 0", "seconds"]),
    ("FTJOBS_RETRY_CAP", "nan", ["finite", "seconds"]),
    ("FTJOBS_RETRY_MAX_WAIT", "-5", ["at least 0", "seconds"]),
    ("FTJOBS_RETRY_MAX_TOTAL", "-1", ["at least 0", "seconds"]),
    ("FTJOBS_RETRY_REFUSED", "0", ["at least 1", "attempts"]),
])
def test_env_knobs_are_range_checked(monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                                     words: list[str]) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(UsageError) as info:
        RetryPolicy.from_env(Env.current())
    text = info.value.message + " " + (info.value.hint or "")
    assert f"{name}={value!r}" in info.value.message
    for w in words:
        assert w in text, (w, text)
    if name == "FTJOBS_RETRY_ATTEMPTS":
        assert "seconds" not in text  # a count, not a duration


def test_env_knobs_accept_good_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTJOBS_RETRY_ATTEMPTS", "3")
    monkeypatch.setenv("FTJOBS_RETRY_BASE", "0.5")
    monkeypatch.setenv("FTJOBS_RETRY_MAX_WAIT", "0")
    p = RetryPolicy.from_env(Env.current())
    assert (p.max_attempts, p.base, p.max_retry_after) == (3, 0.5, 0.0)


def test_bad_env_knob_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTJOBS_RETRY_BASE", "fast")
    with pytest.raises(UsageError) as info:
        RetryPolicy.from_env(Env.current())
    assert "FTJOBS_RETRY_BASE" in info.value.message


def _chained(outer: type, inner: BaseException) -> openai.APIConnectionError:
    """An SDK connection error caused by an httpx transport error, as the SDK raises it."""
    try:
        try:
            raise inner
        except Exception as exc:
            raise outer(request=httpx2.Request("GET", URL)) from exc
    except openai.APIConnectionError as err:
        return err


def refused_error() -> openai.APIConnectionError:
    return _chained(openai.APIConnectionError, httpx2.ConnectError("[Errno 111] Connection refused"))


def dropped_error() -> openai.APIConnectionError:
    return _chained(openai.APIConnectionError,
                    httpx2.RemoteProtocolError("Server disconnected without sending a response."))


def test_connection_refused_fails_fast_naming_the_endpoint() -> None:
    p, slept = policy(base=1.0, cap=60, endpoint="http://127.0.0.1:9 (from --endpoint)")
    fn = Script([refused_error()] * 10)
    with pytest.raises(UsageError) as info:
        call_with_retry(fn, policy=p, what="list jobs")
    assert fn.calls == 3  # not max_attempts (8)
    assert len(slept) == 2 and all(s <= 1.0 for s in slept)
    msg = info.value.message
    assert "http://127.0.0.1:9 (from --endpoint)" in msg and "Connection refused" in msg
    assert "8" not in msg.replace("127.0.0.1:9", "")
    assert "AZURE_OPENAI_ENDPOINT" in (info.value.hint or "") and "--endpoint" in (info.value.hint or "")


def test_refused_create_is_not_reconciled() -> None:
    p, _ = policy(base=0.01)
    looked: list[int] = []
    fn = Script([refused_error()], value="created")
    assert call_with_retry(fn, policy=p, idempotent=False, reconcile=lambda: looked.append(1)) == "created"
    assert looked == []  # the request never left: nothing to look for


def test_connection_dropped_mid_request_gets_the_full_policy() -> None:
    p, slept = policy(base=0.01, max_attempts=8)
    fn = Script([dropped_error()] * 6)
    assert call_with_retry(fn, policy=p) == "ok"
    assert fn.calls == 7 and len(slept) == 6


def test_total_retry_time_is_bounded() -> None:
    p, slept = policy(base=1.0, cap=60, max_attempts=50, max_total=3.0)
    fn = Script([status_error(503)] * 50)
    with pytest.raises(JobsError) as info:
        call_with_retry(fn, policy=p, what="get job")
    assert fn.calls <= 4 and all(s <= 3.0 for s in slept)
    assert "FTJOBS_RETRY_MAX_TOTAL" in info.value.message


def test_new_env_knobs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTJOBS_RETRY_MAX_TOTAL", "120")
    monkeypatch.setenv("FTJOBS_RETRY_REFUSED", "2")
    p = RetryPolicy.from_env(Env.current())
    assert (p.max_total, p.refused_attempts) == (120.0, 2)
