"""The stand-in answer source: canned, labelled text (``emulator/chat.py``), streamed in word pieces.

Its text is decided at once (the answer, its structured form, the cut at ``max_tokens``), then sent in pieces of
``stream_chunk_words`` words, each after its share of ``latency.per_token_ms``. ``temperature``, ``top_p`` and
``stop`` do not change a canned answer.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncGenerator

from emulator import chat, structured
from emulator.answers import AnswerRequest, AnswerStream, Capacity, ChoiceEnd
from emulator.config import EmulatorConfig
from emulator.counting import _encoding, count_messages, count_text, encoding_name, parse_examples

KIND = "stand-in"


class CannedSource:
    kind = KIND
    model_name = KIND  # the x-emulator-model header: no model writes these answers

    def __init__(self, config: EmulatorConfig):
        self.config = config
        self._examples: dict[str, list[list[dict[str, Any]]] | None] = {}  # job id -> training conversations

    def label(self, model: str) -> str:
        return chat.LABEL.strip()

    def prompt_tokens(self, messages: list[dict[str, Any]], model: str) -> int:
        return count_messages(messages, model)

    def check(self, request: AnswerRequest) -> None:
        pass  # canned text needs no weights: every deployment the emulator accepts answers

    def capacity(self, model: str) -> Capacity | None:
        return None  # canned text costs nothing: the deployment's quota is the only limit

    def text(self, request: AnswerRequest, index: int) -> tuple[str, str]:
        """The whole answer of choice ``index`` and its finish reason."""
        fine_tuned = ".ft-" in request.model
        examples = self._training_examples(request) if fine_tuned else None
        variant = index if request.seed is None else request.seed + index
        text = chat.answer(request.messages, fine_tuned=fine_tuned, examples=examples, variant=variant)
        fmt = request.response_format
        if fmt.kind == "json_object":
            text = structured.json_object(label=chat.LABEL, text=text[len(chat.LABEL):])
        elif fmt.kind == "json_schema" and fmt.schema is not None:
            text = structured.instance(fmt.schema, label=chat.LABEL, text=text[len(chat.LABEL):])
        return truncate(text, request.max_tokens, request.model)

    def answer(self, request: AnswerRequest, index: int) -> AnswerStream:
        text, finish = self.text(request, index)
        end = ChoiceEnd(finish, count_text(text, request.model))
        return AnswerStream(self._pieces(text, request.model), end)

    async def _pieces(self, content: str, model: str) -> AsyncGenerator[str, None]:
        """The text in pieces of ``stream_chunk_words`` words, each after its share of the per-token latency."""
        words = content.split(" ")
        n = max(1, self.config.stream_chunk_words)
        per_token = self.config.latency.per_token_ms
        for i in range(0, len(words), n):
            piece = " ".join(words[i:i + n]) + (" " if i + n < len(words) else "")
            if per_token > 0:
                await asyncio.sleep(per_token * count_text(piece, model) / 1000)
            yield piece

    def _training_examples(self, request: AnswerRequest) -> list[list[dict[str, Any]]] | None:
        """The conversations the job that produced the model trained on (what the stand-in answers from)."""
        tuned = request.tuned
        if tuned is None or tuned.step is not None:  # unknown here, or a checkpoint: the generic tuned style
            return None
        if tuned.job_id not in self._examples:
            data = tuned.training_data()
            if data is None:  # no snapshot (state from an older emulator): answer in the generic style
                return None
            self._examples[tuned.job_id] = parse_examples(data)
        return self._examples[tuned.job_id]


def truncate(content: str, max_tokens: int | None, model: str) -> tuple[str, str]:
    """Cut an answer to at most ``max_tokens`` tokens (``finish_reason: length``), as a model stops mid-answer.

    The answer is the longest token prefix of ``content`` whose own count (the count ``usage`` reports) is at
    most ``max_tokens``: the stand-in label is kept whenever it fits, and cut too when ``max_tokens`` is smaller
    than the label (``max_tokens=1`` answers ``"["``).
    """
    if max_tokens is None:
        return content, "stop"
    enc = _encoding(encoding_name(model))
    ids = enc.encode(content)
    if len(ids) <= max_tokens:
        return content, "stop"
    for n in range(max_tokens, 0, -1):
        # a prefix can end inside a multi-byte character or re-tokenize differently: count what is sent
        text = enc.decode(ids[:n])
        if len(enc.encode(text)) <= max_tokens:
            return text, "length"
    return "", "length"
