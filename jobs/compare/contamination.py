"""The contamination guard: which suite prompts the model also saw in its training file.

A checkpoint that memorised a training prompt answers it like the training example, so judged on that prompt it
looks better than it is, and the selection would favour the checkpoint that overfits most. Any user turn of a
suite case that equals a user message of a training example (compared case-insensitively, whitespace
collapsed) counts. Pure apart from reading the training file; an unreadable file or line is skipped (the
training file was validated before upload; here it only informs a warning).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from jobs.compare.suite import Suite


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _user_texts(example: Any) -> Iterable[str]:
    messages = example.get("messages") if isinstance(example, dict) else None
    for m in messages if isinstance(messages, list) else ():
        if isinstance(m, dict) and m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, str):
                yield content
            elif isinstance(content, list):
                yield " ".join(str(p.get("text")) for p in content if isinstance(p, dict) and p.get("text"))


def training_prompts(path: Path) -> set[str]:
    """Every user message of a chat-JSONL training file, normalised."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return set()
    out: set[str] = set()
    for line in text.splitlines():
        try:
            example = json.loads(line) if line.strip() else None
        except json.JSONDecodeError:
            continue
        out.update(_norm(t) for t in _user_texts(example) if t.strip())
    return out


def contaminated(suites: Iterable[Suite], training: Path) -> list[str]:
    """The ids of the suite cases with a turn that is also a training prompt."""
    seen = training_prompts(training)
    if not seen:
        return []
    return [c.id for s in suites for c in s.cases if any(_norm(t) in seen for t in c.turns)]


def warning(case_ids: list[str], training: Path) -> str | None:
    """One sentence for the user, or None when the suite is clean."""
    if not case_ids:
        return None
    shown = ", ".join(case_ids[:5]) + (f" and {len(case_ids) - 5} more" if len(case_ids) > 5 else "")
    return (f"warning: {len(case_ids)} suite case(s) ask a prompt that is also in the training file {training} "
            f"({shown}): a checkpoint that memorised them looks better than it is; judge on held-out cases "
            "(`run --holdout N` sets some aside before training)")
