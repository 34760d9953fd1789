"""The environment, read once: the variables the runner understands and their checked values.

The CLI edge takes one snapshot of the environment (:meth:`Env.current`) and
hands it to the session; nothing writes ``os.environ``. Two other modules read
it: ``jobs/tokens.py`` (:data:`TIKTOKEN_DIR`, :data:`CACHE_DIR`, when it first
loads a vocabulary) and ``jobs/pulumi_cli.py`` (the environment of a ``pulumi``
child, without :data:`SECRETS`). The rehearsal builds its own snapshot (:meth:`Env.with_changes`) instead of
changing the process's environment.

Every number is checked where it is read: a value that is not a number, not
finite (``nan``, ``inf``) or out of its range is a :class:`~jobs.errors.UsageError`
naming the variable, the allowed range and an example.

Stdlib only.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Mapping

from jobs.errors import UsageError

# Every variable the runner reads, in one place (documented in docs/runner.md, "Settings for tests and CI").
ENDPOINT = "AZURE_OPENAI_ENDPOINT"
API_KEY = "AZURE_OPENAI_API_KEY"
AD_TOKEN = "AZURE_OPENAI_AD_TOKEN"
API_VERSION = "OPENAI_API_VERSION"
API_SHAPE = "FTJOBS_API"
STACK = "FTJOBS_STACK"
STATE_DIR = "FTJOBS_STATE_DIR"
HTTP_TIMEOUT = "FTJOBS_HTTP_TIMEOUT"
PRICE_PER_1M = "FTJOBS_PRICE_PER_1M"
POLL_INTERVAL = "FTJOBS_POLL_INTERVAL"
POLL_MAX = "FTJOBS_POLL_MAX"
POLL_RUNNING_MIN = "FTJOBS_POLL_RUNNING_MIN"
STATUS_EVERY = "FTJOBS_STATUS_EVERY"
RETRY_ATTEMPTS = "FTJOBS_RETRY_ATTEMPTS"  # the retry knobs: jobs/retry.py:RetryPolicy.from_env
RETRY_BASE = "FTJOBS_RETRY_BASE"
RETRY_CAP = "FTJOBS_RETRY_CAP"
RETRY_MAX_WAIT = "FTJOBS_RETRY_MAX_WAIT"
RETRY_MAX_TOTAL = "FTJOBS_RETRY_MAX_TOTAL"
RETRY_REFUSED = "FTJOBS_RETRY_REFUSED"
CRASH_AT = "FTJOBS_TEST_CRASH_AT"  # test hook: see jobs/crash.py
# "Today" for the model lifecycle checks (YYYY-MM-DD; default: the system clock). Read by jobs/models.py:today,
# which the Pulumi program uses too (it cannot take a session), so the name lives there as models.TODAY_ENV.
TODAY = "FTJOBS_TODAY"
# The token counter's folders. jobs/tokens.py reads these two itself, when it first loads a vocabulary: the
# validator and the emulator count tokens without a session (and the vocabularies are cached per process).
TIKTOKEN_DIR = "FTJOBS_TIKTOKEN_DIR"
CACHE_DIR = "FTJOBS_CACHE_DIR"
SECRETS = (API_KEY, AD_TOKEN)  # never printed, logged, written or passed to `pulumi`


def out_of_range(value: float, *, minimum: float | None = None, above: float | None = None,
                 maximum: float | None = None) -> str | None:
    """What is wrong with ``value`` ("is not a finite number", "must be at least 1", ...), or None when it is fine.

    The one order of the checks, for options and env vars alike: finite first (``nan`` compares false with
    every bound, ``inf`` is no limit at all), then ``above`` (exclusive), ``minimum`` and ``maximum`` (inclusive).
    """
    if not math.isfinite(value):
        return "is not a finite number"
    if above is not None and value <= above:
        return f"must be greater than {above:g}"
    if minimum is not None and value < minimum:
        return f"must be at least {minimum:g}"
    if maximum is not None and value > maximum:
        return f"must be at most {maximum:g}"
    return None


def check_number(value: float, *, name: str, minimum: float | None = None, above: float | None = None,
                 maximum: float | None = None, unit: str = "seconds", example: str = "2",
                 fix: str | None = None) -> float:
    """``value`` if it is finite and in range, else a UsageError naming ``name`` (an option or a variable).

    ``minimum``/``maximum`` are inclusive, ``above`` exclusive; see :func:`out_of_range`.
    """
    if fix is None:
        fix = f"pass {name} {example}" if name.startswith("-") else f"set {name}={example}"
    problem = out_of_range(value, minimum=minimum, above=above, maximum=maximum)
    if problem is not None:
        shown = repr(value) if not math.isfinite(value) else f"{value:g}"
        raise UsageError(f"{name} {shown} {problem}", hint=f"{fix} ({unit})")
    return value


PRICE_MAX = 10_000.0  # USD per 1M training tokens: far above any published price; catches a typo
PRICE_UNIT = f"USD per 1M training tokens, 0 to {PRICE_MAX:g}"


def check_price(value: float, name: str = "--price-per-1m") -> float:
    return check_number(value, name=name, minimum=0, maximum=PRICE_MAX, unit=PRICE_UNIT, example="25")


class Env:
    """A read-only snapshot of environment variables, with checked readers."""

    def __init__(self, values: Mapping[str, str] | None = None):
        self._values = dict(values or {})

    @classmethod
    def current(cls) -> "Env":
        """The process's environment, copied once (the CLI edge calls this)."""
        return cls(os.environ)

    def with_changes(self, **changes: str | None) -> "Env":
        """A new snapshot with some variables set (a string) or unset (None); this one is unchanged."""
        values = dict(self._values)
        for name, value in changes.items():
            if value is None:
                values.pop(name, None)
            else:
                values[name] = value
        return Env(values)

    def raw(self, name: str) -> str | None:
        return self._values.get(name)

    def text(self, name: str) -> str | None:
        """The stripped value, or None when unset or blank."""
        value = self._values.get(name)
        return value.strip() if value and value.strip() else None

    def is_set(self, name: str) -> bool:
        return self.text(name) is not None

    def as_dict(self) -> dict[str, str]:
        return dict(self._values)

    def number(self, name: str, default: float, *, minimum: float | None = None, above: float | None = None,
               maximum: float | None = None, unit: str = "seconds", example: str = "2") -> float:
        """A finite number from ``name`` (``default`` when unset); see :func:`check_number`."""
        return self._parse(name, default, float, minimum=minimum, above=above, maximum=maximum, unit=unit,
                           example=example)

    def whole(self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None,
              unit: str = "a whole number", example: str = "8") -> int:
        """A whole number from ``name``; see :func:`check_number`."""
        return int(self._parse(name, default, int, minimum=minimum, above=None, maximum=maximum, unit=unit,
                               example=example))

    def _parse(self, name: str, default: float, convert: type, *, minimum: float | None, above: float | None,
               maximum: float | None, unit: str, example: str) -> float:
        raw = self.text(name)
        if raw is None:
            return default
        fix = f"unset {name} (default {default:g}) or set it to {unit}, e.g. {name}={example}"
        try:
            value = float(convert(raw))
        except ValueError:
            kind = "a whole number" if convert is int else "a number"
            raise UsageError(f"env {name}={raw!r} is not {kind}", hint=fix) from None
        problem = out_of_range(value, minimum=minimum, above=above, maximum=maximum)
        if problem is not None:
            raise UsageError(f"env {name}={raw!r} {problem}", hint=fix)
        return value


@dataclass(frozen=True)
class PollSettings:
    """How often the runner polls a file or a job.

    ``first`` after a status change, then x``factor`` per poll up to ``cap``; while a job runs, never more
    often than ``running_floor`` (Azure sends metrics all the time). The bounds keep a typo from hammering
    the service (``1e-9``) or from never polling again (``1e9``).
    """

    first: float = 2.0
    cap: float = 30.0
    running_floor: float = 10.0
    factor: float = 1.5

    MIN_INTERVAL = 0.01
    MAX_INTERVAL = 3600.0

    @classmethod
    def from_env(cls, env: Env) -> "PollSettings":
        lo, hi = cls.MIN_INTERVAL, cls.MAX_INTERVAL
        unit = f"seconds ({lo:g} to {hi:g})"
        first = env.number(POLL_INTERVAL, 2.0, above=0, minimum=lo, maximum=hi, unit=unit, example="2")
        if env.is_set(POLL_MAX):
            cap = env.number(POLL_MAX, 30.0, above=0, minimum=lo, maximum=hi, unit=unit, example="30")
            if cap < first:
                raise UsageError(f"env {POLL_MAX}={cap:g} is below {POLL_INTERVAL}={first:g}",
                                 hint=f"set {POLL_MAX} to at least {POLL_INTERVAL} (defaults: 30 and 2 seconds)")
        else:
            cap = max(30.0, first)
        floor = env.number(POLL_RUNNING_MIN, 10.0, minimum=0, maximum=hi, unit=f"seconds (0 to {hi:g})",
                           example="10")
        return cls(first=first, cap=cap, running_floor=min(cap, floor))


def status_every(env: Env) -> float:
    """Seconds between two plain progress lines that only change the loss or the ETA."""
    return env.number(STATUS_EVERY, 30.0, minimum=0, maximum=86_400, unit="seconds (0 to 86400)", example="30")


HTTP_TIMEOUT_MIN = 1.0  # seconds: below that no HTTPS request to Azure completes (1e-9 would fail every call)
HTTP_TIMEOUT_MAX = 3600.0


def http_timeout(env: Env) -> float:
    return env.number(HTTP_TIMEOUT, 120.0, minimum=HTTP_TIMEOUT_MIN, maximum=HTTP_TIMEOUT_MAX,
                      unit=f"seconds ({HTTP_TIMEOUT_MIN:g} to {HTTP_TIMEOUT_MAX:g})", example="120")
