"""``/files``: upload, list, get, delete, content."""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulator import errors
from emulator.files_api import PURPOSES
from emulator.inference import source_headers
from emulator.render import render_file
from emulator.routes import Endpoint, listing, paginate
from emulator.state import State


def endpoints(state: State) -> list[Endpoint]:
    files = state.engine.files

    async def collection(request: Request) -> Response:
        v1 = request.state.v1
        if request.method == "POST":
            return await upload(request)
        state.engine.tick()
        purpose = request.query_params.get("purpose")
        items = [f for f in state.store.files() if not purpose or f["purpose"] == purpose]
        order = request.query_params.get("order", "desc")
        items.sort(key=lambda f: (f["created_at"], f["id"]), reverse=order != "asc")
        page, has_more = paginate(items, request, default_limit=10000)
        return JSONResponse(listing([render_file(f, v1=v1) for f in page], has_more, ids=True))

    async def upload(request: Request) -> Response:
        v1 = request.state.v1
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
        # checking a large file takes seconds: off the event loop, so other clients are still answered
        rec = await anyio.to_thread.run_sync(state.engine.upload, upload.filename or "upload.jsonl", purpose, content)
        headers = {} if v1 else {"location": f"{request.base_url}openai/files/{rec['id']}"}
        return JSONResponse(render_file(rec, v1=v1), status_code=200 if v1 else 201, headers=headers)

    async def item(request: Request) -> Response:
        file_id = request.path_params["file_id"]
        state.engine.tick()
        if request.method == "DELETE":
            files.delete(file_id)
            return JSONResponse({"object": "file", "deleted": True, "id": file_id})
        return JSONResponse(render_file(files.get(file_id), v1=request.state.v1))

    async def content(request: Request) -> Response:
        file_id = request.path_params["file_id"]
        state.engine.tick()
        rec = files.get(file_id)
        media = "text/csv" if rec["filename"].endswith(".csv") else "application/octet-stream"
        # the backend's headers: a results.csv from the local model's training says so (the metrics chart reads them)
        return Response(state.store.file_content(file_id), media_type=media,
                        headers=source_headers(state.inference.source))

    return [Endpoint("/files", collection, ("GET", "POST")),
            Endpoint("/files/{file_id}", item, ("GET", "DELETE")),
            Endpoint("/files/{file_id}/content", content, ("GET",))]
