"""The two server-sent-event encoders: chat completion chunks and the Responses API's events.

Both read a :class:`emulator.inference.Generation` choice by choice as its source streams, and settle its token
usage when the stream ends (or the client goes away).
"""

from __future__ import annotations

import json
from typing import Any, AsyncIterator

from emulator.inference import Generation

SYSTEM_FINGERPRINT = "fp_emulator"


async def chat_chunks(cid: str, created: int, gen: Generation, include_usage: bool) -> AsyncIterator[bytes]:
    """Azure's chat completion chunks: the prompt filter's, then per choice its role, pieces and finish."""
    def chunk(choices: list[dict[str, Any]], **extra: Any) -> bytes:
        obj = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": gen.public_model,
               "system_fingerprint": SYSTEM_FINGERPRINT, "choices": choices, **extra}
        return f"data: {json.dumps(obj)}\n\n".encode()

    try:
        # Azure's first chunk: no choices, only the prompt's content-filter results.
        yield chunk([], prompt_filter_results=[{"prompt_index": 0, "content_filter_results": {}}])
        for index in range(gen.n):
            yield chunk([{"index": index, "delta": {"role": "assistant", "content": ""}, "finish_reason": None,
                          "logprobs": None}])
            async for piece in gen.pieces(index):
                yield chunk([{"index": index, "delta": {"content": piece}, "finish_reason": None, "logprobs": None,
                              "content_filter_results": {}}])
            yield chunk([{"index": index, "delta": {}, "finish_reason": gen.finish_reason(index), "logprobs": None}])
        gen.settle()
        if include_usage:
            yield chunk([], usage=gen.usage())
        yield b"data: [DONE]\n\n"
    finally:
        gen.settle()


async def response_events(response: dict[str, Any], item: dict[str, Any], gen: Generation,
                          finish: Any) -> AsyncIterator[bytes]:
    """The Responses API's event stream (the v1 spec's OpenAI.ResponseStreamEvent types, in their order).

    ``response`` and ``item`` are the final objects without text or usage; ``finish(response, item, text)``
    completes them once the text is known."""
    seq = iter(range(1 << 30))

    def event(kind: str, **data: Any) -> bytes:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, 'sequence_number': next(seq), **data})}\n\n" \
            .encode()

    started = {**response, "status": "in_progress", "output": [], "usage": None, "incomplete_details": None}
    ids = {"item_id": item["id"], "output_index": 0, "content_index": 0}
    try:
        yield event("response.created", response=started)
        yield event("response.in_progress", response=started)
        yield event("response.output_item.added", output_index=0,
                    item={**item, "status": "in_progress", "content": []})
        empty_part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        yield event("response.content_part.added", part=empty_part, **ids)
        async for piece in gen.pieces(0):
            yield event("response.output_text.delta", delta=piece, logprobs=[], obfuscation="", **ids)
        gen.settle()
        response, item = finish(response, item, gen)
        text = item["content"][0]["text"]
        yield event("response.output_text.done", text=text, logprobs=[], **ids)
        yield event("response.content_part.done", part=item["content"][0], **ids)
        yield event("response.output_item.done", output_index=0, item=item)
        yield event("response.completed" if response["status"] == "completed" else "response.incomplete",
                    response=response)
    finally:
        gen.settle()
