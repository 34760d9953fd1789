"""The compare report's files, built offline from hand-made rows (no emulator): how they are written (whole
or not at all), what the Markdown and HTML say and refuse to say, and the latency split (service time apart
from the pacing's queueing)."""

from __future__ import annotations

import hashlib
import json
import re
import resource
import signal
from pathlib import Path
from typing import Any, Iterator

import pytest

from jobs.compare import report as reports
from jobs.compare.plan import ChatParams, Plan, Variant
from jobs.compare.suite import Case, Suite
from jobs.errors import UsageError


def make_report(*, suite_name: str = "travel", variants: tuple[str, ...] = ("base", "tuned"),
                params: ChatParams = ChatParams(), cases: int = 2, answer: str = "Rome is lovely.",
                latency: tuple[float, float] = (800.0, 0.0)) -> dict[str, Any]:
    """A report of ``cases`` one-turn cases, once to each variant; every answer passes on_topic."""
    suite = Suite(name=suite_name, path="suite.yaml", sha256="0" * 64, format="suite",
                  cases=tuple(Case(id=f"c{i}", turns=(f"question {i}",), checks=("on_topic",)) for i in range(cases)))
    plan = Plan(suites=(suite,), variants=tuple(Variant(n, f"dep-{n}", "sys", "the lab's system message")
                                                for n in variants), params=params).checked()
    rows = [{"case_id": c.id, "suite": suite.name, "turn": 1, "variant": v.name, "deployment": v.deployment,
             "repeat": 0, "prompt": c.turns[0], "answer": answer, "error": None, "latency_ms": latency[0],
             "queued_ms": latency[1], "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30},
             "finish_reason": "stop", "model": "gpt-4.1", "response_id": "r", "stand_in": False,
             "checks": {"on_topic": {"passed": True, "evidence": None}}, "judge": None, "system_replaced": False,
             "cache_key": "a" * 64, "at": 1.0} for c in suite.cases for v in plan.variants]
    meta = {"date": "2026-12-06T00:00:00Z", "endpoint": "https://x.openai.azure.com", "suites": [suite.summary()],
            "parameters": {"repeat": 1, **params.to_json(), "concurrency": 4}}
    return reports.build(rows, reports.Inputs(run_id="cmp-test", plan=plan, provenance=meta))


@pytest.fixture
def file_size_limit() -> Iterator[Any]:
    """``limit(n)``: from then on, no file of this process may grow past n bytes (EFBIG, as a full disk's
    ENOSPC: the write fails part-way)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    def limit(size: int) -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))

    try:
        yield limit
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)


def test_a_full_disk_keeps_the_old_report_whole(tmp_path: Path, file_size_limit: Any) -> None:
    small = make_report(cases=1)
    reports.write(small, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    big = make_report(cases=40, answer="Rome is lovely. " * 50)
    assert len(json.dumps(big)) > 4 * max(len(b) for b in before.values())
    file_size_limit(max(len(b) for b in before.values()) + 100)  # the new report cannot fit
    with pytest.raises(UsageError) as err:
        reports.write(big, tmp_path)
    assert str(tmp_path) in err.value.message and err.value.hint
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert after == before  # every old file whole, no temporary file left behind
    json.loads(after["report.json"])
