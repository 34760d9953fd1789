"""The checkpoint selection rule (jobs/compare/select.py): Holm's correction by hand, and the tie-breaks."""

from __future__ import annotations

from typing import Any

import pytest

from jobs.compare.select import Candidate, holm, select
from jobs.errors import UsageError

PRIMARY = "no_recommendations"


def _rows(variant: str, passes: list[bool], *, check: str = PRIMARY) -> list[dict[str, Any]]:
    return [{"variant": variant, "case_id": f"c{i}", "turn": 0, "repeat": 0, "answer": "a", "error": None,
             "checks": {check: {"passed": p}}} for i, p in enumerate(passes)]


FINAL = Candidate("final", 30, "ftchkpt-3", "m", final=True)


def test_holm_by_hand() -> None:
    # sorted: 0.005*4 = 0.02; 0.01*3 = 0.03; 0.03*2 = 0.06; 0.04*1 = 0.04 -> max so far 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # 0.04 alone would pass at 0.05; after the step-down stops at 0.06 it does not
    assert holm([0.5]) == [0.5] and holm([]) == [] and holm([0.6, 0.6]) == [1.0, 1.0]


def test_holm_keeps_the_final_model_where_an_uncorrected_test_would_not() -> None:
    # each checkpoint wins 6 cases and loses none: McNemar p = 2 / 2**6 = 0.03125 < 0.05 on its own
    final = _rows("final", [False] * 10)
    a = _rows("a", [True] * 6 + [False] * 4)
    b = _rows("b", [True] * 6 + [False] * 4)
    alone = select(final + a, [FINAL, Candidate("a", 10, "ftchkpt-1", "m:ckpt-step-10")])
    assert alone.chosen.candidate.variant == "a"
    assert alone.scored[0].p_value == pytest.approx(0.03125)
    # two of them: Holm multiplies the smaller by 2 -> 0.0625 for both, so neither is better
    both = select(final + a + b, [FINAL, Candidate("a", 10, "ftchkpt-1", "m:ckpt-step-10"),
                                  Candidate("b", 20, "ftchkpt-2", "m:ckpt-step-20")])
    assert both.chosen.candidate.final
    assert [s.p_holm for s in both.scored[:2]] == pytest.approx([0.0625, 0.0625])
    assert "final model stays" in both.reason and "Holm" in both.reason


def test_highest_rate_wins_then_earliest_step() -> None:
    final = _rows("final", [False] * 20)
    rows = final + _rows("a", [True] * 12 + [False] * 8) + _rows("b", [True] * 16 + [False] * 4) \
        + _rows("c", [True] * 16 + [False] * 4) + _rows("d", [True] * 3 + [False] * 17)
    cands = [FINAL, Candidate("a", 5, None, "m:ckpt-step-5"), Candidate("b", 20, None, "m:ckpt-step-20"),
             Candidate("c", 10, None, "m:ckpt-step-10"), Candidate("d", 1, None, "m:ckpt-step-1")]
    got = select(rows, cands)
    assert got.chosen.candidate.variant == "c"  # b and c tie at 80%; c is the earlier step
    assert [s.candidate.step for s in got.scored] == [1, 5, 10, 20, 30]
    by = {s.candidate.variant: s for s in got.scored}
    assert by["d"].better is False and by["a"].better and by["b"].better
    assert got.to_json()["step"] == 10 and "highest rate" in got.reason


def test_a_checkpoint_that_loses_is_never_chosen() -> None:
    rows = _rows("final", [True] * 10) + _rows("a", [False] * 10)
    got = select(rows, [FINAL, Candidate("a", 10, None, "m:ckpt-step-10")])
    assert got.chosen is got.final and got.scored[0].losses == 10


def test_unknown_primary_check_names_the_option_and_the_checks() -> None:
    rows = _rows("final", [True]) + _rows("a", [False])
    with pytest.raises(UsageError) as err:
        select(rows, [FINAL, Candidate("a", 10, None, "x")], primary="nope")
    assert "--primary nope" in err.value.message and PRIMARY in (err.value.hint or "")
