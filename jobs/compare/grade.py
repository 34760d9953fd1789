"""Grading recorded answers without calling any model (``python -m jobs grade FILE``, and ``validate``'s
summary of a training file's answers).

Input shapes, told apart by content:

- chat-format JSONL whose last message is the assistant's answer (training data: ``grade
  data/travel-train.jsonl`` tells whether the training answers themselves obey the rules);
- ``{"query": ..., "response": ...}`` JSONL (Azure AI Evaluation's shape);
- a compare ``report.json`` (also what the playground exports): its rows are graded again from their
  answers, and the judge's verdicts re-read from its kept raw output.

Which checks apply is read from the system message the answers were written under (``--system-prompt FILE``,
else each line's own, else the lab's): :func:`jobs.checks.checks_for_system`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from jobs import lab
from jobs.checks import CheckContext, StyleProfile, checks_for_system, run_checks
from jobs.compare import stats
from jobs.errors import UsageError


@dataclass(frozen=True)
class GradeOptions:
    system: str | None = None  # --system-prompt: overrides each line's own system message
    system_source: str = "each line's own system message, else the lab's"
    style: StyleProfile | None = None


@dataclass
class Grading:
    path: str
    shape: str  # chat-jsonl | query-response | report
    rows: list[dict[str, Any]] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    system_source: str = ""

    def summary(self) -> dict[str, Any]:
        """check -> {passed, total, rate, ci95} over the graded rows."""
        graded = [{**r, "variant": "all", "answer": "", "error": None} for r in self.rows if r.get("checks")]
        return stats.summary(graded, ["all"], self.checks)["all"]

    def by_variant(self) -> dict[str, Any] | None:
        if self.shape != "report":
            return None
        variants = list(dict.fromkeys(r["variant"] for r in self.rows))
        graded = [{**r, "answer": "", "error": None} for r in self.rows if r.get("checks")]
        return stats.summary(graded, variants, self.checks)

    def failures(self, limit: int = 5) -> dict[str, list[int]]:
        """check -> the first ``limit`` line numbers that fail it."""
        out: dict[str, list[int]] = {}
        for r in self.rows:
            for name, c in (r.get("checks") or {}).items():
                if not c["passed"] and len(out.setdefault(name, [])) < limit:
                    out[name].append(r["line"])
        return out


def _lines(path: Path) -> Iterator[tuple[int, Any]]:
    try:
        fh = path.open("r", encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"{path} does not exist", hint="pass a JSONL file of answers, or a compare report.json") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}", hint="check the path") from None
    with fh:
        for number, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                yield number, json.loads(raw)
            except ValueError as exc:
                raise UsageError(f"{path}:{number}: not valid JSON ({exc})",
                                 hint='each line is {"messages": [...]} or {"query": ..., "response": ...}') from None
            except UnicodeDecodeError:
                raise UsageError(f"{path} is not UTF-8 text", hint="save it as UTF-8") from None


def _text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [str(c["text"]) for c in content if isinstance(c, dict) and isinstance(c.get("text"), str)]
        return " ".join(parts) if parts else None
    return None


def _chat_row(number: int, messages: Any, options: GradeOptions) -> tuple[dict[str, Any], str | None, str | None]:
    """(row skeleton, answer, prompt); the answer is None when the line does not end on the assistant."""
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        return {"line": number, "checks": {}, "error": '"messages" is not a list of messages'}, None, None
    last = messages[-1]
    if last.get("role") != "assistant" or _text(last.get("content")) is None:
        return {"line": number, "checks": {}, "error": "the last message is not the assistant's answer"}, None, None
    own = next((_text(m.get("content")) for m in messages if m.get("role") in ("system", "developer")), None)
    prompt = next((_text(m.get("content")) for m in reversed(messages[:-1]) if m.get("role") == "user"), None)
    return {"line": number, "system": options.system or own or lab.SYSTEM_PROMPT}, _text(last.get("content")), prompt


def _grade(row: dict[str, Any], answer: str, prompt: str | None, style: StyleProfile | None) -> list[str]:
    names = list(checks_for_system(row.pop("system", None)))
    if style is None:
        names = [n for n in names if n != "style"]
    row["checks"] = {k: c.to_json() for k, c in run_checks(answer, names, CheckContext(prompt=prompt,
                                                                                        style=style)).items()}
    return names


def grade_file(path: str | Path, options: GradeOptions = GradeOptions()) -> Grading:
    """Grade every answer in ``path`` (see the module docstring); rows in file order, 1-based line numbers."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        return _grade_report(p, options)
    grading = Grading(path=str(p), shape="", system_source=options.system_source)
    for number, obj in _lines(p):
        if not isinstance(obj, dict):
            grading.rows.append({"line": number, "checks": {}, "error": "not a JSON object"})
            continue
        if "messages" in obj:
            shape = "chat-jsonl"
            row, answer, prompt = _chat_row(number, obj["messages"], options)
        elif "query" in obj and "response" in obj:
            shape = "query-response"
            query, response = obj["query"], obj["response"]
            prompt = query if isinstance(query, str) else (_text(query[-1].get("content")) if isinstance(query, list)
                                                           and query and isinstance(query[-1], dict) else None)
            answer = response if isinstance(response, str) else None
            row = {"line": number, "system": options.system or lab.SYSTEM_PROMPT}
            if answer is None:
                row = {"line": number, "checks": {}, "error": '"response" is not a string'}
        else:
            raise UsageError(f"{p}:{number}: neither chat messages nor a query/response pair",
                             hint='grade takes {"messages": [..., {"role": "assistant", ...}]} or '
                             '{"query": ..., "response": ...} lines, or a compare report.json')
        if grading.shape and shape != grading.shape:
            raise UsageError(f"{p}:{number}: mixes chat lines and query/response lines", hint="keep one shape per file")
        grading.shape = shape
        if answer is not None:
            for name in _grade(row, answer, prompt, options.style):
                if name not in grading.checks:
                    grading.checks.append(name)
        grading.rows.append(row)
    if not grading.rows:
        raise UsageError(f"{p} has no answers to grade (the file is empty)", hint="pass a JSONL file of answers")
    return grading


def _grade_report(p: Path, options: GradeOptions) -> Grading:
    from jobs.compare.judge import read_verdict
    from jobs.compare.report import load

    report = load(p)
    grading = Grading(path=str(p), shape="report", system_source=options.system_source)
    for i, r in enumerate(report["rows"], 1):
        row: dict[str, Any] = {"line": i, "case_id": r["case_id"], "turn": r["turn"], "variant": r["variant"],
                               "repeat": r["repeat"]}
        if r.get("answer") is None:
            row.update(checks={}, error=(r.get("error") or {}).get("message") or "no answer")
        else:
            row["system"] = options.system or lab.SYSTEM_PROMPT
            names = _grade(row, r["answer"], r.get("prompt"), options.style)
            verdicts, _ = read_verdict((r.get("judge") or {}).get("raw")) if r.get("judge") else ({}, None)
            row["checks"].update(verdicts)
            for name in [*names, *verdicts]:
                if name not in grading.checks:
                    grading.checks.append(name)
        grading.rows.append(row)
    return grading
