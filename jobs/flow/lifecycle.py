"""The model lifecycle gate of every step that starts money moving: training (``run``, ``pipeline``, ``train``)
and ``promote``.

The facts and the dates live in ``jobs/models.py`` (one table; "today" from :func:`jobs.models.today`, which
``FTJOBS_TODAY`` overrides for tests and rehearsals). Here they become the runner's behaviour:

- a retired model is refused (exit 2), naming the replacement; nothing is created;
- a model whose training or fine-tuned deployment retires within ``models.WARN_DAYS`` days is shown as a
  warning, then the runner asks (``--yes`` answers; without a terminal and without ``--yes`` it refuses,
  exit 3, as the cost guard does).
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from jobs import models
from jobs.errors import RefusedError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from jobs.session import Session


def today() -> datetime.date:
    """:func:`jobs.models.today`, a bad ``FTJOBS_TODAY`` as a usage error naming the variable."""
    try:
        return models.today()
    except ValueError as exc:
        raise UsageError(str(exc), hint=f"unset {models.TODAY_ENV}, or set it to a date such as 2027-01-20") from None


def _resolved(model: str) -> models.FineTunableModel | None:
    try:
        return models.resolve(model)
    except LookupError:  # unknown or retired: the model check says so, with its own message
        return None


def training_verdicts(model: str, now: datetime.date | None = None) -> models.LifecycleCheck:
    """Training ``model`` and later deploying what it produces: one refusal or one warning (both joined)."""
    m = _resolved(model)
    if m is None:
        return models.LifecycleCheck()
    now = now or today()
    checks = [models.check_lifecycle(m, purpose, now) for purpose in (models.TRAINING, models.DEPLOYMENT)]
    refusals = [c.refusal for c in checks if c.refusal]
    if refusals:
        return models.LifecycleCheck(refusal=refusals[0])
    warnings = [c.warning for c in checks if c.warning]
    return models.LifecycleCheck(warning="; ".join(warnings) if warnings else None)


def gate(session: "Session", verdict: models.LifecycleCheck, *, yes: bool, what: str, option: str = "--model") -> None:
    """Refuse a retired model; show a near-retirement warning and ask (``yes`` answers it)."""
    if verdict.refusal:
        current = models.current_models(today())
        raise UsageError(f"{option}: {verdict.refusal}; {what}",
                         hint=f"pick a current model: {', '.join(current) or 'none in the table today'}")
    if not verdict.warning:
        return
    session.say(f"warning: {verdict.warning}")
    if yes:
        return
    answer = session.ui.ask("continue with a model that retires soon? [y/N] ")
    if answer is None:
        raise RefusedError(f"the model retires soon and there is no terminal to confirm on; {what}",
                           hint="pass --yes to go ahead anyway, or pick a current model")
    if not answer:
        raise RefusedError(f"not confirmed; {what}")


def check_training(session: "Session", model: str, *, yes: bool, what: str = "no job was created") -> None:
    """The gate before a fine-tuning job is created (``run``, ``pipeline``'s preflight, ``train``)."""
    gate(session, training_verdicts(model), yes=yes, what=what)


def check_deployment(fine_tuned_model: str) -> models.LifecycleCheck:
    """The lifecycle of deploying ``fine_tuned_model`` (``promote``): its refusal or warning, if any."""
    m = _resolved(fine_tuned_model)
    return models.check_lifecycle(m, models.DEPLOYMENT, today()) if m is not None else models.LifecycleCheck()
