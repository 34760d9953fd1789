"""Step 1, validate: the project's validator on a data file, before anything is uploaded or spent.

An invalid file stops the flow (exit 1) with its ``PATH:LINE: RULE: message``
lines; a valid one gives a :class:`DataCheck` (content hash, example count, the
billed tokens per epoch and the service's default epochs, for the cost guard).
Warnings (duplicates, a ``.txt`` name, mixed system messages) are shown, the
same as ``python -m jobs validate`` shows them, and the flow goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from jobs.dataset import validate_file
from jobs.errors import JobFailedError

SHOWN = 20  # problem lines shown before "... and N more"
VALIDATION = "validation file"


@dataclass(frozen=True)
class DataCheck:
    path: Path
    sha256: str
    examples: int
    size: int
    billed_tokens_per_epoch: int | None
    epochs: int | None  # the service's automatic n_epochs for this many examples
    warnings: tuple[str, ...] = field(default=())


def _shown(lines: list[str], total: int) -> list[str]:
    more = total - min(len(lines), SHOWN)
    return lines[:SHOWN] + ([f"... and {more} more"] if more > 0 else [])


def check_data(path: str | Path, *, model: str | None, say: Callable[[str], None], what: str = "training file",
               method: str = "supervised") -> DataCheck:
    """Validate ``path`` for ``model`` and the training ``method``; refuse an invalid file, show the warnings of
    a valid one. A validation file needs one example, not Azure's 10 for training files."""
    p = Path(path)
    # a missing, unreadable or non-regular file is a UsageError
    report = validate_file(p, model=model, method=method, validation=what == VALIDATION)
    if not report.valid:
        lines = [e.format(str(p)) for e in report.errors]
        raise JobFailedError(
            f"{what} {p} is not valid training data; nothing was uploaded:\n"
            + "\n".join(_shown(lines, report.errors_total)),
            hint=f"fix the lines above (`python -m jobs validate {p}"
            + (f" --method {method}" if method != "supervised" else "") + "` shows the full report), then run again",
        )
    warnings = [w.format(str(p)) for w in report.warnings]
    shown = _shown(warnings, report.warnings_total)
    for line in shown:
        say(f"validate: warning: {line}")
    est = report.estimate
    return DataCheck(path=p, sha256=report.sha256, examples=report.examples, size=report.size_bytes,
                     billed_tokens_per_epoch=est.billed_tokens_per_epoch, epochs=est.epochs,
                     warnings=tuple(shown))
