"""The lab's playground as a flow step: one conversation with one deployment, streamed, every answer checked.

:class:`Conversation` holds the deployment, the system message and the history; :func:`ask` sends the next
message through the session's connection (``Api.chat_stream``: the same client and retry policy as every
call; a stream that breaks off midway is sent again or reported) and returns the answer with its checks.
The ``chat`` command and the web playground (``jobs/playground/``) drive it the same way. :func:`save` writes the
conversation as one chat-format JSONL line: a suite line for ``compare --suite`` and ``grade``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from jobs.api import ChatAnswer
from jobs.checks import DEFAULT_CHECKS, Check, CheckContext, StyleProfile, run_checks
from jobs.errors import JobsError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from jobs.session import Session


@dataclass
class Conversation:
    deployment: str
    system: str | None
    system_source: str
    history: list[dict[str, str]] = field(default_factory=list)

    def messages(self, text: str) -> list[dict[str, str]]:
        head = [{"role": "system", "content": self.system}] if self.system is not None else []
        return [*head, *self.history, {"role": "user", "content": text}]


@dataclass(frozen=True)
class Reply:
    answer: ChatAnswer
    checks: dict[str, Check]
    restarts: tuple[str, ...] = ()  # why the stream was sent again, if it was

    def to_json(self) -> dict[str, Any]:
        a = self.answer
        return {"answer": a.text, "finish_reason": a.finish_reason, "model": a.model, "usage": a.usage,
                "stand_in": a.stand_in, "checks": {k: c.to_json() for k, c in self.checks.items()},
                "restarts": list(self.restarts)}


def check_names(style: StyleProfile | None) -> tuple[str, ...]:
    """The checks every answer gets: compare's default ones (``style`` only with a profile to measure against)."""
    return DEFAULT_CHECKS if style else tuple(n for n in DEFAULT_CHECKS if n != "style")


def ask(session: "Session", convo: Conversation, text: str, *, on_text: Callable[[str], None] = lambda _: None,
        on_restart: Callable[[str], None] = lambda _: None, on_wait: Callable[[str, float], None] | None = None,
        style: StyleProfile | None = None) -> Reply:
    """Send ``text``; ``on_text`` gets each piece as it streams, ``on_restart`` a note when the stream is sent
    again (the text shown so far is void), ``on_wait`` the retry policy's waits before the stream opens
    (``"rate"`` for a 429, and the seconds). The conversation grows only when an answer arrives."""
    restarts: list[str] = []
    answer: ChatAnswer | None = None
    for event in session.api.chat_stream(convo.deployment, convo.messages(text), on_wait=on_wait):
        if event.kind == "delta":
            on_text(event.text)
        elif event.kind == "restart":
            restarts.append(event.note or "")
            on_restart(event.note or "")
        elif event.kind == "done":
            answer = event.answer
    if answer is None:  # pragma: no cover - chat_stream ends with "done" or raises
        raise JobsError(f"stream chat with {convo.deployment}: no answer", hint="ask again")
    convo.history += [{"role": "user", "content": text}, {"role": "assistant", "content": answer.text}]
    checks = run_checks(answer.text, check_names(style), CheckContext(prompt=text, style=style))
    return Reply(answer=answer, checks=checks, restarts=tuple(restarts))


def save(convo: Conversation, path: str | Path) -> Path:
    """Append the conversation as one chat-format JSONL line (a ``compare --suite`` / ``grade`` line)."""
    if not convo.history:
        raise UsageError("nothing to save yet", hint="ask something first")
    p = Path(path)
    line = {"messages": ([{"role": "system", "content": convo.system}] if convo.system is not None else [])
            + convo.history}
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        with p.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise UsageError(f"cannot save to {p}: {exc.strerror or exc}", hint="pick a writable path") from None
    return p
