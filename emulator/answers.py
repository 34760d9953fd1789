"""The answer-source seam: what writes the assistant's text of a chat or Responses request.

The inference layer (``emulator/inference.py``) admits a request (deployment, rate limits, content filter),
then asks the source for each choice's text as an async stream of pieces. The routes never see the source.

Two sources: the canned stand-in (``emulator/canned.py``: labelled text, never model output) and the local
model of ``backend: local`` (``emulator/local/``). A source implements :class:`AnswerSource`:

- ``kind``: ``"stand-in"`` or ``"local-model"``; sent as the ``x-emulator`` header of every answer;
- ``model_name``: what writes the answers (``"stand-in"``, or the local model's name, e.g.
  ``"SmolLM2-135M-Instruct"``); sent as the ``x-emulator-model`` header of every answer and file download;
- ``label(model)``: a human label, e.g. "SmolLM2-135M-Instruct on this machine, standing in for gpt-4.1";
- ``prompt_tokens(messages, model)``: the prompt's token count (usage, rate-limit estimates);
- ``check(request)``: raises an ``errors.ApiError`` when the source cannot answer ``request.model`` at all
  (the local model without a checkpoint's weights: 404). Called at admission, before anything is charged or a
  streamed answer's headers go out, so the client gets the error as JSON, not a stream that breaks;
- ``capacity(model)``: an optional ceiling (tokens and requests per minute) under the deployment's own quota,
  reported in ``x-ratelimit-*`` headers so clients do not flood a slow model;
- ``answer(request, index)``: one choice as an :class:`AnswerStream`. Iterating it yields text pieces as they
  are generated; when it ends, ``finish_reason`` (``stop``/``length``) and ``completion_tokens`` are set (and
  ``prompt_tokens``, when the source's own tokenizer counted the prompt: usage then reports it). If the
  client goes away, the stream's ``aclose()`` is awaited so a real generator can stop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncGenerator, Callable, Protocol

FORMATS = ("text", "json_object", "json_schema")


@dataclass(frozen=True)
class ResponseFormat:
    kind: str = "text"  # one of FORMATS
    schema: dict[str, Any] | None = None  # json_schema's schema


@dataclass(frozen=True)
class TunedModel:
    """What the emulator knows about a fine-tuned model (or one of its checkpoints) it trained."""

    job_id: str
    base_model: str  # the versioned base id the job trained from
    step: int | None  # a checkpoint's step (`<model>:ckpt-step-N`); None: the final model
    artefact: str | None  # the trainer's artefact location (None: the simulated trainer keeps none)
    training_data: Callable[[], bytes | None]  # the job's copy of its training file (None: lost)


@dataclass(frozen=True)
class AnswerRequest:
    messages: list[dict[str, Any]]
    model: str  # the deployment's model: a base id, a fine-tuned id or `<fine-tuned id>:ckpt-step-N`
    n: int = 1
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    response_format: ResponseFormat = field(default_factory=ResponseFormat)
    tuned: TunedModel | None = None  # set when `model` is one this emulator trained


@dataclass(frozen=True)
class Capacity:
    tokens_per_minute: int
    requests_per_minute: int


@dataclass
class ChoiceEnd:
    finish_reason: str = "stop"  # "stop" | "length"
    completion_tokens: int = 0
    prompt_tokens: int | None = None  # the source's own count of the prompt (None: the admission's count stands)


class AnswerStream:
    """One choice: an async iterator of text pieces, then its :class:`ChoiceEnd`.

    Built from an async generator that fills ``end`` before it returns (``AnswerStream(gen(end), end)``)."""

    def __init__(self, pieces: AsyncGenerator[str, None], end: ChoiceEnd):
        self._pieces = pieces
        self.end = end

    def __aiter__(self) -> "AnswerStream":
        return self

    async def __anext__(self) -> str:
        return await self._pieces.__anext__()

    async def aclose(self) -> None:
        await self._pieces.aclose()

    @property
    def finish_reason(self) -> str:
        return self.end.finish_reason

    @property
    def completion_tokens(self) -> int:
        return self.end.completion_tokens


class AnswerSource(Protocol):
    kind: str
    model_name: str

    def label(self, model: str) -> str: ...

    def prompt_tokens(self, messages: list[dict[str, Any]], model: str) -> int: ...

    def check(self, request: AnswerRequest) -> None: ...

    def capacity(self, model: str) -> Capacity | None: ...

    def answer(self, request: AnswerRequest, index: int) -> AnswerStream: ...
