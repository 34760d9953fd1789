"""The one place that builds the OpenAI client and runs data-plane calls.

Endpoint resolution: ``--endpoint``, then env ``AZURE_OPENAI_ENDPOINT``, then
the stack's outputs (``pulumi stack output --json --stack S`` →
``ai_services_endpoint``).

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
``FTJOBS_HTTP_TIMEOUT`` (seconds, > 0) sets the HTTP timeout.

API shapes: ``dated`` (``AzureOpenAI`` with a pinned api-version: ``--api-version``,
env ``OPENAI_API_VERSION``, default ``2025-04-01-preview``) or ``v1``
(``OpenAI(base_url=f"{endpoint}/openai/v1/")``). Choose with ``--api`` or env
``FTJOBS_API``.

The SDK's own retries are off (``max_retries=0``): :meth:`Connection.call`
applies the project's policy from ``jobs/retry.py``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from jobs.errors import UsageError

T = TypeVar("T")

DEFAULT_API_VERSION = "2025-04-01-preview"
TOKEN_SCOPE = "https://cognitiveservices.azure.com/.default"
API_SHAPES = ("dated", "v1")
_API_VERSION_RE = re.compile(r"\d{4}-\d{2}-\d{2}(-preview)?")

_ENDPOINT_KEYS = ("ai_services_endpoint", "aiServicesEndpoint", "endpoint", "openai_endpoint")
_BASE_DEPLOYMENT_KEYS = ("base_deployment_name", "baseDeploymentName", "base_deployment", "deployment_name")
_FT_DEPLOYMENT_KEYS = (
    "fine_tuned_deployment_name",
    "fineTunedDeploymentName",
    "fine_tuned_deployment",
    "ft_deployment_name",
)


def _first(outputs: dict[str, Any] | None, keys: tuple[str, ...]) -> str | None:
    if not outputs:
        return None
    for k in keys:
        v = outputs.get(k)
        if isinstance(v, str) and v:
            return v
    return None


@dataclass
class Connection:
    client: Any
    endpoint: str
    api: str
    stack: str
    api_version: str | None = None
    outputs: dict[str, Any] | None = None
    auth: str = "entra"  # "api-key" | "ad-token" | "entra": how, never what
    endpoint_source: str = "--endpoint"  # where the endpoint came from, named when it cannot be reached
    _secret: str | None = field(default=None, repr=False)
    # True once a call got an answer: later refusals are a service restarting, retried with the full policy
    reached: bool = field(default=False, repr=False)

    @property
    def base_deployment(self) -> str | None:
        return _first(self.outputs, _BASE_DEPLOYMENT_KEYS)

    @property
    def fine_tuned_deployment(self) -> str | None:
        return _first(self.outputs, _FT_DEPLOYMENT_KEYS)

    def call(
        self,
        fn: Callable[..., T],
        *args: Any,
        what: str | None = None,
        idempotent: bool = True,
        reconcile: Callable[[], T | None] | None = None,
        **kwargs: Any,
    ) -> T:
        """Run one SDK call with the project's retry policy and error translation."""
        from jobs.retry import RetryPolicy, call_with_retry

        policy = RetryPolicy.from_env()
        policy.notify = self._notify
        policy.endpoint = f"{self.endpoint} (from {self.endpoint_source})"
        if self.reached:
            policy.refused_attempts = policy.max_attempts
        try:
            value = call_with_retry(fn, *args, policy=policy, what=what, idempotent=idempotent,
                                    reconcile=reconcile, **kwargs)
            self.reached = True
            return value
        except Exception as exc:  # scrub the key from anything that might carry it
            if self._secret and self._secret in str(exc):
                from jobs.errors import JobsError

                raise JobsError(self.redact(str(exc)), hint=getattr(exc, "hint", None)) from None
            raise

    def _notify(self, message: str) -> None:
        import sys

        print(f"retry: {self.redact(message)}", file=sys.stderr, flush=True)

    def redact(self, text: str) -> str:
        if self._secret:
            text = text.replace(self._secret, "***")
        return text

    def describe(self) -> dict[str, Any]:
        """Safe to print: no secret."""
        return {"endpoint": self.endpoint, "api": self.api, "api_version": self.api_version,
                "stack": self.stack, "auth": self.auth}


def resolve_api(api: str | None) -> str:
    value = (api or os.environ.get("FTJOBS_API") or "dated").strip().lower()
    if value not in API_SHAPES:
        src = "--api" if api else "env FTJOBS_API"
        raise UsageError(f"{src}={value!r} is not an API shape", hint="use `dated` (Azure api-version) or `v1`")
    return value


def _stack_outputs(stack: str) -> dict[str, Any]:
    from jobs import pulumi_cli  # the only module that runs `pulumi`

    outputs = pulumi_cli.stack_outputs(stack)
    return dict(outputs or {})


def connect(
    *,
    endpoint: str | None = None,
    stack: str | None = None,
    api: str | None = None,
    api_version: str | None = None,
) -> Connection:
    """Build a :class:`Connection` from options, env and (last) the stack's outputs."""
    from jobs.state import resolve_stack

    stack = resolve_stack(stack)
    shape = resolve_api(api)
    outputs: dict[str, Any] | None = None
    url = (endpoint or os.environ.get("AZURE_OPENAI_ENDPOINT") or "").strip()
    source = "--endpoint" if endpoint else "env AZURE_OPENAI_ENDPOINT"
    if not url:
        source = f"the ai_services_endpoint output of stack {stack}"
        reason = ""
        try:
            outputs = _stack_outputs(stack)
        except ImportError:
            reason = "the Pulumi bridge (jobs/pulumi_cli.py) is not available"
        except Exception as exc:  # PulumiMissing, a stack without outputs, ...
            reason = getattr(exc, "message", None) or str(exc)
        url = (_first(outputs, _ENDPOINT_KEYS) or "").strip()
        if not url:
            raise UsageError(
                "no endpoint: pass --endpoint, set AZURE_OPENAI_ENDPOINT, or deploy the stack so that "
                f"`pulumi stack output --stack {stack}` has ai_services_endpoint"
                + (f" ({reason.splitlines()[0].rstrip(':; ')})" if reason else ""),
                hint="e.g. --endpoint https://<account>.openai.azure.com, or `export AZURE_OPENAI_ENDPOINT=...`",
            )
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"endpoint {url!r} is not an http(s) URL",
                         hint="pass --endpoint https://<account>.openai.azure.com (or fix AZURE_OPENAI_ENDPOINT)")
    url = url.rstrip("/")
    for tail in ("/openai/v1", "/openai"):
        if url.endswith(tail):
            url = url[: -len(tail)]

    version = None
    if shape == "dated":
        version = (api_version or os.environ.get("OPENAI_API_VERSION") or DEFAULT_API_VERSION).strip()
        if not _API_VERSION_RE.fullmatch(version):
            src = "--api-version" if api_version else "env OPENAI_API_VERSION"
            raise UsageError(
                f"{src}={version!r} is not an Azure OpenAI api-version (YYYY-MM-DD or YYYY-MM-DD-preview)",
                hint=f"pass --api-version (or set OPENAI_API_VERSION) to e.g. {DEFAULT_API_VERSION} (the default), "
                "or unset it; --api v1 needs none",
            )

    from jobs.retry import env_float

    timeout = env_float("FTJOBS_HTTP_TIMEOUT", 120.0, above=0, unit="seconds (more than 0)", example="120")
    key = os.environ.get("AZURE_OPENAI_API_KEY") or None
    ad_token = os.environ.get("AZURE_OPENAI_AD_TOKEN") or None

    import openai

    auth: str
    secret: str | None = None
    if key:
        auth, secret = "api-key", key
    elif ad_token:
        auth, secret = "ad-token", ad_token
    else:
        auth = "entra"

    def token_provider() -> Callable[[], str]:
        from azure.identity import DefaultAzureCredential, get_bearer_token_provider

        provider: Callable[[], str] = get_bearer_token_provider(DefaultAzureCredential(), TOKEN_SCOPE)
        return provider

    client: Any
    if shape == "dated":
        kwargs: dict[str, Any] = {"azure_endpoint": url, "api_version": version, "max_retries": 0, "timeout": timeout}
        if auth == "api-key":
            kwargs["api_key"] = key
        elif auth == "ad-token":
            kwargs["azure_ad_token"] = ad_token
        else:
            kwargs["azure_ad_token_provider"] = token_provider()
        client = openai.AzureOpenAI(**kwargs)
    else:
        if auth == "api-key":
            # Azure's documented v1 usage: OpenAI(api_key=<key>, base_url=".../openai/v1/").
            client = openai.OpenAI(base_url=f"{url}/openai/v1/", api_key=key, max_retries=0, timeout=timeout)
        elif auth == "ad-token":
            client = openai.OpenAI(base_url=f"{url}/openai/v1/", api_key=ad_token, max_retries=0, timeout=timeout)
        else:
            client = openai.OpenAI(base_url=f"{url}/openai/v1/", api_key=token_provider(), max_retries=0,
                                   timeout=timeout)
    return Connection(client=client, endpoint=url, api=shape, stack=stack, api_version=version,
                      outputs=outputs, auth=auth, _secret=secret, endpoint_source=source)
