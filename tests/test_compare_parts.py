"""The parts of compare on their own: statistics, pacing (on a fake clock), the history's migrations, suite
formats and their errors, the options' parsing, and report.html's marks."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from jobs.compare import stats
from jobs.compare.engine import cache_key
from jobs.compare.history import MIGRATIONS, SCHEMA_VERSION, History
from jobs.compare.pacing import BURST_WINDOW, WINDOW, Budget, Pacer
from jobs.compare.plan import ChatParams, Gate, Plan, Price, RateLimit, Variant, parse_variant
from jobs.compare.suite import Case, Suite, load_suite
from jobs.errors import UsageError
from tests.support.paths import MSLEARN, REPO

# --------------------------------------------------------------------------- statistics


def test_wilson_interval() -> None:
    low, high = stats.wilson(8, 10)  # the textbook example: 0.4902 .. 0.9433
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    assert stats.wilson(0, 10)[0] == 0.0 and stats.wilson(10, 10)[1] == 1.0
    assert 0 < stats.wilson(0, 10)[1] < 0.35
    assert stats.wilson(0, 0) == (0.0, 1.0)


def test_mcnemar_exact() -> None:
    assert stats.mcnemar_exact(0, 0) == 1.0
    assert stats.mcnemar_exact(5, 5) == 1.0
    assert stats.mcnemar_exact(10, 0) == pytest.approx(2 / 1024)
    assert stats.mcnemar_exact(0, 10) == pytest.approx(2 / 1024)
    assert stats.mcnemar_exact(8, 2) == pytest.approx(2 * (1 + 10 + 45) / 1024)  # 0.109375


def _row(case: str, variant: str, repeat: int, passed: bool | None, *, turn: int = 1) -> dict[str, Any]:
    failed = passed is None
    return {"case_id": case, "turn": turn, "variant": variant, "repeat": repeat,
            "answer": None if failed else "text", "error": {"kind": "call"} if failed else None,
            "checks": {} if failed else {"c": {"passed": passed, "evidence": None}}}


def test_summary_paired_and_stability() -> None:
    rows = [
        # case a: base fails twice, tuned passes twice -> a win
        _row("a", "base", 0, False), _row("a", "base", 1, False), _row("a", "tuned", 0, True), _row("a", "tuned", 1, True),
        # case b: both pass -> a tie
        _row("b", "base", 0, True), _row("b", "base", 1, True), _row("b", "tuned", 0, True), _row("b", "tuned", 1, True),
        # case c: base passes, tuned passes only half the time (no majority) -> a loss
        _row("c", "base", 0, True), _row("c", "base", 1, True), _row("c", "tuned", 0, True), _row("c", "tuned", 1, False),
        # case d: tuned failed to answer once: only its other repeat counts; base answered nothing -> unpaired
        _row("d", "base", 0, None), _row("d", "base", 1, None), _row("d", "tuned", 0, None), _row("d", "tuned", 1, True),
    ]
    summary = stats.summary(rows, ["base", "tuned"], ["c"])
    assert summary["base"]["c"]["passed"] == 4 and summary["base"]["c"]["total"] == 6
    assert summary["tuned"]["c"]["passed"] == 6 and summary["tuned"]["c"]["total"] == 7
    assert summary["tuned"]["c"]["rate"] == pytest.approx(6 / 7)
    assert stats.paired(rows, "base", "tuned", ["c"])["c"] == {"wins": 1, "ties": 1, "losses": 1, "p_value": 1.0}
    s = stats.stability(rows, ["base", "tuned"], ["c"], 2)
    assert s["tuned"]["cases"] == 3 and s["tuned"]["pass_k"]["c"] == pytest.approx(2 / 3)  # a, b (not c; d: 1 answer)
    assert s["base"]["pass_k"]["c"] == pytest.approx(2 / 3) and s["base"]["distinct_answers"] == 1.0
    assert s["tuned"]["per_case"]["c"] == {"distinct_answers": 1, "pass_k": {"c": False}}
    assert "d" not in s["tuned"]["per_case"]


def _answer(case: str, variant: str, repeat: int, turn: int, passed: bool, text: str = "text") -> dict[str, Any]:
    return {**_row(case, variant, repeat, passed, turn=turn), "answer": text}


def test_a_conversation_is_one_pair_and_one_stability_unit() -> None:
    """Five turns of one conversation are one case: one win, not five; its repeats' distinct conversations."""
    rows = []
    for repeat in (0, 1, 2):
        for turn in range(1, 6):
            rows.append(_answer("rome", "base", repeat, turn, passed=turn != 3))  # base fails turn 3 every time
            rows.append(_answer("rome", "tuned", repeat, turn, passed=True, text=f"t{turn}" + ("!" if repeat == 2 and turn == 5 else "")))
    rows += [_answer("solo", "base", 0, 1, True), _answer("solo", "tuned", 0, 1, True)]
    paired = stats.paired(rows, "base", "tuned", ["c"])["c"]
    assert (paired["wins"], paired["ties"], paired["losses"]) == (1, 1, 0)
    s = stats.stability(rows, ["base", "tuned"], ["c"], 3)
    assert s["tuned"]["per_case"]["rome"] == {"distinct_answers": 2, "pass_k": {"c": True}}  # repeat 2 differs
    assert s["base"]["per_case"]["rome"] == {"distinct_answers": 1, "pass_k": {"c": False}}
    assert "solo" not in s["tuned"]["per_case"]  # answered on 1 of the 3 repeats
    assert s["tuned"]["cases"] == 1 and s["tuned"]["pass_k"]["c"] == 1.0 and s["base"]["pass_k"]["c"] == 0.0
    # a turn one variant never answered is left out of the case for both
    partial = [r for r in rows if not (r["case_id"] == "rome" and r["variant"] == "tuned" and r["turn"] == 3)]
    assert stats.paired(partial, "base", "tuned", ["c"])["c"]["wins"] == 0


# --------------------------------------------------------------------------- pacing


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_budget_spreads_tokens_over_the_10_second_and_the_minute_windows() -> None:
    clock = Clock()
    budget = Budget("d", tpm=6000, rpm=600, clock=clock, sleep=clock.sleep)
    admitted = []
    for _ in range(12):  # 12 x 300 tokens; at most 1000 per 10 s (a sixth), 6000 per minute
        budget.acquire(300)
        admitted.append(clock.now - 1000.0)
    assert admitted[:3] == [0.0, 0.0, 0.0]
    assert admitted[3] == pytest.approx(BURST_WINDOW)  # the fourth waits for the first to leave the 10 s window
    for i in range(len(admitted)):
        in_burst = [t for t in admitted if admitted[i] - BURST_WINDOW < t <= admitted[i]]
        in_minute = [t for t in admitted if admitted[i] - WINDOW < t <= admitted[i]]
        assert len(in_burst) * 300 <= 1000 and len(in_minute) * 300 <= 6000


def test_settle_replaces_the_estimate_and_learns_the_completion_length() -> None:
    clock = Clock()
    budget = Budget("d", tpm=600, clock=clock, sleep=clock.sleep)
    assert budget.estimate(50) == 350  # no answer yet: 300 for the completion
    ticket = budget.acquire(100)
    budget.settle(ticket, total_tokens=20, completion_tokens=10)
    assert budget.estimate(50) == 60 and budget.estimate(50, max_tokens=400) == 450
    budget.acquire(80)  # 20 + 80 = 100 = a sixth of 600: still now
    assert clock.slept == []


def test_limits_are_learned_from_headers_and_other_users_are_counted() -> None:
    clock = Clock()
    budget = Budget("d", clock=clock, sleep=clock.sleep)
    budget.acquire(10_000)  # nothing known: no pacing
    assert clock.slept == [] and budget.tpm is None
    budget.observe({"x-ratelimit-limit-tokens": "6000", "x-ratelimit-limit-requests": "60",
                    "x-ratelimit-remaining-tokens": "100", "x-ratelimit-remaining-requests": "59"})
    assert (budget.tpm, budget.rpm, budget.source) == (6000, 60, "x-ratelimit-* headers")
    budget.acquire(900)
    assert clock.slept and sum(clock.slept) >= BURST_WINDOW - 1e-9
    only_remaining = Budget("e", clock=clock, sleep=clock.sleep)
    only_remaining.observe({"x-ratelimit-remaining-tokens": "5000"})
    assert only_remaining.tpm == 5000
    configured = Budget("f", tpm=1000, rpm=6, clock=clock, sleep=clock.sleep)
    configured.observe({"x-ratelimit-limit-tokens": "99999"})
    assert configured.tpm == 1000  # --rate-limit wins over headers


def test_a_429_wait_holds_the_whole_deployment() -> None:
    clock = Clock()
    pacer = Pacer([RateLimit("d", 60_000, 360)], clock=clock, sleep=clock.sleep)
    pacer.budget("d").hold(2.5)
    pacer.budget("d").acquire(10)
    assert clock.slept == [pytest.approx(2.5)]
    pacer.budget("other").acquire(10**6)  # another deployment is not held, and has no limits
    assert len(clock.slept) == 1
    assert {b["deployment"] for b in pacer.describe()} == {"d", "other"}


# --------------------------------------------------------------------------- history


def test_history_migrates_in_order_and_refuses_a_newer_schema(tmp_path: Path) -> None:
    assert SCHEMA_VERSION == len(MIGRATIONS) >= 2
    old = History(tmp_path)
    old._db.execute("PRAGMA user_version = 0")
    old._db.execute("DROP INDEX runs_by_start")
    old._db.execute("DROP TABLE rows")
    old._db.execute("DROP TABLE runs")
    old.migrate(upto=1)
    assert old.version == 1
    old.start_run("r1", plan={"p": 1}, meta={"stack": "dev"})
    old.close()
    upgraded = History(tmp_path)  # opening applies migration 2
    assert upgraded.version == SCHEMA_VERSION
    assert upgraded.run("r1")["plan"] == {"p": 1}  # type: ignore[index]
    names = {r[0] for r in upgraded._db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "runs_by_start" in names
    upgraded.close()
    with sqlite3.connect(tmp_path / "history.sqlite3") as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(UsageError, match="newer than this project's"):
        History(tmp_path)


def test_history_rows_and_resumable_runs(tmp_path: Path) -> None:
    h = History(tmp_path)
    h.start_run("a", plan={}, meta={})
    row = {"case_id": "c", "turn": 1, "variant": "base", "repeat": 0, "cache_key": "k"}
    h.record_row("a", {**row, "answer": None}, ok=False)
    h.record_row("a", {**row, "answer": "x"}, ok=True)  # the same row again replaces it
    assert h.rows("a") == [{**row, "answer": "x"}]
    assert h.resumable_run()["run_id"] == "a"  # type: ignore[index]
    h.finish_run("a", summary={"s": 1}, report_dir="d", stand_in=True)
    assert h.resumable_run() is None
    assert [(r["run_id"], r["rows"], r["ok_rows"], r["stand_in"]) for r in h.runs()] == [("a", 1, 1, True)]


# --------------------------------------------------------------------------- suites


def test_the_default_suite() -> None:
    suite = load_suite(REPO / "data" / "compare-suite.yaml")
    ids = [c.id for c in suite.cases]
    assert ids[:2] == ["lab-what-can-you-do", "lab-rome"] and len(ids) - 2 >= 30
    rome = suite.cases[1]
    from jobs import lab

    assert rome.turns == lab.QUESTIONS and suite.cases[0].turns == (lab.FIRST_QUESTION,)
    tags = {t for c in suite.cases for t in c.tags}
    assert {"hotel", "flight", "car", "restaurant", "off-topic", "decline"} <= tags
    assert suite.version == "1" and suite.system_replaced == ()


def test_chat_jsonl_keeps_history_and_the_reference(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    lines = [
        {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "q1"},
                      {"role": "assistant", "content": "a1"}, {"role": "user", "content": "q2"}]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "parts"}]},
                      {"role": "assistant", "content": "ref"}]},
    ]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines) + "\n")
    suite = load_suite(path)
    first, second = suite.cases
    assert first.turns == ("q2",) and first.history == ({"role": "user", "content": "q1"},
                                                       {"role": "assistant", "content": "a1"})
    assert first.system == "S" and suite.system_replaced == ("chat:1",)
    assert second.turns == ("parts",) and second.reference == "ref" and second.system is None
    assert load_suite(MSLEARN / "travel-finetune-validation.jsonl").format == "chat-jsonl"


@pytest.mark.parametrize("name, text, words", [
    ("bad.jsonl", '{"messages": [{"role": "user", "content": "q"}]}\nnot json\n', "bad.jsonl:2: not valid JSON"),
    ("mixed.jsonl", '{"messages": [{"role": "user", "content": "q"}]}\n{"query": "x"}\n', "mixes chat lines"),
    ("noanswer.jsonl", '{"messages": [{"role": "assistant", "content": "a"}]}\n', "noanswer.jsonl:1: no user turn"),
    ("other.jsonl", '{"prompt": "x"}\n', "other.jsonl:1: neither"),
    ("empty.jsonl", "\n", "no conversations"),
    ("s.yaml", "cases: [{id: a, turns: [x]}, {id: a, turns: [y]}]\n", "used twice"),
    ("s.yaml", "cases: [{id: a, turns: [x], checks: [nope]}]\n", "unknown check 'nope'"),
    ("s.yaml", "cases: [{id: a}]\n", '"turns" must be a non-empty list'),
    ("s.yaml", "cases: [\n", "not valid YAML"),
    ("s.json", '{"cases": []}', 'no "cases" list'),
])
def test_suite_errors_name_the_file_and_line(tmp_path: Path, name: str, text: str, words: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(UsageError) as info:
        load_suite(path)
    assert words in info.value.message and info.value.hint


def test_several_suites_get_prefixed_ids() -> None:
    a = Suite(name="a", path="a", sha256="0" * 64, format="suite", cases=(Case(id="x", turns=("q",)),))
    b = Suite(name="b", path="b", sha256="1" * 64, format="suite", cases=(Case(id="x", turns=("q",)),))
    plan = Plan(suites=(a, b), variants=(Variant("base", "d", None, "none"),)).checked()
    assert [c.id for _, c in plan.cases()] == ["a/x", "b/x"]
    assert plan.baseline == plan.candidate == "base"
    assert Plan.from_json(json.loads(json.dumps(plan.to_json()))) == plan


# --------------------------------------------------------------------------- options


def test_variant_specs(tmp_path: Path) -> None:
    from jobs import lab

    assert parse_variant("base", base="b", tuned="t") == Variant("base", "b", lab.SYSTEM_PROMPT,
                                                                "the lab's system message")
    assert parse_variant("base-no-system", base="b", tuned="t").system is None
    assert parse_variant("base-short", base="b", tuned="t").system == lab.SHORT_PROMPT
    assert parse_variant("x=dep:none", base=None, tuned=None) == Variant("x", "dep", None, "none")
    prompt = tmp_path / "p.txt"
    prompt.write_text("  Be brief.\n")
    assert parse_variant(f"y=dep:{prompt}", base=None, tuned=None).system == "Be brief."
    for bad in ("=dep", "x=", "unknown"):
        with pytest.raises(UsageError):
            parse_variant(bad, base="b", tuned="t")


def test_gates_rates_and_prices_parse() -> None:
    assert Gate.parse("no_recommendations=0.9") == Gate("no_recommendations", 0.9)
    assert Gate.parse("style=85%") == Gate("style", 0.85)
    assert RateLimit.parse("gpt-4.1=50000") == RateLimit("gpt-4.1", 50_000, 300)
    assert RateLimit.parse("d=1000/9") == RateLimit("d", 1000, 9)
    assert Price.parse("gpt-4.1=2/8") == Price("gpt-4.1", 2.0, 8.0)
    for parse, bad in ((Gate.parse, "x=2"), (Gate.parse, "x=nan"), (RateLimit.parse, "d=0"), (RateLimit.parse, "d"),
                       (Price.parse, "d=2"), (Price.parse, "d=-1/2")):
        with pytest.raises(UsageError):
            parse(bad)


def test_the_cache_key_holds_the_repeat_and_what_was_sent() -> None:
    messages = [{"role": "user", "content": "q"}]
    keys = {cache_key("d", messages, {}, 0), cache_key("d", messages, {}, 1), cache_key("e", messages, {}, 0),
            cache_key("d", messages, {"seed": 1}, 0), cache_key("d", [{"role": "user", "content": "Q"}], {}, 0)}
    assert len(keys) == 5
    assert ChatParams(seed=10).for_repeat(2) == {"seed": 12}


def test_exit_code_4_is_documented() -> None:
    from jobs.errors import ExitCode

    assert ExitCode.GATE == 4
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "| 4 | a `compare --fail-under CHECK=RATE` gate failed" in readme
    assert "4 a compare gate failed" in (REPO / "docs" / "compare.md").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- report.html's marks


def test_a_mark_names_its_check_in_words_and_everything_is_escaped() -> None:
    from jobs.compare.html import highlight

    text = "Stay at <Harborview> & book it. Or Hotel Roma."
    out = highlight(text, [("no_recommendations", "<Harborview>"), ("judge_no_recommendations", "<Harborview>"),
                           ("style", "Harborview"), ("asks_question", "not in the text"), ("tone", "Hotel Roma")])
    assert out == ('Stay at <mark data-check="no_recommendations, judge_no_recommendations">&lt;Harborview&gt;</mark>'
                   '<span class="violation">&#9888; no_recommendations, judge_no_recommendations</span> &amp; book it. '
                   'Or <mark data-check="tone">Hotel Roma</mark><span class="violation">&#9888; tone</span>.')
    assert highlight("a <b>", []) == "a &lt;b&gt;"
