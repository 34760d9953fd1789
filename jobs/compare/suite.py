"""Suites: the conversations ``compare`` sends to every variant.

Three formats (docs/compare.md, "Suites"), told apart by content:

(a) **chat JSONL**, one conversation per line, the shape of training data (``{"messages": [...]}``). The
    variant answers the last user turn; the turns before it (user and assistant) are the history, sent as
    they are. A conversation may end on a user turn (the lab's ``travel-finetune-validation.jsonl`` runs
    unchanged); a trailing assistant message is the line's reference answer, kept in the report, not sent.
(b) **query JSONL**, Azure AI Evaluation's dataset shape: ``{"query": "...", "response"?, "ground_truth"?}``
    (``query`` may also be a list of messages, as for its conversation evaluators).
(c) the project's own **YAML or JSON** suite (``data/compare-suite.yaml`` is one): named cases with
    ``turns`` asked in order in one chat (each answer fed back as the next turn's history), per-case
    ``checks`` and ``must_mention`` words.

A system message inside a suite line is replaced by the variant's (``Case.system`` keeps it, and the report
counts and names such cases). Parsing errors name the file and line (exit 2).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs.checks import CHECKS, DEFAULT_CHECKS
from jobs.errors import UsageError

DEFAULT_SUITE = Path("data") / "compare-suite.yaml"


@dataclass(frozen=True)
class Case:
    """One conversation: the ``turns`` to ask in order, after the given ``history``."""

    id: str
    turns: tuple[str, ...]
    history: tuple[dict[str, str], ...] = ()
    system: str | None = None  # the suite's own system message, replaced by each variant's
    checks: tuple[str, ...] = DEFAULT_CHECKS
    must_mention: tuple[str, ...] = ()
    reference: str | None = None  # format (a)'s trailing assistant answer, (b)'s response
    tags: tuple[str, ...] = ()
    line: int | None = None

    def check_names(self) -> tuple[str, ...]:
        return self.checks + (("must_mention",) if self.must_mention and "must_mention" not in self.checks else ())

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "turns": list(self.turns), "history": [dict(m) for m in self.history],
                "system": self.system, "checks": list(self.checks), "must_mention": list(self.must_mention),
                "reference": self.reference, "tags": list(self.tags), "line": self.line}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Case":
        return cls(id=data["id"], turns=tuple(data["turns"]), history=tuple(dict(m) for m in data.get("history", [])),
                   system=data.get("system"), checks=tuple(data.get("checks") or DEFAULT_CHECKS),
                   must_mention=tuple(data.get("must_mention") or ()), reference=data.get("reference"),
                   tags=tuple(data.get("tags") or ()), line=data.get("line"))


@dataclass(frozen=True)
class Suite:
    name: str
    path: str
    sha256: str
    format: str
    cases: tuple[Case, ...]
    version: str | None = None
    description: str | None = None

    @property
    def system_replaced(self) -> tuple[str, ...]:
        """Ids of the cases that carried their own system message (replaced by each variant's)."""
        return tuple(c.id for c in self.cases if c.system is not None)

    def summary(self) -> dict[str, Any]:
        """What the report's provenance says of the suite."""
        return {"name": self.name, "path": self.path, "sha256": self.sha256, "format": self.format,
                "version": self.version, "cases": len(self.cases), "turns": sum(len(c.turns) for c in self.cases),
                "system_replaced": list(self.system_replaced)}

    def to_json(self) -> dict[str, Any]:
        return {**self.summary(), "description": self.description, "cases": [c.to_json() for c in self.cases]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Suite":
        return cls(name=data["name"], path=data["path"], sha256=data["sha256"], format=data["format"],
                   version=data.get("version"), description=data.get("description"),
                   cases=tuple(Case.from_json(c) for c in data["cases"]))


DEFAULT_STYLE = Path("data") / "travel-train.jsonl"  # the training file the style check compares with


def project_file(relative: Path, *, hint: str) -> Path:
    """``relative`` in the current folder, else in this checkout; a UsageError naming both when missing."""
    repo = Path(__file__).resolve().parents[2]
    for candidate in (relative, repo / relative):
        if candidate.is_file():
            return candidate
    raise UsageError(f"{relative} is missing (looked in {Path.cwd()} and {repo})", hint=hint)


def default_suite_path() -> Path:
    """``data/compare-suite.yaml`` in the current folder, else in this checkout."""
    return project_file(DEFAULT_SUITE, hint="pass one with --suite FILE (chat JSONL, query JSONL, or a YAML/JSON suite)")


def default_style_path() -> Path:
    """``data/travel-train.jsonl``: the style check's range comes from the project's training file."""
    return project_file(DEFAULT_STYLE, hint="pass --style-from TRAINING.jsonl (the file the model was fine-tuned on)")


def load_suite(path: str | Path) -> Suite:
    """Read a suite in any of the three formats (see the module docstring)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"suite file {p} does not exist", hint="pass an existing file with --suite") from None
    except IsADirectoryError:
        raise UsageError(f"suite {p} is a folder", hint="pass a file with --suite") from None
    except OSError as exc:
        raise UsageError(f"cannot read suite file {p}: {exc.strerror or exc}", hint="check the path") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"suite file {p} is not UTF-8 text", hint="save it as UTF-8") from None
    sha = hashlib.sha256(data).hexdigest()
    stripped = text.lstrip()
    if p.suffix.lower() in (".yaml", ".yml") or (p.suffix.lower() == ".json" and stripped.startswith("{")
                                                 and '"cases"' in text):
        return _structured(p, text, sha)
    return _jsonl(p, text, sha)


# --------------------------------------------------------------------------- (a) and (b): JSONL


def _bad(p: Path, line: int | None, what: str, hint: str) -> UsageError:
    where = f"{p}:{line}" if line else str(p)
    return UsageError(f"{where}: {what}", hint=hint)


_JSONL_HINT = ('each line is {"messages": [...]} (chat format, as training data) or {"query": "..."} (Azure AI '
               "Evaluation's shape); see docs/compare.md, \"Suites\"")


def _jsonl(p: Path, text: str, sha: str) -> Suite:
    cases: list[Case] = []
    kinds: set[str] = set()
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError as exc:
            raise _bad(p, number, f"not valid JSON ({exc})", _JSONL_HINT) from None
        if not isinstance(obj, dict):
            raise _bad(p, number, f"a JSON {type(obj).__name__}, not an object", _JSONL_HINT)
        if "messages" in obj:
            kinds.add("chat-jsonl")
            cases.append(_chat_case(p, number, obj["messages"], f"{p.stem}:{number}"))
        elif "query" in obj:
            kinds.add("query-jsonl")
            cases.append(_query_case(p, number, obj))
        else:
            raise _bad(p, number, 'neither "messages" nor "query"', _JSONL_HINT)
    if not cases:
        raise _bad(p, None, "no conversations (the file is empty)", _JSONL_HINT)
    if len(kinds) > 1:
        raise _bad(p, None, "mixes chat lines and query lines", "keep one shape per file")
    return Suite(name=p.stem, path=str(p), sha256=sha, format=kinds.pop(), cases=tuple(cases))


def message_text(content: Any) -> str | None:
    """A message's text: a string, or the text parts of a content list (None when there is no text)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: keep the text ones
        parts = [str(c["text"]) for c in content if isinstance(c, dict) and isinstance(c.get("text"), str)]
        return " ".join(parts) if parts else None
    return None


def _chat_case(p: Path, number: int, messages: Any, case_id: str) -> Case:
    if not isinstance(messages, list) or not messages:
        raise _bad(p, number, '"messages" must be a non-empty list', _JSONL_HINT)
    system: str | None = None
    history: list[dict[str, str]] = []
    for i, m in enumerate(messages):
        role = m.get("role") if isinstance(m, dict) else None
        content = message_text(m.get("content")) if isinstance(m, dict) else None
        if role not in ("system", "developer", "user", "assistant") or content is None:
            raise _bad(p, number, f"message {i + 1} is not a system, user or assistant message with text content",
                       _JSONL_HINT)
        if role in ("system", "developer"):
            system = content if system is None else f"{system}\n{content}"
        else:
            history.append({"role": str(role), "content": content})
    reference = None
    if history and history[-1]["role"] == "assistant":
        reference = history.pop()["content"]
    if not history or history[-1]["role"] != "user":
        raise _bad(p, number, "no user turn to answer", "a conversation needs at least one user message")
    last = history.pop()["content"]
    return Case(id=case_id, turns=(last,), history=tuple(history), system=system, reference=reference, line=number)


def _query_case(p: Path, number: int, obj: dict[str, Any]) -> Case:
    query = obj["query"]
    case_id = str(obj.get("id") or f"{p.stem}:{number}")
    response = obj.get("response")
    reference = response if isinstance(response, str) else message_text(obj.get("ground_truth"))
    if isinstance(query, str) and query.strip():
        return Case(id=case_id, turns=(query,), reference=reference, line=number)
    if isinstance(query, list):
        case = _chat_case(p, number, query, case_id)
        return Case(id=case.id, turns=case.turns, history=case.history, system=case.system,
                    reference=reference or case.reference, line=number)
    raise _bad(p, number, '"query" must be a non-empty string or a list of messages', _JSONL_HINT)


# --------------------------------------------------------------------------- (c): the project's YAML / JSON

_SUITE_HINT = ("a suite is an object with \"cases\": [{\"id\": ..., \"turns\": [...]}, ...]; see "
               "data/compare-suite.yaml and docs/compare.md")


def _structured(p: Path, text: str, sha: str) -> Suite:
    if p.suffix.lower() == ".json":
        try:
            obj = json.loads(text)
        except ValueError as exc:
            raise _bad(p, getattr(exc, "lineno", None), f"not valid JSON ({exc})", _SUITE_HINT) from None
    else:
        import yaml

        try:
            obj = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise _bad(p, mark.line + 1 if mark else None, f"not valid YAML ({getattr(exc, 'problem', exc)})",
                       _SUITE_HINT) from None
    if not isinstance(obj, dict) or not isinstance(obj.get("cases"), list) or not obj["cases"]:
        raise _bad(p, None, 'no "cases" list', _SUITE_HINT)
    defaults = _names(p, obj.get("checks"), "checks") or DEFAULT_CHECKS
    cases: list[Case] = []
    seen: set[str] = set()
    for i, raw in enumerate(obj["cases"], 1):
        case = _structured_case(p, i, raw, defaults)
        if case.id in seen:
            raise _bad(p, None, f"case {i}: the id {case.id!r} is used twice", "give every case its own id")
        seen.add(case.id)
        cases.append(case)
    version = obj.get("version")
    return Suite(name=str(obj.get("suite") or obj.get("name") or p.stem), path=str(p), sha256=sha, format="suite",
                 version=None if version is None else str(version), description=obj.get("description"),
                 cases=tuple(cases))


def _names(p: Path, value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(p, None, f'"{what}" must be a list of names', f"known checks: {', '.join(CHECKS)}")
    unknown = [v for v in value if v not in CHECKS]
    if unknown:
        raise _bad(p, None, f"unknown check {unknown[0]!r}", f"known checks: {', '.join(CHECKS)}")
    return tuple(value)


def _structured_case(p: Path, i: int, raw: Any, defaults: tuple[str, ...]) -> Case:
    if not isinstance(raw, dict):
        raise _bad(p, None, f"case {i} is not an object", _SUITE_HINT)
    case_id = str(raw.get("id") or f"case-{i}")
    expect: dict[str, Any] = raw["expect"] if isinstance(raw.get("expect"), dict) else {}
    checks = _names(p, raw.get("checks", expect.get("checks")), f"cases[{i}].checks") or defaults
    words = raw.get("must_mention", expect.get("must_mention")) or []
    if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
        raise _bad(p, None, f"case {case_id}: must_mention must be a list of words", 'e.g. must_mention: ["visa"]')
    tags = raw.get("tags") or []
    turns = raw.get("turns")
    if turns is None and isinstance(raw.get("prompt"), str):
        turns = [raw["prompt"]]
    if "messages" in raw:
        case = _chat_case(p, i, raw["messages"], case_id)
        turns = [*case.turns, *(turns or [])]
        history, system, reference = case.history, case.system, case.reference
    else:
        history, system, reference = (), raw.get("system"), raw.get("reference")
    if not isinstance(turns, list) or not turns or not all(isinstance(t, str) and t.strip() for t in turns):
        raise _bad(p, None, f"case {case_id}: \"turns\" must be a non-empty list of messages", _SUITE_HINT)
    return Case(id=case_id, turns=tuple(turns), history=tuple(history), system=system, checks=checks,
                must_mention=tuple(words), reference=reference, tags=tuple(str(t) for t in tags), line=None)
