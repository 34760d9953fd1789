"""``/chat/completions`` and ``/responses``: parameters in, a :class:`Generation` out, JSON or SSE back.

The text comes from the answer source behind :class:`emulator.inference.Inference`; nothing here knows which."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from emulator import errors, sse
from emulator.answers import AnswerRequest
from emulator.inference import Generation
from emulator.routes import Endpoint, json_object
from emulator.routes.params import (chat_format, input_messages, int_param, number_param, responses_format,
                                    stop_param)
from emulator.state import State

RESPONSES_SINCE = "2025-03-01-preview"


def _body_error(message: str) -> errors.ApiError:
    return errors.openai_error(400, message)


def endpoints(state: State) -> list[Endpoint]:
    inference = state.inference

    async def chat_completions(request: Request) -> Response:
        v1 = request.state.v1
        body = await json_object(request, _body_error)
        name = request.path_params.get("deployment") if not v1 else body.get("model")
        options = _stream_options(body)
        gen = inference.start(name, _chat_request(body), request.state.api_version)
        cid = "chatcmpl-" + hashlib.sha256(f"{time.time_ns()}{name}".encode()).hexdigest()[:29]
        created = int(time.time())
        if body.get("stream"):
            include_usage = bool(options.get("include_usage"))
            return StreamingResponse(sse.chat_chunks(cid, created, gen, include_usage),
                                     media_type="text/event-stream", headers=gen.headers)
        answers = await gen.complete()
        return JSONResponse({
            "id": cid, "object": "chat.completion", "created": created, "model": gen.public_model,
            "system_fingerprint": sse.SYSTEM_FINGERPRINT,
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
            "choices": [{"index": i, "finish_reason": finish, "logprobs": None, "content_filter_results": {},
                         "message": {"role": "assistant", "content": text, "refusal": None}}
                        for i, (text, finish) in enumerate(answers)],
            "usage": gen.usage(),
        }, headers=gen.headers)

    async def responses(request: Request) -> Response:
        """A minimal Responses API (``POST /responses``): ``input`` as text or messages, ``instructions``,
        ``max_output_tokens``, ``text.format``, streaming. Shape: the v1 spec's ``AzureResponse``
        (Azure/azure-rest-api-specs, specification/ai/data-plane/OpenAI.v1/azure-v1-v1-generated.json)."""
        version = request.state.api_version
        if not request.state.v1 and version < RESPONSES_SINCE:  # added in 2025-03-01-preview (lifecycle page)
            raise errors.resource_not_found()
        body = await json_object(request, _body_error)
        instructions = body.get("instructions")
        if instructions is not None and not isinstance(instructions, str):
            raise errors.openai_error(400, "'instructions' must be a string.", param="instructions")
        messages = ([{"role": "system", "content": instructions}] if instructions else []) + \
            input_messages(body.get("input"))
        text_cfg: dict[str, Any] = body["text"] if isinstance(body.get("text"), dict) else {}
        fmt_in = text_cfg["format"] if isinstance(text_cfg.get("format"), dict) else None
        asked = AnswerRequest(messages=messages, model="", max_tokens=int_param(body, "max_output_tokens", None, 1, None),
                              temperature=number_param(body, "temperature"), top_p=number_param(body, "top_p"),
                              response_format=responses_format(fmt_in))
        gen = inference.start(body.get("model"), asked, version)
        response, item = _response_shell(body, gen, instructions, fmt_in)
        if body.get("stream"):
            return StreamingResponse(sse.response_events(response, item, gen, _finish_response),
                                     media_type="text/event-stream", headers=gen.headers)
        await gen.complete()
        response, item = _finish_response(response, item, gen)
        return JSONResponse(response, headers=gen.headers)

    return [Endpoint("/deployments/{deployment}/chat/completions", chat_completions, ("POST",), ("dated",)),
            Endpoint("/chat/completions", chat_completions, ("POST",), ("v1",)),
            Endpoint("/responses", responses, ("POST",))]


def _stream_options(body: dict[str, Any]) -> dict[str, Any]:
    options = body.get("stream_options")
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise errors.openai_error(400, "'stream_options' must be an object, e.g. {\"include_usage\": true}.",
                                  param="stream_options")
    return options


def _chat_request(body: dict[str, Any]) -> AnswerRequest:
    """What a chat completions body asks for (``model`` is filled in from the deployment)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise errors.openai_error(400, "'messages' is a required property and must be a non-empty list of "
                                       "objects.", param="messages")
    max_param = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
    return AnswerRequest(messages=messages, model="", n=int_param(body, "n", 1, 1, 128),
                         max_tokens=int_param(body, max_param, None, 1, None),
                         temperature=number_param(body, "temperature"), top_p=number_param(body, "top_p"),
                         seed=int_param(body, "seed", None, None, None), stop=stop_param(body),
                         response_format=chat_format(body.get("response_format")))


def _response_shell(body: dict[str, Any], gen: Generation, instructions: str | None,
                    fmt_in: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Responses API's response and message item, before the text and usage are known."""
    rid = "resp_" + hashlib.sha256(f"{time.time_ns()}r".encode()).hexdigest()[:48]
    mid = "msg_" + hashlib.sha256(f"{time.time_ns()}m".encode()).hexdigest()[:48]
    item = {"id": mid, "type": "message", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": "", "annotations": [], "logprobs": []}]}
    response = {
        "id": rid, "object": "response", "created_at": int(time.time()),
        "status": "completed", "error": None, "background": False, "incomplete_details": None,
        "instructions": instructions, "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": None, "metadata": body.get("metadata") or {}, "model": gen.public_model,
        "output": [item], "parallel_tool_calls": True, "previous_response_id": body.get("previous_response_id"),
        "reasoning": None, "service_tier": "default", "store": bool(body.get("store", True)),
        "temperature": body.get("temperature", 1.0), "text": {"format": fmt_in or {"type": "text"}},
        "tool_choice": "auto", "tools": [], "top_logprobs": None, "top_p": body.get("top_p", 1.0),
        "truncation": "disabled", "user": body.get("user"), "usage": None,
    }
    return response, item


def _finish_response(response: dict[str, Any], item: dict[str, Any],
                     gen: Generation) -> tuple[dict[str, Any], dict[str, Any]]:
    """The response and its item once the text is generated: status, text, usage."""
    complete = gen.finish_reason(0) == "stop"
    status = "completed" if complete else "incomplete"
    item = {**item, "status": status, "content": [{**item["content"][0], "text": gen.texts.get(0, "")}]}
    usage = gen.usage()
    return {**response, "status": status, "output": [item],
            "incomplete_details": None if complete else {"reason": "max_output_tokens"},
            "usage": {"input_tokens": usage["prompt_tokens"],
                      "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                      "output_tokens": usage["completion_tokens"], "output_tokens_details": {"reasoning_tokens": 0},
                      "total_tokens": usage["total_tokens"]}}, item
