"""Rendering of command results: text for people, ``--json`` for machines.

Every command's core function returns a result object. A result is a dataclass
with a ``to_text()`` method; ``--json`` prints ``to_json()`` when the result
defines it, else ``dataclasses.asdict``. Nothing here imports rich: plain
output must not pay for it.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any, Protocol, TextIO


class Result(Protocol):
    def to_text(self) -> str: ...


def _default(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if hasattr(obj, "model_dump"):  # openai SDK objects
        return obj.model_dump()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    return str(obj)


def as_json(result: Any) -> str:
    if hasattr(result, "to_json"):
        payload = result.to_json()
    elif dataclasses.is_dataclass(result) and not isinstance(result, type):
        payload = dataclasses.asdict(result)
    else:
        payload = result
    return json.dumps(payload, indent=2, ensure_ascii=False, default=_default)


def emit(result: Any, *, json_mode: bool, stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    if result is None:
        return
    text = as_json(result) if json_mode else result.to_text()
    if text:
        out.write(text if text.endswith("\n") else text + "\n")
        out.flush()
