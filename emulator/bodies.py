"""Request bodies as JSON, refused cleanly (never a 500) when they are not: invalid UTF-8, invalid JSON,
``NaN``/``Infinity`` (not JSON, and unanswerable: a config holding one could not be sent back), or nesting
deeper than :data:`MAX_DEPTH`."""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64  # no Azure body nests deeper than a handful of levels; a JSON schema stays far below this


class BodyError(ValueError):
    """Why a body is not usable JSON, in words for the client."""


def _no_constants(name: str) -> Any:
    raise BodyError(f"{name} is not a JSON number.")


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")


def _depth_ok(raw: str) -> bool:
    """Whether brackets outside strings nest at most :data:`MAX_DEPTH` deep (regexes do the scanning)."""
    if raw.count("[") + raw.count("{") <= MAX_DEPTH:
        return True
    depth = 0
    for m in _BRACKET.finditer(_STRING.sub("", raw)):
        depth += 1 if m.group() in "[{" else -1
        if depth > MAX_DEPTH:
            return False
    return True


def parse_json(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"The request body is not valid UTF-8 (byte {exc.start}).") from None
    if not _depth_ok(text):
        raise BodyError(f"The request body nests deeper than {MAX_DEPTH} levels.")
    try:
        return json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise BodyError(f"The request body is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                        f"{exc.msg}).") from None
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise BodyError(f"The request body nests deeper than {MAX_DEPTH} levels.") from None
