"""Token counts and training-file validation for the emulator.

Both use the project's own modules (``jobs.tokens`` for counts, ``jobs.dataset`` for
the JSONL rules), so the emulator rejects exactly what ``python -m jobs validate``
rejects, and reports the first problem with its line, as Azure's import does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

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
        content = msg.get("content")
        if isinstance(content, list):  # content parts: count their text
            m["content"] = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        simple.append(m)
    return int(tokens.num_tokens_from_messages(simple, encoding_name(model)))


@dataclass
class FileCheck:
    valid: bool
    message: str | None  # Azure-like reason naming the line, when invalid
    examples: list[list[dict[str, Any]]]  # the parsed conversations (valid files only)
    warnings: list[str] | None = None  # the validator's warnings, "line N: message"


def check_training_file(content: bytes, model: str | None = None) -> FileCheck:
    """Validate a chat-format JSONL training file the way Azure does on import."""
    from jobs import dataset

    report = dataset.validate_bytes(content, "upload.jsonl", model=model or models.DEFAULT_MODEL)
    if not report.valid and report.errors:
        first = sorted(report.errors, key=lambda e: e.line == 0)[0]  # a line-specific problem first
        where = f"Line {first.line}: " if first.line else ""
        more = f" ({len(report.errors) - 1} more problem(s))" if len(report.errors) > 1 else ""
        return FileCheck(False, f"Invalid file format. {where}{first.message} [{first.rule}]{more}", [])
    examples = parse_examples(content)
    if isinstance(examples, str):
        return FileCheck(False, examples, [])
    warnings = [f"line {w.line}: {w.message}" if w.line else w.message for w in report.warnings[:3]]
    return FileCheck(True, None, examples, warnings)


def parse_examples(content: bytes) -> list[list[dict[str, Any]]] | str:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return "Invalid file format. The file must be UTF-8 encoded."
    examples: list[list[dict[str, Any]]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            return f"Invalid file format. Line {lineno}: not valid JSON ({exc.msg})."
        if not isinstance(obj, dict) or not isinstance(obj.get("messages"), list) or not obj["messages"]:
            return f"Invalid file format. Line {lineno}: each line must be a JSON object with a non-empty 'messages' list."
        msgs = obj["messages"]
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "tool", "function"):
                return f"Invalid file format. Line {lineno}, message {i}: 'role' must be system, user or assistant."
            if "content" not in m:
                return f"Invalid file format. Line {lineno}, message {i}: 'content' is missing."
        if not any(m.get("role") == "assistant" for m in msgs):
            return f"Invalid file format. Line {lineno}: the example has no assistant message to learn from."
        examples.append(msgs)
    if not examples:
        return "Invalid file format. The file is empty."
    return examples
