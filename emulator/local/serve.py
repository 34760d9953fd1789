"""Serving the local model: :class:`LocalModels` loads the base model once (SmolLM2-135M-Instruct, the GGUF of
``weights.gguf_path``) and answers chat requests with the base or with any registered LoRA adapter (a
fine-tuned model or one of its checkpoints: the directory peft's ``save_pretrained`` wrote), all from one base
in memory. Runtime: llama.cpp through ``xllamacpp`` (see ``llama_runtime``; docs/benchmarks.md has the figures
against transformers). Nothing heavy is imported until the first request or :meth:`LocalModels.start`.

Use from asyncio with :meth:`LocalModels.stream` (generation on its own thread, events through a queue; leaving
the loop early cancels the generation); from a thread with :meth:`LocalModels.run` or
:meth:`LocalModels.complete`. Adding an adapter blocks for about a second (conversion and a runtime restart
that keeps requests in flight on the old runtime until they end): call it off the event loop.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from emulator.local.cpu import RUNTIME_ENV
from emulator.local.events import Event, Finish, LocalServeError, Piece, Request, Usage
from emulator.local.llama_runtime import RuntimeConfig
from emulator.local.lora_gguf import BaseShape
from emulator.local.streaming import iterate_in_thread
from emulator.local.weights import MODEL_NAME

RuntimeFactory = Callable[[Path, list[Path], RuntimeConfig], Any]
BOUNDED_SPIN = 100_000  # a GOMP_SPINCOUNT at most this (or OMP_WAIT_POLICY=passive) lets more threads pay
# One short greedy answer at start-up measures what this CPU serves (for x-ratelimit-* headers).
PROBE = Request(messages=[{"role": "user", "content": "Name three things to see in Rome."}],
                max_tokens=16, temperature=0.0)


def label(azure_model: str) -> str:
    """What a person is told about an answer from the local backend."""
    return f"{MODEL_NAME} on this machine, standing in for {azure_model}"


def default_threads(environ: Mapping[str, str] | None = None) -> int:
    """How many threads llama.cpp gets, from how its OpenMP threads wait (``environ``: this process's).

    The prebuilt wheel synchronises its threads with OpenMP, whose threads spin while they wait (libgomp's
    default: 300,000 rounds). Measured on the 2-core machine (docs/benchmarks.md, "The local backend:
    serving"): idle, 2 spinning threads served 75 tokens/s and 1 thread 43; with both cores busy elsewhere, 2
    spinning threads collapsed to 8-18 (1.5 at load 8). ``GOMP_SPINCOUNT=1000`` (``RUNTIME_ENV``) keeps the idle
    75 and gives 27 with both cores busy, as 1 thread does (29); ``OMP_WAIT_POLICY=passive`` gave only 26 idle.
    libgomp reads these once, when it loads, so they must be in the environment the process started with: 2+
    threads only when the spinning is bounded, else 1."""
    env = os.environ if environ is None else environ
    spin = env.get("GOMP_SPINCOUNT", "").strip()
    bounded = env.get("OMP_WAIT_POLICY", "").strip().lower() == "passive" and not spin
    if spin.isdigit():
        bounded = int(spin) <= BOUNDED_SPIN
    return max(1, min(4, os.cpu_count() or 1)) if bounded else 1


@dataclass(frozen=True)
class Completion:
    """A whole answer (non-streaming): ``texts[i]`` and ``finish_reasons[i]`` for choice i, and the usage."""
    texts: list[str]
    finish_reasons: list[str]
    usage: Usage


class LocalModels:
    """The base model and its adapters, served by one in-process runtime. Thread-safe."""

    def __init__(self, base_gguf: Path | None = None, *, workdir: Path | None = None,
                 threads: int | None = None, parallel: int = 2, context: int = 8192,
                 runtime: RuntimeFactory | None = None, verbose: bool = False) -> None:
        """``runtime`` builds the serving runtime (default ``llama_runtime.build_server``); a test passes a
        scripted fake with the same ``handle_chat_completions(body, callback)``."""
        self._base = base_gguf
        self._factory = runtime
        self._config = RuntimeConfig(threads or default_threads(), parallel, context, verbose)
        self._workdir = workdir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._lock = threading.Lock()
        self._adapters: dict[str, Path] = {}  # name -> converted GGUF; order = the runtime's adapter ids
        self._server: Any = None
        self._rate = 0.0  # tokens/s of one stream, measured
        self._serial = itertools.count(1)
        self._shape: BaseShape | None = None
        self._shape_lock = threading.Lock()

    # -- the runtime ------------------------------------------------------------------------------------
    def start(self) -> float:
        """Load the base model now (otherwise the first request does); returns the seconds it took."""
        began = time.perf_counter()
        self._current()
        threading.Thread(target=self._prefetch_shape, name="local-model-shape", daemon=True).start()
        return time.perf_counter() - began

    def _base_gguf(self) -> Path:
        if self._base is None:
            from emulator.local.weights import gguf_path
            self._base = gguf_path()
        return self._base

    def _base_shape(self) -> BaseShape:
        """The base's head counts for the converter (reading the GGUF header takes 1-3 s: :meth:`start` reads
        it in the background, so a deployment does not wait for it)."""
        from emulator.local.lora_gguf import base_shape

        with self._shape_lock:
            if self._shape is None:
                self._shape = base_shape(self._base_gguf())
            return self._shape

    def _prefetch_shape(self) -> None:
        try:
            self._base_shape()
        except Exception:  # noqa: BLE001 - add_adapter reads it again and reports the error to its caller
            pass

    def _current(self) -> tuple[Any, dict[str, int]]:
        """The runtime and the adapter ids, as one consistent snapshot; built on first use."""
        with self._lock:
            if self._server is None:
                self._rebuild_locked()
            ids = {name: i for i, name in enumerate(self._adapters)}
            return self._server, ids

    def _rebuild_locked(self) -> None:
        from emulator.local.llama_runtime import build_server

        factory = self._factory or build_server
        self._server = factory(self._base_gguf(), list(self._adapters.values()), self._config)
        if not self._rate:
            self._rate = _probe_rate(self._server)

    def close(self) -> None:
        """Drop the runtime (requests in flight finish first) and the converted adapters."""
        with self._lock:
            self._server = None
            self._adapters.clear()
            if self._tmp is not None:
                self._tmp.cleanup()
                self._tmp = None

    # -- adapters ---------------------------------------------------------------------------------------
    def add_adapter(self, name: str, adapter_dir: Path) -> float:
        """Serve ``adapter_dir`` (peft's save_pretrained output) under ``name``; replaces one of that name.
        Blocking (conversion ~0.2 s, runtime restart ~0.5 s); returns the seconds it took."""
        from emulator.local.lora_gguf import AdapterError, convert

        began = time.perf_counter()
        target = self._adapter_dir() / f"adapter-{next(self._serial)}-{os.getpid()}.gguf"
        try:
            convert(Path(adapter_dir), self._base_gguf(), target, self._base_shape())
        except AdapterError as exc:
            raise LocalServeError(str(exc)) from None
        with self._lock:
            replaced = self._adapters.get(name)
            self._adapters[name] = target
            try:
                self._rebuild_locked()
            except BaseException:  # the runtime kept serving the previous set: keep the names in step
                self._restore_locked(name, replaced)
                raise
        if replaced is not None:
            replaced.unlink(missing_ok=True)  # the runtime holds adapters in memory, not their files
        return time.perf_counter() - began

    def _restore_locked(self, name: str, previous: Path | None) -> None:
        if previous is None:
            self._adapters.pop(name, None)
        else:
            self._adapters[name] = previous

    def remove_adapter(self, name: str) -> None:
        with self._lock:
            removed = self._adapters.pop(name, None)
            if removed is not None and self._server is not None:
                self._rebuild_locked()
        if removed is not None:
            removed.unlink(missing_ok=True)

    def adapters(self) -> list[str]:
        with self._lock:
            return list(self._adapters)

    def _adapter_dir(self) -> Path:
        if self._workdir is not None:
            self._workdir.mkdir(parents=True, exist_ok=True)
            return self._workdir
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="local-adapters-")
        return Path(self._tmp.name)

    # -- answering --------------------------------------------------------------------------------------
    def run(self, request: Request, adapter: str | None, emit: Callable[[Event], None],
            cancel: threading.Event | None = None) -> None:
        """Generate (blocking): ``emit`` Piece and Finish events as tokens come, then one Usage. Setting
        ``cancel`` stops the generation at the next token and frees the runtime's slot. More choices than the
        runtime's parallel slots are generated in rounds (round k with seed + k)."""
        from emulator.local.llama_runtime import generate, merge_usage, request_body

        server, ids = self._current()
        if adapter is not None and adapter not in ids:
            raise LocalServeError(f"no adapter named {adapter!r} is loaded (loaded: {sorted(ids) or 'none'}); "
                                  f"add it with add_adapter first")
        cancel = cancel or threading.Event()
        usages: list[Usage] = []
        for first in range(0, request.n, self._config.parallel):
            part = replace(request, n=min(self._config.parallel, request.n - first),
                           seed=None if request.seed is None else request.seed + first // self._config.parallel)
            body = request_body(part, None if adapter is None else ids[adapter], len(ids))
            usage = generate(server, body, lambda event: emit(_shifted(event, first)), cancel)
            if usage is None:
                return
            usages.append(usage)
        total = merge_usage(usages)
        if total.tokens_per_second and total.completion_tokens >= 8:
            self._rate = 0.8 * self._rate + 0.2 * total.tokens_per_second
        emit(total)

    def stream(self, request: Request, adapter: str | None = None) -> AsyncIterator[Event]:
        """The async form of :meth:`run`, for an asyncio server: iterate it; stop iterating (or let the task be
        cancelled) and the generation stops."""
        def produce(emit: Callable[[Event], None], cancel: threading.Event) -> None:
            self.run(request, adapter, emit, cancel)
        return iterate_in_thread(produce)

    def complete(self, request: Request, adapter: str | None = None) -> Completion:
        """The whole answer (blocking)."""
        texts = [""] * request.n
        reasons = ["stop"] * request.n
        usage: list[Usage] = []

        def collect(event: Event) -> None:
            if isinstance(event, Piece):
                texts[event.index] += event.text
            elif isinstance(event, Finish):
                reasons[event.index] = event.reason
            else:
                usage.append(event)
        self.run(request, adapter, collect)
        return Completion(texts, reasons, usage[-1] if usage else Usage(0, 0))

    def capacity_tokens_per_minute(self) -> int:
        """Completion tokens per minute this CPU serves (one stream's measured speed; 0 before the first
        start). For x-ratelimit-limit-tokens, so that a client paces itself to it."""
        return int(self._rate * 60)


def _shifted(event: Event, offset: int) -> Event:
    return replace(event, index=event.index + offset) if isinstance(event, (Piece, Finish)) and offset else event


def _probe_rate(server: Any) -> float:
    from emulator.local.llama_runtime import generate, request_body

    usage = generate(server, request_body(PROBE, None, 0), lambda event: None, threading.Event())
    return usage.tokens_per_second if usage else 0.0
