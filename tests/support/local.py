"""The local backend without torch or llama.cpp: :class:`FakeModels`, a scripted stand-in for
``emulator.local.serve.LocalModels`` that :class:`emulator.local.answer_source.LocalAnswerSource` serves from
(tests/test_local_backend.py, and the playground's local-model badge in a real browser)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import AsyncIterator

from emulator.local.events import Event, Finish, Piece, Request, Usage


class FakeModels:
    """LocalModels' surface: streams the words of ``text`` (one Piece each) unless max_tokens cuts it."""

    def __init__(self, text: str = "Rome is lovely in spring .", rate: int = 0) -> None:
        self.text = text
        self.rate = rate
        self.requests: list[tuple[Request, str | None]] = []
        self.added: list[tuple[str, Path]] = []
        self.closed = 0
        self.gate: asyncio.Event | None = None

    def stream(self, request: Request, adapter: str | None = None) -> AsyncIterator[Event]:
        self.requests.append((request, adapter))
        return self._events(request)

    async def _events(self, request: Request) -> AsyncIterator[Event]:
        words = self.text.split()
        limit = min(len(words), request.max_tokens or len(words))
        try:
            for word in words[:limit]:
                if self.gate is not None:
                    await self.gate.wait()
                yield Piece(0, word + " ")
            yield Finish(0, "length" if limit < len(words) else "stop")
            yield Usage(prompt_tokens=11, completion_tokens=limit, tokens_per_second=30.0)
        finally:
            self.closed += 1

    def add_adapter(self, name: str, adapter_dir: Path) -> float:
        self.added.append((name, adapter_dir))
        return 0.1

    def adapters(self) -> list[str]:
        return [name for name, _ in self.added]

    def capacity_tokens_per_minute(self) -> int:
        return self.rate
