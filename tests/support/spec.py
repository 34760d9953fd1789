"""The official Azure OpenAI specs (in ``../shared``) as validators of real responses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

AUTHORING_SPEC = Path("azure-openai-spec/authoring/preview/2025-04-01-preview/azureopenai.json")
INFERENCE_SPEC = Path("azure-openai-spec/inference/stable/2024-10-21/inference.json")


def swagger2_to_jsonschema(node: Any, required: frozenset[str] = frozenset(), nullable_optional: bool = True) -> Any:
    """Turn a Swagger 2.0 schema into plain JSON Schema (draft 4).

    - ``$ref: #/definitions/X`` stays a ref into the converted ``definitions``;
    - ``x-nullable: true`` becomes "or null" (the authoring spec has none today);
    - a property that is not ``required`` may be ``null``: Azure returns unset optional
      fields as null (``result_files`` until a job is done, ``fine_tuned_model`` ...), which
      Swagger 2.0 cannot express without ``x-nullable``. Required properties stay non-null.
    - ``type: file`` (binary content) accepts anything; vendor keys (``x-ms-*``) are dropped.
    """
    if isinstance(node, list):
        return [swagger2_to_jsonschema(n, nullable_optional=nullable_optional) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("x-"):
            continue
        if key == "properties":
            req = frozenset(node.get("required", []))
            props = {}
            for name, sub in value.items():
                conv = swagger2_to_jsonschema(sub, nullable_optional=nullable_optional)
                if (nullable_optional and name not in req) or (isinstance(sub, dict) and sub.get("x-nullable")):
                    conv = {"anyOf": [conv, {"type": "null"}]}
                props[name] = conv
            out[key] = props
        elif key == "type" and value == "file":
            continue
        elif key in ("items", "additionalProperties", "allOf", "anyOf", "oneOf", "not"):
            out[key] = swagger2_to_jsonschema(value, nullable_optional=nullable_optional)
        else:
            out[key] = value
    return out


def _null_in_nullable_enums(node: Any) -> Any:
    """``nullable: true`` next to ``enum`` (finish_reason of a stream chunk): allow null in the enum.

    OpenAPI 3.0.3 says a nullable enum must list null itself; the Azure spec means null
    (every streamed chunk before the last has ``finish_reason: null``) but does not list it.
    """
    if isinstance(node, list):
        return [_null_in_nullable_enums(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _null_in_nullable_enums(v) for k, v in node.items()}
    if out.get("nullable") is True and isinstance(out.get("enum"), list) and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    return out


class SpecValidator:
    """Validates real emulator responses against the official Azure OpenAI specs.

    Authoring (Swagger 2.0): converted with :func:`swagger2_to_jsonschema`, checked with
    ``jsonschema``'s Draft 4 validator. Inference (OpenAPI 3.0): checked with
    ``openapi-schema-validator``'s OAS 3.0 validator (``nullable`` etc. understood natively).
    """

    def __init__(self, shared_dir: Path):
        import jsonschema
        from openapi_schema_validator import OAS30Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4

        self.authoring = json.loads((shared_dir / AUTHORING_SPEC).read_text(encoding="utf-8"))
        self.inference = json.loads((shared_dir / INFERENCE_SPEC).read_text(encoding="utf-8"))
        defs = {name: swagger2_to_jsonschema(s) for name, s in self.authoring["definitions"].items()}
        self._auth_root = {"definitions": defs}
        self._auth_registry = Registry().with_resource("urn:authoring", Resource(self._auth_root, specification=DRAFT4))
        self._jsonschema = jsonschema
        self._oas30 = OAS30Validator
        self._inf_registry = Registry().with_resource(
            "urn:inference", Resource.from_contents(_null_in_nullable_enums(self.inference),
                                                    default_specification=DRAFT4))

    def authoring_schema(self, path: str, method: str, status: int) -> dict[str, Any]:
        responses = self.authoring["paths"][path][method]["responses"]
        resp = responses.get(str(status)) or responses["default"]
        return resp["schema"]

    def check_authoring(self, path: str, method: str, status: int, body: Any, *, v1: bool = False) -> None:
        """``path`` as in the spec (``/fine_tuning/jobs/{fine-tuning-job-id}``); raises ValidationError.

        The v1 surface answers creations with OpenAI's 200 instead of the dated API's 201.
        """
        declared = [int(s) for s in self.authoring["paths"][path][method]["responses"] if s.isdigit()]
        if v1 and status == 200 and 201 in declared:
            status = 201
        if 200 <= status < 300:
            assert status in declared, f"{method.upper()} {path}: status {status} not in the spec's {declared}"
        schema = swagger2_to_jsonschema(self.authoring_schema(path, method, status))
        schema = json.loads(json.dumps(schema).replace('"#/definitions/', '"urn:authoring#/definitions/'))
        validator = self._jsonschema.Draft4Validator(schema, registry=self._auth_registry)
        validator.validate(body)

    def check_inference(self, component: str, body: Any) -> None:
        schema = {"$ref": f"urn:inference#/components/schemas/{component}"}
        self._oas30(schema, registry=self._inf_registry).validate(body)

    def inference_response_components(self, path: str) -> Any:
        return self.inference["paths"][path]["post"]["responses"]


# The Responses API is in neither spec in ../shared. Its shape comes from Azure's v1 spec,
# Azure/azure-rest-api-specs specification/ai/data-plane/OpenAI.v1/azure-v1-v1-generated.json
# (commit 0723d852ed5d4c0b95f331ce6f37833be70ea019): the required properties below are transcribed from its
# `AzureResponse`, `OpenAI.ResponseUsage` and `OpenAI.ResponsesMessageItemResource` schemas, and every stream
# event needs `type` and `sequence_number` (`OpenAI.ResponseStreamEvent`). The full types are checked with the
# openai SDK's own models (generated from OpenAI's spec, which the v1 spec extends), see check_response().
AZURE_RESPONSE_REQUIRED = ("metadata", "temperature", "top_p", "user", "id", "object", "created_at", "error",
                           "incomplete_details", "output", "instructions", "parallel_tool_calls", "model")
RESPONSE_USAGE_REQUIRED = ("input_tokens", "input_tokens_details", "output_tokens", "output_tokens_details",
                           "total_tokens")
MESSAGE_ITEM_REQUIRED = ("type", "status", "role", "content")


def check_response(body: Any) -> None:
    """A Responses API body against the v1 spec's required properties and the SDK's ``Response`` model."""
    from openai.types.responses import Response

    missing = [k for k in AZURE_RESPONSE_REQUIRED if k not in body]
    assert not missing, f"AzureResponse properties missing: {missing}"
    assert body["object"] == "response"
    if body.get("usage") is not None:
        assert not [k for k in RESPONSE_USAGE_REQUIRED if k not in body["usage"]], body["usage"]
    for item in body["output"]:
        assert not [k for k in MESSAGE_ITEM_REQUIRED if k not in item], item
    Response.model_validate(body)


def check_response_event(event: Any) -> None:
    """One stream event: ``type`` and ``sequence_number`` (v1 spec), then the SDK's event union."""
    from openai.types.responses import ResponseStreamEvent
    from pydantic import TypeAdapter

    assert isinstance(event.get("type"), str) and isinstance(event.get("sequence_number"), int), event
    TypeAdapter(ResponseStreamEvent).validate_python(event)
