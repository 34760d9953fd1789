"""``python -m jobs validate PATH``: check a chat JSONL and estimate its training cost."""

from __future__ import annotations

from jobs.dataset import Report, validate_file


def validate(path: str, model: str | None = None, price_per_1m: float | None = None,
             json_mode: bool = False) -> Report:
    """Core of ``validate``: the report carries ``exit_code`` (0 valid, 1 invalid).

    Raises :class:`jobs.errors.UsageError` (exit 2) for a missing file or an unknown model.
    """
    return validate_file(path, model=model, price_per_1m=price_per_1m)
