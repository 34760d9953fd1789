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
from jobs.compare.suite import message_text
from jobs.errors import UsageError


@dataclass(frozen=True)
class GradeOptions:
    system: str | None = None  # --system-prompt: overrides each line's own system message
    system_source: str = "each line's own system message, else the lab's"
    style: StyleProfile | None = None


@dataclass
class Tally:
    """Pass counts per check and the first failing lines, kept while rows stream by (``validate`` grades
    files of any size in constant memory)."""

    checks: list[str] = field(default_factory=list)
    counts: dict[str, list[int]] = field(default_factory=dict)  # check -> [passed, total]
    failing: dict[str, list[int]] = field(default_factory=dict)  # check -> first line numbers that fail
    graded: int = 0
    limit: int = 5

    def add(self, row: dict[str, Any]) -> None:
        if row.get("checks"):
            self.graded += 1
        for name, c in (row.get("checks") or {}).items():
            if name not in self.counts:
                self.checks.append(name)
                self.counts[name] = [0, 0]
            cell = self.counts[name]
            cell[1] += 1
            cell[0] += bool(c["passed"])
            if not c["passed"] and len(self.failing.setdefault(name, [])) < self.limit:
                self.failing[name].append(int(row["line"]))

    def summary(self) -> dict[str, Any]:
        """check -> {passed, total, rate, ci95}."""
        return {name: stats.rate_cell(*self.counts[name]) for name in self.checks}


@dataclass
class Grading:
    path: str
    shape: str  # chat-jsonl | query-response | report
    rows: list[dict[str, Any]] = field(default_factory=list)
    system_source: str = ""

    @property
    def checks(self) -> list[str]:
        return self.tally().checks

    def tally(self) -> Tally:
        t = Tally()
        for r in self.rows:
            t.add(r)
        return t

    def summary(self) -> dict[str, Any]:
        """check -> {passed, total, rate, ci95} over the graded rows."""
        return self.tally().summary()

    def by_variant(self) -> dict[str, Any] | None:
        """A report's rows: the summary per variant."""
        if self.shape != "report":
            return None
        out: dict[str, Any] = {}
        for r in self.rows:
            out.setdefault(r["variant"], Tally()).add(r)
        return {v: t.summary() for v, t in out.items()}


_SHAPES = ('grade takes {"messages": [..., {"role": "assistant", ...}]} or {"query": ..., "response": ...} lines, '
           'or a compare report.json')


def _lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON) of each non-blank line; the file is read as bytes and each line decoded, so a
    byte that is not UTF-8 is reported with its line and position (as ``validate`` does), never as a traceback."""
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        raise UsageError(f"{path} does not exist", hint="pass a JSONL file of answers, or a compare report.json") from None
    except OSError as exc:  # a folder, no permission, ...
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}",
                         hint="pass a JSONL file of answers, or a compare report.json") from None
    with fh:
        for number, raw in enumerate(fh, 1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark
                raw = raw[3:]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad = raw[exc.start:exc.start + 1]
                raise UsageError(f"{path}:{number}: byte {exc.start + 1} of the line ({bad!r}) is not UTF-8",
                                 hint="save the file as UTF-8") from None
            if not text.strip():
                continue
            try:
                yield number, json.loads(text)
            except ValueError as exc:
                raise UsageError(f"{path}:{number}: not valid JSON ({exc})",
                                 hint='each line is {"messages": [...]} or {"query": ..., "response": ...}') from None


def _chat_row(number: int, messages: Any, options: GradeOptions) -> tuple[dict[str, Any], str | None, str | None]:
    """(row skeleton, answer, prompt); the answer is None when the line does not end on the assistant."""
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        return {"line": number, "checks": {}, "error": '"messages" is not a list of messages'}, None, None
    last = messages[-1]
    if last.get("role") != "assistant" or message_text(last.get("content")) is None:
        return {"line": number, "checks": {}, "error": "the last message is not the assistant's answer"}, None, None
    own = next((message_text(m.get("content")) for m in messages if m.get("role") in ("system", "developer")), None)
    prompt = next((message_text(m.get("content")) for m in reversed(messages[:-1]) if m.get("role") == "user"), None)
    return {"line": number, "system": options.system or own or lab.SYSTEM_PROMPT}, message_text(last.get("content")), prompt


def _grade(row: dict[str, Any], answer: str, prompt: str | None, style: StyleProfile | None) -> None:
    names = [n for n in checks_for_system(row.pop("system", None)) if style is not None or n != "style"]
    row["checks"] = {k: c.to_json() for k, c in run_checks(answer, names, CheckContext(prompt=prompt,
                                                                                        style=style)).items()}


def graded_lines(path: str | Path, options: GradeOptions = GradeOptions()) -> Iterator[tuple[str, dict[str, Any]]]:
    """(shape, row) for each answer of a JSONL file, in file order, as it is read (constant memory)."""
    p = Path(path)
    first = ""
    for number, obj in _lines(p):
        if not isinstance(obj, dict):
            kind = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
            raise UsageError(f"{p}:{number}: {kind.get(type(obj), 'null')} ({json.dumps(obj)[:40]}), not a JSON "
                             "object", hint=_SHAPES)
        if "messages" in obj:
            shape = "chat-jsonl"
            row, answer, prompt = _chat_row(number, obj["messages"], options)
        elif "query" in obj and "response" in obj:
            shape = "query-response"
            query, response = obj["query"], obj["response"]
            prompt = query if isinstance(query, str) else (message_text(query[-1].get("content")) if isinstance(query, list)
                                                           and query and isinstance(query[-1], dict) else None)
            answer = response if isinstance(response, str) else None
            row = ({"line": number, "system": options.system or lab.SYSTEM_PROMPT} if answer is not None
                   else {"line": number, "checks": {}, "error": '"response" is not a string'})
        else:
            raise UsageError(f"{p}:{number}: neither chat messages nor a query/response pair", hint=_SHAPES)
        if first and shape != first:
            raise UsageError(f"{p}:{number}: mixes chat lines and query/response lines", hint="keep one shape per file")
        first = shape
        if answer is not None:
            _grade(row, answer, prompt, options.style)
        yield shape, row


def grade_file(path: str | Path, options: GradeOptions = GradeOptions()) -> Grading:
    """Grade every answer in ``path`` (see the module docstring); rows in file order, 1-based line numbers."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        return _grade_report(p, options)
    grading = Grading(path=str(p), shape="chat-jsonl", system_source=options.system_source)
    for shape, row in graded_lines(p, options):
        grading.shape = shape
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
            _grade(row, r["answer"], r.get("prompt"), options.style)
            verdicts, _ = read_verdict((r.get("judge") or {}).get("raw")) if r.get("judge") else ({}, None)
            row["checks"].update(verdicts)
        grading.rows.append(row)
    return grading
