"""The Starlette app: Azure OpenAI's data plane (dated and v1 surfaces) plus ``/++/`` admin routes."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable
from urllib.parse import parse_qsl, unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from emulator import chat, errors, structured
from emulator.config import FAULT_KINDS, EmulatorConfig
from emulator.counting import _encoding, count_messages, count_text, encoding_name
from emulator.errors import ApiError
from emulator.finetune import PURPOSES, Engine, render_checkpoint, render_event, render_file, render_job
from emulator.limits import FaultInjector, RateLimiter, rate_limit_error
from emulator.net import is_loopback
from emulator.store import Store
from jobs.stand_in import STAND_IN_HEADER as STAND_IN_HEADER_NAME

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
STAND_IN_HEADER = {STAND_IN_HEADER_NAME: "stand-in"}  # the header the product reads (jobs/stand_in.py)

Handler = Callable[[Request], Awaitable[Response]]


class Emulator:
    """Holds the state shared by all routes: config, store, engine, limits, faults."""

    def __init__(self, state_dir: Path, config: EmulatorConfig):
        self.config = config
        self.store = Store(state_dir)
        self.config.deployments.update(self.store.registered_deployments())
        self.engine = Engine(self.store, config)
        self.limiter = RateLimiter(config)
        self.faults = FaultInjector(config)
        self.app = self._build()

    # ------------------------------------------------------------------ ASGI
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/++/") and not _loopback_client(scope):
            # admin routes have no auth: only ever answer them on loopback, whatever --host says
            await JSONResponse({"error": {"code": "forbidden", "message": "admin routes answer loopback clients only"}},
                               status_code=403)(scope, receive, send)
            return
        if scope["type"] == "http" and scope["path"].startswith("/openai"):
            kind = self.faults.pick(scope["path"])
            if kind is not None:
                await self._fault(kind, scope, send)
                return
        await self.app(scope, receive, send)

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
        body = json.dumps(err.body()).encode()
        rid = str(uuid.uuid4()).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"apim-request-id", rid), (b"x-request-id", rid)]
        headers += [(k.encode(), v.encode()) for k, v in err.headers.items()]
        await send({"type": "http.response.start", "status": err.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _injected_429(self, scope: Scope) -> ApiError:
        """Azure's 429 for the operation the request names, asking for ``faults.retry_after_seconds``."""
        path, method = scope["path"], scope.get("method", "GET")
        query = dict(parse_qsl((scope.get("query_string") or b"").decode("latin-1")))
        version = None if path.startswith("/openai/v1/") else query.get("api-version")
        m = re.fullmatch(r"/openai/deployments/([^/]+)/chat/completions", path)
        if m:  # a deployment's quota: the same x-ratelimit-* headers as a real over-limit answer
            headers = self.limiter.snapshot(unquote(m.group(1)))
        else:  # files, jobs, models (and v1 chat, whose deployment is in the body): no per-deployment quota
            headers = {"x-ratelimit-remaining-requests": "0"}
        return rate_limit_error(operation_id(method, path), version, "call rate", self.config.faults.retry_after_seconds,
                                headers)

    # ------------------------------------------------------------------ routing
    def _build(self) -> Starlette:
        routes: list[Route] = [
            Route("/++/health", self.health, methods=["GET"]),
            Route("/++/deployments", self.admin_deployments, methods=["GET", "POST"]),
            Route("/++/deployments/{name}", self.admin_deployment_delete, methods=["DELETE"]),
            Route("/++/config", self.admin_config, methods=["GET", "PATCH"]),
        ]
        for prefix in ("/openai", "/openai/v1"):
            dp = self._data_plane
            routes += [
                Route(f"{prefix}/files", dp(self.files_collection), methods=["GET", "POST"]),
                Route(f"{prefix}/files/{{file_id}}", dp(self.file_item), methods=["GET", "DELETE"]),
                Route(f"{prefix}/files/{{file_id}}/content", dp(self.file_content), methods=["GET"]),
                Route(f"{prefix}/fine_tuning/jobs", dp(self.jobs_collection), methods=["GET", "POST"]),
                Route(f"{prefix}/fine_tuning/jobs/{{job_id}}", dp(self.job_item), methods=["GET", "DELETE"]),
                Route(f"{prefix}/fine_tuning/jobs/{{job_id}}/cancel", dp(self.job_cancel), methods=["POST"]),
                Route(f"{prefix}/fine_tuning/jobs/{{job_id}}/pause", dp(self.job_pause), methods=["POST"]),
                Route(f"{prefix}/fine_tuning/jobs/{{job_id}}/resume", dp(self.job_resume), methods=["POST"]),
                Route(f"{prefix}/fine_tuning/jobs/{{job_id}}/events", dp(self.job_events), methods=["GET"]),
                Route(f"{prefix}/fine_tuning/jobs/{{job_id}}/checkpoints", dp(self.job_checkpoints), methods=["GET"]),
                Route(f"{prefix}/models", dp(self.models_collection), methods=["GET"]),
                Route(f"{prefix}/models/{{model_id:path}}", dp(self.model_item), methods=["GET", "DELETE"]),
            ]
        routes += [
            Route("/openai/deployments/{deployment}/chat/completions", self._data_plane(self.chat_completions),
                  methods=["POST"]),
            Route("/openai/v1/chat/completions", self._data_plane(self.chat_completions), methods=["POST"]),
            Route("/openai/responses", self._data_plane(self.responses), methods=["POST"]),
            Route("/openai/v1/responses", self._data_plane(self.responses), methods=["POST"]),
        ]

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
                if v1:
                    if version is not None and version not in V1_API_VERSIONS:
                        raise errors.api_version_not_supported()
                else:
                    if not version:
                        raise errors.resource_not_found()
                    if version not in API_VERSIONS:
                        raise errors.api_version_not_supported()
                self._authenticate(request)
                request.state.v1 = v1
                request.state.api_version = version
                if self.config.latency.fixed_ms > 0:
                    await asyncio.sleep(self.config.latency.fixed_ms / 1000)
                response = await handler(request)
            except ApiError as exc:
                response = exc.response()
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
        if key:
            if keys is None or key in keys:
                return
            raise errors.unauthorized()
        if token:
            if keys is None or token in keys:
                return
            raise errors.unauthorized()
        raise errors.unauthorized()

    # ------------------------------------------------------------------ admin
    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "emulator": True, "answers": "stand-in"})

    def deployments(self) -> dict[str, dict[str, Any]]:
        return self.config.deployments

    async def admin_deployments(self, request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse({"data": [{"name": n, **d} for n, d in sorted(self.deployments().items())]})
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return JSONResponse({"error": {"code": "invalidPayload", "message": "body must be JSON {name, model}"}},
                                status_code=400)
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not isinstance(body.get("model"), str) \
                or not body["name"] or not body["model"]:
            return JSONResponse({"error": {"code": "invalidPayload",
                                           "message": "body must be {\"name\": str, \"model\": str, \"capacity\"?: number}"}},
                                status_code=400)
        self.add_deployment(body["name"], body["model"], body.get("capacity"))
        return JSONResponse({"name": body["name"], **self.deployments()[body["name"]]}, status_code=201)

    def add_deployment(self, name: str, model: str, capacity: Any = None) -> None:
        dep: dict[str, Any] = {"model": model, "capacity": capacity if isinstance(capacity, (int, float)) and capacity > 0 else 50,
                               "registered_at": time.time()}
        with self.store.lock:
            self.config.deployments[name] = dep
            registered = self.store.registered_deployments()
            registered[name] = dep
            self.store.save_deployments(registered)

    async def admin_deployment_delete(self, request: Request) -> Response:
        name = request.path_params["name"]
        with self.store.lock:
            registered = self.store.registered_deployments()
            if name not in self.config.deployments:
                return errors.deployment_not_found().response()
            self.config.deployments.pop(name, None)
            registered.pop(name, None)
            self.store.save_deployments(registered)
        return Response(status_code=204)

    async def admin_config(self, request: Request) -> Response:
        if request.method == "PATCH":
            try:
                body = await request.json()
            except json.JSONDecodeError:
                return JSONResponse({"error": {"code": "invalidPayload", "message": "body must be a JSON object"}},
                                    status_code=400)
            from jobs.errors import UsageError

            try:
                self.config.apply(body, source="PATCH /++/config", replace_deployments=False)
            except UsageError as exc:
                return JSONResponse({"error": {"code": "invalidPayload", "message": exc.message, "hint": exc.hint}},
                                    status_code=400)
            if isinstance(body, dict) and "limits" in body:
                self.limiter.reset()
        return JSONResponse(self.config.to_dict(redact=True))

    # ------------------------------------------------------------------ files
    async def files_collection(self, request: Request) -> Response:
        v1 = request.state.v1
        if request.method == "POST":
            form = await request.form()
            purpose = form.get("purpose")
            upload = form.get("file")
            if not isinstance(purpose, str) or not purpose:
                raise errors.invalid_payload("The 'purpose' form field is required.", "purpose")
            if purpose not in PURPOSES:
                raise errors.invalid_payload(f"Purpose '{purpose}' is not supported. Use one of: {', '.join(PURPOSES)}.",
                                             "purpose")
            if upload is None or isinstance(upload, str):
                raise errors.invalid_payload("The 'file' form field is required.", "file")
            content = await upload.read()
            filename = upload.filename or "upload.jsonl"
            rec = self.engine.upload(filename, purpose, content)
            headers = {} if v1 else {"location": f"{request.base_url}openai/files/{rec['id']}"}
            return JSONResponse(render_file(rec, v1=v1), status_code=200 if v1 else 201, headers=headers)
        self.engine.tick()
        purpose = request.query_params.get("purpose")
        items = [f for f in self.store.files() if not purpose or f["purpose"] == purpose]
        order = request.query_params.get("order", "desc")
        items.sort(key=lambda f: (f["created_at"], f["id"]), reverse=order != "asc")
        page, has_more = _paginate(items, request, default_limit=10000)
        return JSONResponse({"object": "list", "data": [render_file(f, v1=v1) for f in page], "has_more": has_more,
                             "first_id": page[0]["id"] if page else None,
                             "last_id": page[-1]["id"] if page else None})

    async def file_item(self, request: Request) -> Response:
        file_id = request.path_params["file_id"]
        self.engine.tick()
        if request.method == "DELETE":
            self.engine.delete_file(file_id)
            return JSONResponse({"object": "file", "deleted": True, "id": file_id})
        return JSONResponse(render_file(self.engine.get_file(file_id), v1=request.state.v1))

    async def file_content(self, request: Request) -> Response:
        file_id = request.path_params["file_id"]
        self.engine.tick()
        rec = self.engine.get_file(file_id)
        media = "text/csv" if rec["filename"].endswith(".csv") else "application/octet-stream"
        return Response(self.store.file_content(file_id), media_type=media)

    # ------------------------------------------------------------------ fine-tuning jobs
    async def jobs_collection(self, request: Request) -> Response:
        v1 = request.state.v1
        if request.method == "POST":
            try:
                body = await request.json()
            except json.JSONDecodeError:
                raise errors.invalid_payload("The request body must be a JSON object.")
            if not isinstance(body, dict):
                raise errors.invalid_payload("The request body must be a JSON object.")
            job = self.engine.create_job(body)
            headers = {} if v1 else {"location": f"{request.base_url}openai/fine_tuning/jobs/{job['id']}"}
            return JSONResponse(render_job(job, v1=v1), status_code=200 if v1 else 201, headers=headers)
        self.engine.tick()
        items = sorted(self.store.jobs(), key=lambda j: (j["created_at"], j["id"]), reverse=True)
        page, has_more = _paginate(items, request, default_limit=20)
        return JSONResponse({"object": "list", "data": [render_job(j, v1=v1) for j in page], "has_more": has_more})

    async def job_item(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        if request.method == "DELETE":
            self.engine.delete_job(job_id)
            return Response(status_code=204)
        return JSONResponse(render_job(self.engine.get_job(job_id), v1=request.state.v1))

    async def job_cancel(self, request: Request) -> Response:
        return JSONResponse(render_job(self.engine.cancel(request.path_params["job_id"]), v1=request.state.v1))

    async def job_pause(self, request: Request) -> Response:
        return JSONResponse(render_job(self.engine.pause(request.path_params["job_id"]), v1=request.state.v1))

    async def job_resume(self, request: Request) -> Response:
        return JSONResponse(render_job(self.engine.resume(request.path_params["job_id"]), v1=request.state.v1))

    async def job_events(self, request: Request) -> Response:
        job = self.engine.get_job(request.path_params["job_id"])
        items = sorted(job["events"], key=lambda e: e["seq"], reverse=True)  # newest first
        page, has_more = _paginate(items, request, default_limit=20)
        return JSONResponse({"object": "list", "data": [render_event(e) for e in page], "has_more": has_more})

    async def job_checkpoints(self, request: Request) -> Response:
        job = self.engine.get_job(request.path_params["job_id"])
        items = sorted(job["checkpoints"], key=lambda c: c["step_number"], reverse=True)
        page, has_more = _paginate(items, request, default_limit=10)
        return JSONResponse({"object": "list", "data": [render_checkpoint(c) for c in page], "has_more": has_more,
                             "first_id": page[0]["id"] if page else None,
                             "last_id": page[-1]["id"] if page else None})

    # ------------------------------------------------------------------ models
    async def models_collection(self, request: Request) -> Response:
        self.engine.tick()
        return JSONResponse({"object": "list", "data": self.engine.models()})

    async def model_item(self, request: Request) -> Response:
        model_id = request.path_params["model_id"]
        self.engine.tick()
        if request.method == "DELETE":
            in_use = sorted(n for n, d in self.deployments().items() if d.get("model") == model_id)
            if in_use:
                raise ApiError(409, "conflict", f"The model '{model_id}' cannot be deleted because it has "
                                                f"deployment(s): {', '.join(in_use)}. Delete the deployments first.")
            self.engine.delete_model(model_id)
            return JSONResponse({"id": model_id, "object": "model", "deleted": True})
        return JSONResponse(self.engine.get_model(model_id))

    # ------------------------------------------------------------------ chat and responses
    async def _json_body(self, request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            raise errors.openai_error(400, "The request body is not valid JSON.")
        if not isinstance(body, dict):
            raise errors.openai_error(400, "The request body must be a JSON object.")
        return body

    def _content_filter(self, messages: list[dict[str, Any]]) -> None:
        """Azure's prompt filter, triggered by the configured words (``content_filter.triggers``)."""
        cf = self.config.content_filter
        triggers = [t.lower() for t in cf.triggers if t]
        if not triggers:
            return
        text = " ".join(chat.message_text(m) for m in messages).lower()
        if any(t in text for t in triggers):
            raise errors.content_filtered(cf.category, cf.severity)

    async def _generate(self, request: Request, name: Any, messages: list[dict[str, Any]], *, n: int,
                        max_tokens: int | None, seed: int | None, fmt: tuple[str, dict[str, Any] | None]) -> "_Generation":
        """The stand-in answers of one request: rate limits, content filter, ``n`` choices, formats, truncation."""
        if not isinstance(name, str) or not name:
            raise errors.openai_error(400, "you must provide a model parameter", param="model")
        dep = self.deployments().get(name)
        if dep is None or time.time() - float(dep.get("registered_at") or 0) < self.config.deployment_ready_seconds:
            raise errors.deployment_not_found()  # unknown, or registered too recently to answer yet
        model = dep["model"]
        prompt_tokens = count_messages(messages, model)
        estimate = prompt_tokens + (max_tokens or 0) * n  # Azure's estimate: prompt + max_tokens per choice
        rl_headers, _ = self.limiter.admit(name, estimate, request.state.api_version)
        self._content_filter(messages)
        fine_tuned = ".ft-" in model
        examples = self.engine.training_examples_for_model(model) if fine_tuned else None
        contents, finishes = [], []
        for index in range(n):
            variant = index if seed is None else seed + index
            text = chat.answer(messages, fine_tuned=fine_tuned, examples=examples, variant=variant)
            kind, schema = fmt
            if kind == "json_object":
                text = structured.json_object(label=chat.LABEL, text=text[len(chat.LABEL):])
            elif kind == "json_schema" and schema is not None:
                text = structured.instance(schema, label=chat.LABEL, text=text[len(chat.LABEL):])
            text, finish = _truncate(text, max_tokens, model)
            contents.append(text)
            finishes.append(finish)
        completion_tokens = sum(count_text(c, model) for c in contents)
        self.limiter.settle(name, estimate, prompt_tokens + completion_tokens)
        return _Generation(contents, finishes, prompt_tokens, completion_tokens, {**rl_headers, **STAND_IN_HEADER},
                           _public_model_id(model), model)

    async def _latency(self, gen: "_Generation") -> None:
        per_token = self.config.latency.per_token_ms
        if per_token > 0:
            await asyncio.sleep(per_token * gen.completion_tokens / 1000)

    async def chat_completions(self, request: Request) -> Response:
        v1 = request.state.v1
        body = await self._json_body(request)
        name = request.path_params.get("deployment") if not v1 else body.get("model")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            raise errors.openai_error(400, "'messages' is a required property and must be a non-empty list of "
                                           "objects.", param="messages")
        max_param = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
        gen = await self._generate(request, name, messages, n=_int_param(body, "n", 1, 1, 128),
                                   max_tokens=_int_param(body, max_param, None, 1, None),
                                   seed=_int_param(body, "seed", None, None, None),
                                   fmt=_chat_format(body.get("response_format")))
        cid = "chatcmpl-" + hashlib.sha256(f"{time.time_ns()}{name}".encode()).hexdigest()[:29]
        created = int(time.time())
        usage = {"prompt_tokens": gen.prompt_tokens, "completion_tokens": gen.completion_tokens,
                 "total_tokens": gen.prompt_tokens + gen.completion_tokens}
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(self._chat_stream(cid, created, gen, usage, include_usage),
                                     media_type="text/event-stream", headers=gen.headers)
        await self._latency(gen)
        return JSONResponse({
            "id": cid, "object": "chat.completion", "created": created, "model": gen.public_model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
            "choices": [{"index": i, "finish_reason": finish, "logprobs": None, "content_filter_results": {},
                         "message": {"role": "assistant", "content": text, "refusal": None}}
                        for i, (text, finish) in enumerate(zip(gen.contents, gen.finishes))],
            "usage": usage,
        }, headers=gen.headers)

    async def _chat_stream(self, cid: str, created: int, gen: "_Generation", usage: dict[str, int],
                           include_usage: bool) -> AsyncIterator[bytes]:
        def chunk(choices: list[dict[str, Any]], **extra: Any) -> bytes:
            obj = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": gen.public_model,
                   "system_fingerprint": SYSTEM_FINGERPRINT, "choices": choices, **extra}
            return f"data: {json.dumps(obj)}\n\n".encode()

        # Azure's first chunk: no choices, only the prompt's content-filter results.
        yield chunk([], prompt_filter_results=[{"prompt_index": 0, "content_filter_results": {}}])
        for index, (content, finish) in enumerate(zip(gen.contents, gen.finishes)):
            yield chunk([{"index": index, "delta": {"role": "assistant", "content": ""}, "finish_reason": None,
                          "logprobs": None}])
            async for piece in self._pieces(content, gen.token_model):
                yield chunk([{"index": index, "delta": {"content": piece}, "finish_reason": None, "logprobs": None,
                              "content_filter_results": {}}])
            yield chunk([{"index": index, "delta": {}, "finish_reason": finish, "logprobs": None}])
        if include_usage:
            yield chunk([], usage=usage)
        yield b"data: [DONE]\n\n"

    async def _pieces(self, content: str, token_model: str) -> AsyncIterator[str]:
        """The text in pieces of ``stream_chunk_words`` words, each after its share of the per-token latency."""
        words = content.split(" ")
        n = max(1, self.config.stream_chunk_words)
        per_token = self.config.latency.per_token_ms
        for i in range(0, len(words), n):
            piece = " ".join(words[i:i + n]) + (" " if i + n < len(words) else "")
            if per_token > 0:
                await asyncio.sleep(per_token * count_text(piece, token_model) / 1000)
            yield piece

    async def responses(self, request: Request) -> Response:
        """A minimal Responses API (``POST /responses``): ``input`` as text or messages, ``instructions``,
        ``max_output_tokens``, ``text.format``, streaming. Shape: the v1 spec's ``AzureResponse``
        (Azure/azure-rest-api-specs, specification/ai/data-plane/OpenAI.v1/azure-v1-v1-generated.json)."""
        version = request.state.api_version
        if not request.state.v1 and version < RESPONSES_SINCE:  # added in 2025-03-01-preview (lifecycle page)
            raise errors.resource_not_found()
        body = await self._json_body(request)
        instructions = body.get("instructions")
        if instructions is not None and not isinstance(instructions, str):
            raise errors.openai_error(400, "'instructions' must be a string.", param="instructions")
        messages = ([{"role": "system", "content": instructions}] if instructions else []) + \
            _input_messages(body.get("input"))
        text_cfg: dict[str, Any] = body["text"] if isinstance(body.get("text"), dict) else {}
        fmt_in = text_cfg["format"] if isinstance(text_cfg.get("format"), dict) else None
        gen = await self._generate(request, body.get("model"), messages, n=1,
                                   max_tokens=_int_param(body, "max_output_tokens", None, 1, None), seed=None,
                                   fmt=_responses_format(fmt_in))
        rid = "resp_" + hashlib.sha256(f"{time.time_ns()}r".encode()).hexdigest()[:48]
        mid = "msg_" + hashlib.sha256(f"{time.time_ns()}m".encode()).hexdigest()[:48]
        text, finish = gen.contents[0], gen.finishes[0]
        complete = finish == "stop"
        item = {"id": mid, "type": "message", "status": "completed" if complete else "incomplete",
                "role": "assistant", "content": [{"type": "output_text", "text": text, "annotations": [],
                                                  "logprobs": []}]}
        response = {
            "id": rid, "object": "response", "created_at": int(time.time()),
            "status": "completed" if complete else "incomplete", "error": None, "background": False,
            "incomplete_details": None if complete else {"reason": "max_output_tokens"},
            "instructions": instructions, "max_output_tokens": body.get("max_output_tokens"),
            "max_tool_calls": None, "metadata": body.get("metadata") or {}, "model": gen.public_model,
            "output": [item], "parallel_tool_calls": True, "previous_response_id": body.get("previous_response_id"),
            "reasoning": None, "service_tier": "default", "store": bool(body.get("store", True)),
            "temperature": body.get("temperature", 1.0), "text": {"format": fmt_in or {"type": "text"}},
            "tool_choice": "auto", "tools": [], "top_logprobs": None, "top_p": body.get("top_p", 1.0),
            "truncation": "disabled", "user": body.get("user"),
            "usage": {"input_tokens": gen.prompt_tokens, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                      "output_tokens": gen.completion_tokens, "output_tokens_details": {"reasoning_tokens": 0},
                      "total_tokens": gen.prompt_tokens + gen.completion_tokens},
        }
        if body.get("stream"):
            return StreamingResponse(self._responses_stream(response, item, gen.token_model),
                                     media_type="text/event-stream", headers=gen.headers)
        await self._latency(gen)
        return JSONResponse(response, headers=gen.headers)

    async def _responses_stream(self, response: dict[str, Any], item: dict[str, Any],
                                token_model: str) -> AsyncIterator[bytes]:
        """The Responses API's event stream (the v1 spec's OpenAI.ResponseStreamEvent types, in their order)."""
        seq = iter(range(1 << 30))

        def event(kind: str, **data: Any) -> bytes:
            return f"event: {kind}\ndata: {json.dumps({'type': kind, 'sequence_number': next(seq), **data})}\n\n" \
                .encode()

        started = {**response, "status": "in_progress", "output": [], "usage": None, "incomplete_details": None}
        text = item["content"][0]["text"]
        ids = {"item_id": item["id"], "output_index": 0, "content_index": 0}
        yield event("response.created", response=started)
        yield event("response.in_progress", response=started)
        yield event("response.output_item.added", output_index=0,
                    item={**item, "status": "in_progress", "content": []})
        empty_part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        yield event("response.content_part.added", part=empty_part, **ids)
        async for piece in self._pieces(text, token_model):
            yield event("response.output_text.delta", delta=piece, logprobs=[], obfuscation="", **ids)
        yield event("response.output_text.done", text=text, logprobs=[], **ids)
        yield event("response.content_part.done", part=item["content"][0], **ids)
        yield event("response.output_item.done", output_index=0, item=item)
        yield event("response.completed" if response["status"] == "completed" else "response.incomplete",
                    response=response)


@dataclass
class _Generation:
    contents: list[str]
    finishes: list[str]
    prompt_tokens: int
    completion_tokens: int
    headers: dict[str, str]
    public_model: str
    token_model: str


SYSTEM_FINGERPRINT = "fp_emulator"
RESPONSES_SINCE = "2025-03-01-preview"


def _int_param(body: dict[str, Any], name: str, default: int | None, low: int | None,
               high: int | None) -> Any:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or (low is not None and value < low) or \
            (high is not None and value > high):
        bounds = f" between {low} and {high}" if low is not None and high is not None else \
            f" of at least {low}" if low is not None else ""
        raise errors.openai_error(400, f"'{name}' must be an integer{bounds}.", param=name)
    return value


def _chat_format(fmt: Any) -> tuple[str, dict[str, Any] | None]:
    """``response_format`` of chat completions: text, json_object, or json_schema with its schema."""
    if fmt is None:
        return "text", None
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("schema"), dict):
            raise errors.openai_error(400, "'response_format.json_schema.schema' must be a JSON schema object.",
                                      param="response_format")
        return kind, spec["schema"]
    if kind in ("text", "json_object"):
        return kind, None
    raise errors.openai_error(400, "'response_format.type' must be one of text, json_object, json_schema.",
                              param="response_format")


def _responses_format(fmt: dict[str, Any] | None) -> tuple[str, dict[str, Any] | None]:
    """``text.format`` of the Responses API: the schema sits beside the type, not under ``json_schema``."""
    if fmt is None or fmt.get("type") == "text":
        return "text", None
    if fmt.get("type") == "json_schema":
        if not isinstance(fmt.get("schema"), dict):
            raise errors.openai_error(400, "'text.format.schema' must be a JSON schema object.", param="text.format")
        return "json_schema", fmt["schema"]
    if fmt.get("type") == "json_object":
        return "json_object", None
    raise errors.openai_error(400, "'text.format.type' must be one of text, json_object, json_schema.",
                              param="text.format")


def _input_messages(value: Any) -> list[dict[str, Any]]:
    """The Responses API's ``input``: a string (one user message) or a list of messages (``role`` and
    ``content``, the content a string or ``input_text``/``output_text`` parts)."""
    if isinstance(value, str) and value:
        return [{"role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise errors.openai_error(400, "'input' must be a string or a non-empty list of messages.", param="input")
    out = []
    for item in value:
        if not isinstance(item, dict) or item.get("type", "message") != "message" or \
                item.get("role") not in ("user", "assistant", "system", "developer"):
            raise errors.openai_error(400, "Each 'input' item must be a message with a role (user, assistant, "
                                           "system or developer) and content.", param="input")
        role = "system" if item["role"] == "developer" else item["role"]
        out.append({"role": role, "content": chat.message_text(item)})
    return out


def _truncate(content: str, max_tokens: int | None, model: str) -> tuple[str, str]:
    """Cut an answer to at most ``max_tokens`` tokens (``finish_reason: length``), as a model stops mid-answer.

    The answer is the longest token prefix of ``content`` whose own count (the count ``usage`` reports) is at
    most ``max_tokens``: the stand-in label is kept whenever it fits, and cut too when ``max_tokens`` is smaller
    than the label (``max_tokens=1`` answers ``"["``).
    """
    if max_tokens is None:
        return content, "stop"
    enc = _encoding(encoding_name(model))
    ids = enc.encode(content)
    if len(ids) <= max_tokens:
        return content, "stop"
    for n in range(max_tokens, 0, -1):
        # a prefix can end inside a multi-byte character or re-tokenize differently: count what is sent
        text = enc.decode(ids[:n])
        if len(enc.encode(text)) <= max_tokens:
            return text, "length"
    return "", "length"


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


def _public_model_id(model: str) -> str:
    """Azure reports the model behind a deployment by its versioned id (``gpt-4.1-2025-04-14``)."""
    if ".ft-" in model:
        return model
    from jobs import models

    try:
        return models.resolve(model).model_id
    except (models.UnknownModel, models.NotFineTunable):
        return model


def _paginate(items: list[dict[str, Any]], request: Request, *, default_limit: int) -> tuple[list[dict[str, Any]], bool]:
    after = request.query_params.get("after")
    raw_limit = request.query_params.get("limit")
    try:
        limit = int(raw_limit) if raw_limit is not None else default_limit
    except ValueError:
        raise errors.invalid_payload(f"'limit' must be an integer, got {raw_limit!r}.", "limit")
    if limit < 1:
        raise errors.invalid_payload("'limit' must be at least 1.", "limit")
    if after:
        ids = [i["id"] for i in items]
        if after in ids:
            items = items[ids.index(after) + 1:]
        else:
            items = []
    return items[:limit], len(items) > limit


def create_app(state_dir: Path, config: EmulatorConfig | dict[str, Any] | None = None) -> Emulator:
    cfg = config if isinstance(config, EmulatorConfig) else EmulatorConfig.from_dict(config)
    return Emulator(Path(state_dir), cfg)
