"""The money guards: estimate text, --max-cost, confirmation, price sources."""

from __future__ import annotations

import pytest

from jobs import lifecycle as lc
from jobs.errors import RefusedError, UsageError


def est(tokens: int | None = 1000, epochs: int | None = 3, price: float | None = 10.0) -> lc.CostEstimate:
    return lc.CostEstimate(billed_tokens_per_epoch=tokens, epochs=epochs, price_per_1m=price)


def test_estimate_is_tokens_times_epochs_times_price() -> None:
    e = est(1_000_000, 3, 25.0)
    assert e.billed_tokens == 3_000_000 and e.cost == 75.0
    assert e.text() == "cost estimate: 1,000,000 billed tokens per epoch x 3 epochs x $25 per 1M tokens = $75.00"


def test_unknown_parts_are_named() -> None:
    assert "unknown price (pass --price-per-1m or set FTJOBS_PRICE_PER_1M)" in est(price=None).text()
    assert "unknown tokens" in est(tokens=None).text() and est(tokens=None).cost is None


def test_confirmation_yes_and_no() -> None:
    said: list[str] = []
    lc.guard_cost(est(), max_cost=None, yes=False, say=said.append, confirm=lambda prompt: True)
    assert said and said[0].startswith("cost estimate:")
    with pytest.raises(RefusedError) as info:
        lc.guard_cost(est(), max_cost=None, yes=False, say=said.append, confirm=lambda prompt: False)
    assert info.value.exit_code == 3 and "--yes" in (info.value.hint or "")


def test_yes_skips_the_question_but_not_the_limit() -> None:
    def never(prompt: str) -> bool:
        raise AssertionError("asked despite --yes")

    lc.guard_cost(est(), max_cost=1.0, yes=True, say=lambda m: None, confirm=never)  # $0.03 <= $1
    with pytest.raises(RefusedError) as info:
        lc.guard_cost(est(1_000_000, 3, 25.0), max_cost=50.0, yes=True, say=lambda m: None, confirm=never)
    assert "$75.00" in info.value.message and "$50.00" in info.value.message


def test_price_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTJOBS_PRICE_PER_1M", "12.5")
    assert lc.resolve_price(None) == 12.5
    assert lc.resolve_price(3.0) == 3.0  # the option wins
    monkeypatch.setenv("FTJOBS_PRICE_PER_1M", "cheap")
    with pytest.raises(UsageError) as info:
        lc.resolve_price(None)
    assert "FTJOBS_PRICE_PER_1M" in info.value.message
    with pytest.raises(UsageError):
        lc.resolve_price(-1.0)
