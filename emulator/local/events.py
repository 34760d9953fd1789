"""What the local model is asked (:class:`Request`) and what it streams back (:class:`Piece`, :class:`Finish`,
then one :class:`Usage`). Plain data, no heavy import."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union


class LocalServeError(Exception):
    """A request the local model cannot serve, or a runtime that would not start; the message says why."""


@dataclass(frozen=True)
class Request:
    """One chat request. ``messages`` are chat messages (role, content), formatted with the model's ChatML
    template. ``max_tokens`` None runs to the end of the answer or of the context. ``temperature`` 0 is greedy.
    ``seed`` makes a sampled answer repeatable. ``n`` answers are generated (choice indexes 0..n-1). A ``stop``
    string ends an answer before it (finish "stop"). ``json_object`` constrains the output to a JSON object."""
    messages: Sequence[Mapping[str, Any]]
    max_tokens: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    n: int = 1
    stop: Sequence[str] = field(default_factory=tuple)
    json_object: bool = False

    def __post_init__(self) -> None:
        problems = [text for bad, text in (
            (not self.messages, "messages must not be empty"),
            (self.max_tokens is not None and self.max_tokens < 1, "max_tokens must be at least 1"),
            (not 0.0 <= self.temperature <= 2.0, "temperature must be between 0 and 2"),
            (not 0.0 < self.top_p <= 1.0, "top_p must be above 0 and at most 1"),
            (not 1 <= self.n <= 16, "n must be between 1 and 16"),
            (len(self.stop) > 4, "stop takes at most 4 sequences"),
        ) if bad]
        if problems:
            raise LocalServeError("; ".join(problems))


@dataclass(frozen=True)
class Piece:
    """Text of choice ``index``, as generated (whole characters: multi-byte ones are never split)."""
    index: int
    text: str


@dataclass(frozen=True)
class Finish:
    """Choice ``index`` ended: ``reason`` is "stop" (end of answer or a stop string) or "length" (max_tokens)."""
    index: int
    reason: str


@dataclass(frozen=True)
class Usage:
    """The last event: prompt tokens (the local tokenizer's count, once per request) and completion tokens
    (all choices together); ``tokens_per_second`` is the runtime's measured generation speed."""
    prompt_tokens: int
    completion_tokens: int
    tokens_per_second: float = 0.0


Event = Union[Piece, Finish, Usage]
