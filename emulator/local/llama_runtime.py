"""The serving runtime: llama.cpp in this process through ``xllamacpp`` (a prebuilt wheel; its ``Server`` is
llama.cpp's own server, driven by direct calls). One runtime holds the base GGUF once and every registered
LoRA adapter; each request names the adapter it wants (``lora`` scales in the request body), so several
adapters are served from one base in memory. Continuous batching serves up to ``parallel`` streams at once.

llama.cpp's server also opens an HTTP listener. It is bound to 127.0.0.1 on a random port, without its web
UI, and answers only with a random API key that never leaves this process (any web page can reach a local
port; the emulator's own server is the only door). ``xllamacpp`` is imported when a runtime is built, never
at import time.

Request fields (llama.cpp tools/server/README.md and xllamacpp's README, read 2026-12-06): ``max_tokens``,
``temperature``, ``top_p``, ``seed``, ``n``, ``stop``, ``response_format`` (json_object -> a JSON grammar),
``lora`` ([{id, scale}]), ``stream`` and ``stream_options.include_usage``.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.local.events import Event, Finish, LocalServeError, Piece, Request, Usage


@dataclass(frozen=True)
class RuntimeConfig:
    threads: int
    parallel: int
    context: int  # tokens, shared by the parallel slots
    verbose: bool = False  # llama.cpp's own log on stderr (about 20 lines per request); off: silent


def build_server(base_gguf: Path, adapters: Sequence[Path], config: RuntimeConfig) -> Any:
    """A started llama.cpp server with ``adapters`` loaded at scale 0 (each request picks its own)."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(base_gguf)
    params.n_ctx = config.context
    params.n_parallel = config.parallel
    params.cpuparams.n_threads = config.threads
    params.cpuparams_batch.n_threads = config.threads
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    params.api_keys = [secrets.token_hex(32)]
    params.ui = False
    params.verbosity = 3 if config.verbose else 0
    params.endpoint_slots = False
    params.endpoint_metrics = False
    # Loaded at scale 0: a request that names no adapter gets the base model (measured: with scale 1 here
    # and lora_init_without_apply, requests without a `lora` field still got the adapter).
    params.lora_adapters = [xllamacpp.CommonAdapterLoraInfo(str(path), 0.0) for path in adapters]
    params.lora_init_without_apply = True
    try:
        return xllamacpp.Server(params)
    except Exception as exc:  # the runtime reports a bad model or adapter file only as "failed to init"
        raise LocalServeError(f"the local model runtime did not start with {base_gguf} and "
                              f"{len(adapters)} adapter(s): {exc}") from None


def request_body(request: Request, adapter_id: int | None, n_adapters: int) -> dict[str, Any]:
    """The llama.cpp request for ``request``, streamed, with every adapter at scale 0 except the chosen one.

    Sampling follows the OpenAI meaning: llama.cpp's extra samplers (top_k 40, min_p 0.05 by default) are
    switched off, so only temperature and top_p shape the distribution; temperature 0 is greedy."""
    body: dict[str, Any] = {
        "messages": list(request.messages), "stream": True, "stream_options": {"include_usage": True},
        "temperature": request.temperature, "top_p": request.top_p, "top_k": 0, "min_p": 0.0,
        "n": request.n, "lora": [{"id": i, "scale": 1.0 if i == adapter_id else 0.0} for i in range(n_adapters)],
    }
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    if request.seed is not None:
        body["seed"] = request.seed
    if request.stop:
        body["stop"] = list(request.stop)
    if request.json_object:
        body["response_format"] = {"type": "json_object"}
    return body


def chunk_events(chunk: Mapping[str, Any]) -> list[Event]:
    """The events in one streamed chunk of llama.cpp's OpenAI-style output."""
    if "error" in chunk:
        error = chunk["error"]
        message = error.get("message", str(error)) if isinstance(error, Mapping) else str(error)
        raise LocalServeError(f"the local model refused the request: {message}")
    events: list[Event] = []
    for choice in chunk.get("choices") or ():
        index = int(choice.get("index", 0))
        text = (choice.get("delta") or {}).get("content")
        if text:
            events.append(Piece(index, text))
        reason = choice.get("finish_reason")
        if reason:
            events.append(Finish(index, "length" if reason == "length" else "stop"))
    usage = chunk.get("usage")
    if usage:
        events.append(Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)),
                            _rate(chunk)))
    return events


def _rate(chunk: Mapping[str, Any]) -> float:
    timings = chunk.get("timings") or {}
    return float(timings.get("predicted_per_second") or 0.0)


def generate(server: Any, body: dict[str, Any], emit: Callable[[Event], None],
             cancel: threading.Event) -> Usage | None:
    """Stream ``body`` through ``server``: ``emit`` each Piece and Finish as it comes; stop (and free the slot:
    the runtime cancels the task when the callback returns True) as soon as ``cancel`` is set. Returns the
    request's usage (None if cancelled)."""
    failure: list[BaseException] = []
    usages: list[Usage] = []  # llama.cpp reports usage once per choice; one merged Usage goes out at the end

    def on_chunk(chunk: Any) -> bool:
        if cancel.is_set():
            return True
        try:
            for event in chunk_events(chunk if isinstance(chunk, Mapping) else {"error": chunk}):
                if isinstance(event, Usage):
                    usages.append(event)
                else:
                    emit(event)
        except BaseException as exc:  # raised after the runtime returns, not through its C callback
            failure.append(exc)
            return True
        return cancel.is_set()

    try:
        server.handle_chat_completions(body, on_chunk)
    except ValueError as exc:  # the runtime's own check of the request body
        raise LocalServeError(f"the local model refused the request: {exc}") from None
    if failure:
        raise failure[0]
    return merge_usage(usages) if usages and not cancel.is_set() else None


def merge_usage(usages: Sequence[Usage]) -> Usage:
    """One request's usage: the prompt once, the completion tokens of all choices, their mean speed."""
    return Usage(usages[0].prompt_tokens, sum(u.completion_tokens for u in usages),
                 sum(u.tokens_per_second for u in usages) / len(usages))
