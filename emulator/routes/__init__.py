"""The emulator's routes, one module per resource: admin (``/++/``), files, jobs, models and inference.

Each data-plane module has ``endpoints(state) -> list[Endpoint]``: paths after ``/openai`` (or ``/openai/v1``);
the ASGI wrapper (``emulator/app.py``) mounts them under both surfaces behind its version and auth checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from emulator import errors
from emulator.bodies import BodyError, parse_json

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    path: str  # after /openai or /openai/v1
    handler: Handler
    methods: tuple[str, ...]
    surfaces: tuple[str, ...] = ("dated", "v1")


def paginate(items: list[dict[str, Any]], request: Request, *,
             default_limit: int) -> tuple[list[dict[str, Any]], bool]:
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
        items = items[ids.index(after) + 1:] if after in ids else []
    return items[:limit], len(items) > limit


def listing(page: list[dict[str, Any]], has_more: bool, *, ids: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"object": "list", "data": page, "has_more": has_more}
    if ids:
        out["first_id"] = page[0]["id"] if page else None
        out["last_id"] = page[-1]["id"] if page else None
    return out


async def json_object(request: Request, error: Callable[[str], errors.ApiError]) -> dict[str, Any]:
    """The request's body as a JSON object, or ``error(message)`` (bad UTF-8, bad JSON, NaN, too deep: 400)."""
    try:
        body = parse_json(await request.body())
    except BodyError as exc:
        raise error(str(exc))
    if not isinstance(body, dict):
        raise error("The request body must be a JSON object.")
    return body
