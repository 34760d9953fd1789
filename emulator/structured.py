"""Stand-in structured outputs: a JSON value that is valid for the request's schema (``response_format``
``json_schema``, the Responses API's ``text.format``) or a JSON object (``json_object``).

The value is built from the schema, deterministically: every property is filled (strict structured outputs
require them all), enums and consts take their first value, numbers sit inside their bounds, arrays hold
``minItems`` items (at least one). The first string in the value carries the stand-in label, so a person who
reads the value sees it is not model output; a schema with no string anywhere is labelled by the
``x-emulator`` header only. Supported: ``type`` (also a list), ``enum``, ``const``, ``properties``,
``required``, ``items``, ``minItems``/``maxItems``, ``minimum``/``maximum`` (and exclusive ones),
``minLength``/``maxLength``, ``anyOf``/``oneOf``/``allOf`` (the first branch, merged for allOf), ``$ref`` into
``$defs``/``definitions``, and the string formats date-time, date, time, email, uri and uuid.
"""

from __future__ import annotations

import json
import math
from typing import Any

_FORMATS = {"date-time": "2026-01-01T00:00:00Z", "date": "2026-01-01", "time": "00:00:00",
            "email": "stand-in@example.com", "uri": "https://example.com/stand-in",
            "uuid": "00000000-0000-4000-8000-000000000000"}
_MAX_DEPTH = 12


class _Builder:
    def __init__(self, root: dict[str, Any], label: str, text: str):
        self.root = root
        self.label = label
        self.text = text  # the stand-in answer, for the first free-text string
        self.labelled = False

    def value(self, schema: Any, depth: int = 0) -> Any:
        if not isinstance(schema, dict) or depth > _MAX_DEPTH:
            return None
        if "$ref" in schema:
            return self.value(self._resolve(schema["$ref"]), depth + 1)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
        for key in ("anyOf", "oneOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                return self.value(schema[key][0], depth + 1)
        if isinstance(schema.get("allOf"), list):
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                part = self._resolve(part["$ref"]) if isinstance(part, dict) and "$ref" in part else part
                if isinstance(part, dict):
                    merged = {**merged, **part, "properties": {**merged.get("properties", {}),
                                                               **part.get("properties", {})}}
            return self.value({**{k: v for k, v in schema.items() if k != "allOf"}, **merged}, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
        if kind == "object":
            props: dict[str, Any] = schema["properties"] if isinstance(schema.get("properties"), dict) else {}
            return {name: self.value(sub, depth + 1) for name, sub in props.items()}
        if kind == "array":
            count = max(1, int(schema.get("minItems", 1)))
            if isinstance(schema.get("maxItems"), int):
                count = min(count, schema["maxItems"])
            return [self.value(schema.get("items", {}), depth + 1) for _ in range(count)]
        if kind in ("integer", "number"):
            return self._number(schema, kind == "integer")
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return self._string(schema)

    def _resolve(self, ref: Any) -> Any:
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return {}
        node: Any = self.root
        for part in ref[2:].split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return node

    @staticmethod
    def _number(schema: dict[str, Any], integer: bool) -> int | float:
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        step = 1 if integer else 0.5
        if isinstance(low, (int, float)) and isinstance(high, (int, float)):
            value: float = (low + high) / 2
        elif isinstance(low, (int, float)):
            value = low + (step if "exclusiveMinimum" in schema and "minimum" not in schema else 0)
        elif isinstance(high, (int, float)):
            value = high - (step if "exclusiveMaximum" in schema and "maximum" not in schema else 0)
        else:
            value = 1
        if integer:
            value = math.ceil(value) if isinstance(low, (int, float)) else math.floor(value)
            return int(value)
        return float(value)

    def _string(self, schema: dict[str, Any]) -> str:
        fmt = schema.get("format")
        if fmt in _FORMATS:
            return _FORMATS[fmt]
        if self.labelled:
            text = "stand-in"
        else:
            self.labelled = True
            text = self.label + self.text
        low = schema.get("minLength", 0)
        high = schema.get("maxLength")
        if isinstance(low, int) and len(text) < low:
            text = text + "." * (low - len(text))
        if isinstance(high, int) and len(text) > high:
            text = text[:high]
        return text


def instance(schema: dict[str, Any], *, label: str, text: str) -> str:
    """The JSON text of a schema-valid stand-in value (``json_schema``)."""
    return json.dumps(_Builder(schema, label, text).value(schema), ensure_ascii=False)


def json_object(*, label: str, text: str) -> str:
    """The JSON text of a stand-in object (``json_object``: any JSON object is valid)."""
    return json.dumps({"emulator": label.strip(), "answer": text}, ensure_ascii=False)
