"""The statistics of a comparison (docs/compare.md, "Statistics"). Standard library only.

- :func:`wilson`: a pass rate's 95% Wilson score interval (Wilson 1927; better than the normal approximation
  for small samples and rates near 0 or 1, and never outside [0, 1]).
- :func:`mcnemar_exact`: McNemar's exact test on paired results: under "no difference" the discordant pairs
  split 50/50, so the two-sided p-value is the binomial tail ``2 * P(X <= min(b, c))``, X ~ Bin(b + c, 1/2)
  (capped at 1).
- :func:`summary`, :func:`paired`, :func:`stability`: the report's per-check tables, from rows.

The unit of pairing is a *case* (one conversation of the suite), never a single repeat or turn: repeats of
one prompt are not independent, nor are the turns of one conversation (each answer is the next turn's
history). A case's result for a variant: each of its turns (those both variants answered) passes on a
majority of the repeats (more than half); a win is a case the candidate passes and the baseline fails, a loss
the reverse, a tie the rest. Repeat stability is per case too: ``pass^k`` (the case passed on every one of
the k repeats, every turn) and the number of distinct answers (distinct conversations) over the k repeats.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Iterable, Mapping, Sequence

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile


def wilson(passed: int, total: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of ``passed / total``; (0, 1) for no data."""
    if total <= 0:
        return (0.0, 1.0)
    p = passed / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    low = 0.0 if passed == 0 else max(0.0, centre - half)  # exactly 0 and 1 at the ends, not 1e-16 away
    high = 1.0 if passed == total else min(1.0, centre + half)
    return (low, high)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for ``b`` and ``c`` discordant pairs (1.0 when there are none)."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return float(min(1.0, 2 * tail))


Row = Mapping[str, Any]


def rate_cell(passed: int, total: int) -> dict[str, Any]:
    """{passed, total, rate, ci95}: a pass rate as the report and ``grade`` show it (rate None for no data)."""
    low, high = wilson(passed, total)
    return {"passed": passed, "total": total, "rate": (passed / total) if total else None,
            "ci95": [round(low, 4), round(high, 4)]}


def pct(rate: float | None) -> str:
    """A rate as a whole percentage ("n/a" for no data)."""
    return "n/a" if rate is None else f"{rate * 100:.0f}%"


def _answered(rows: Iterable[Row]) -> Iterable[Row]:
    return (r for r in rows if r.get("error") is None and r.get("answer") is not None)


def summary(rows: Iterable[Row], variants: Iterable[str], checks: Iterable[str]) -> dict[str, dict[str, Any]]:
    """variant -> check -> {passed, total, rate, ci95}: over the answered rows the check applies to."""
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for r in _answered(rows):
        for name, result in (r.get("checks") or {}).items():
            cell = counts[(r["variant"], name)]
            cell[1] += 1
            cell[0] += bool(result.get("passed"))
    out: dict[str, dict[str, Any]] = {}
    for v in variants:
        out[v] = {}
        for name in checks:
            out[v][name] = rate_cell(*counts.get((v, name), [0, 0]))
    return out


def _item_results(rows: Iterable[Row], variant: str, check: str) -> dict[tuple[str, int], list[bool]]:
    """(case_id, turn) -> the check's result on each answered repeat of ``variant``."""
    items: dict[tuple[str, int], list[bool]] = defaultdict(list)
    for r in _answered(rows):
        result = (r.get("checks") or {}).get(check)
        if r["variant"] == variant and result is not None:
            items[(r["case_id"], int(r["turn"]))].append(bool(result.get("passed")))
    return items


def _majority(results: list[bool]) -> bool:
    return sum(results) * 2 > len(results)


def _case_results(base: dict[tuple[str, int], list[bool]],
                  cand: dict[tuple[str, int], list[bool]]) -> dict[str, tuple[bool, bool]]:
    """case_id -> (baseline passes, candidate passes), over the turns both answered (see the module docstring)."""
    turns: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for item in sorted(set(base) & set(cand)):
        turns[item[0]].append(item)
    return {case: (all(_majority(base[i]) for i in items), all(_majority(cand[i]) for i in items))
            for case, items in turns.items()}


def paired(rows: Sequence[Row], baseline: str, candidate: str, checks: Iterable[str]) -> dict[str, dict[str, Any]]:
    """check -> {wins, ties, losses, p_value}: the candidate against the baseline, case by case (cases both
    answered); p_value is McNemar's exact test on the wins and losses."""
    out: dict[str, dict[str, Any]] = {}
    for name in checks:
        cases = _case_results(_item_results(rows, baseline, name), _item_results(rows, candidate, name))
        wins = sum(1 for b, c in cases.values() if c and not b)
        losses = sum(1 for b, c in cases.values() if b and not c)
        out[name] = {"wins": wins, "ties": len(cases) - wins - losses, "losses": losses,
                     "p_value": round(mcnemar_exact(wins, losses), 6)}
    return out


def stability(rows: Sequence[Row], variants: Iterable[str], checks: Iterable[str], repeat: int) -> dict[str, Any]:
    """variant -> {"k": repeat, "cases": n, "pass_k": {check: share of cases passed on every repeat},
    "distinct_answers": mean distinct conversations per case, "per_case": {case_id: {"distinct_answers": n,
    "pass_k": {check: bool}}}}. Only cases whose every turn was answered on all k repeats count."""
    checks = list(checks)
    answered = list(_answered(rows))
    all_turns: dict[str, set[int]] = defaultdict(set)
    for r in rows:
        all_turns[r["case_id"]].add(int(r["turn"]))
    out: dict[str, Any] = {}
    for v in variants:
        runs: dict[tuple[str, int], dict[int, Row]] = defaultdict(dict)  # (case, repeat) -> turn -> row
        for r in answered:
            if r["variant"] == v:
                runs[(r["case_id"], int(r["repeat"]))][int(r["turn"])] = r
        per_case: dict[str, Any] = {}
        for case in sorted({c for c, _ in runs}):
            full = [runs[(case, k)] for k in range(repeat)
                    if set(runs.get((case, k), {})) >= all_turns[case]]
            if len(full) < repeat:
                continue
            transcripts = {tuple(" ".join(str(t[n]["answer"]).split()) for n in sorted(t)) for t in full}
            passes: dict[str, bool] = {}
            for name in checks:
                results = [[(t[n].get("checks") or {}).get(name) for n in sorted(t)] for t in full]
                if any(res is not None for run in results for res in run):
                    passes[name] = all(bool(res.get("passed")) for run in results for res in run if res is not None)
            per_case[case] = {"distinct_answers": len(transcripts), "pass_k": passes}
        pass_k: dict[str, float | None] = {}
        for name in checks:
            scored = [c["pass_k"][name] for c in per_case.values() if name in c["pass_k"]]
            pass_k[name] = (sum(scored) / len(scored)) if scored else None
        distinct = (sum(c["distinct_answers"] for c in per_case.values()) / len(per_case)) if per_case else None
        out[v] = {"k": repeat, "cases": len(per_case), "pass_k": pass_k, "distinct_answers": distinct,
                  "per_case": per_case}
    return out


def p_text(p: float) -> str:
    """A p-value as the reports show it."""
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"
