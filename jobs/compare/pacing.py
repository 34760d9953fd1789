"""Client-side pacing per deployment: keep a comparison's concurrent requests inside the deployment's
tokens-per-minute (TPM) and requests-per-minute (RPM) limits, so the service rarely has to say 429.

Azure gives each deployment a TPM limit and an RPM limit (6 RPM per 1000 TPM for most chat models) and
"evaluates the rate of incoming requests over a small period of time, typically 1 or 10 seconds"; a
request's tokens are estimated when it arrives, from the prompt and ``max_tokens`` (Microsoft Learn,
"Manage Azure OpenAI quota", *Understanding rate limits*). So a :class:`Budget` admits a request when both

- the last 60 seconds stay within the limit, and
- the last 10 seconds stay within a sixth of it (no burst that a 10-second evaluation would refuse),

charging the request's estimate (prompt tokens + ``max_tokens``, or the mean completion seen so far) and
correcting it to the real usage when the answer arrives (:meth:`Budget.settle`), as the service does.

Limits come from ``--rate-limit DEPLOYMENT=TPM[/RPM]`` or are learned from the answers' ``x-ratelimit-*``
headers (:meth:`Budget.observe`: ``x-ratelimit-limit-tokens``/``-requests`` when sent, else the first
``-remaining-*`` plus what this run has used); a ``-remaining-*`` lower than this run's own count (someone
else uses the deployment too) is charged as well. A 429 that asks for a wait (``Retry-After``) holds every
request to that deployment for that long (:meth:`Budget.hold`, through the retry policy's ``on_wait``);
the retry policy itself (``jobs/retry.py``) retries the refused request.

How many requests are in flight at once is the budget's :class:`~jobs.compare.concurrency.Window` (when
given a cap): it adapts to the 429s (AIMD) and, once the limits are known, to what they allow.

Thread-safe; the clock and sleep are injectable (tests run on a fake clock).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from jobs.compare.concurrency import Window
from jobs.compare.plan import RateLimit

WINDOW = 60.0  # the per-minute limits
BURST_WINDOW = 10.0  # Azure's short evaluation window: at most a sixth of the minute's limit in 10 s
DEFAULT_COMPLETION = 300  # tokens charged for an answer before any answer was seen (and no max_tokens)


@dataclass
class _Entry:
    at: float
    tokens: int


@dataclass(frozen=True)
class Ticket:
    """An admitted request; :meth:`Budget.settle` it with the real usage."""

    entry: _Entry
    estimate: int
    round: int = 0  # the concurrency window's round when it was admitted


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    try:
        value = headers.get(name)
        return int(float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


class Budget:
    """One deployment's pacing (see the module docstring)."""

    def __init__(self, deployment: str, tpm: int | None = None, rpm: int | None = None, *,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 cap: int | None = None):
        self.deployment = deployment
        self.window = Window(cap) if cap else None  # None: no limit on requests in flight
        self.tpm, self.rpm = tpm, rpm
        self.source = "--rate-limit" if tpm or rpm else None  # where the limits came from
        self.clock, self.sleep = clock, sleep
        self._entries: list[_Entry] = []
        self._hold_until = 0.0
        self._lock = threading.Lock()
        self._completions = 0
        self._completion_tokens = 0
        self._answers = 0
        self._answer_tokens = 0
        self.waited = 0.0  # seconds requests spent waiting here, summed

    # ------------------------------------------------------------------ admission
    def estimate(self, prompt_tokens: int, max_tokens: int | None = None) -> int:
        """What a request will count: its prompt and ``max_tokens``, else the mean completion so far."""
        with self._lock:
            if max_tokens is not None:
                return prompt_tokens + max_tokens
            if self._completions:
                return prompt_tokens + -(-self._completion_tokens // self._completions)
            return prompt_tokens + DEFAULT_COMPLETION

    def acquire(self, tokens: int) -> Ticket:
        """Wait for a slot in the concurrency window, then until a request of ``tokens`` fits; charge it."""
        round_ = self.window.enter() if self.window else 0
        try:
            while True:
                with self._lock:
                    now = self.clock()
                    wait = self._wait(now, tokens)
                    if wait <= 0:
                        entry = _Entry(now, tokens)
                        self._entries.append(entry)
                        return Ticket(entry, tokens, round_)
                self.waited += wait
                self.sleep(wait)
        except BaseException:
            if self.window:
                self.window.leave(round_, seconds=None, refused=False)
            raise

    def _wait(self, now: float, tokens: int) -> float:
        self._entries = [e for e in self._entries if e.at > now - WINDOW]
        waits = [self._hold_until - now]
        if self.tpm:
            waits += [self._free_in(now, WINDOW, self.tpm, tokens, by_tokens=True),
                      self._free_in(now, BURST_WINDOW, self.tpm / 6, tokens, by_tokens=True)]
        if self.rpm:
            waits += [self._free_in(now, WINDOW, self.rpm, 1, by_tokens=False),
                      self._free_in(now, BURST_WINDOW, max(1.0, self.rpm / 6), 1, by_tokens=False)]
        return max(waits)

    def _free_in(self, now: float, span: float, limit: float, need: int, *, by_tokens: bool) -> float:
        """Seconds until the last ``span`` seconds have room for ``need`` more (0: now). An empty window admits
        any single request, however large."""
        inside = [e for e in self._entries if e.at > now - span]
        weight = (lambda e: e.tokens) if by_tokens else (lambda e: 1)
        used = sum(weight(e) for e in inside)
        if not inside or used + need <= limit:
            return 0.0
        excess, freed = used + need - limit, 0.0
        for e in inside:  # oldest first: entries are appended in time order
            freed += weight(e)
            if freed >= excess:
                return e.at + span - now
        return inside[-1].at + span - now

    # ------------------------------------------------------------------ what the service says
    def settle(self, ticket: Ticket, *, total_tokens: int | None, completion_tokens: int | None,
               refused: bool = False) -> None:
        """Replace the estimate by the real usage (a failed request keeps its estimate: the service may have
        counted it) and give the concurrency slot back (``refused``: a 429 was among its attempts; a known
        usage: an answer, whose time the window learns from)."""
        with self._lock:
            seconds = self.clock() - ticket.entry.at
            if total_tokens is not None:
                ticket.entry.tokens = total_tokens
                self._answers += 1
                self._answer_tokens += total_tokens
            if completion_tokens is not None:
                self._completions += 1
                self._completion_tokens += completion_tokens
            per_second = self._per_second()
        if self.window:
            self.window.leave(ticket.round, seconds=seconds if total_tokens is not None else None, refused=refused)
            self.window.fit(per_second)

    def _per_second(self) -> float | None:
        """Requests a second the known limits allow (RPM, and TPM over the mean tokens of an answer)."""
        rates = [self.rpm / WINDOW] if self.rpm else []
        if self.tpm and self._answers:
            rates.append(self.tpm / WINDOW / max(1.0, self._answer_tokens / self._answers))
        return min(rates) if rates else None

    def observe(self, headers: Mapping[str, str]) -> None:
        """Learn from an answer's ``x-ratelimit-*`` headers (see the module docstring)."""
        limit_t = _header_int(headers, "x-ratelimit-limit-tokens")
        limit_r = _header_int(headers, "x-ratelimit-limit-requests")
        left_t = _header_int(headers, "x-ratelimit-remaining-tokens")
        left_r = _header_int(headers, "x-ratelimit-remaining-requests")
        with self._lock:
            now = self.clock()
            self._entries = [e for e in self._entries if e.at > now - WINDOW]
            used_t, used_r = sum(e.tokens for e in self._entries), len(self._entries)
            if self.source != "--rate-limit":
                learned_t = limit_t or (left_t + used_t if left_t is not None and not self.tpm else None)
                learned_r = limit_r or (left_r + used_r if left_r is not None and not self.rpm else None)
                if learned_t or learned_r:
                    self.tpm = learned_t or self.tpm
                    self.rpm = learned_r or self.rpm
                    self.source = "x-ratelimit-* headers"
            if self.tpm and left_t is not None and left_t < self.tpm - used_t:
                self._entries.append(_Entry(now, self.tpm - used_t - left_t))  # someone else's share
            if self.rpm and left_r is not None and left_r < self.rpm - used_r:
                self._entries.extend(_Entry(now, 0) for _ in range(self.rpm - used_r - left_r))

    def hold(self, seconds: float) -> None:
        """The service asked for a pause (429 with Retry-After): no request to this deployment before then."""
        with self._lock:
            self._hold_until = max(self._hold_until, self.clock() + max(0.0, seconds))

    def describe(self) -> dict[str, object]:
        return {"deployment": self.deployment, "tpm": self.tpm, "rpm": self.rpm, "source": self.source,
                "waited_s": round(self.waited, 3), "concurrency": self.window.describe() if self.window else None}


class Pacer:
    """One :class:`Budget` per deployment; ``cap``: each one's concurrency window's cap (None: no window)."""

    def __init__(self, limits: Iterable[RateLimit] = (), *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, cap: int | None = None):
        self.clock, self.sleep, self.cap = clock, sleep, cap
        self._budgets = {r.deployment: Budget(r.deployment, r.tpm, r.rpm, clock=clock, sleep=sleep, cap=cap)
                         for r in limits}
        self._lock = threading.Lock()

    def budget(self, deployment: str) -> Budget:
        with self._lock:
            if deployment not in self._budgets:
                self._budgets[deployment] = Budget(deployment, clock=self.clock, sleep=self.sleep, cap=self.cap)
            return self._budgets[deployment]

    def describe(self) -> list[dict[str, object]]:
        return [b.describe() for b in self._budgets.values()]
