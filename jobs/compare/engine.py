"""Sending a plan's conversations: concurrently, paced per deployment, every call through the session's
connection and its one retry policy, every answer checked and recorded the moment it arrives.

A *conversation* (one case, one variant, one repeat) is one task: its turns go in order, each answer fed
back as the next turn's history. Tasks run on up to ``concurrency`` threads (the cap), longest conversations
first. Before each call the deployment's :class:`~jobs.compare.pacing.Budget` admits it: a slot in its
adaptive concurrency window (``jobs/compare/concurrency.py``), then room in its rate limits; a 429's
``Retry-After`` holds the deployment's other requests too and halves its window. Each row's ``latency_ms`` is the service's time;
its ``queued_ms`` the time it waited (for a slot, a 429's pause, a retry's back-off).

Failures never abort the run: a content-filter refusal (HTTP 400 ``content_filter``, or an answer cut with
``finish_reason: content_filter``) or a call that failed after the retry policy gave up is recorded on its
row (``error``), and the conversation's later turns are recorded as skipped. A deployment that does not
exist (404) fails its row, and its other rows are recorded as not asked (:class:`NotAsked`) without a call:
the other variants finish and the report is written (:attr:`Engine.missing` says which deployments; the flow
then exits 2 naming them). Only what no other request could survive stops the run at once: the endpoint is
not the API, the credential or role is refused (401/403) or the endpoint cannot be reached; its finished
rows are kept for ``--resume``.

A row is identified by (case, turn, variant, repeat); its ``cache_key`` is the sha256 of what was sent
(deployment, messages, parameters, the repeat index). ``--resume`` reuses a recorded row with the same key
and no error, re-judging it only when its judge call failed.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from jobs.api import ChatAnswer, NotTheApi
from jobs.checks import CheckContext, run_checks
from jobs.compare import judge as judging
from jobs.compare.pacing import Pacer
from jobs.compare.plan import Plan, Variant
from jobs.compare.suite import Case, Suite
from jobs.errors import ExitCode, JobsError

if TYPE_CHECKING:  # pragma: no cover
    from jobs.compare.history import History
    from jobs.session import Session

RowKey = tuple[str, int, str, int]  # case id, turn (1-based), variant, repeat (0-based)
CHECKPOINT = "compare_row"  # jobs/crash.py: the test hook after each recorded row


def cache_key(deployment: str, messages: list[dict[str, str]], params: dict[str, Any], repeat: int) -> str:
    blob = json.dumps({"deployment": deployment, "messages": messages, "params": params, "repeat": repeat},
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def prompt_tokens_estimate(messages: list[dict[str, str]]) -> int:
    """A cheap upper estimate of a prompt's tokens for pacing: a token per 3 characters (English runs about
    4) and 4 per message; the real count replaces it when the answer arrives."""
    return sum(math.ceil(len(m.get("content") or "") / 3) + 4 for m in messages) + 3


def row_key(row: dict[str, Any]) -> RowKey:
    return (str(row["case_id"]), int(row["turn"]), str(row["variant"]), int(row["repeat"]))


class NotAsked(JobsError):
    """A row not sent: its deployment answered 404 (does not exist) earlier in this run."""


def is_fatal(exc: JobsError) -> bool:
    """No other request can succeed either: not the API, credential/role refused, no endpoint."""
    if isinstance(exc, NotAsked):
        return False
    return isinstance(exc, NotTheApi) or exc.status in (401, 403) or (
        exc.status is None and exc.exit_code == ExitCode.USAGE)


def error_record(exc: JobsError) -> dict[str, Any]:
    if isinstance(exc, NotAsked):
        return {"kind": "skipped", "status": None, "code": None, "message": exc.message}
    code = exc.code or ""
    kind = "content_filter" if "content_filter" in code.lower() or "responsibleai" in code.lower() else "call"
    return {"kind": kind, "status": exc.status, "code": code or None, "message": exc.message}


@dataclass(frozen=True)
class Conversation:
    suite: Suite
    case: Case
    variant: Variant
    repeat: int


class Engine:
    """Runs a plan's conversations (see the module docstring); ``reuse`` holds a resumed run's rows."""

    def __init__(self, session: "Session", plan: Plan, *, history: "History", run_id: str, pacer: Pacer,
                 reuse: dict[RowKey, dict[str, Any]] | None = None):
        self.session, self.plan, self.history, self.run_id, self.pacer = session, plan, history, run_id, pacer
        self.reuse = reuse or {}
        self.rows: dict[RowKey, dict[str, Any]] = {}
        self.sent = 0  # chat calls made by this run (answers and judge calls)
        self.missing: dict[str, JobsError] = {}  # deployment -> its 404: its later rows are not asked
        self.reused = 0  # rows of the resumed run kept as they were
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._total = sum(len(c.turns) for _, c in plan.cases()) * len(plan.variants) * plan.repeat
        self._last_note = 0.0
        self._started = time.monotonic()
        self.progress_every = 5.0

    # ------------------------------------------------------------------ the run
    def conversations(self) -> list[Conversation]:
        work = [Conversation(s, c, v, r) for s, c in self.plan.cases() for r in range(self.plan.repeat)
                for v in self.plan.variants]
        return sorted(work, key=lambda w: -len(w.case.turns))  # long chains first: they set the wall time

    def run(self, concurrency: int) -> list[dict[str, Any]]:
        """Every row, in the plan's order (case, turn, repeat, variant). Raises the first fatal error."""
        pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="compare")
        try:
            futures = [pool.submit(self._conversation, w) for w in self.conversations()]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = next((f for f in done if f.exception() is not None), None)
            if failed is not None:
                raise failed.exception()  # type: ignore[misc]
        finally:  # a fatal error or Ctrl-C: queued conversations never start, running ones stop at their next turn
            self._stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
        return self.ordered()

    def ordered(self) -> list[dict[str, Any]]:
        case_order = {c.id: i for i, (_, c) in enumerate(self.plan.cases())}
        variant_order = {v.name: i for i, v in enumerate(self.plan.variants)}
        return sorted(self.rows.values(), key=lambda r: (case_order.get(r["case_id"], 0), r["turn"], r["repeat"],
                                                         variant_order.get(r["variant"], 0)))

    def _conversation(self, work: Conversation) -> None:
        case, variant = work.case, work.variant
        history = [dict(m) for m in case.history]
        failed_at: int | None = None
        for turn, user in enumerate(case.turns, 1):
            if self._stop.is_set():
                return
            messages = ([{"role": "system", "content": variant.system}] if variant.system is not None else [])
            messages += history + [{"role": "user", "content": user}]
            if failed_at is not None:
                row = self._base_row(work, turn, user, messages)
                row["error"] = {"kind": "skipped", "status": None, "code": None,
                                "message": f"turn {failed_at} failed, so this turn was not asked"}
            else:
                row = self._turn(work, turn, user, messages)
            self._record(row)
            if row["answer"] is None:
                failed_at = failed_at or turn
                continue
            history += [{"role": "user", "content": user}, {"role": "assistant", "content": row["answer"]}]

    # ------------------------------------------------------------------ one turn
    def _base_row(self, work: Conversation, turn: int, user: str, messages: list[dict[str, str]]) -> dict[str, Any]:
        params = self.plan.params.for_repeat(work.repeat)
        return {"case_id": work.case.id, "suite": work.suite.name, "turn": turn, "variant": work.variant.name,
                "deployment": work.variant.deployment, "repeat": work.repeat, "prompt": user, "answer": None,
                "error": None, "latency_ms": None, "queued_ms": None, "usage": {}, "finish_reason": None,
                "model": None, "response_id": None, "stand_in": False, "local_model": None, "checks": {},
                "judge": None,
                "system_replaced": work.case.system is not None,
                "cache_key": cache_key(work.variant.deployment, messages, params, work.repeat), "at": None}

    def _turn(self, work: Conversation, turn: int, user: str, messages: list[dict[str, str]]) -> dict[str, Any]:
        row = self._base_row(work, turn, user, messages)
        old = self.reuse.get(row_key(row))
        if old is not None and old.get("cache_key") == row["cache_key"] and old.get("error") is None:
            row = dict(old)
            with self._lock:
                self.reused += 1
            if self.plan.judge and (row.get("judge") or {}).get("error", "missing") is not None:
                self._judge(row)
            return row
        answer = self._chat(work.variant.deployment, messages, self.plan.params.for_repeat(work.repeat), row)
        if answer is None:
            return row
        row["checks"] = {k: c.to_json() for k, c in run_checks(
            answer, work.case.check_names(),
            CheckContext(prompt=user, style=self.plan.style, must_mention=work.case.must_mention)).items()}
        if self.plan.judge:
            self._judge(row)
        return row

    def _paced(self, deployment: str, messages: list[dict[str, str]], params: dict[str, Any],
               clock: "Stopwatch | None" = None) -> ChatAnswer:
        """One call through the deployment's budget and the session's connection (its retry policy); the real
        usage and the rate-limit headers go back to the budget. ``clock`` (if given) counts the seconds spent
        waiting (for a slot, a 429's pause, a retry's back-off) apart from the service's own time."""
        clock = clock or Stopwatch()
        self._not_missing(deployment)
        budget = self.pacer.budget(deployment)
        waiting = time.monotonic()
        ticket = budget.acquire(budget.estimate(prompt_tokens_estimate(messages), params.get("max_tokens")))
        clock.waited += time.monotonic() - waiting
        try:
            if self._stop.is_set():  # stopped (Ctrl-C, a fatal error) while this request waited: never sent
                raise NotAsked("not asked: the run stopped before this request was sent")
            self._not_missing(deployment)  # a 404 may have come back while this request waited for its slot
        except NotAsked:
            budget.settle(ticket, total_tokens=None, completion_tokens=None)
            raise
        with self._lock:
            self.sent += 1
        try:
            answer = self.session.api.chat(deployment, messages, on_wait=_holder(budget, clock), **params)
        except JobsError as exc:
            # before the slot is given back: no request waiting for it may go out now
            if is_fatal(exc):
                self._stop.set()
            if exc.status == 404:
                with self._lock:
                    self.missing.setdefault(deployment, exc)
            budget.settle(ticket, total_tokens=None, completion_tokens=None,
                          refused=clock.refused or exc.status == 429)
            raise
        usage = answer.usage or {}
        budget.settle(ticket, total_tokens=_int(usage.get("total_tokens")),
                      completion_tokens=_int(usage.get("completion_tokens")), refused=clock.refused)
        budget.observe(answer.headers)
        return answer

    def _not_missing(self, deployment: str) -> None:
        with self._lock:
            gone = self.missing.get(deployment)
        if gone is not None:
            raise NotAsked(f"not asked: {deployment} answered HTTP 404 earlier in this run "
                           f"({gone.message.splitlines()[0]})", hint=gone.hint)

    def _chat(self, deployment: str, messages: list[dict[str, str]], params: dict[str, Any],
              row: dict[str, Any]) -> str | None:
        """Fills the row's answer or error; returns the answer text (None on failure)."""
        clock = Stopwatch()
        row["at"] = round(time.time(), 3)
        try:
            answer = self._paced(deployment, messages, params, clock)
        except JobsError as exc:
            if is_fatal(exc):
                raise
            row["error"] = error_record(exc)
            return None
        finally:
            row["latency_ms"], row["queued_ms"] = clock.split_ms()
        row.update(usage=answer.usage or {}, finish_reason=answer.finish_reason, model=answer.model,
                   response_id=answer.id, stand_in=answer.stand_in,
                   local_model=answer.local_model)
        if answer.finish_reason == "content_filter":
            row["error"] = {"kind": "content_filter", "status": 200, "code": "content_filter",
                            "message": "the answer was filtered (finish_reason content_filter)"}
            return None
        row["answer"] = answer.text
        return answer.text

    def _judge(self, row: dict[str, Any]) -> None:
        record: dict[str, Any] = {"deployment": self.plan.judge, "model": None, "raw": None, "error": None,
                                  "rubric_sha256": judging.RUBRIC_SHA256}
        try:
            answer = self._paced(str(self.plan.judge), judging.messages(row["prompt"], str(row["answer"])),
                                 {"temperature": 0, "response_format": judging.RESPONSE_FORMAT}, None)
        except JobsError as exc:
            if is_fatal(exc):
                raise
            record["error"] = exc.message
        else:
            verdicts, problem = judging.read_verdict(answer.text)
            record.update(model=answer.model, raw=answer.text, usage=answer.usage, error=problem)
            row["checks"] = {k: v for k, v in row["checks"].items() if not k.startswith("judge_")} | verdicts
        row["judge"] = record

    # ------------------------------------------------------------------ recording
    def _record(self, row: dict[str, Any]) -> None:
        ok = row["error"] is None and (not self.plan.judge or (row.get("judge") or {}).get("error", "x") is None)
        with self._lock:
            self.rows[row_key(row)] = row
            self.history.record_row(self.run_id, row, ok=ok)
            self.session.checkpoint(CHECKPOINT)
            self._note()

    def _note(self) -> None:
        now = time.monotonic()
        done = len(self.rows)
        if done < self._total and now - self._last_note < self.progress_every:
            return
        self._last_note = now
        failed = sum(1 for r in self.rows.values() if r["error"] is not None)
        self.session.say(f"compare: {done}/{self._total} rows, {failed} failed, {self.sent} calls sent, "
                         f"{now - self._started:.0f} s")


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class Stopwatch:
    """One row's time: from its start, the seconds spent waiting (``waited``: for a pacing slot, a 429's pause,
    a retry's back-off) apart from the rest, the service's time; ``refused``: a 429 was among its attempts."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.waited = 0.0
        self.refused = False

    def split_ms(self) -> tuple[float, float]:
        """(service ms, queued ms)."""
        total = time.monotonic() - self.started
        waited = min(self.waited, total)
        return round((total - waited) * 1000, 1), round(waited * 1000, 1)


def _holder(budget: Any, clock: Stopwatch) -> Callable[[str, float], None]:
    """The retry policy's ``on_wait``: a 429's wait holds the whole deployment (and tells the budget's
    concurrency it went too far); every wait counts as queueing, not as the service's time."""
    def on_wait(kind: str, seconds: float) -> None:
        clock.waited += max(0.0, seconds)
        if kind == "rate":
            clock.refused = True
            budget.hold(seconds)
    return on_wait
