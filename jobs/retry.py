"""The project's one retry policy for data-plane calls, and the translation of
final API errors into :class:`jobs.errors.JobsError` with a fix.

What is retried (the SDK's own retries are switched off, see ``jobs/client.py``):

- 429 Too Many Requests, honouring ``retry-after-ms`` / ``Retry-After``
  (seconds or an HTTP date) even beyond the SDK's own 120 s cap, up to
  ``max_retry_after`` (env ``FTJOBS_RETRY_MAX_WAIT``, default 900 s);
- 408, 409 with a "retry" hint, 5xx;
- dropped connections and timeouts;
- a refused connection (nothing listening, or the host name does not resolve:
  the SDK's ``APIConnectionError`` caused by httpx's ``ConnectError``) only
  ``refused_attempts`` times in all (default 3, env ``FTJOBS_RETRY_REFUSED``),
  with waits of at most 1 s: a dead endpoint fails within seconds, naming the
  endpoint and where it came from. Once a :class:`jobs.client.Connection` has
  had an answer, a refusal means the service is restarting and gets the full
  policy. A connection dropped mid-request (``RemoteProtocolError``,
  ``ReadError``) always gets the full policy.

Quota errors (``InsufficientQuota``) look like 429s but waiting does not fix
them: they are reported at once.

A call that creates something (``idempotent=False``) is only retried blindly
when the server certainly did not act (429, or a 5xx/connection error *before*
a response for which ``reconcile`` found nothing). After an ambiguous failure
the caller's ``reconcile()`` looks on the server for the object the lost
request may have created; when it finds one, that is the result.

Backoff: exponential (``base`` × 2^n, capped at ``cap``) with full jitter.
Bounded by ``max_attempts`` and ``max_total`` seconds (env
``FTJOBS_RETRY_MAX_TOTAL``, default 3600: no call keeps retrying longer than
that, waits included). Test knobs: env ``FTJOBS_RETRY_BASE`` (seconds),
``FTJOBS_RETRY_CAP``, ``FTJOBS_RETRY_ATTEMPTS``.
"""

from __future__ import annotations

import email.utils
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from jobs import settings
from jobs.errors import ExitCode, JobsError, UsageError
from jobs.models import alternatives_text
from jobs.settings import Env

T = TypeVar("T")

ROLE_HINT = (
    "fine-tuning needs the Cognitive Services OpenAI Contributor role on the AI Services account; "
    "set operatorPrincipalId in the stack and run pulumi up"
)
KEY_AUTH_NOTE = (
    "AZURE_OPENAI_API_KEY cannot work against this project's stack, which disables local (key) auth "
    "(disableLocalAuth): keys are only for resources created outside the stack, or the emulator"
)
CREDENTIAL_HINT = (
    "sign in with Entra ID: run `az login` (or give DefaultAzureCredential another source: service principal "
    "env vars AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, a managed identity, ...), or set "
    "AZURE_OPENAI_AD_TOKEN to a token for https://cognitiveservices.azure.com (`az account get-access-token "
    "--resource https://cognitiveservices.azure.com`), or set AZURE_OPENAI_API_KEY; note: " + KEY_AUTH_NOTE
)
API_VERSION_HINT = (
    "the api-version is not supported by the endpoint: pass --api-version (or set OPENAI_API_VERSION) to a "
    "version it serves, e.g. 2025-04-01-preview (the default), or use --api v1"
)


# The smallest env FTJOBS_RETRY_BASE and FTJOBS_RETRY_CAP (seconds): a typo such as 1e-9 would retry a
# struggling service back to back. The cap may be below the base (every wait is then about the cap).
BASE_MIN = 0.01
CAP_MIN = 0.1


@dataclass
class RetryPolicy:
    max_attempts: int = 8
    base: float = 1.0
    cap: float = 60.0
    max_retry_after: float = 900.0
    max_total: float = 3600.0
    refused_attempts: int = 3
    refused_cap: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    notify: Callable[[str], None] | None = None
    # told (kind "rate" or "transient", seconds) before each wait: a caller's pacer holds back its other
    # requests to the same deployment while the server asks for a pause (jobs/compare/pacing.py)
    on_wait: Callable[[str, float], None] | None = None
    # "https://x.openai.azure.com (from --endpoint)": named when the endpoint cannot be reached
    endpoint: str | None = None

    @classmethod
    def from_env(cls, env: "Env") -> "RetryPolicy":
        """The policy with env ``FTJOBS_RETRY_*`` applied (each checked: finite, in range)."""
        attempts = "a number of attempts (1 to 1000)"
        return cls(
            max_attempts=env.whole(settings.RETRY_ATTEMPTS, 8, minimum=1, maximum=1000, unit=attempts),
            base=env.number(settings.RETRY_BASE, 1.0, above=0, minimum=BASE_MIN, maximum=600,
                            unit=f"seconds ({BASE_MIN:g} to 600)", example="1"),
            cap=env.number(settings.RETRY_CAP, 60.0, above=0, minimum=CAP_MIN, maximum=3600,
                           unit=f"seconds ({CAP_MIN:g} to 3600)", example="60"),
            max_retry_after=env.number(settings.RETRY_MAX_WAIT, 900.0, minimum=0, maximum=86_400,
                                       unit="seconds (0 to 86400)", example="900"),
            max_total=env.number(settings.RETRY_MAX_TOTAL, 3600.0, minimum=0, maximum=7 * 86_400,
                                 unit="seconds (0 to 604800)", example="600"),
            refused_attempts=env.whole(settings.RETRY_REFUSED, 3, minimum=1, maximum=1000, unit=attempts,
                                       example="3"),
        )

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff for the ``attempt``-th retry (0-based)."""
        ceiling = min(self.cap, self.base * (2 ** attempt))
        return self.rng.uniform(ceiling / 2, ceiling)


# --------------------------------------------------------------------------- classification


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def _headers(exc: BaseException) -> Any:
    resp = getattr(exc, "response", None)
    return getattr(resp, "headers", None) or {}


def retry_after_seconds(headers: Any, now: float | None = None) -> float | None:
    """The server's requested wait, from ``retry-after-ms`` or ``Retry-After``."""
    try:
        ms = headers.get("retry-after-ms")
    except AttributeError:
        return None
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if not ra:
        return None
    try:
        return max(0.0, float(ra))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(ra)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def _error_fields(exc: BaseException) -> tuple[str, str]:
    """(code, message) of an API error, looking inside Azure's nested shapes."""
    code = getattr(exc, "code", None) or ""
    message = getattr(exc, "message", None) or str(exc)
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        nested = body.get("error")
        inner: dict[str, Any] = nested if isinstance(nested, dict) else body
        code = str(inner.get("code") or code or "")
        message = str(inner.get("message") or message)
        innererror = inner.get("innererror") or inner.get("inner_error")
        if isinstance(innererror, dict) and innererror.get("code"):
            code = f"{code}/{innererror['code']}" if code else str(innererror["code"])
    return str(code), str(message)


def is_quota(exc: BaseException) -> bool:
    code, message = _error_fields(exc)
    text = f"{code} {message}".lower()
    return "insufficientquota" in text.replace("_", "") or "quota" in code.lower() or "exceeded your quota" in text


def is_connection_error(exc: BaseException) -> bool:
    # openai is imported in the functions that need it, never at the top: it takes about a second, and this
    # module is loaded by commands that may make no call at all (a --help, a usage error)
    import openai

    return isinstance(exc, (openai.APIConnectionError,)) and not isinstance(exc, openai.APIStatusError)


def is_refused(exc: BaseException) -> bool:
    """A connection that was never made (refused, unresolvable host): httpx's ``ConnectError`` under the SDK's
    ``APIConnectionError``. The request never left, so the server did nothing."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if type(seen).__name__ == "ConnectError" and type(seen).__module__.split(".")[0].startswith("httpx"):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def classify(exc: BaseException) -> str:
    """``"rate"`` (429: the server did not act), ``"transient"`` (5xx, dropped
    connection: it may have acted), or ``"final"``."""
    import openai  # lazy: see is_connection_error

    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status == 429:
            return "final" if is_quota(exc) else "rate"
        if status in (408, 502, 503, 504) or status >= 500:
            return "transient"
        return "final"
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return "transient"
    return "final"


# --------------------------------------------------------------------------- the loop


def call_with_retry(
    fn: Callable[..., T],
    *args: Any,
    policy: RetryPolicy | None = None,
    what: str | None = None,
    idempotent: bool = True,
    reconcile: Callable[[], T | None] | None = None,
    **kwargs: Any,
) -> T:
    """Run ``fn(*args, **kwargs)`` with the retry policy; raise a translated JobsError at the end."""
    import openai  # here, not at the top: openai is slow to import (see is_connection_error)

    label: str = what or str(getattr(fn, "__qualname__", "request"))
    tries = _Tries(policy or RetryPolicy(), label)
    while True:
        try:
            return fn(*args, **kwargs)
        except openai.OpenAIError as exc:
            kind = classify(exc)
            if kind == "final":
                raise translate(exc, what=label) from None
            never_sent = kind == "transient" and is_refused(exc)
            if never_sent:
                tries.count_refusal(exc)
            elif kind == "transient" and not idempotent and reconcile is not None:
                found = reconcile()
                if found is not None:
                    return found
            tries.pause(exc, kind, never_sent=never_sent)
        except Exception as exc:  # the Entra token provider runs inside the SDK call
            mapped = credential_error(exc, what=label)
            if mapped is None:
                raise
            raise mapped from None


@dataclass
class _Tries:
    """The count of one call's attempts against its policy: each wait, or the error that ends the call."""

    policy: RetryPolicy
    label: str
    started: float = field(default_factory=time.monotonic)
    attempt: int = 0
    refused: int = 0

    def count_refusal(self, exc: BaseException) -> None:
        """A connection never made: after ``refused_attempts`` of them, the endpoint is named as unreachable."""
        self.refused += 1
        if self.refused >= self.policy.refused_attempts:
            raise _unreachable(exc, self.label, self.refused, self.policy.endpoint) from None

    def pause(self, exc: BaseException, kind: str, *, never_sent: bool) -> None:
        """Wait before the next attempt (told to ``notify`` and ``on_wait`` first), or raise when out of attempts
        or of the ``max_total`` budget."""
        policy = self.policy
        wait = self._wait(exc, kind, never_sent=never_sent)
        self.attempt += 1
        elapsed = time.monotonic() - self.started
        if self.attempt >= policy.max_attempts or elapsed + wait > policy.max_total:
            out_of_time = self.attempt < policy.max_attempts
            raise _gave_up(exc, self.label, self.attempt, policy.endpoint,
                           max_total=policy.max_total if out_of_time else None) from None
        limit = min(policy.max_attempts, policy.refused_attempts) if never_sent else policy.max_attempts
        msg = f"{self.label}: {_short(exc)}; retrying in {wait:.1f} s (attempt {self.attempt + 1}/{limit})"
        (policy.notify or _default_notify)(msg)
        if policy.on_wait is not None:
            policy.on_wait(kind, wait)
        policy.sleep(wait)

    def _wait(self, exc: BaseException, kind: str, *, never_sent: bool) -> float:
        """The backoff (at most ``refused_cap`` for a refusal), or the server's own Retry-After on a 429."""
        policy = self.policy
        wait = policy.backoff(self.attempt)
        if never_sent:
            wait = min(wait, policy.refused_cap)
        asked = retry_after_seconds(_headers(exc)) if kind == "rate" else None
        if asked is None:
            return wait
        if asked > policy.max_retry_after:
            raise JobsError(
                f"{self.label}: rate limited (429); the server asks to retry after {asked:.0f} s, "
                f"longer than the {policy.max_retry_after:.0f} s this command waits",
                hint=f"run the same command again later, or raise {settings.RETRY_MAX_WAIT} (seconds)",
            ) from None
        return asked


def credential_error(exc: BaseException, *, what: str = "request") -> JobsError | None:
    """An azure-identity / azure-core failure to get a token, as an error naming the fix (else None).

    azure is imported only when such an exception is actually seen.
    """
    if not type(exc).__module__.startswith("azure."):
        return None
    try:
        from azure.core.exceptions import AzureError, ClientAuthenticationError
    except ImportError:  # pragma: no cover - azure-identity is a dependency
        return None
    text = (getattr(exc, "message", None) or str(exc) or type(exc).__name__).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if isinstance(exc, ClientAuthenticationError):  # includes azure.identity.CredentialUnavailableError
        return UsageError(f"{what}: could not get an Entra ID token ({type(exc).__name__}): {first}",
                          hint=CREDENTIAL_HINT)
    if isinstance(exc, AzureError):
        return JobsError(f"{what}: getting an Entra ID token failed ({type(exc).__name__}): {first}",
                         hint="check your network and sign-in, then run the same command again; " + CREDENTIAL_HINT)
    return None


def _default_notify(message: str) -> None:
    print(f"retry: {message}", file=sys.stderr, flush=True)


def _short(exc: BaseException) -> str:
    status = _status(exc)
    if status:
        code, _ = _error_fields(exc)
        return f"HTTP {status}{' ' + code if code else ''}"
    return type(exc).__name__.replace("API", "").replace("Error", " error").strip()


ENDPOINT_FIX = ("check the endpoint URL (--endpoint, env AZURE_OPENAI_ENDPOINT, or the stack's ai_services_endpoint "
                "output) and your network; for a rehearsal start the emulator (`python -m jobs emulator`) first")


def _cause_text(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    text = " ".join(str(cause).split()) if cause is not None else ""
    return text or _short(exc)


def _unreachable(exc: BaseException, label: str, tries: int, endpoint: str | None) -> JobsError:
    where = endpoint or "the endpoint"
    return UsageError(
        f"{label}: cannot connect to {where}: {_cause_text(exc)} (nothing is listening there, or the host name "
        f"does not resolve; tried {tries} times)",
        hint=ENDPOINT_FIX,
    )


def _gave_up(exc: BaseException, label: str, attempts: int, endpoint: str | None = None, *,
             max_total: float | None = None) -> JobsError:
    status = _status(exc)
    budget = (f" (the next wait would pass the {max_total:g} s retry budget, {settings.RETRY_MAX_TOTAL})"
              if max_total is not None else "")
    if status is None:
        return JobsError(
            f"{label}: could not reach the endpoint{' ' + endpoint if endpoint else ''} after {attempts} attempts "
            f"({_short(exc)}){budget}",
            hint=ENDPOINT_FIX + "; then run the same command again (it resumes)",
        )
    code, message = _error_fields(exc)
    return JobsError(
        f"{label}: HTTP {status} {code} after {attempts} attempts{budget}: {message}".replace("  ", " "),
        hint="the service is busy or failing; run the same command again later (it resumes)",
    )


# --------------------------------------------------------------------------- translation


def translate(exc: BaseException, *, what: str = "request") -> JobsError:
    """Turn a final API error into a JobsError naming the fix; its ``status`` is the HTTP status."""
    err = _translate(exc, what=what)
    err.status = _status(exc)
    err.code = _error_fields(exc)[0] or None
    return err


@dataclass(frozen=True)
class _Seen:
    """What the translation rules look at in a final API error."""

    exc: BaseException
    status: int | None
    code: str
    text: str  # "code message", lower case

    @property
    def squashed(self) -> str:
        return self.text.replace(" ", "")


@dataclass(frozen=True)
class _Rule:
    """One row of the translation table: when ``matches``, the error is a UsageError (exit 2: the fix is the
    user's) or, with ``usage=False``, a JobsError, with this ``hint`` (a text, or a function making one)."""

    matches: Callable[[_Seen], bool]
    hint: str | Callable[[], str]
    usage: bool = True


def _is_auth(e: _Seen) -> bool:
    return e.status in (401, 403) or "permissiondenied" in e.squashed or "authorization" in e.code.lower()


def _cannot_fine_tune(e: _Seen) -> bool:
    t = e.text
    return ("does not support fine-tuning" in t or "not supported for fine-tuning" in t
            or ("invalidpayload" in e.squashed and "model" in t and "fine" in t))


def _file_not_processed(e: _Seen) -> bool:
    t = e.text
    return "completed file import" in t or "not been processed" in t or "not processed" in t or (
        "file" in t and "not ready" in t)


def _content_filtered(e: _Seen) -> bool:
    return any(w in e.text for w in ("content filter", "content_filter", "contentfilter", "responsibleai"))


def _wrong_job_state(e: _Seen) -> bool:
    t = e.text
    return "unexpectedentitystate" in e.squashed or "cannot be cancelled" in t or (
        "only a" in t and ("can be paused" in t or "can be resumed" in t))


def _model_hint() -> str:
    return (f"pick a model and region that can fine-tune: {alternatives_text()} (see jobs/models.py; gpt-4 0613 "
            "was retired); Standard training runs in North Central US or Sweden Central for gpt-4.1")


# The translation table, first match wins (the order matters: quota before auth, the 401 without a role
# problem before the other auth errors, the specific 404s before the general one).
_RULES: tuple[_Rule, ...] = (
    _Rule(lambda e: is_quota(e.exc), usage=False,
          hint="the subscription has no fine-tuning (or deployment) quota left in this region: free quota "
          "(delete unused deployments or jobs), request more in the Foundry portal's Quota page, or use "
          "another region/training type (--training-type GlobalStandard)"),
    _Rule(lambda e: e.status == 401 and "role" not in e.text and "permission" not in e.text,
          hint="the credential was rejected: run `az login` (Entra ID) or refresh AZURE_OPENAI_AD_TOKEN; "
          f"{KEY_AUTH_NOTE} (elsewhere, check the key's value); {ROLE_HINT}"),
    _Rule(_is_auth, hint=ROLE_HINT),
    _Rule(lambda e: "api version" in e.text or "api-version" in e.text or "apiversion" in e.squashed,
          hint=API_VERSION_HINT),
    _Rule(lambda e: "deploymentnotfound" in e.squashed,
          hint="the deployment does not exist (yet): check the deployment names in `pulumi stack output` "
          "and run pulumi up; a new deployment takes a few minutes to become available"),
    _Rule(_cannot_fine_tune, hint=_model_hint),
    _Rule(_file_not_processed, usage=False,
          hint="the uploaded file is still being processed: wait until `status` shows processed "
          "(`python -m jobs upload FILE` waits for it), then train again"),
    _Rule(_content_filtered, usage=False,
          hint="the content filter rejected the training data: the message names the file and line when "
          "Azure gives them; remove or rewrite those examples and upload again"),
    _Rule(_wrong_job_state,
          hint="the job is not in a state that allows this; check it with `python -m jobs status JOB_ID`"),
    _Rule(lambda e: e.status == 404 and "file" in e.text,
          hint="check the file id and the endpoint/stack; upload the data again with "
          "`python -m jobs upload DATA.jsonl`"),
    _Rule(lambda e: e.status == 404 and "resource not found" in e.text,
          hint="check the endpoint (--endpoint / AZURE_OPENAI_ENDPOINT / the stack) and the "
          "api-version (--api-version / OPENAI_API_VERSION)"),
    _Rule(lambda e: e.status == 404,
          hint="check the id (python -m jobs list shows recent jobs) and the endpoint/stack"),
    _Rule(lambda e: e.status in (400, 422),
          hint="the service rejected the request's parameters; fix the option it names"),
)


def _translate(exc: BaseException, *, what: str) -> JobsError:
    status = _status(exc)
    code, message = _error_fields(exc)
    head = f"{what}: HTTP {status}" + (f" {code}" if code else "") + f": {message}"
    seen = _Seen(exc, status, code, f"{code} {message}".lower())
    for rule in _RULES:
        if rule.matches(seen):
            hint = rule.hint if isinstance(rule.hint, str) else rule.hint()
            return (UsageError if rule.usage else JobsError)(head, hint=hint)
    err = JobsError(head, hint="see the message above; run the same command again once fixed (it resumes)")
    if status == 409:
        err.exit_code = ExitCode.REFUSED
    return err
