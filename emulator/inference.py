"""Inference: one chat or Responses request from admission to its last piece.

:class:`Inference` is built with the deployments (the config), the rate limiter, the model catalogue (what this
emulator trained) and an answer source (``emulator/answers.py``). It resolves the deployment, counts the prompt,
admits the request against the deployment's quota (and the source's capacity hint), applies the content filter,
then hands out a :class:`Generation` whose choices stream from the source. The routes read only a Generation.
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable

import anyio

from emulator import chat, errors
from emulator.answers import AnswerRequest, AnswerSource, ChoiceEnd
from emulator.config import EmulatorConfig
from emulator.limits import RateLimiter
from jobs import models
from jobs.stand_in import MODEL_HEADER, STAND_IN_HEADER

TunedLookup = Callable[[str], Any]  # model id -> answers.TunedModel | None


@dataclass
class Generation:
    """An admitted request: its headers and prompt count now, its choices as they stream."""

    source: AnswerSource
    request: AnswerRequest
    deployment: str
    estimate: int
    prompt_tokens: int
    headers: dict[str, str]
    public_model: str
    limiter: RateLimiter
    ends: dict[int, ChoiceEnd] = field(default_factory=dict)
    texts: dict[int, str] = field(default_factory=dict)
    _settled: bool = False

    @property
    def n(self) -> int:
        return self.request.n

    async def pieces(self, index: int) -> AsyncIterator[str]:
        """Choice ``index``'s text pieces; the source's stream is closed however this ends (client gone too)."""
        stream = self.source.answer(self.request, index)
        parts: list[str] = []
        try:
            async for piece in stream:
                parts.append(piece)
                yield piece
            self.ends[index] = stream.end
        finally:
            self.texts[index] = "".join(parts)
            with anyio.CancelScope(shield=True):
                await stream.aclose()

    async def complete(self) -> list[tuple[str, str]]:
        """Every choice whole: (text, finish_reason), in index order."""
        try:
            for index in range(self.n):
                async for _ in self.pieces(index):
                    pass
        finally:
            self.settle()
        return [(self.texts[i], self.finish_reason(i)) for i in range(self.n)]

    def finish_reason(self, index: int) -> str:
        return self.ends[index].finish_reason if index in self.ends else "stop"

    @property
    def completion_tokens(self) -> int:
        return sum(end.completion_tokens for end in self.ends.values())

    @property
    def counted_prompt_tokens(self) -> int:
        """The prompt's tokens as the source's own tokenizer counted them, else the admission's count."""
        counted = [end.prompt_tokens for end in self.ends.values() if end.prompt_tokens is not None]
        return counted[0] if counted else self.prompt_tokens

    def usage(self) -> dict[str, int]:
        prompt = self.counted_prompt_tokens
        return {"prompt_tokens": prompt, "completion_tokens": self.completion_tokens,
                "total_tokens": prompt + self.completion_tokens}

    def settle(self) -> None:
        """Replace the admission's estimate by the tokens really used (once)."""
        if not self._settled:
            self._settled = True
            self.limiter.settle(self.deployment, self.estimate, self.counted_prompt_tokens + self.completion_tokens)


class Inference:
    def __init__(self, config: EmulatorConfig, limiter: RateLimiter, source: AnswerSource, tuned: TunedLookup,
                 now: Callable[[], float] = time.time):
        self.config = config
        self.limiter = limiter
        self.source = source
        self.tuned = tuned
        self.now = now

    def start(self, name: Any, request: AnswerRequest, api_version: str | None) -> Generation:
        """Admit a request for deployment ``name`` (``request.model`` is filled in from the deployment)."""
        if not isinstance(name, str) or not name:
            raise errors.openai_error(400, "you must provide a model parameter", param="model")
        dep = self.config.deployments.get(name)
        if dep is None or self.now() - float(dep.get("registered_at") or 0) < self.config.deployment_ready_seconds:
            raise errors.deployment_not_found()  # unknown, or registered too recently to answer yet
        model = dep["model"]
        _check_retired(model)
        request = AnswerRequest(**{**request.__dict__, "model": model, "tuned": self.tuned(model)})
        self.source.check(request)  # before anything is charged, and before a stream's headers go out
        prompt_tokens = self.source.prompt_tokens(request.messages, model)
        estimate = prompt_tokens + (request.max_tokens or 0) * request.n  # Azure's: prompt + max_tokens per choice
        cap = self.source.capacity(model)
        rl_headers, _ = self.limiter.admit(name, estimate, api_version,
                                           cap=(cap.requests_per_minute, cap.tokens_per_minute) if cap else None)
        self._content_filter(request.messages)
        return Generation(self.source, request, name, estimate, prompt_tokens,
                          {**rl_headers, **source_headers(self.source)}, public_model_id(model), self.limiter)

    def _content_filter(self, messages: list[dict[str, Any]]) -> None:
        """Azure's prompt filter, triggered by the configured words (``content_filter.triggers``)."""
        cf = self.config.content_filter
        triggers = [t.lower() for t in cf.triggers if t]
        if not triggers:
            return
        text = " ".join(chat.message_text(m) for m in messages).lower()
        if any(t in text for t in triggers):
            raise errors.content_filtered(cf.category, cf.severity)


def retirement(model: str, now: _dt.date) -> str | None:
    """Why a deployment of ``model`` no longer answers on ``now`` (the lifecycle table of jobs/models.py), or None.

    A fine-tuned model (or a checkpoint) stops at its base's ``deployment_retires``; a base model at its
    ``base_retires``; a model the table lists as retired (gpt-4 0613, ...) on its retirement day.
    """
    try:
        m = models.resolve(model)
    except models.NotFineTunable as exc:
        day = exc.model.retired
        return exc.model.refusal() if day is not None and now >= day else None
    except models.UnknownModel:
        return None
    if ".ft-" in model:
        return models.check_lifecycle(m, models.DEPLOYMENT, now).refusal
    return models.check_base(m.name, m.version, now).refusal


def _check_retired(model: str) -> None:
    """410 for a deployment of a retired model.

    Learn's "Model retirement schedule" (concepts/model-retirement-schedule, checked 2026-12-06) says deployments of
    a retired model "always return error responses" without naming the status; 410 Gone is issue 22's reading.
    The code is the one Azure uses when it refuses to deploy a retired model (``ServiceModelDeprecated``, quoted in
    shohei1029/book-azureopenai-sample#23, 2025-05); the inference-time body is not published.
    """
    why = retirement(model, models.today())
    if why:
        raise errors.ApiError(410, "ServiceModelDeprecated", f"The model '{model}' has been retired: {why}")


def source_headers(source: AnswerSource) -> dict[str, str]:
    """What every answer and file download says about the backend: ``x-emulator`` (the source's kind) and
    ``x-emulator-model`` (what writes the answers)."""
    return {STAND_IN_HEADER: source.kind, MODEL_HEADER: source.model_name}


def public_model_id(model: str) -> str:
    """Azure reports the model behind a deployment by its versioned id (``gpt-4.1-2025-04-14``)."""
    if ".ft-" in model:
        return model
    try:
        return models.resolve(model).model_id
    except (models.UnknownModel, models.NotFineTunable):
        return model
