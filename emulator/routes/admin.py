"""``/++/``: the emulator's own routes (no auth; the ASGI wrapper answers them for loopback clients only).

- ``GET /++/health``; ``GET|POST /++/deployments``, ``DELETE /++/deployments/{name}``;
- ``GET|PATCH /++/config``;
- ``GET|POST /++/clock``: the engine's clock; ``{"advance": seconds}`` moves it forward (tests, instead of sleeping).
"""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulator import errors
from emulator.bodies import BodyError, parse_json
from emulator.config import deployment_problem, sku_problem
from emulator.state import DEFAULT_CAPACITY, State
from jobs.errors import UsageError


def _invalid(message: str, hint: str | None = None) -> JSONResponse:
    err: dict[str, Any] = {"code": "invalidPayload", "message": message}
    if hint:
        err["hint"] = hint
    return JSONResponse({"error": err}, status_code=400)


async def _body(request: Request) -> Any:
    """The JSON body, or None when it is not JSON (bad UTF-8, NaN, too deep included)."""
    try:
        return parse_json(await request.body())
    except BodyError:
        return None


def routes(state: State) -> list[Route]:
    async def health(request: Request) -> Response:
        source = state.inference.source
        return JSONResponse({"status": "ok", "emulator": True, "answers": source.kind,
                             "labels": {n: source.label(d["model"]) for n, d in sorted(state.deployments().items())}})

    async def deployments(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse({"data": [{"name": n, **d} for n, d in sorted(state.deployments().items())]})
        body = await _body(request)
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or \
                not isinstance(body.get("model"), str) or not body["name"] or not body["model"]:
            return _invalid("body must be {\"name\": str, \"model\": str, \"capacity\"?: number, \"sku\"?: str}")
        problem = deployment_problem(body["name"], body.get("capacity", DEFAULT_CAPACITY)) or \
            sku_problem(body["model"], body.get("sku"))
        if problem:
            return _invalid(f"deployment {body['name']!r}: {problem}")
        dep = state.add_deployment(body["name"], body["model"], body.get("capacity"), body.get("sku"))
        return JSONResponse({"name": body["name"], **dep}, status_code=201)

    async def deployment_delete(request: Request) -> Response:
        if not state.remove_deployment(request.path_params["name"]):
            return errors.deployment_not_found().response()
        return Response(status_code=204)

    async def config(request: Request) -> Response:
        if request.method == "PATCH":
            body = await _body(request)
            if not isinstance(body, dict):
                return _invalid("body must be a JSON object (numbers finite, no NaN or Infinity)")
            if "backend" in body and body["backend"] != state.config.backend:
                return _invalid("the backend is chosen when the emulator starts",
                                "restart it with --backend (or \"backend\" in its config file)")
            try:
                state.config.apply(body, source="PATCH /++/config", replace_deployments=False)
            except UsageError as exc:
                return _invalid(exc.message, exc.hint)
            if isinstance(body, dict) and "limits" in body:
                state.limiter.reset()
        return JSONResponse(state.config.to_dict(redact=True))

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            body = await _body(request)
            seconds = body.get("advance") if isinstance(body, dict) else None
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) \
                    or seconds < 0:
                return _invalid("body must be {\"advance\": seconds}, a number >= 0")
            state.clock.advance(float(seconds))
            state.engine.tick()
        return JSONResponse({"now": state.clock.now(), "offset": state.clock.offset})

    return [Route("/++/health", health, methods=["GET"]),
            Route("/++/deployments", deployments, methods=["GET", "POST"]),
            Route("/++/deployments/{name}", deployment_delete, methods=["DELETE"]),
            Route("/++/config", config, methods=["GET", "PATCH"]),
            Route("/++/clock", clock, methods=["GET", "POST"])]
