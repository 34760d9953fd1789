"""``/models``: the catalogue (base models and the fine-tuned models this emulator trained)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulator.errors import ApiError
from emulator.routes import Endpoint
from emulator.state import State


def endpoints(state: State) -> list[Endpoint]:
    catalogue = state.engine.catalogue

    async def collection(request: Request) -> Response:
        state.engine.tick()
        return JSONResponse({"object": "list", "data": catalogue.models()})

    async def item(request: Request) -> Response:
        model_id = request.path_params["model_id"]
        state.engine.tick()
        if request.method == "DELETE":
            in_use = sorted(n for n, d in state.deployments().items() if d.get("model") == model_id)
            if in_use:
                raise ApiError(409, "conflict", f"The model '{model_id}' cannot be deleted because it has "
                                                f"deployment(s): {', '.join(in_use)}. Delete the deployments first.")
            catalogue.delete(model_id)
            return JSONResponse({"id": model_id, "object": "model", "deleted": True})
        return JSONResponse(catalogue.get(model_id))

    return [Endpoint("/models", collection, ("GET",)),
            Endpoint("/models/{model_id:path}", item, ("GET", "DELETE"))]
