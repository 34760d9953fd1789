"""Which checkpoint to deploy: the selection rule of ``compare --checkpoints`` (pure; no network, no files).

The rule (docs/compare.md, "Choosing a checkpoint"):

1. One check decides, the *primary* one (``--primary CHECK``; default ``no_recommendations``, the lab's point).
2. The final model is the default. An earlier checkpoint replaces it only if it is *better* on the primary check:
   more cases won than lost against the final model, case by case (McNemar's exact test on the paired per-case
   results, :func:`jobs.compare.stats.paired`), with the p-value still below ``alpha`` (0.05) after Holm's
   correction across all the checkpoints tested (each checkpoint is one more chance of a false "better").
3. Among several better checkpoints the highest pass rate on the primary check wins, then the earliest step.
4. Otherwise the final model stays.

Holm's step-down correction (Holm 1979): sort the m p-values ascending, p(1) <= ... <= p(m); the adjusted
p(i) is max over j <= i of min(1, (m - j + 1) * p(j)). It controls the family-wise error rate like Bonferroni
but rejects more.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from jobs.compare import stats
from jobs.errors import UsageError

DEFAULT_PRIMARY = "no_recommendations"
ALPHA = 0.05
RULE = ("the primary check decides; a checkpoint replaces the final model only if McNemar's exact test against "
        "the final model, Holm-corrected across the checkpoints, says it is better (p < {alpha}); among several, "
        "the highest pass rate wins, then the earliest step; otherwise the final model stays")


@dataclass(frozen=True)
class Candidate:
    """One deployed checkpoint, as a variant of the comparison."""

    variant: str
    step: int | None
    checkpoint_id: str | None
    model: str
    final: bool = False


@dataclass
class Scored:
    candidate: Candidate
    passed: int
    total: int
    rate: float | None
    ci95: list[float]
    wins: int = 0
    losses: int = 0
    ties: int = 0
    p_value: float | None = None  # McNemar against the final model (None for the final model itself)
    p_holm: float | None = None
    better: bool = False

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self.candidate), **{k: v for k, v in asdict(self).items() if k != "candidate"}}


@dataclass
class Selection:
    primary: str
    alpha: float
    chosen: Scored
    final: Scored
    reason: str
    scored: list[Scored] = field(default_factory=list)  # by step

    def to_json(self) -> dict[str, Any]:
        c = self.chosen.candidate
        return {"variant": c.variant, "step": c.step, "checkpoint_id": c.checkpoint_id, "model": c.model,
                "final": c.final, "primary": self.primary, "alpha": self.alpha,
                "rule": RULE.format(alpha=self.alpha), "reason": self.reason,
                "candidates": [s.to_json() for s in self.scored]}


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the order given (see the module docstring)."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def _score(rows: Sequence[Mapping[str, Any]], candidates: Sequence[Candidate], primary: str) -> list[Scored]:
    table = stats.summary(rows, [c.variant for c in candidates], [primary])
    out = []
    for c in candidates:
        cell = table[c.variant][primary]
        out.append(Scored(candidate=c, passed=cell["passed"], total=cell["total"], rate=cell["rate"],
                          ci95=list(cell["ci95"])))
    return out


def select(rows: Sequence[Mapping[str, Any]], candidates: Iterable[Candidate], *, primary: str = DEFAULT_PRIMARY,
           alpha: float = ALPHA) -> Selection:
    """Apply the rule to a comparison's rows, whose ``variant`` names the candidates' variants."""
    cands = sorted(candidates, key=lambda c: (c.final, c.step if c.step is not None else -1))
    finals = [c for c in cands if c.final]
    if len(finals) != 1:
        raise ValueError("exactly one candidate must be the final model")
    scored = _score(rows, cands, primary)
    if not any(s.total for s in scored):
        known = sorted({str(n) for r in rows for n in (r.get("checks") or {})})
        raise UsageError(f"--primary {primary}: no answer was judged by that check",
                         hint=f"choose one of the suite's checks: {', '.join(known) or '(none ran)'}")
    final = next(s for s in scored if s.candidate.final)
    others = [s for s in scored if not s.candidate.final]
    for s in others:
        got = stats.paired(rows, final.candidate.variant, s.candidate.variant, [primary])[primary]
        s.wins, s.losses, s.ties, s.p_value = got["wins"], got["losses"], got["ties"], float(got["p_value"])
    for s, adjusted in zip(others, holm([s.p_value or 1.0 for s in others])):
        s.p_holm = round(adjusted, 6)
        s.better = s.wins > s.losses and adjusted < alpha
    better = [s for s in others if s.better]
    by_step = sorted(scored, key=lambda s: s.candidate.step if s.candidate.step is not None else -1)
    if not better:
        return Selection(primary, alpha, final, final, _kept_reason(others, primary, alpha), by_step)
    best = min(better, key=lambda s: (-(s.rate or 0.0), s.candidate.step if s.candidate.step is not None else 0))
    reason = (f"step {best.candidate.step} beat the final model on {primary}: {best.wins} cases won, {best.losses} "
              f"lost, McNemar p={best.p_value:.4g}, Holm-adjusted {best.p_holm:.4g} < {alpha} "
              f"(pass rate {stats.pct(best.rate)} against {stats.pct(final.rate)})")
    if len(better) > 1:
        reason += f"; {len(better)} checkpoints were better, this one has the highest rate (then the earliest step)"
    return Selection(primary, alpha, best, final, reason, by_step)


def _kept_reason(others: list[Scored], primary: str, alpha: float) -> str:
    if not others:
        return "the final model stays: there was no earlier checkpoint to compare"
    best = min(others, key=lambda s: s.p_holm if s.p_holm is not None else 1.0)
    return (f"the final model stays: no checkpoint was better on {primary} after Holm's correction "
            f"(closest: step {best.candidate.step}, {best.wins} won, {best.losses} lost, Holm-adjusted "
            f"p={best.p_holm:.4g}, needs < {alpha} and more wins than losses)")
