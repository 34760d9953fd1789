"""The local backend's answer source: SmolLM2-135M-Instruct served by :class:`emulator.local.serve.LocalModels`
(llama.cpp), standing in for whatever model a deployment names (``emulator/answers.py`` is the seam).

- A deployment of a base model answers with the base model. A fine-tuned model, or one of its checkpoints
  (``<fine-tuned id>:ckpt-step-N``), answers with the base plus that job's LoRA adapter at that step (the
  catalogue's ``TunedModel.artefact``: the final model is the job's last checkpoint). Adapters are added on
  first use, off the event loop (adding one restarts the runtime: 1-3 s), and all are served from one base.
- ``max_tokens`` (default :data:`DEFAULT_MAX_TOKENS` when the request names none), ``temperature`` and
  ``top_p`` (OpenAI's defaults, 1, when unset; clamped to their ranges), ``seed`` (choice i samples with
  ``seed + i``), ``n`` (one generation per choice), ``stop`` (at most 4) and ``response_format`` are honoured.
  ``json_object`` constrains the output to a JSON object (llama.cpp's JSON grammar); ``json_schema`` gets the
  same constraint, a JSON object, without the schema's own fields being enforced.
- Usage: the completion tokens and the prompt tokens that the runtime's tokenizer (SmolLM2's) counted
  (``ChoiceEnd.prompt_tokens``); before the answer, the admission estimate uses the emulator's usual count.
- Capacity: from the runtime's measured generation speed (see :meth:`LocalAnswerSource.capacity`), so the
  ``x-ratelimit-*`` headers say what this CPU can serve.

No heavy import here: llama.cpp is loaded by ``LocalModels`` when the runtime starts.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, AsyncGenerator, Protocol

import anyio

from emulator import chat, errors
from emulator.answers import AnswerRequest, AnswerStream, Capacity, ChoiceEnd
from emulator.counting import count_messages
from emulator.inference import public_model_id
from emulator.local.events import Event, Finish, LocalServeError, Piece, Request, Usage
from emulator.local.weights import MODEL_NAME

KIND = "local-model"
# A request without max_tokens is capped here: a 135M model can ramble to its context's end, which at
# 20-60 tokens/s on a small CPU is minutes; 512 tokens is longer than any answer of the lab's data.
DEFAULT_MAX_TOKENS = 512
MAX_STOPS = 4
# Capacity: a request's admission estimate is its prompt plus max_tokens per choice, while the CPU's cost is
# mostly the generated tokens (a prompt is read about ten times faster than an answer is written, and answers
# mostly stop before max_tokens); so the tokens-per-minute ceiling is this many times the generation speed.
ESTIMATE_PER_GENERATED = 2
TYPICAL_REQUEST_TOKENS = 100  # requests per minute = the token ceiling / this


class Models(Protocol):
    """What the source needs of :class:`emulator.local.serve.LocalModels` (a test passes a fake)."""

    def stream(self, request: Request, adapter: str | None = None) -> Any: ...

    def add_adapter(self, name: str, adapter_dir: Path) -> float: ...

    def adapters(self) -> list[str]: ...

    def capacity_tokens_per_minute(self) -> int: ...


class LocalAnswerSource:
    kind = KIND
    model_name = MODEL_NAME

    def __init__(self, models: Models, *, parallel: int = 2, default_max_tokens: int = DEFAULT_MAX_TOKENS):
        self.models = models
        self.parallel = max(1, parallel)
        self.default_max_tokens = default_max_tokens
        self._adding = threading.Lock()  # one adapter added at a time (each restarts the runtime)

    def label(self, model: str) -> str:
        return f"{MODEL_NAME} on this machine, standing in for {public_model_id(model)}"

    def prompt_tokens(self, messages: list[dict[str, Any]], model: str) -> int:
        return count_messages(messages, model)  # the admission's estimate; usage reports the local count

    def capacity(self, model: str) -> Capacity | None:
        """(tokens, requests) per minute: one stream's measured speed x the runtime's parallel slots x
        :data:`ESTIMATE_PER_GENERATED`; None until the runtime has measured itself (its start-up probe)."""
        per_stream = self.models.capacity_tokens_per_minute()
        if per_stream <= 0:
            return None
        tokens = per_stream * self.parallel * ESTIMATE_PER_GENERATED
        return Capacity(tokens_per_minute=tokens, requests_per_minute=max(1, tokens // TYPICAL_REQUEST_TOKENS))

    def answer(self, request: AnswerRequest, index: int) -> AnswerStream:
        end = ChoiceEnd()
        return AnswerStream(self._pieces(request, index, end), end)

    async def _pieces(self, request: AnswerRequest, index: int, end: ChoiceEnd) -> AsyncGenerator[str, None]:
        adapter = await self._adapter_for(request)
        events = self.models.stream(self.local_request(request, index), adapter)
        try:
            async for event in events:
                if isinstance(event, Piece):
                    yield event.text
                else:
                    _record(end, event)
        except LocalServeError as exc:
            raise errors.ApiError(500, "InternalServerError", f"The local model failed: {exc}") from None
        finally:
            close = getattr(events, "aclose", None)
            if close is not None:
                with anyio.CancelScope(shield=True):
                    await close()

    def local_request(self, request: AnswerRequest, index: int) -> Request:
        """Choice ``index`` of ``request`` as one local generation."""
        temperature = 1.0 if request.temperature is None else min(2.0, max(0.0, request.temperature))
        top_p = 1.0 if request.top_p is None else min(1.0, request.top_p)
        if top_p <= 0.0:  # OpenAI's top_p 0 keeps only the likeliest token: greedy
            temperature, top_p = 0.0, 1.0
        return Request(messages=local_messages(request.messages),
                       max_tokens=request.max_tokens or self.default_max_tokens,
                       temperature=temperature, top_p=top_p,
                       seed=None if request.seed is None else request.seed + index,
                       stop=tuple(request.stop[:MAX_STOPS]),
                       json_object=request.response_format.kind in ("json_object", "json_schema"))

    def check(self, request: AnswerRequest) -> None:
        """A fine-tuned model or checkpoint answers only with its adapter's weights on this machine."""
        tuned = request.tuned
        if tuned is not None and (tuned.artefact is None or not Path(tuned.artefact).is_dir()):
            raise errors.ApiError(404, "DeploymentNotFound",
                                  f"The weights of '{request.model}' are not on this machine (a checkpoint Azure "
                                  "no longer keeps, or a job trained by another backend). Deploy the fine-tuned "
                                  "model or one of its listed checkpoints.")

    async def _adapter_for(self, request: AnswerRequest) -> str | None:
        """The adapter name that serves ``request.model`` (None: the base model), added on first use."""
        tuned = request.tuned
        if tuned is None:
            return None
        self.check(request)  # checked at admission too; the weights may have gone since
        name = str(tuned.artefact)
        if name not in self.models.adapters():
            await anyio.to_thread.run_sync(self._add, name)
        return name

    def _add(self, name: str) -> None:
        with self._adding:
            if name not in self.models.adapters():
                try:
                    self.models.add_adapter(name, Path(name))
                except LocalServeError as exc:
                    raise errors.ApiError(500, "InternalServerError",
                                          f"The local model could not load the adapter {name}: {exc}") from None


def _record(end: ChoiceEnd, event: Event) -> None:
    if isinstance(event, Finish):
        end.finish_reason = event.reason
    elif isinstance(event, Usage):
        end.completion_tokens = event.completion_tokens
        end.prompt_tokens = event.prompt_tokens


def local_messages(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """OpenAI messages as the local model's chat template takes them: text content; ``developer`` is a system
    message, any other role but system and assistant speaks as the user."""
    out = []
    for message in messages:
        role = message.get("role")
        role = "system" if role in ("system", "developer") else "assistant" if role == "assistant" else "user"
        out.append({"role": role, "content": chat.message_text(message)})
    return out
