"""``python -m jobs grade FILE``: the checks on recorded answers, no model called (``jobs/compare/grade.py``).

``--json`` prints ``{"rows": [{"line", "checks": {...}}], "summary": {...}}``, rows in file order with
1-based line numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobs.compare.grade import Grading


@dataclass
class GradeResult:
    grading: Grading

    def to_json(self) -> dict[str, Any]:
        g = self.grading
        out: dict[str, Any] = {"path": g.path, "shape": g.shape, "checks": g.checks, "system": g.system_source,
                               "rows": g.rows, "summary": g.summary()}
        if g.by_variant() is not None:
            out["by_variant"] = g.by_variant()
        return out

    def to_text(self) -> str:
        g = self.grading
        graded = sum(1 for r in g.rows if not r.get("error"))
        skipped = len(g.rows) - graded
        lines = [f"{g.path}: {graded} answer{'' if graded == 1 else 's'} graded"
                 + (f", {skipped} not graded" if skipped else "") + f" ({g.shape}); rules from {g.system_source}"]
        from jobs.compare.stats import pct

        for name, cell in g.summary().items():
            low, high = cell["ci95"]
            rate = pct(cell["rate"])
            lines.append(f"  {name:<20} {cell['passed']}/{cell['total']} pass ({rate}, 95% {low * 100:.0f}-"
                         f"{high * 100:.0f}%)")
        for r in g.rows:
            failed = [f"{n} ({c['evidence']})" if c.get("evidence") else n
                      for n, c in (r.get("checks") or {}).items() if not c["passed"]]
            if r.get("error"):
                lines.append(f"{g.path}:{r['line']}: not graded: {r['error']}")
            elif failed:
                lines.append(f"{g.path}:{r['line']}: fails " + "; ".join(failed))
        return "\n".join(lines)


def grade(path: str, *, system_prompt: str | None = None, style_from: str | None = None) -> GradeResult:
    from jobs.checks import StyleProfile
    from jobs.compare.grade import GradeOptions, grade_file
    from jobs.compare.plan import read_system_file
    from jobs.compare.suite import default_style_path

    system = read_system_file(system_prompt) if system_prompt else None
    options = GradeOptions(system=system, system_source=f"file {system_prompt}" if system_prompt else
                           "each line's own system message, else the lab's",
                           style=StyleProfile.from_file(style_from or default_style_path()))
    return GradeResult(grade_file(path, options))
