"""Azure OpenAI's error bodies, as the service returns them.

Shapes checked against public reports of real responses (see docs/emulator.md):

- missing/invalid key:   401 ``{"error": {"code": "401", "message": "Access denied due to invalid subscription key ..."}}``
- missing api-version:   404 ``{"error": {"code": "404", "message": "Resource not found"}}``
- unknown api-version:   400 ``{"error": {"code": "BadRequest", "message": "API version not supported"}}``
- unknown deployment:    404 ``{"error": {"code": "DeploymentNotFound", "message": "The API deployment for this resource does not exist. ..."}}``
- authoring errors use the spec's ``ErrorCode`` values (``invalidPayload``, ``notFound``, ...).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

ACCESS_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
    "for an active subscription and use a correct regional API endpoint for your resource."
)
DEPLOYMENT_NOT_FOUND = (
    "The API deployment for this resource does not exist. If you created the deployment within the last "
    "5 minutes, please wait a moment and try again."
)
FILE_NOT_COMPLETED = "The specified file reference must point to a completed file import."
BASE_MODEL_NOT_SUPPORTED = "The specified base model does not support fine-tuning."
# Not a published Azure text (none is documented for DPO on an unsupported model): the emulator's own, in the
# same style. Supported models: how-to/fine-tuning-direct-preference-optimization.md.
BASE_MODEL_NOT_SUPPORTED_FOR_DPO = "The specified base model does not support the 'dpo' fine-tuning method."


class ApiError(Exception):
    """Raised inside a handler; the app turns it into Azure's JSON error body."""

    def __init__(self, status: int, code: str, message: str, *, param: str | None = None,
                 headers: dict[str, str] | None = None, inner: str | None = None,
                 payload: dict[str, Any] | None = None):
        super().__init__(message)
        self.payload = payload  # a whole body in another shape (the inference API's errors)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.headers = headers or {}
        self.inner = inner

    def body(self) -> dict[str, Any]:
        if self.payload is not None:
            return self.payload
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.param:
            err["target"] = self.param
            err["param"] = self.param
        if self.inner:
            err["innererror"] = {"code": self.inner}
        return {"error": err}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def unauthorized() -> ApiError:
    return ApiError(401, "401", ACCESS_DENIED)


def resource_not_found() -> ApiError:
    return ApiError(404, "404", "Resource not found")


def api_version_not_supported() -> ApiError:
    return ApiError(400, "BadRequest", "API version not supported")


def deployment_not_found() -> ApiError:
    return ApiError(404, "DeploymentNotFound", DEPLOYMENT_NOT_FOUND)


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, "notFound", f"{what} with id '{ident}' not found.")


def invalid_payload(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, "invalidPayload", message, param=param)


def upload_too_large(limit: int) -> ApiError:
    """413 for an upload over Azure's file size cap (emulator/guard.py)."""
    return ApiError(413, "fileTooLarge", f"The file is larger than the {limit // (1024 * 1024)} MB Azure OpenAI "
                                         "accepts for fine-tuning. Split it or trim it, then upload again.")


def openai_error(status: int, message: str, *, param: str | None = None) -> ApiError:
    """Inference errors use OpenAI's shape on Azure: {message, type, param, code}."""
    return ApiError(status, "invalid_request_error", message, param=param,
                    payload={"error": {"message": message, "type": "invalid_request_error", "param": param,
                                       "code": None}})


CONTENT_FILTERED = (
    "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please "
    "modify your prompt and retry. To learn more about our content filtering policies please read our "
    "documentation: https://go.microsoft.com/fwlink/?linkid=2198766"
)


def content_filtered(category: str, severity: str) -> ApiError:
    """A prompt the content filter refuses, in the shape Microsoft documents (concepts/content-filter.md, "An
    inappropriate input prompt"): 400, ``code: content_filter``, ``param: prompt``, ``innererror`` with
    ``ResponsibleAIPolicyViolation`` and ``content_filter_result`` per category. (The 2024-10-21 inference spec
    names these ``inner_error`` / ``content_filter_results``; real responses and the docs use the names here.)"""
    results: dict[str, Any] = {c: {"filtered": False, "severity": "safe"} for c in ("hate", "self_harm", "sexual",
                                                                                   "violence")}
    results["jailbreak"] = {"filtered": False, "detected": False}
    results[category] = {"filtered": True, "detected": True} if category == "jailbreak" else \
        {"filtered": True, "severity": severity}
    return ApiError(400, "content_filter", CONTENT_FILTERED, payload={"error": {
        "message": CONTENT_FILTERED, "type": None, "param": "prompt", "code": "content_filter", "status": 400,
        "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": results}}})
