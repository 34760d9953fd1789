"""How fast compare sends: the adaptive concurrency window (AIMD on 429s, capped by what the deployment's
limits can use and by ``--concurrency``), and each row's service time measured apart from its queueing.

The engine runs here against a scripted connection (no emulator, no network): every call takes a known time,
and the script says when the "service" refuses. Speed figures live in bench/bench_compare.py and
docs/benchmarks.md, not here."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import pytest

from jobs.api import ChatAnswer
from jobs.compare.concurrency import START, Window
from jobs.compare.engine import Engine
from jobs.compare.pacing import Pacer
from jobs.compare.plan import MAX_CONCURRENCY, Plan, RunOptions, Variant
from jobs.compare.suite import Case, Suite

SERVICE_S = 0.05


class Service:
    """A scripted ``session.api``: each call takes SERVICE_S; ``refuse(in_flight)`` -> seconds of a 429 pause
    (told to ``on_wait`` as the retry policy does, then slept) or None."""

    def __init__(self, refuse: Callable[[int], float | None] = lambda n: None, headers: dict[str, str] | None = None):
        self.refuse, self.headers = refuse, headers or {}
        self.in_flight = self.most = self.calls = 0
        self._lock = threading.Lock()

    def chat(self, deployment: str, messages: list[dict[str, str]], *, on_wait: Callable[[str, float], None],
             **params: Any) -> ChatAnswer:
        with self._lock:
            self.in_flight += 1
            self.calls += 1
            self.most = max(self.most, self.in_flight)
            pause = self.refuse(self.in_flight)
        try:
            if pause is not None:
                on_wait("rate", pause)
                time.sleep(pause)
            time.sleep(SERVICE_S)
            return ChatAnswer(text="Rome is lovely.", finish_reason="stop", model="gpt-4.1",
                              usage={"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30},
                              headers=dict(self.headers), id="chatcmpl-1")
        finally:
            with self._lock:
                self.in_flight -= 1


class Session:
    def __init__(self, api: Service):
        self.api = api

    def checkpoint(self, name: str) -> None:
        pass

    def say(self, text: str) -> None:
        pass


class History:
    def record_row(self, run_id: str, row: dict[str, Any], *, ok: bool) -> None:
        pass


def plan(cases: int) -> Plan:
    suite = Suite(name="s", path="s.yaml", sha256="0" * 64, format="suite",
                  cases=tuple(Case(id=f"c{i}", turns=(f"question {i}",), checks=("on_topic",)) for i in range(cases)))
    return Plan(suites=(suite,), variants=(Variant("base", "d", "sys", "lab"),)).checked()


def run(service: Service, cases: int, options: RunOptions = RunOptions()) -> tuple[list[dict[str, Any]], Pacer]:
    pacer = Pacer(options.rate_limits, cap=options.cap)
    engine = Engine(Session(service), plan(cases), history=History(), run_id="r", pacer=pacer)  # type: ignore[arg-type]
    return engine.run(options.cap), pacer


def test_by_default_the_window_grows_past_the_old_fixed_4() -> None:
    service = Service()
    rows, pacer = run(service, 60)
    assert all(r["error"] is None for r in rows) and service.calls == 60
    assert RunOptions().checked().cap == MAX_CONCURRENCY
    assert service.most > 2 * START  # slow start: one more per answer
    assert pacer.describe()[0]["concurrency"]["peak_in_flight"] == service.most


def test_concurrency_is_a_cap() -> None:
    service = Service()
    run(service, 30, RunOptions(concurrency=3))
    assert service.most == 3


def test_429s_halve_the_window() -> None:
    service = Service(refuse=lambda n: 0.0 if n > 6 else None)  # the "service" takes 6 at once (no pause asked)
    rows, pacer = run(service, 80)
    assert all(r["error"] is None for r in rows)
    window = pacer.describe()[0]["concurrency"]
    assert window["halvings"] >= 1
    assert service.most <= 16  # without the cuts, slow start would have doubled on to dozens in flight


def test_the_limits_cap_the_window_at_what_they_can_use() -> None:
    # 120 requests a minute = 2 a second, 0.05 s each: about 0.1 in flight keep it busy; the window stays small
    service = Service(headers={"x-ratelimit-limit-requests": "120", "x-ratelimit-limit-tokens": "1000000"})
    window = Window(cap=64)
    for _ in range(10):
        r = window.enter()
        window.leave(r, seconds=SERVICE_S, refused=False)
        window.fit(2.0)
    assert window.ceiling == 2 and window.allowed() == 2
    rows, pacer = run(service, 6)
    assert pacer.describe()[0]["concurrency"]["ceiling"] == 2


def test_a_429_of_an_older_round_does_not_cut_again() -> None:
    window = Window(cap=64, start=8)
    rounds = [window.enter() for _ in range(8)]
    for r in rounds:  # a burst of 429s from the same round: one cut
        window.leave(r, seconds=None, refused=True)
    assert window.allowed() == 4 and window.halvings == 1
    r = window.enter()
    window.leave(r, seconds=None, refused=True)  # a request of the new round: cuts again
    assert window.allowed() == 2
    for _ in range(4):  # after a cut, growth is additive: +1/window per answer
        r = window.enter()
        window.leave(r, seconds=0.1, refused=False)
    assert window.allowed() == 3


def test_latency_is_the_service_time_and_queueing_is_apart() -> None:
    first = threading.Event()

    def refuse(n: int) -> float | None:
        if first.is_set():
            return None
        first.set()
        return 0.3  # one 429 with a 0.3 s pause: held, retried

    rows, _ = run(Service(refuse=refuse), 3, RunOptions(concurrency=1))
    waited = [r for r in rows if r["queued_ms"] >= 250]
    assert len(waited) >= 1
    for r in rows:
        assert SERVICE_S * 1000 * 0.9 <= r["latency_ms"] < SERVICE_S * 1000 + 150, r  # no model took 0.35 s
        assert r["queued_ms"] >= 0


def test_known_limits_open_the_window_at_once() -> None:
    window = Window(cap=64)
    r = window.enter()
    window.leave(r, seconds=0.5, refused=False)  # the first answer: 0.5 s; its headers: 10 requests a second
    window.fit(10.0)
    # not 5 (slow start's +1): Little's law x 2 with a slow request's time; after one answer, RFC 6298's
    # estimate is 0.5 + 4 x 0.25 = 1.5 s
    assert window.ceiling == 30 and window.allowed() == 30
    for _ in range(40):  # steady answers: the deviation fades, the ceiling comes down to 10 x 0.5 x 2
        r = window.enter()
        window.leave(r, seconds=0.5, refused=False)
        window.fit(10.0)
    assert window.ceiling == 11 and window.allowed() == 11
    capped = Window(cap=6)
    r = capped.enter()
    capped.leave(r, seconds=0.5, refused=False)
    capped.fit(10.0)
    assert capped.allowed() == 6  # --concurrency stays the cap


def test_requests_waiting_for_a_slot_are_not_sent_after_a_stop() -> None:
    """A fatal error (here: 401) stops the run; the conversations already waiting for a slot send nothing."""
    from jobs.errors import JobsError

    class Refusing(Service):
        def chat(self, deployment: str, messages: list[dict[str, str]], *, on_wait: Callable[[str, float], None],
                 **params: Any) -> ChatAnswer:
            with self._lock:
                self.calls += 1
            time.sleep(0.2)
            raise JobsError("HTTP 401: the key is refused", status=401)

    service = Refusing()
    with pytest.raises(JobsError):
        run(service, 40)  # 40 conversations on up to 64 threads; the window lets 4 go first
    assert service.calls <= START
