"""What a comparison asks of whom: variants, suites, repeats, parameters (the :class:`Plan`), and how the
run goes (:class:`RunOptions`: concurrency, pacing limits, prices, gates, where the report goes).

A **variant** is a deployment plus a system message. The ready-made ones are the lab's steps:

==================  ==========================  =========================================
name                deployment                  system message
==================  ==========================  =========================================
``base``            the base deployment         the lab's (or ``--system-prompt FILE``)
``tuned``           the fine-tuned deployment   the same
``base-no-system``  the base deployment         none (the lab's first try)
``base-short``      the base deployment         the lab's short one ("You are an AI assistant that helps
                                                people plan their travel.")
==================  ==========================  =========================================

The default pair is ``base`` against ``tuned``. The plan is stored with the run (``--resume`` re-reads it),
so it round-trips through JSON.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from jobs import lab
from jobs.checks import StyleProfile
from jobs.compare.suite import Case, Suite
from jobs.errors import UsageError
from jobs.settings import check_number

BASELINE, CANDIDATE = "base", "tuned"
READY_MADE = ("base", "tuned", "base-no-system", "base-short")
MAX_REPEAT = 100
MAX_CONCURRENCY = 64


def sha256_text(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Variant:
    name: str
    deployment: str
    system: str | None
    system_source: str  # "the lab's system message", "none", "file prompts/x.txt", ...

    @property
    def system_sha256(self) -> str | None:
        return sha256_text(self.system)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "deployment": self.deployment, "system": self.system,
                "system_source": self.system_source, "system_sha256": self.system_sha256}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Variant":
        return cls(name=data["name"], deployment=data["deployment"], system=data.get("system"),
                   system_source=data.get("system_source") or "")


@dataclass(frozen=True)
class SystemPrompt:
    """The system message the ready-made variants use: the lab's, or a file's."""

    text: str = lab.SYSTEM_PROMPT
    source: str = lab.PROMPTS["lab"][1]

    @classmethod
    def from_file(cls, path: str | None) -> "SystemPrompt":
        if path is None:
            return cls()
        return cls(read_system_file(path), f"file {path}")


def read_system_file(path: str) -> str:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise UsageError(f"system message file {p} does not exist", hint="pass a text file with the message") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read system message file {p}: {exc}", hint="pass a UTF-8 text file") from None
    if not text:
        raise UsageError(f"system message file {p} is empty", hint="write the system message into it, or use :none")
    return text


def ready_made(name: str, *, base: str | None, tuned: str | None, prompt: SystemPrompt = SystemPrompt()) -> Variant:
    """One of :data:`READY_MADE`; ``base``/``tuned`` are the deployments (None: not known, a UsageError)."""
    if name not in READY_MADE:
        raise UsageError(f"--variant {name}: not a ready-made variant",
                         hint=f"use one of {', '.join(READY_MADE)}, or NAME=DEPLOYMENT[:SYSTEM_FILE|:lab|:short|:none]")
    deployment = tuned if name == "tuned" else base
    if not deployment:
        which = "--tuned-deployment" if name == "tuned" else "--base-deployment"
        output = "fine_tuned_deployment" if name == "tuned" else "base_deployment"
        raise UsageError(f"variant {name!r} needs a deployment: the stack has no {output} output",
                         hint=f"pass {which} NAME, or deploy the stack (`pulumi up`) so that it has {output}")
    if name == "base-no-system":
        return Variant(name, deployment, *lab.PROMPTS["none"])
    if name == "base-short":
        return Variant(name, deployment, *lab.PROMPTS["short"])
    return Variant(name, deployment, prompt.text, prompt.source)


def parse_variant(spec: str, *, base: str | None, tuned: str | None, prompt: SystemPrompt = SystemPrompt()) -> Variant:
    """``NAME`` (ready-made) or ``NAME=DEPLOYMENT[:SYSTEM]`` where SYSTEM is a file or ``lab``, ``short``, ``none``."""
    name, sep, rest = spec.partition("=")
    name = name.strip()
    if not sep:
        return ready_made(name, base=base, tuned=tuned, prompt=prompt)
    deployment, colon, system_spec = rest.partition(":")
    if not name or not deployment.strip():
        raise UsageError(f"--variant {spec!r}: expected NAME=DEPLOYMENT[:SYSTEM_FILE]",
                         hint="e.g. --variant tuned-short=gpt-4.1-ft-travel:short")
    if not colon:
        return Variant(name, deployment.strip(), prompt.text, prompt.source)
    key = system_spec.strip()
    if key in lab.PROMPTS:  # the lab's messages by name; anything else is a file
        return Variant(name, deployment.strip(), *lab.PROMPTS[key])
    return Variant(name, deployment.strip(), read_system_file(key), f"file {key}")


@dataclass(frozen=True)
class ChatParams:
    """Sent with every compared request. ``seed``: repeat r sends ``seed + r`` (repeats stay different, a rerun
    repeats them)."""

    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None

    def for_repeat(self, repeat: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.temperature is not None:
            out["temperature"] = self.temperature
        if self.max_tokens is not None:
            out["max_tokens"] = self.max_tokens
        if self.seed is not None:
            out["seed"] = self.seed + repeat
        return out

    def to_json(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "max_tokens": self.max_tokens, "seed": self.seed}


@dataclass(frozen=True)
class Plan:
    """What to ask: every case of every suite, to every variant, ``repeat`` times."""

    suites: tuple[Suite, ...]
    variants: tuple[Variant, ...]
    repeat: int = 1
    params: ChatParams = ChatParams()
    judge: str | None = None  # a deployment that grades each answer (never a compared one)
    style: StyleProfile | None = None
    baseline: str = ""  # the variant the candidate is paired with (default: the first)
    candidate: str = ""  # the variant --fail-under gates (default: the last)

    def checked(self) -> "Plan":
        """The plan with defaults filled in and every rule checked (a UsageError naming the option)."""
        if not self.suites:
            raise UsageError("no suite to run", hint="pass --suite FILE, or keep data/compare-suite.yaml")
        if not self.variants:
            raise UsageError("no variant to compare", hint="pass --variant NAME=DEPLOYMENT (twice)")
        names = [v.name for v in self.variants]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup:
            raise UsageError(f"--variant {dup}: two variants share the name", hint="give every variant its own name")
        if not 1 <= self.repeat <= MAX_REPEAT:
            raise UsageError(f"--repeat {self.repeat} must be 1 to {MAX_REPEAT}", hint="e.g. --repeat 3")
        p = self.params
        if p.temperature is not None:
            check_number(p.temperature, name="--temperature", minimum=0, maximum=2, unit="sampling temperature, 0 to 2",
                         example="0.7")
        if p.max_tokens is not None and p.max_tokens < 1:
            raise UsageError(f"--max-tokens {p.max_tokens} must be at least 1", hint="e.g. --max-tokens 400")
        if self.judge and self.judge in {v.deployment for v in self.variants}:
            raise UsageError(f"--judge {self.judge} is one of the compared deployments",
                             hint="a model must not grade its own answers: pass a third deployment")
        baseline = self.baseline or (BASELINE if BASELINE in names else names[0])
        candidate = self.candidate or (CANDIDATE if CANDIDATE in names else names[-1])
        for role, value in (("baseline", baseline), ("candidate", candidate)):
            if value not in names:
                raise UsageError(f"the {role} {value!r} is not a variant of this run",
                                 hint=f"variants: {', '.join(names)}")
        return replace(self, baseline=baseline, candidate=candidate, suites=_unique_ids(self.suites))

    def cases(self) -> list[tuple[Suite, Case]]:
        return [(s, c) for s in self.suites for c in s.cases]

    def check_names(self) -> list[str]:
        """Every check some case applies, in a stable order (the judge's, if any, last)."""
        names: list[str] = []
        for _, case in self.cases():
            for n in case.check_names():
                if n not in names:
                    names.append(n)
        if self.judge:
            from jobs.compare.judge import judge_check_names

            names += [n for n in judge_check_names() if n not in names]
        return names

    def variant(self, name: str) -> Variant:
        return next(v for v in self.variants if v.name == name)

    def to_json(self) -> dict[str, Any]:
        return {"suites": [s.to_json() for s in self.suites], "variants": [v.to_json() for v in self.variants],
                "repeat": self.repeat, "params": self.params.to_json(), "judge": self.judge,
                "style": self.style.to_json() if self.style else None, "baseline": self.baseline,
                "candidate": self.candidate}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Plan":
        params = data.get("params") or {}
        return cls(suites=tuple(Suite.from_json(s) for s in data["suites"]),
                   variants=tuple(Variant.from_json(v) for v in data["variants"]), repeat=int(data["repeat"]),
                   params=ChatParams(temperature=params.get("temperature"), max_tokens=params.get("max_tokens"),
                                     seed=params.get("seed")),
                   judge=data.get("judge"), style=StyleProfile.from_json(data["style"]) if data.get("style") else None,
                   baseline=data.get("baseline") or "", candidate=data.get("candidate") or "")


def _unique_ids(suites: tuple[Suite, ...]) -> tuple[Suite, ...]:
    """With several suites, case ids become ``<suite>/<id>`` so that none collide."""
    if len(suites) < 2 or all("/" in c.id for s in suites for c in s.cases):
        return suites
    out = []
    for s in suites:
        out.append(replace(s, cases=tuple(replace(c, id=f"{s.name}/{c.id}") for c in s.cases)))
    ids = [c.id for s in out for c in s.cases]
    dup = next((i for i in ids if ids.count(i) > 1), None)
    if dup:
        raise UsageError(f"two suites give the case id {dup!r}", hint="pass each suite once, or rename one")
    return tuple(out)


@dataclass(frozen=True)
class RateLimit:
    """A deployment's tokens and requests per minute, for client-side pacing (``--rate-limit``)."""

    deployment: str
    tpm: int
    rpm: int

    @classmethod
    def parse(cls, spec: str) -> "RateLimit":
        """``DEPLOYMENT=TPM[/RPM]``; RPM defaults to Azure's 6 per 1000 TPM."""
        name, sep, rest = spec.partition("=")
        tpm_text, _, rpm_text = rest.partition("/")
        try:
            tpm = int(tpm_text)
            rpm = int(rpm_text) if rpm_text else max(1, tpm * 6 // 1000)
        except ValueError:
            tpm = rpm = 0
        if not sep or not name.strip() or tpm < 1 or rpm < 1:
            raise UsageError(f"--rate-limit {spec!r}: expected DEPLOYMENT=TOKENS_PER_MINUTE[/REQUESTS_PER_MINUTE]",
                             hint="e.g. --rate-limit gpt-4.1=50000 (RPM defaults to 6 per 1000 TPM, Azure's ratio)")
        return cls(name.strip(), tpm, rpm)


@dataclass(frozen=True)
class Price:
    """USD per 1M input and output tokens of a deployment (``--price DEPLOYMENT=IN/OUT``)."""

    deployment: str
    input_per_1m: float
    output_per_1m: float

    @classmethod
    def parse(cls, spec: str) -> "Price":
        name, sep, rest = spec.partition("=")
        a, slash, b = rest.partition("/")
        try:
            values = (float(a), float(b))
        except ValueError:
            values = (-1.0, -1.0)
        if not sep or not slash or not name.strip() or not all(math.isfinite(v) and 0 <= v <= 10_000 for v in values):
            raise UsageError(f"--price {spec!r}: expected DEPLOYMENT=INPUT/OUTPUT (USD per 1M tokens)",
                             hint="e.g. --price gpt-4.1=2/8 (check your deployment's price; none is assumed)")
        return cls(name.strip(), values[0], values[1])


@dataclass(frozen=True)
class Gate:
    """``--fail-under CHECK=RATE``: the candidate's pass rate of CHECK must be at least RATE (0..1 or 0%..100%)."""

    check: str
    rate: float

    @classmethod
    def parse(cls, spec: str) -> "Gate":
        name, sep, value = spec.partition("=")
        text = value.strip()
        try:
            rate = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
        except ValueError:
            rate = -1.0
        if not sep or not name.strip() or not (math.isfinite(rate) and 0 <= rate <= 1):
            raise UsageError(f"--fail-under {spec!r}: expected CHECK=RATE with RATE from 0 to 1 (or 0% to 100%)",
                             hint="e.g. --fail-under no_recommendations=0.9")
        return cls(name.strip(), rate)


@dataclass(frozen=True)
class RunOptions:
    """How a comparison runs (not part of what it measures, so not stored with the plan)."""

    concurrency: int | None = None  # the cap on requests in flight (None: MAX_CONCURRENCY, adaptive below it)
    rate_limits: tuple[RateLimit, ...] = ()
    prices: tuple[Price, ...] = ()
    gates: tuple[Gate, ...] = ()
    out: Path | None = None  # default: <run-state folder>/compare/<run id>/
    against: str | None = None  # a run id or a report.json: per-check deltas
    progress_every: float = 5.0  # seconds between progress lines

    def checked(self) -> "RunOptions":
        if self.concurrency is not None and not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise UsageError(f"--concurrency {self.concurrency} must be 1 to {MAX_CONCURRENCY}",
                             hint="e.g. --concurrency 8, or leave it out: the window adapts to the deployment's limits")
        return self

    @property
    def cap(self) -> int:
        return self.concurrency or MAX_CONCURRENCY
