"""The ASGI wrapper around the routes: fault injection, the loopback rule of ``/++/``, the dated/v1 surface
(api-version checks), auth and the request ids. The routes themselves live in ``emulator/routes/``, one module
per resource, over one shared :class:`emulator.state.State`; answers and training come from the backend
(``emulator/backends.py``)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from emulator import backends, errors, guard
from emulator.answers import AnswerSource
from emulator.bodies import BodyError, parse_json
from emulator.config import FAULT_KINDS, EmulatorConfig
from emulator.errors import ApiError
from emulator.limits import rate_limit_error
from emulator.net import is_loopback
from emulator.routes import Endpoint, Handler
from emulator.routes import admin, files, inference, jobs, models
from emulator.state import State
from emulator.trainer import Trainer

log = logging.getLogger("emulator")

# Dated api-versions the emulator serves: the ones Azure still serves for files, fine-tuning and chat.
# Sources (Microsoft Learn, "Azure OpenAI API preview lifecycle", api-version-deprecation.md /
# api-version-lifecycle.md): GA versions are not retired; "The 2023-06-01-preview API and the 2023-10-01-preview
# API remain supported"; the previews from 2024-02-15-preview to 2025-04-01-preview (the last dated one: later
# features ship on v1) are described as current. Retired ones are answered like any unserved version (RETIRED_API_VERSIONS).
API_VERSIONS = frozenset({
    "2023-05-15", "2024-02-01", "2024-06-01", "2024-10-21",
    "2023-06-01-preview", "2023-10-01-preview",
    "2024-02-15-preview", "2024-03-01-preview", "2024-04-01-preview", "2024-05-01-preview", "2024-07-01-preview",
    "2024-08-01-preview", "2024-09-01-preview", "2024-10-01-preview", "2024-12-01-preview", "2025-01-01-preview",
    "2025-02-01-preview", "2025-03-01-preview", "2025-04-01-preview",
})
# Retired previews (the lifecycle page's "retiring" lists of 2024 and Microsoft's retirement notices quoted in
# public issues, e.g. sourcegraph/sourcegraph-public-snapshot#60091): Azure answers them 400 "API version not
# supported", as it answers any version it does not serve. Listed for the docs and tests, not for a separate answer.
RETIRED_API_VERSIONS = frozenset({
    "2023-03-15-preview", "2023-07-01-preview", "2023-08-01-preview", "2023-09-01-preview", "2023-09-15-preview",
    "2023-12-01-preview",
})
# The v1 surface takes no api-version; these values are tolerated as well.
V1_API_VERSIONS = frozenset({"preview", "v1", "latest"})


# Routes whose deployment is the body's "model" (v1 chat and responses; the dated responses route too).
_MODEL_IN_BODY = re.compile(r"/openai(/v1)?/(chat/completions|responses)")
_DEPLOYMENT_IN_PATH = re.compile(r"/openai/deployments/([^/]+)/")


async def _deployment_of(scope: Scope, receive: Receive) -> tuple[str | None, Receive]:
    """The deployment a request is for (its URL's, or its JSON body's ``model``), and a ``receive`` that replays
    the body the look read. Only called when fault rules name deployments."""
    m = _DEPLOYMENT_IN_PATH.match(scope["path"])
    if m:
        return unquote(m.group(1)), receive
    if scope.get("method") != "POST" or not _MODEL_IN_BODY.fullmatch(scope["path"]):
        return None, receive
    messages: list[Any] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body"):
            break
    raw = b"".join(msg.get("body", b"") for msg in messages if msg["type"] == "http.request")
    try:
        body = parse_json(raw)
    except BodyError:
        body = None
    model = body.get("model") if isinstance(body, dict) else None

    async def replay() -> Any:
        return messages.pop(0) if messages else await receive()

    return (model if isinstance(model, str) else None), replay


class Emulator:
    """The ASGI app: ``Emulator(state)``; ``state`` holds what the routes share."""

    def __init__(self, state: State, host: str | None = None):
        """``host``: the address the server is bound to (None: in-process, no socket, no Host check)."""
        self.state = state
        self.config = state.config
        self.store = state.store
        self.engine = state.engine
        self.hosts = guard.allowed_hosts(host) if host is not None else None
        self.app = self._build()

    # ------------------------------------------------------------------ ASGI
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await guard.refuse(send, *refusal)
            return
        if _is_upload(scope):
            length = guard.declared_length(scope)
            limit = guard.MAX_UPLOAD_BYTES + guard.FORM_SLACK  # the file plus the form's own fields and boundaries
            if length is not None and length > limit:
                await send_error(send, errors.upload_too_large(guard.MAX_UPLOAD_BYTES))
                return
            receive = guard.capped(receive, limit)
        if scope["path"].startswith("/openai"):
            deployment = None
            if self.state.faults.by_deployment():
                deployment, receive = await _deployment_of(scope, receive)
            kind = self.state.faults.pick(scope["path"], deployment)
            if kind is not None:
                await self._fault(kind, scope, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        """Why a request is refused before any route sees it (status, code, message), or None."""
        if self.hosts is not None and not guard.host_ok(scope, self.hosts):
            return 403, "forbidden", ("the Host header names neither this machine's loopback nor the address the "
                                      "emulator listens on (DNS rebinding?)")
        if not guard.origin_ok(scope):
            return 403, "forbidden", "cross-site requests are refused: the Origin is not a loopback page"
        admin = scope["path"].startswith("/++/")
        if admin and not _loopback_client(scope):
            # admin routes have no auth: only ever answer them on loopback, whatever --host says
            return 403, "forbidden", "admin routes answer loopback clients only"
        if admin and scope.get("method") in ("POST", "PATCH", "PUT") and not guard.json_content_type(scope):
            return 415, "unsupportedMediaType", "admin routes take Content-Type: application/json"
        return None

    async def _fault(self, kind: str, scope: Scope, send: Send) -> None:
        """Injected before any state change, so a fault never corrupts files or jobs."""
        if kind == "drop":
            cycle = getattr(send, "__self__", None)
            transport = getattr(cycle, "transport", None)
            if transport is not None:  # uvicorn: close the socket without a response
                transport.close()
                return
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]})
            return
        if kind == "429":
            err = self._injected_429(scope)
        elif kind == "503":
            err = ApiError(503, "serviceUnavailable", "The service is temporarily unable to process your request. "
                           "Please try again later. (emulator: injected fault)")
        elif kind == "500":
            err = ApiError(500, "internalFailure", "The server had an error while processing your request. "
                           "Sorry about that! (emulator: injected fault)")
        else:  # the config refuses unknown kinds (faults.kinds); never turn one into a silent 500
            raise ValueError(f"unknown fault kind {kind!r}; allowed: {', '.join(FAULT_KINDS)}")
        await send_error(send, err)

    def _injected_429(self, scope: Scope) -> ApiError:
        """Azure's 429 for the operation the request names, asking for ``faults.retry_after_seconds``."""
        path, method = scope["path"], scope.get("method", "GET")
        query = dict(parse_qsl((scope.get("query_string") or b"").decode("latin-1")))
        version = None if path.startswith("/openai/v1/") else query.get("api-version")
        m = re.fullmatch(r"/openai/deployments/([^/]+)/chat/completions", path)
        if m:  # a deployment's quota: the same x-ratelimit-* headers as a real over-limit answer
            headers = self.state.limiter.snapshot(unquote(m.group(1)))
        else:  # files, jobs, models (and v1 chat, whose deployment is in the body): no per-deployment quota
            headers = {"x-ratelimit-remaining-requests": "0"}
        return rate_limit_error(operation_id(method, path), version, "call rate", self.config.faults.retry_after_seconds,
                                headers)

    # ------------------------------------------------------------------ routing
    def _build(self) -> Starlette:
        routes: list[Route] = admin.routes(self.state)
        endpoints: list[Endpoint] = []
        for module in (files, jobs, models, inference):
            endpoints += module.endpoints(self.state)
        for surface, prefix in (("dated", "/openai"), ("v1", "/openai/v1")):
            routes += [Route(prefix + e.path, self._data_plane(e.handler), methods=list(e.methods))
                       for e in endpoints if surface in e.surfaces]

        async def not_found(request: Request, exc: Exception) -> Response:
            return errors.resource_not_found().response()

        async def method_not_allowed(request: Request, exc: Exception) -> Response:
            return JSONResponse({"error": {"code": "405", "message": "Method not allowed"}}, status_code=405)

        return Starlette(routes=routes, exception_handlers={404: not_found, 405: method_not_allowed})

    def _data_plane(self, handler: Handler) -> Handler:
        async def wrapped(request: Request) -> Response:
            try:
                v1 = request.url.path.startswith("/openai/v1/")
                version = request.query_params.get("api-version")
                _check_version(v1, version)
                self._authenticate(request)
                request.state.v1 = v1
                request.state.api_version = version
                if self.config.latency.fixed_ms > 0:
                    await asyncio.sleep(self.config.latency.fixed_ms / 1000)
                response = await handler(request)
            except ApiError as exc:
                response = exc.response()
            except guard.TooLarge:
                response = errors.upload_too_large(guard.MAX_UPLOAD_BYTES).response()
            rid = str(uuid.uuid4())
            response.headers["apim-request-id"] = rid
            response.headers["x-request-id"] = rid
            return response

        return wrapped

    def _authenticate(self, request: Request) -> None:
        key = request.headers.get("api-key", "").strip()
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        keys = self.config.api_keys
        given = key or token
        if given and (keys is None or given in keys):
            return
        raise errors.unauthorized()


async def send_error(send: Send, err: ApiError) -> None:
    """Azure's error body for ``err``, sent straight from the ASGI layer (with request ids)."""
    body = json.dumps(err.body()).encode()
    rid = str(uuid.uuid4()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"apim-request-id", rid), (b"x-request-id", rid)]
    headers += [(k.encode(), v.encode()) for k, v in err.headers.items()]
    await send({"type": "http.response.start", "status": err.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _is_upload(scope: Scope) -> bool:
    return scope.get("method") == "POST" and scope["path"] in ("/openai/files", "/openai/v1/files")


def _check_version(v1: bool, version: str | None) -> None:
    if v1:
        if version is not None and version not in V1_API_VERSIONS:
            raise errors.api_version_not_supported()
        return
    if not version:
        raise errors.resource_not_found()
    if version not in API_VERSIONS:
        raise errors.api_version_not_supported()


# (method, path pattern after /openai or /openai/v1) -> the spec's operationId, which Azure names in its 429s
_OPERATIONS: list[tuple[str, re.Pattern[str], str]] = [(m, re.compile(p), op) for m, p, op in [
    ("GET", r"/files", "Files_List"), ("POST", r"/files", "Files_Upload"),
    ("GET", r"/files/[^/]+", "Files_Get"), ("DELETE", r"/files/[^/]+", "Files_Delete"),
    ("GET", r"/files/[^/]+/content", "Files_GetContent"),
    ("GET", r"/fine_tuning/jobs", "FineTuning_List"), ("POST", r"/fine_tuning/jobs", "FineTuning_Create"),
    ("GET", r"/fine_tuning/jobs/[^/]+", "FineTuning_Get"), ("DELETE", r"/fine_tuning/jobs/[^/]+", "FineTuning_Delete"),
    ("POST", r"/fine_tuning/jobs/[^/]+/cancel", "FineTuning_Cancel"),
    ("POST", r"/fine_tuning/jobs/[^/]+/pause", "FineTuning_Pause"),
    ("POST", r"/fine_tuning/jobs/[^/]+/resume", "FineTuning_Resume"),
    ("GET", r"/fine_tuning/jobs/[^/]+/events", "FineTuning_GetEvents"),
    ("GET", r"/fine_tuning/jobs/[^/]+/checkpoints", "FineTuning_GetCheckpoints"),
    ("GET", r"/models", "Models_List"), ("GET", r"/models/.+", "Models_Get"), ("DELETE", r"/models/.+", "Models_Delete"),
    ("POST", r"/deployments/[^/]+/chat/completions", "ChatCompletions_Create"),
    ("POST", r"/chat/completions", "ChatCompletions_Create"),
    ("POST", r"/responses", "createResponse"),
]]


def operation_id(method: str, path: str) -> str:
    """The operationId (authoring / inference spec) of a data-plane request, e.g. ``Files_Upload``."""
    rest = path[len("/openai/v1"):] if path.startswith("/openai/v1/") else path[len("/openai"):]
    for m, pattern, op in _OPERATIONS:
        if m == method and pattern.fullmatch(rest):
            return op
    return "requested"


def _loopback_client(scope: Scope) -> bool:
    client = scope.get("client")
    if not client:
        return True  # in-process callers (no socket)
    return is_loopback(str(client[0]))



def create_app(state_dir: Path, config: EmulatorConfig | dict[str, Any] | None = None,
               host: str | None = None, backend: tuple[AnswerSource, Trainer] | None = None) -> Emulator:
    """The emulator on ``state_dir`` with the backend its config names (``backend``: stand-in or local), or the
    ready ``backend`` given (an answer source and a trainer: tests pass the local backend over a fake model);
    ``host``: the address it will be bound to (its Host check; None: in-process, no check)."""
    cfg = config if isinstance(config, EmulatorConfig) else EmulatorConfig.from_dict(config)
    source, trainer = backend or backends.make(cfg, Path(state_dir))
    return Emulator(State.build(Path(state_dir), cfg, source, trainer), host)
