"""A blocking producer (one that calls ``emit(item)`` as it goes and watches a cancel flag) turned into an async
iterator for an asyncio server: the producer runs on its own thread, items cross to the event loop through a
queue, and when the consumer stops early (a client disconnects, ``break``, ``aclose()`` or task cancellation)
the flag is set so the producer stops at its next item. No heavy import here: the stand-in emulator and the
tests import this module without torch or llama.cpp.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
Emit = Callable[[T], None]
Producer = Callable[[Callable[[T], None], threading.Event], None]


class _End:
    """The producer returned (``error`` is None) or raised (``error`` is the exception)."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class _Bridge(Generic[T]):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[T | _End] = asyncio.Queue()
        self.cancel = threading.Event()

    def put(self, item: T | _End) -> None:
        """From the producer's thread; a closed loop (server shutting down) counts as a cancel."""
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:
            self.cancel.set()

    def run(self, produce: Producer[T]) -> None:
        def emit(item: T) -> None:
            if not self.cancel.is_set():
                self.put(item)
        try:
            produce(emit, self.cancel)
        except BaseException as exc:  # handed to the consumer, re-raised there
            self.put(_End(exc))
        else:
            self.put(_End())


async def iterate_in_thread(produce: Producer[T], *, name: str = "local-model") -> AsyncIterator[T]:
    """Run ``produce(emit, cancel)`` on a new daemon thread; yield what it emits, in order, as it comes.

    Stopping early sets ``cancel``; a producer must check it (or let ``emit`` be ignored once it is set). An
    exception in the producer is raised to the consumer, as it is."""
    bridge: _Bridge[T] = _Bridge(asyncio.get_running_loop())
    thread = threading.Thread(target=bridge.run, args=(produce,), name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = await bridge.queue.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        bridge.cancel.set()
