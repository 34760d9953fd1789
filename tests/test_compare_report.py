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
                latency: tuple[float, float] = (800.0, 0.0), one_deployment: bool = False) -> dict[str, Any]:
    """A report of ``cases`` one-turn cases, once to each variant; every answer passes on_topic."""
    suite = Suite(name=suite_name, path="suite.yaml", sha256="0" * 64, format="suite",
                  cases=tuple(Case(id=f"c{i}", turns=(f"question {i}",), checks=("on_topic",)) for i in range(cases)))
    plan = Plan(suites=(suite,), variants=tuple(Variant(n, "dep" if one_deployment else f"dep-{n}", "sys", "the lab's system message")
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


def test_report_md_escapes_every_name(tmp_path: Path) -> None:
    hostile = 'travel <img src=x onerror="alert(1)"> | **x** [link](https://evil.example) `code`'
    report = make_report(suite_name=hostile, variants=("base", "tuned<script>"))
    text = reports.render_markdown(report)
    assert "<img" not in text and "<script" not in text and "[link](" not in text
    assert "&lt;img src=x onerror=\"alert(1)\"&gt;" in text and "\\| \\*\\*x\\*\\*" in text
    allowed = {"details", "summary", "/summary", "/details"}  # the only tags report.md has: its own collapsible section
    assert {m.lower() for m in re.findall(r"<(/?[A-Za-z][A-Za-z0-9]*)", text)} <= allowed
    # every table row still has its columns (a | in a name does not split a cell)
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert len({len(re.findall(r"(?<!\\)\|", line)) for line in table[:4]}) == 1


def _csp(page: str) -> str:
    found = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert found, "report.html has no Content-Security-Policy"
    return found.group(1).replace("&#x27;", "'")


def _hash(text: str) -> str:
    import base64

    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_report_html_has_a_strict_content_security_policy() -> None:
    from jobs.compare.html import render_html

    page = render_html(make_report())
    policy = _csp(page)
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'" and "unsafe" not in policy and "*" not in policy
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    styles = re.findall(r"<style>(.*?)</style>", page, re.S)
    assert len(scripts) == 1 and len(styles) == 1
    assert directives["script-src"] == _hash(scripts[0]) and directives["style-src"] == _hash(styles[0])
    assert page.index("Content-Security-Policy") < page.index("<style>")  # in force before anything it governs


def test_the_heading_asks_the_question_the_run_answers() -> None:
    from jobs.compare.html import render_html

    tuned = make_report()
    assert tuned["title"] == "Does fine-tuning beat prompting?"
    base_only = make_report(variants=("base-no-system", "base-short", "base"), one_deployment=True)  # pipeline's compare-base
    heading = re.search(r'<div class="banner[^"]*" id="verdict"><h1>(.*?)</h1>', render_html(base_only))
    assert heading and heading.group(1) == "Which system message works best?"
    assert reports.render_markdown(base_only).startswith("## Compare: which system message works best?\n")
    assert make_report(variants=("base", "other"))["title"] == "Which variant does better?"


def test_unset_parameters_read_as_the_services_default_not_none() -> None:
    from jobs.compare.html import render_html

    page = render_html(make_report(params=ChatParams(temperature=None, max_tokens=200)))
    assert "None" not in page
    assert "temperature: the service&#x27;s default" in page and "max tokens: 200" in page


def test_the_html_says_what_rates_and_wins_count() -> None:
    from jobs.compare.html import render_html

    page = render_html(make_report())
    sentence = re.search(r'<p id="units">(.*?)</p>', page)
    assert sentence and "turn" in sentence.group(1) and "case" in sentence.group(1)


def test_latency_and_queueing_are_reported_apart(tmp_path: Path) -> None:
    import jsonschema

    from jobs.compare.html import render_html

    report = make_report(latency=(700.0, 9300.0))
    jsonschema.validate(report, reports.schema())
    usage = report["usage"]["base"]
    assert usage["latency_ms"]["p95"] == 700.0 and usage["queued_ms"]["p95"] == 9300.0
    page, md_text, text = render_html(report), reports.render_markdown(report), reports.render_text(report)
    for rendering in (page, md_text, text):
        assert "9300" in rendering and "700" in rendering
    assert "queued" in page and "service time" in page and "queued" in text and "queued" in md_text
