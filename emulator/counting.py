"""Token counts and training-file validation for the emulator.

Both use the project's own modules (``jobs.tokens`` for counts, ``jobs.dataset`` for
the JSONL rules), so the emulator rejects exactly what ``python -m jobs validate``
rejects, and reports the first problem with its line, as Azure's import does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from emulator.chat import message_text
from jobs import models


def _encoding(name: str) -> Any:
    from jobs import tokens

    return tokens.get_encoding(name)


def encoding_name(model: str) -> str:
    try:
        return models.encoding_for(model)
    except models.UnknownModel:
        return models.O200K


def count_text(text: str, model: str) -> int:
    from jobs import tokens

    return tokens.count(text, encoding_name(model))


def count_messages(messages: list[dict[str, Any]], model: str) -> int:
    """Prompt tokens of a chat request (the cookbook's count: per-message overhead plus reply priming)."""
    from jobs import tokens

    simple = []
    for msg in messages:
        m = {k: v for k, v in msg.items() if k in ("role", "content", "name") and isinstance(v, str)}
        if isinstance(msg.get("content"), list):  # content parts: count their text
            m["content"] = message_text(msg)
        simple.append(m)
    return int(tokens.num_tokens_from_messages(simple, encoding_name(model)))


@dataclass
class FileCheck:
    valid: bool
    message: str | None  # Azure-like reason naming the line, when invalid
    examples: int = 0
    tokens_per_epoch: int = 0  # billed tokens of one epoch (the validator's count, each example capped at the context)


def _check(content: bytes, *, model: str | None, method: str, min_examples: int) -> FileCheck:
    from jobs import dataset

    report = dataset.validate_bytes(content, "upload.jsonl", model=model or models.DEFAULT_MODEL, method=method,
                                    min_examples=min_examples)
    if not report.valid and report.errors:
        first = sorted(report.errors, key=lambda e: e.line == 0)[0]  # a line-specific problem first
        where = f"Line {first.line}: " if first.line else ""
        more = f" ({len(report.errors) - 1} more problem(s))" if len(report.errors) > 1 else ""
        return FileCheck(False, f"{where}{first.message} [{first.rule}]{more}")
    return FileCheck(True, None, report.examples, report.estimate.billed_tokens_per_epoch)


def check_upload(content: bytes) -> FileCheck:
    """What a ``fine-tune`` upload is checked for: JSONL whose every line is a well-formed example of a format
    some method takes (chat ``messages`` or a DPO preference pair). Not the example count (a validation file
    has no minimum) nor the method or the model: the file does not say which job it is for. See docs/emulator.md."""
    check = _check(content, model=None, method="any", min_examples=0)
    if check.message:
        check.message = "Invalid file format. " + check.message
    return check


def check_for_job(content: bytes, *, model: str, method: str, training: bool) -> FileCheck:
    """What job creation checks: the file against the job's method and base model; a training file also needs
    Azure's 10 examples ("Fine tuning jobs will not proceed without at least 10 training examples")."""
    from jobs.dataset import MIN_EXAMPLES

    return _check(content, model=model, method=method, min_examples=MIN_EXAMPLES if training else 0)


def parse_examples(content: bytes) -> list[list[dict[str, Any]]]:
    """The conversations of a file that passed validation, as the stand-in model learns them: a chat line's
    messages; a DPO pair's input messages followed by its preferred output."""
    examples: list[list[dict[str, Any]]] = []
    for line in content.decode("utf-8-sig", errors="replace").splitlines():
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(obj, dict):
            continue
        msgs = obj.get("messages")
        if isinstance(obj.get("input"), dict) and isinstance(obj.get("preferred_output"), list):
            msgs = list(obj["input"].get("messages") or []) + obj["preferred_output"]
        if isinstance(msgs, list) and all(isinstance(m, dict) for m in msgs):
            examples.append(msgs)
    return examples
