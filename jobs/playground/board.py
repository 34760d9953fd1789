"""What the playground page shows and does, without HTTP (the server, ``jobs/playground/server.py``, only
carries it).

Two :class:`Column` objects, left and right. Each shows a compare :class:`~jobs.compare.plan.Variant` (a
deployment and a system message) and holds its own conversation (:class:`jobs.flow.chat.Conversation`), as
the portal's playground does. :meth:`Board.ask` sends one question to both columns at once, one worker
thread per column; each answer streams through :func:`jobs.flow.chat.ask` (the session's client, auth and
retry policy) and reaches the page as events:

``start`` (what is sent: variant, deployment, system message), ``delta`` (more text), ``check`` (the
``no_recommendations`` check on the text so far, run at every sentence end: a violation is marked while the
answer is still arriving), ``restart`` (the stream broke off and is sent again), ``wait`` (a rate limit:
the retry policy waits), then ``done`` (the answer, every check, the marks, latency and tokens) or
``error`` (the message and its fix: a rate limit, a content-filter refusal, a missing deployment, ...), and
after both columns ``end``. A failure stays in its column: the other carries on.

Every answer (or error) is recorded as a compare report row (case ``chat-N`` = one conversation, turn =
the question's number in it). :meth:`Board.export` builds a compare ``report.json`` from them
(``jobs/compare/report.py``): ``grade`` and ``compare --against`` read it.

Applying a variant, a deployment or a system message to a column starts a new conversation in it (and a
new case in the export), so that every exported conversation has one variant per column; "Clear chat"
starts a new one in both. In the export a variant keeps its name unless the session used that name for
another setup (or in the other column): then it is ``NAME #2``, ``NAME #3``, ...

The Deployment field suggests the columns' and variants' deployments and every deployment of the account
that ``listing`` names (the session's deployer, :meth:`jobs.deploy.Deployer.deployments`). The list is read
on a background thread when the board is built, and again when :meth:`Board.state` finds it older than
:data:`REFRESH_SECONDS`; the page never waits for it, and a failed or impossible listing (``None``) keeps the
names known so far. ``state()["account_deployments"]`` says where it stands: ``pending``, ``listed`` or
``unavailable``.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sys
import threading
import time
import traceback
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable

from jobs import lab
from jobs.checks import StyleProfile, no_recommendations
from jobs.compare.engine import cache_key, error_record
from jobs.compare.plan import Variant
from jobs.errors import JobsError, UsageError
from jobs.flow.chat import Conversation, Reply, ask, check_names
from jobs.stand_in import local_model_label

if TYPE_CHECKING:  # pragma: no cover
    from jobs.session import Session

Event = dict[str, Any]
Emit = Callable[[Event], None]
Listing = Callable[[], "list[str] | None"]

SUITE = "playground"
EDITED = "edited in the playground"
MAX_MESSAGE = 20_000  # characters of one question
MAX_SYSTEM = 20_000  # characters of a column's system message (the lab's is a few hundred)
REFRESH_SECONDS = 300.0  # the account's deployments are listed again after this long (at the next state)
# Azure's deployment names; anything else could turn the request path into another route.
DEPLOYMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SENTENCE_END = re.compile(r"[.!?:;\n]")


class Busy(UsageError):
    """A column is still answering: the page waits for ``end`` (HTTP 409)."""


@dataclass(frozen=True)
class Setup:
    """What the page applies to one column: a variant by name and/or a deployment and a system message
    (``None``: keep the variant's; an empty system message sends none)."""

    index: int
    variant: str | None = None
    deployment: str | None = None
    system: str | None = None


@dataclass
class Column:
    index: int
    variant: Variant  # what the column shows: name, deployment, system message
    label: str  # the variant's name in the export (unique in the session)
    convo: Conversation
    case_id: str = ""
    turn: int = 0  # questions asked in this conversation
    busy: bool = False


def locate(text: str, span: str) -> tuple[int, int] | None:
    """Where a check's evidence (read from the answer's plain words) is in the answer as sent: exactly, else
    its words with anything but words between them (Markdown marks, line breaks)."""
    at = text.find(span)
    if at >= 0:
        return at, at + len(span)
    words = re.findall(r"\w+", span)
    if not words:
        return None
    m = re.search(r"\W+".join(re.escape(w) for w in words), text)
    return (m.start(), m.end()) if m else None


def violations(text: str, limit: int = 12) -> list[tuple[int, int]]:
    """Where ``no_recommendations`` objects to ``text``, every span in order. The check names the first one;
    it runs again with the spans found so far blanked out until it passes."""
    work = text
    found: list[tuple[int, int]] = []
    while len(found) < limit:
        check = no_recommendations(work)
        where = None if check.passed or not isinstance(check.evidence, str) else locate(work, check.evidence)
        if where is None:
            break
        found.append(where)
        work = work[:where[0]] + " " * (where[1] - where[0]) + work[where[1]:]
    return sorted(found)


def marks(text: str, checks: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``no_recommendations`` violations to mark in ``text`` (``checks`` as report rows hold them:
    ``{passed, evidence}``): each span with its place; one without a place when the evidence is not found."""
    check = checks.get("no_recommendations")
    if not check or check["passed"]:
        return []
    return _spans(text) or [{"check": "no_recommendations", "evidence": check.get("evidence"), "start": None,
                             "end": None}]


def _spans(text: str) -> list[dict[str, Any]]:
    return [{"check": "no_recommendations", "evidence": text[a:b], "start": a, "end": b} for a, b in violations(text)]


class _Live:
    """``no_recommendations`` on the text so far, at each sentence end (and at least every 400 characters)."""

    def __init__(self, emit: Callable[[list[dict[str, Any]]], None]):
        self.emit = emit
        self.text = ""
        self.checked = 0  # characters of text checked so far
        self.shown: list[dict[str, Any]] = []

    def add(self, piece: str) -> None:
        self.text += piece
        if _SENTENCE_END.search(piece) or len(self.text) - self.checked >= 400:
            self.checked = len(self.text)
            found = _spans(self.text)
            if found != self.shown:
                self.shown = found
                self.emit(found)

    def restart(self) -> None:
        self.text, self.checked = "", 0
        if self.shown:
            self.shown = []
            self.emit([])


class AccountDeployments:
    """The account's deployment names from ``listing``, read off the request threads (one read at a time).

    The status (:meth:`known`): ``pending`` until the first read answers, then ``listed`` (once any read named
    them) or ``unavailable`` (no listing, or it answered ``None``). A later read that fails keeps the names known.
    """

    def __init__(self, listing: Listing | None, *, refresh: float = REFRESH_SECONDS,
                 redact: Callable[[str], str] = lambda text: text):
        self._listing, self.refresh, self._redact = listing, refresh, redact
        self._lock = threading.Lock()
        self._names: tuple[str, ...] = ()
        self._status = "unavailable" if listing is None else "pending"
        self._running = False
        self._at: float | None = None  # when the last read answered (monotonic)

    def fetch(self) -> None:
        """Start a read in the background, unless one is running (or there is nothing to read)."""
        if self._listing is None:
            return
        with self._lock:
            if self._running:
                return
            self._running = True
        threading.Thread(target=self._read, name="playground-deployments", daemon=True).start()

    def _read(self) -> None:
        assert self._listing is not None
        try:
            found = self._listing()
        except Exception as exc:  # a deployer promises None, not an exception: the suggestions stay as they are
            found = None
            print(self._redact(f"playground: listing the account's deployments failed ({type(exc).__name__}: "
                               f"{exc}); the Deployment suggestions stay as they are"), file=sys.stderr)
        with self._lock:
            self._running, self._at = False, time.monotonic()
            if found is not None:
                self._names = tuple(dict.fromkeys(n for n in found if isinstance(n, str)
                                                  and DEPLOYMENT_NAME.fullmatch(n)))
                self._status = "listed"
            elif self._status == "pending":
                self._status = "unavailable"

    @property
    def reading(self) -> bool:
        """A read is under way."""
        with self._lock:
            return self._running

    def known(self) -> tuple[tuple[str, ...], str]:
        """(the names known now, the status), without reading again."""
        with self._lock:
            return self._names, self._status

    def current(self) -> tuple[tuple[str, ...], str]:
        """:meth:`known`, and a new read starts when the last answer is older than ``refresh``."""
        with self._lock:
            stale = (self._listing is not None and not self._running and self._at is not None
                     and time.monotonic() - self._at > self.refresh)
        if stale:
            self.fetch()
        return self.known()


def _system_source(system: str | None, base: Variant) -> str:
    if system == base.system:
        return base.system_source
    return next((source for text, source in lab.PROMPTS.values() if text == system), EDITED)


class Board:
    """The playground's two columns and every answer of the session (see the module docstring)."""

    def __init__(self, session: "Session", columns: tuple[Variant, Variant], *, offered: tuple[Variant, ...] = (),
                 style: StyleProfile | None = None, listing: Listing | None = None):
        self.session, self.style = session, style
        self.checks = check_names(style)
        self.offered = {v.name: v for v in (*offered, *columns)}  # the variants a column can show, by name
        self.run_id = time.strftime("pg-%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)
        self.rows: list[dict[str, Any]] = []
        self._lock = threading.RLock()
        self._labels: dict[tuple[int, str, str, str | None], str] = {}
        self._variants: dict[str, Variant] = {}  # export label -> the variant under that name
        self._conversations = 0
        self._pending = 0
        self.columns = [Column(i, v, self._label(i, v), Conversation(v.deployment, v.system, v.system_source))
                        for i, v in enumerate(columns)]
        self._new_conversation(self.columns)
        self.account = AccountDeployments(listing, redact=lambda text: self.session.connection.redact(text))
        self.account.fetch()

    # ------------------------------------------------------------------ the columns
    def _label(self, index: int, v: Variant) -> str:
        key = (index, v.name, v.deployment, v.system)
        if key not in self._labels:
            taken, label, n = set(self._labels.values()), v.name, 1
            while label in taken:
                n += 1
                label = f"{v.name} #{n}"
            self._labels[key] = label
            self._variants[label] = replace(v, name=label)
        return self._labels[key]

    def _new_conversation(self, columns: list[Column]) -> None:
        self._conversations += 1
        for c in columns:
            c.case_id, c.turn = f"chat-{self._conversations}", 0
            c.convo = Conversation(c.variant.deployment, c.variant.system, c.variant.system_source)

    def _idle(self) -> None:
        if any(c.busy for c in self.columns):
            raise Busy("an answer is still arriving", hint="wait until both columns have answered")

    def _resolve(self, setup: Setup) -> tuple[Column, Variant]:
        if not 0 <= setup.index < len(self.columns):
            raise UsageError(f"there is no column {setup.index}", hint="columns are 0 (left) and 1 (right)")
        column = self.columns[setup.index]
        base = column.variant
        if setup.variant is not None:
            if setup.variant not in self.offered:
                raise UsageError(f"no variant named {setup.variant!r}", hint=f"variants: {', '.join(self.offered)}")
            base = self.offered[setup.variant]
        deployment = (setup.deployment or "").strip() or base.deployment
        if not DEPLOYMENT_NAME.fullmatch(deployment):
            raise UsageError(f"{deployment!r} is not a deployment name",
                             hint="letters, digits, '.', '-' and '_', at most 64 (as Azure names deployments)")
        system = base.system if setup.system is None else (setup.system.strip() or None)
        if system is not None and len(system) > MAX_SYSTEM:
            raise UsageError(f"the system message of column {setup.index} has {len(system):,} characters",
                             hint=f"send at most {MAX_SYSTEM:,}")
        name = base.name if deployment == base.deployment else deployment
        return column, Variant(name, deployment, system, _system_source(system, base))

    def apply(self, setups: list[Setup]) -> dict[str, Any]:
        """Show another variant, deployment or system message in the given columns; they start a new
        conversation together. Returns the new state."""
        with self._lock:
            self._idle()
            changes = [self._resolve(s) for s in setups]
            for column, variant in changes:
                column.variant, column.label = variant, self._label(column.index, variant)
            self._new_conversation([c for c, _ in changes])
            return self.state()

    def clear(self) -> dict[str, Any]:
        """"Clear chat": a new conversation in both columns (the old one stays in the export)."""
        with self._lock:
            self._idle()
            self._new_conversation(self.columns)
            return self.state()

    # ------------------------------------------------------------------ asking
    def ask(self, text: str, emit: Emit) -> None:
        """Send ``text`` to every column, each on its own thread; ``emit`` hears their events (see the module
        docstring), the last one ``{"kind": "end"}``. Returns at once."""
        text = text.strip()
        if not text:
            raise UsageError("the message is empty", hint="type a question, or pick one of the lab's")
        if len(text) > MAX_MESSAGE:
            raise UsageError(f"the message has {len(text)} characters", hint=f"send at most {MAX_MESSAGE}")
        with self._lock:
            self._idle()
            for c in self.columns:
                c.busy, c.turn = True, c.turn + 1
            self._pending = len(self.columns)
        for c in self.columns:
            threading.Thread(target=self._answer, args=(c, text, emit), name=f"playground-{c.index}",
                             daemon=True).start()

    def _answer(self, column: Column, text: str, emit: Emit) -> None:
        def event(kind: str, **data: Any) -> None:
            emit({"kind": kind, "column": column.index, **data})

        v = column.variant
        messages = column.convo.messages(text)
        row = self._row(column, text, messages)
        event("start", case_id=column.case_id, turn=column.turn, variant=column.label, deployment=v.deployment,
              system=v.system, system_source=v.system_source, prompt=text)
        live = _Live(lambda found: event("check", marks=found))
        started = time.monotonic()
        first: list[float] = []

        def on_text(piece: str) -> None:
            if not first:
                first.append(time.monotonic())
            event("delta", text=piece)
            live.add(piece)

        def on_restart(note: str) -> None:
            live.restart()
            event("restart", note=note)

        def on_wait(kind: str, seconds: float) -> None:
            why = "rate limited (429)" if kind == "rate" else "the service did not answer"
            event("wait", note=f"{why}: trying again in {seconds:.1f} s")

        try:
            reply = ask(self.session, column.convo, text, on_text=on_text, on_restart=on_restart, on_wait=on_wait,
                        style=self.style)
            self._answered(column, row, reply)
        except JobsError as exc:
            row["error"] = error_record(exc)
            row["error"]["hint"] = exc.hint
        except Exception as exc:  # a bug must not leave the page waiting: this column says so, the other goes on
            traceback.print_exc(file=sys.stderr)
            message = self.session.connection.redact(f"internal error: {type(exc).__name__}: {exc}")
            row["error"] = {"kind": "call", "status": None, "code": None, "message": message,
                            "hint": "this is a bug of the playground: the server's terminal shows the traceback"}
        finally:
            row["latency_ms"] = round((time.monotonic() - started) * 1000, 1)
            try:
                event("done" if row["error"] is None else "error", **self.turn_json(row),
                      first_token_ms=round((first[0] - started) * 1000, 1) if first else None)
            finally:  # the page waits for "end": it comes whatever happened above
                self._finish(column, row, emit)

    def _row(self, column: Column, text: str, messages: list[dict[str, str]]) -> dict[str, Any]:
        """A compare report row (``jobs/compare/engine.py`` writes the same fields)."""
        return {"case_id": column.case_id, "suite": SUITE, "turn": column.turn, "variant": column.label,
                "deployment": column.variant.deployment, "repeat": 0, "prompt": text, "answer": None,
                "error": None, "latency_ms": None, "usage": {}, "finish_reason": None, "model": None,
                "response_id": None, "stand_in": False, "local_model": None, "checks": {}, "judge": None,
                "system_replaced": False,
                "cache_key": cache_key(column.variant.deployment, messages, {}, 0), "at": round(time.time(), 3)}

    def _answered(self, column: Column, row: dict[str, Any], reply: Reply) -> None:
        a = reply.answer
        row.update(usage=a.usage, finish_reason=a.finish_reason, model=a.model, response_id=a.id,
                   stand_in=a.stand_in, local_model=a.local_model)
        if a.finish_reason == "content_filter":  # cut by the output filter: not an answer (as compare counts it)
            del column.convo.history[-2:]
            row["error"] = {"kind": "content_filter", "status": 200, "code": "content_filter",
                            "message": "the answer was filtered (finish_reason content_filter)"}
            return
        row.update(answer=a.text, checks={k: c.to_json() for k, c in reply.checks.items()})

    def _finish(self, column: Column, row: dict[str, Any], emit: Emit) -> None:
        with self._lock:
            self.rows.append(row)
            column.busy = False
            self._pending -= 1
            last = self._pending == 0
        if last:
            emit({"kind": "end"})

    # ------------------------------------------------------------------ what the page reads
    @staticmethod
    def turn_json(row: dict[str, Any]) -> dict[str, Any]:
        """One answered (or failed) question as the page shows it."""
        answer = row["answer"]
        return {"turn": row["turn"], "prompt": row["prompt"], "answer": answer, "error": row["error"],
                "checks": row["checks"], "marks": marks(answer, row["checks"]) if answer is not None else [],
                "usage": row["usage"], "model": row["model"], "stand_in": row["stand_in"],
                "local_model": _local_label(row),
                "finish_reason": row["finish_reason"], "latency_ms": row["latency_ms"]}

    def state(self) -> dict[str, Any]:
        """Everything the page shows, as JSON: the columns with their conversations so far, the variants and
        deployments a column can show (with the account's, as far as they are listed), the lab's questions."""
        account, listed = self.account.current()
        with self._lock:
            columns = [{"index": c.index, "variant": c.variant.to_json(), "label": c.label, "case_id": c.case_id,
                        "busy": c.busy,
                        "transcript": [self.turn_json(r) for r in self.rows
                                       if r["case_id"] == c.case_id and r["variant"] == c.label]}
                       for c in self.columns]
            deployments = sorted({v.deployment for v in self.offered.values()}
                                 | {c.variant.deployment for c in self.columns} | set(account))
            return {"run_id": self.run_id, "columns": columns,
                    "variants": [v.to_json() for v in self.offered.values()], "deployments": deployments,
                    "account_deployments": listed,
                    "questions": [lab.FIRST_QUESTION, *lab.QUESTIONS], "lab_system": lab.SYSTEM_PROMPT,
                    "stand_in": any(r["stand_in"] for r in self.rows),
                    "local_model": next((label for label in map(_local_label, self.rows) if label), None),
                    "answers": len(self.rows)}

    def export(self) -> dict[str, Any]:
        """The session as a compare ``report.json`` (schema ``jobs/compare/report.schema.json``): one case per
        conversation, one variant per column setup; the pair is the columns as they are now (left: the
        baseline, right: the candidate)."""
        from jobs.compare import report as reports
        from jobs.compare.plan import Plan, RunOptions
        from jobs.compare.suite import Case, Suite
        from jobs.flow.compare import provenance

        with self._lock:
            pair = (self.columns[0].label, self.columns[-1].label)
            order = {label: i for i, label in enumerate(self._variants)}  # as the session met them
            rows = sorted((dict(r) for r in self.rows),
                          key=lambda r: (int(r["case_id"].split("-")[1]), r["turn"], order[r["variant"]]))
            used = {r["variant"] for r in rows} | set(pair)
            labels = [label for label in self._variants if label in used]
        asked: dict[str, dict[int, str]] = {}
        for r in rows:
            asked.setdefault(r["case_id"], {})[r["turn"]] = r["prompt"]
        cases = tuple(Case(id=case, turns=tuple(t[k] for k in sorted(t)), checks=self.checks)
                      for case, t in asked.items())
        blob = json.dumps([c.to_json() for c in cases], sort_keys=True, ensure_ascii=False).encode("utf-8")
        suite = Suite(name=SUITE, path=f"playground session {self.run_id}", sha256=hashlib.sha256(blob).hexdigest(),
                      format="suite", cases=cases, description="the questions asked in the playground")
        plan = Plan(suites=(suite,), variants=tuple(self._variants[label] for label in labels), repeat=1,
                    style=self.style, baseline=pair[0], candidate=pair[1]).checked()
        meta = provenance(self.session, plan, RunOptions(concurrency=len(self.columns)))
        return reports.build(rows, reports.Inputs(run_id=self.run_id, plan=plan, provenance=meta))


def _local_label(row: dict[str, Any]) -> str | None:
    """What the page says of an answer from the emulator's local backend (``jobs/stand_in.py``), None otherwise."""
    return local_model_label(row["local_model"], [row["model"]]) if row.get("local_model") else None
