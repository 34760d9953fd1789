"""``/fine_tuning/jobs``: create, list, get, delete, cancel, pause, resume, events, checkpoints."""

from __future__ import annotations

from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulator import errors
from emulator.render import render_checkpoint, render_event, render_job
from emulator.routes import Endpoint, Handler, json_object, listing, paginate
from emulator.state import State


def endpoints(state: State) -> list[Endpoint]:
    engine = state.engine

    async def collection(request: Request) -> Response:
        v1 = request.state.v1
        if request.method == "POST":
            body = await json_object(request, lambda _: errors.invalid_payload(
                "The request body must be a JSON object."))
            job = engine.create_job(body)
            headers = {} if v1 else {"location": f"{request.base_url}openai/fine_tuning/jobs/{job['id']}"}
            return JSONResponse(render_job(job, v1=v1), status_code=200 if v1 else 201, headers=headers)
        engine.tick()
        items = sorted(state.store.jobs(), key=lambda j: (j["created_at"], j["id"]), reverse=True)
        page, has_more = paginate(items, request, default_limit=20)
        return JSONResponse(listing([render_job(j, v1=v1) for j in page], has_more, ids=False))

    async def item(request: Request) -> Response:
        job_id = request.path_params["job_id"]
        if request.method == "DELETE":
            engine.delete_job(job_id)
            return Response(status_code=204)
        return JSONResponse(render_job(engine.get_job(job_id), v1=request.state.v1))

    def control(action: Callable[[str], dict[str, Any]]) -> Handler:
        async def handler(request: Request) -> Response:
            return JSONResponse(render_job(action(request.path_params["job_id"]), v1=request.state.v1))
        return handler

    async def events(request: Request) -> Response:
        job = engine.get_job(request.path_params["job_id"])
        items = sorted(job["events"], key=lambda e: e["seq"], reverse=True)  # newest first
        page, has_more = paginate(items, request, default_limit=20)
        return JSONResponse(listing([render_event(e) for e in page], has_more, ids=False))

    async def checkpoints(request: Request) -> Response:
        job = engine.get_job(request.path_params["job_id"])
        items = sorted(job["checkpoints"], key=lambda c: c["step_number"], reverse=True)
        page, has_more = paginate(items, request, default_limit=10)
        return JSONResponse(listing([render_checkpoint(c) for c in page], has_more, ids=True))

    base = "/fine_tuning/jobs"
    return [Endpoint(base, collection, ("GET", "POST")),
            Endpoint(base + "/{job_id}", item, ("GET", "DELETE")),
            Endpoint(base + "/{job_id}/cancel", control(engine.cancel), ("POST",)),
            Endpoint(base + "/{job_id}/pause", control(engine.pause), ("POST",)),
            Endpoint(base + "/{job_id}/resume", control(engine.resume), ("POST",)),
            Endpoint(base + "/{job_id}/events", events, ("GET",)),
            Endpoint(base + "/{job_id}/checkpoints", checkpoints, ("GET",))]
