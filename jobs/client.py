"""The one place that builds the OpenAI client and runs data-plane calls.

Endpoint resolution: ``--endpoint``, then env ``AZURE_OPENAI_ENDPOINT``, then
the stack's outputs (the session's deployer: ``pulumi stack output --json
--stack S`` → ``ai_services_endpoint``, the stack contract's one spelling).

Auth, in this order:

1. env ``AZURE_OPENAI_API_KEY`` (only when the user sets it; never printed,
   logged or written; :meth:`Connection.redact` scrubs it from any text);
2. env ``AZURE_OPENAI_AD_TOKEN`` (a static Entra ID token);
3. azure-identity ``DefaultAzureCredential`` through
   ``get_bearer_token_provider(cred, "https://cognitiveservices.azure.com/.default")``.

This project's stack disables local (key) auth on the AI Services account, so
against it only 2 and 3 work; a key is for resources created elsewhere or the
emulator. When the token provider cannot get a token (no ``az login``), the
call fails with a UsageError naming the fixes (``jobs/retry.py:credential_error``).
``FTJOBS_HTTP_TIMEOUT`` (seconds, 1 to 3600) sets the HTTP timeout.

API shapes: ``v1`` (the default, :data:`DEFAULT_API`: ``OpenAI(base_url=f"{endpoint}/openai/v1/")``,
GA since August 2025 and what Microsoft's current REST examples use) or ``dated``
(``AzureOpenAI`` with a pinned api-version: ``--api-version``, env ``OPENAI_API_VERSION``,
default ``2025-04-01-preview``). Choose with ``--api`` or env ``FTJOBS_API``.

The SDK's own retries are off (``max_retries=0``): :meth:`Connection.call`
applies the project's policy from ``jobs/retry.py`` (built once per connection).
What the calls answer is read in one place, ``jobs/api.py``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field, replace
from typing import Any, Callable, TypeVar

from jobs import settings
from jobs.contract import StackOutputs
from jobs.errors import JobsError, UsageError
from jobs.retry import RetryPolicy, call_with_retry
from jobs.settings import Env

T = TypeVar("T")

DEFAULT_API_VERSION = "2025-04-01-preview"
TOKEN_SCOPE = "https://cognitiveservices.azure.com/.default"
# A Foundry project endpoint (https://<account>.services.ai.azure.com/api/projects/<project>, the `foundry`
# topology's project_endpoint output) serves the v1 API under /openai/v1/ (what azure-ai-projects'
# get_openai_client() uses) and takes tokens for this audience (Microsoft Learn's Foundry quickstarts:
# `az account get-access-token --scope https://ai.azure.com/.default`).
FOUNDRY_TOKEN_SCOPE = "https://ai.azure.com/.default"
PROJECT_PATH = "/api/projects/"


def token_scope(url: str) -> str:
    """The Entra token audience of an endpoint: Foundry's for a project endpoint, Cognitive Services' else."""
    return FOUNDRY_TOKEN_SCOPE if PROJECT_PATH in url else TOKEN_SCOPE
API_SHAPES = ("dated", "v1")
# The runner's default API surface (the rehearsal takes it too): Learn, "Azure OpenAI v1 API lifecycle"
# (MicrosoftDocs/azure-ai-docs articles/foundry/openai/includes/api-version-lifecycle-content.md, ms.date
# 2026-03-19, read 2026-12-06): the v1 surface, /openai/v1/, no api-version, opt-in GA since August 2025.
DEFAULT_API = "v1"
_API_VERSION_RE = re.compile(r"\d{4}-\d{2}-\d{2}(-preview)?")


@dataclass(frozen=True)
class Credential:
    """How to authenticate: ``api-key``, ``ad-token`` (a static Entra token) or ``entra`` (DefaultAzureCredential)."""

    kind: str
    secret: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Env) -> "Credential":
        key = env.raw(settings.API_KEY) or None
        if key:
            return cls("api-key", key)
        token = env.raw(settings.AD_TOKEN) or None
        if token:
            return cls("ad-token", token)
        return cls("entra")


@dataclass(frozen=True)
class Target:
    """Where the data plane is and how to sign in, as the user asked (the client's options): options first;
    None means the environment, then (for the endpoint) the stack's outputs."""

    endpoint: str | None = None
    api: str | None = None
    api_version: str | None = None
    credential: Credential | None = None


@dataclass
class Connection:
    client: Any
    endpoint: str
    api: str
    stack: str
    api_version: str | None = None
    auth: str = "entra"  # "api-key" | "ad-token" | "entra": how, never what
    endpoint_source: str = "--endpoint"  # where the endpoint came from, named when it cannot be reached
    policy: RetryPolicy | None = field(default=None, repr=False)
    _secret: str | None = field(default=None, repr=False)
    # True once a call got an answer: later refusals are a service restarting, retried with the full policy
    reached: bool = field(default=False, repr=False)

    def call(
        self,
        fn: Callable[..., T],
        *args: Any,
        what: str | None = None,
        idempotent: bool = True,
        reconcile: Callable[[], T | None] | None = None,
        on_wait: Callable[[str, float], None] | None = None,
        **kwargs: Any,
    ) -> T:
        """Run one SDK call with the project's retry policy and error translation (``on_wait``: see
        :attr:`jobs.retry.RetryPolicy.on_wait`)."""
        policy = replace(self.policy or RetryPolicy(), notify=self._notify, on_wait=on_wait,
                         endpoint=f"{self.endpoint} (from {self.endpoint_source})")
        if self.reached:
            policy.refused_attempts = policy.max_attempts
        try:
            value = call_with_retry(fn, *args, policy=policy, what=what, idempotent=idempotent,
                                    reconcile=reconcile, **kwargs)
            self.reached = True
            return value
        except Exception as exc:  # scrub the key from anything that might carry it
            if self._secret and self._secret in str(exc):
                raise JobsError(self.redact(str(exc)), hint=getattr(exc, "hint", None)) from None
            raise

    def _notify(self, message: str) -> None:
        print(f"retry: {self.redact(message)}", file=sys.stderr, flush=True)

    def redact(self, text: str) -> str:
        if self._secret:
            text = text.replace(self._secret, "***")
        return text

    def describe(self) -> dict[str, Any]:
        """Safe to print: no secret."""
        return {"endpoint": self.endpoint, "api": self.api, "api_version": self.api_version,
                "stack": self.stack, "auth": self.auth}


def resolve_api(api: str | None, env: Env) -> str:
    value = (api or env.text(settings.API_SHAPE) or DEFAULT_API).strip().lower()
    if value not in API_SHAPES:
        src = "--api" if api else f"env {settings.API_SHAPE}"
        raise UsageError(f"{src}={value!r} is not an API shape", hint="use `dated` (Azure api-version) or `v1`")
    return value


def _endpoint_from_stack(stack: str, outputs: Callable[[], StackOutputs]) -> str:
    try:
        url = outputs().ai_services_endpoint or ""
        reason = "" if url else "it has no ai_services_endpoint output"
    except JobsError as exc:  # PulumiMissing, a stack without outputs, ...
        url, reason = "", exc.message
    if not url:
        raise UsageError(
            "no endpoint: pass --endpoint, set AZURE_OPENAI_ENDPOINT, or deploy the stack so that "
            f"`pulumi stack output --stack {stack}` has ai_services_endpoint"
            + (f" ({reason.splitlines()[0].rstrip(':; ')})" if reason else ""),
            hint="e.g. --endpoint https://<account>.openai.azure.com, or `export AZURE_OPENAI_ENDPOINT=...`",
        )
    return url


def connect(target: Target, *, env: Env, stack: str, outputs: Callable[[], StackOutputs],
            policy: RetryPolicy | None = None) -> Connection:
    """Build a :class:`Connection` from the options (``target``), the environment and (last) the stack's outputs."""
    shape = resolve_api(target.api, env)
    url = (target.endpoint or env.text(settings.ENDPOINT) or "").strip()
    source = "--endpoint" if target.endpoint else f"env {settings.ENDPOINT}"
    if not url:
        source = f"the ai_services_endpoint output of stack {stack}"
        url = _endpoint_from_stack(stack, outputs).strip()
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"endpoint {url!r} is not an http(s) URL",
                         hint="pass --endpoint https://<account>.openai.azure.com (or fix AZURE_OPENAI_ENDPOINT)")
    url = url.rstrip("/")
    for tail in ("/openai/v1", "/openai"):
        if url.endswith(tail):
            url = url[: -len(tail)]

    if PROJECT_PATH in url and shape != "v1":
        raise UsageError(
            f"endpoint {url} ({source}) is a Foundry project endpoint, which serves only the v1 API",
            hint="pass --api v1 (or set FTJOBS_API=v1), or use the account's endpoint "
            "(https://<account>.openai.azure.com, the stack's ai_services_endpoint) with the dated API")
    version = None
    if shape == "dated":
        version = (target.api_version or env.text(settings.API_VERSION) or DEFAULT_API_VERSION).strip()
        if not _API_VERSION_RE.fullmatch(version):
            src = "--api-version" if target.api_version else f"env {settings.API_VERSION}"
            raise UsageError(
                f"{src}={version!r} is not an Azure OpenAI api-version (YYYY-MM-DD or YYYY-MM-DD-preview)",
                hint=f"pass --api-version (or set OPENAI_API_VERSION) to e.g. {DEFAULT_API_VERSION} (the default), "
                "or unset it; --api v1 needs none",
            )

    timeout = settings.http_timeout(env)
    policy = policy or RetryPolicy.from_env(env)
    cred = target.credential or Credential.from_env(env)
    client = build_client(shape, url, version, cred, timeout)
    return Connection(client=client, endpoint=url, api=shape, stack=stack, api_version=version, auth=cred.kind,
                      _secret=cred.secret, endpoint_source=source, policy=policy)


def _quiet_azure_identity() -> None:
    """azure-identity logs every credential it tried at WARNING; with no logging configured, Python prints those
    ~15 lines on stderr (``logging.lastResort``) before our own error names the fix (jobs/retry.py). A
    ``NullHandler`` on its logger keeps them off the terminal; an application that configures logging still gets
    them through propagation."""
    import logging

    log = logging.getLogger("azure.identity")
    if not any(isinstance(h, logging.NullHandler) for h in log.handlers):
        log.addHandler(logging.NullHandler())


def build_client(shape: str, url: str, version: str | None, cred: Credential, timeout: float) -> Any:
    """The ``openai`` client, dated (``AzureOpenAI``) or v1 (``OpenAI`` on ``/openai/v1/``); SDK retries off."""
    import openai  # here, not at the top: openai takes ~1 s to import; commands that never call stay fast

    def token_provider() -> Callable[[], str]:
        # here: azure-identity is slow to import and needed only without a key or token
        from azure.identity import DefaultAzureCredential, get_bearer_token_provider

        _quiet_azure_identity()
        provider: Callable[[], str] = get_bearer_token_provider(DefaultAzureCredential(), token_scope(url))
        return provider

    if shape == "dated":
        kwargs: dict[str, Any] = {"azure_endpoint": url, "api_version": version, "max_retries": 0, "timeout": timeout}
        if cred.kind == "api-key":
            kwargs["api_key"] = cred.secret
        elif cred.kind == "ad-token":
            kwargs["azure_ad_token"] = cred.secret
        else:
            kwargs["azure_ad_token_provider"] = token_provider()
        return openai.AzureOpenAI(**kwargs)
    # Azure's documented v1 usage: OpenAI(api_key=<key or token>, base_url=".../openai/v1/").
    api_key: Any = cred.secret if cred.kind in ("api-key", "ad-token") else token_provider()
    return openai.OpenAI(base_url=f"{url}/openai/v1/", api_key=api_key, max_retries=0, timeout=timeout)
