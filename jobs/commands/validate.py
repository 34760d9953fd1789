"""``python -m jobs validate PATH``: check a training file (chat or DPO) and estimate its training cost.

A valid chat file's answers are also graded against the rules of their system message (the checks of
``python -m jobs grade``, ``jobs/compare/grade.py``): whether the training answers themselves obey what the
model is to learn. The grading never changes the verdict or the exit code; ``style`` is left out (a file's
answers are always within their own range). Only the first :data:`GRADE_LIMIT` answers are graded here, so
``validate`` stays fast on big files (the checks cost about 0.5 ms an answer, the validation itself a tenth of
that; docs/benchmarks.md); the summary says so, and ``python -m jobs grade FILE`` grades every answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobs.dataset import Report, validate_file
from jobs.flow.limits import job_size_problem


GRADE_LIMIT = 100  # answers graded by validate (the lab's and the project's files: all of them)


@dataclass
class ValidateResult:
    report: Report
    answers: Any = None  # jobs.compare.grade.Tally, for a valid chat file
    cut: bool = False  # the file has more answers than GRADE_LIMIT: only the first were graded
    limit: str | None = None  # over one of Azure's job limits (jobs/flow/limits.py): invalid as a job

    @property
    def exit_code(self) -> int:
        return 1 if self.limit else self.report.exit_code

    def to_json(self) -> dict[str, Any]:
        out = self.report.to_json()
        out["limit"] = self.limit
        if self.answers is not None:
            out["answers"] = {"graded": self.answers.graded, "all": not self.cut,
                              "checks": self.answers.summary(), "failing_lines": self.answers.failing}
        return out

    def to_text(self) -> str:
        text = self.report.to_text() + (f"\n  error: {self.limit}" if self.limit else "")
        if self.answers is None or not self.answers.graded:
            return text
        counts = ", ".join(f"{n} {c['passed']}/{c['total']}" for n, c in self.answers.summary().items())
        lines = [text, f"  answers vs their system message's rules (python -m jobs grade): {counts}"]
        if self.cut:
            lines.append(f"    (the first {GRADE_LIMIT} answers only; `python -m jobs grade {self.report.path}` "
                         "grades them all)")
        for name, numbers in self.answers.failing.items():
            lines.append(f"    {name} fails on line{'s' if len(numbers) > 1 else ''} "
                         f"{', '.join(map(str, numbers))}{' (first 5)' if len(numbers) >= 5 else ''}")
        return "\n".join(lines)


def validate(path: str, model: str | None = None, price_per_1m: float | None = None, method: str = "supervised",
             validation_file: bool = False, json_mode: bool = False) -> ValidateResult:
    """Core of ``validate``: the result carries ``exit_code`` (0 valid, 1 invalid).

    ``method`` is ``supervised`` or ``dpo``; ``validation_file`` checks a validation file: no training minimum of
    10 examples (one at least) and no training estimate.
    Raises :class:`jobs.errors.UsageError` (exit 2) for a missing file or an unknown model.
    """
    report = validate_file(path, model=model, price_per_1m=price_per_1m, method=method, validation=validation_file)
    est = report.estimate
    limit = job_size_problem(est.billed_tokens_per_epoch, est.epochs) if report.valid and not validation_file else None
    if limit or not report.valid or method != "supervised":
        return ValidateResult(report, limit=limit)
    from jobs.compare.grade import Tally, graded_lines

    tally = Tally()
    for n, (_, row) in enumerate(graded_lines(path)):
        if n == GRADE_LIMIT:
            return ValidateResult(report, tally, cut=True)
        tally.add(row)
    return ValidateResult(report, tally)
