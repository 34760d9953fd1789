"""``python -m jobs validate PATH``: check a training file (chat or DPO) and estimate its training cost."""

from __future__ import annotations

from jobs.dataset import MIN_EXAMPLES, Report, validate_file


def validate(path: str, model: str | None = None, price_per_1m: float | None = None, method: str = "supervised",
             validation_file: bool = False, json_mode: bool = False) -> Report:
    """Core of ``validate``: the report carries ``exit_code`` (0 valid, 1 invalid).

    ``method`` is ``supervised`` or ``dpo``; ``validation_file`` drops the training minimum of 10 examples.
    Raises :class:`jobs.errors.UsageError` (exit 2) for a missing file or an unknown model.
    """
    return validate_file(path, model=model, price_per_1m=price_per_1m, method=method,
                         min_examples=0 if validation_file else MIN_EXAMPLES)
