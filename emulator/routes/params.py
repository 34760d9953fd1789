"""The inference request's parameters, checked as Azure checks them (400 in OpenAI's error shape)."""

from __future__ import annotations

import math
from typing import Any

from emulator import chat, errors
from emulator.answers import ResponseFormat


def int_param(body: dict[str, Any], name: str, default: int | None, low: int | None, high: int | None) -> Any:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or (low is not None and value < low) or \
            (high is not None and value > high):
        bounds = f" between {low} and {high}" if low is not None and high is not None else \
            f" of at least {low}" if low is not None else ""
        raise errors.openai_error(400, f"'{name}' must be an integer{bounds}.", param=name)
    return value


def number_param(body: dict[str, Any], name: str) -> float | None:
    """``temperature``/``top_p`` as given (a canned answer ignores them; a real model samples with them)."""
    value = body.get(name)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def stop_param(body: dict[str, Any]) -> tuple[str, ...]:
    value = body.get("stop")
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def chat_format(fmt: Any) -> ResponseFormat:
    """``response_format`` of chat completions: text, json_object, or json_schema with its schema."""
    if fmt is None:
        return ResponseFormat()
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("schema"), dict):
            raise errors.openai_error(400, "'response_format.json_schema.schema' must be a JSON schema object.",
                                      param="response_format")
        return ResponseFormat(kind, spec["schema"])
    if kind in ("text", "json_object"):
        return ResponseFormat(kind)
    raise errors.openai_error(400, "'response_format.type' must be one of text, json_object, json_schema.",
                              param="response_format")


def responses_format(fmt: dict[str, Any] | None) -> ResponseFormat:
    """``text.format`` of the Responses API: the schema sits beside the type, not under ``json_schema``."""
    if fmt is None or fmt.get("type") == "text":
        return ResponseFormat()
    if fmt.get("type") == "json_schema":
        if not isinstance(fmt.get("schema"), dict):
            raise errors.openai_error(400, "'text.format.schema' must be a JSON schema object.", param="text.format")
        return ResponseFormat("json_schema", fmt["schema"])
    if fmt.get("type") == "json_object":
        return ResponseFormat("json_object")
    raise errors.openai_error(400, "'text.format.type' must be one of text, json_object, json_schema.",
                              param="text.format")


def input_messages(value: Any) -> list[dict[str, Any]]:
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
