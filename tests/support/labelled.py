"""The labelled answers (``tests/support/data/labelled_answers.yaml``) and the precision/recall of a check on
them. Detection means a failing check: precision is the share of failed answers that really break the rule,
recall the share of rule-breaking answers that fail."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from jobs.checks import CheckContext, StyleProfile, run_checks
from tests.support.paths import DATA

LABELLED = DATA / "labelled_answers.yaml"


@dataclass(frozen=True)
class LabelledSet:
    answers: list[dict[str, Any]]

    @property
    def heldout(self) -> list[dict[str, Any]]:
        return [a for a in self.answers if a.get("set") == "heldout"]


@lru_cache(maxsize=1)
def labelled_set() -> LabelledSet:
    import yaml

    data = yaml.safe_load(LABELLED.read_text(encoding="utf-8"))
    return LabelledSet(answers=list(data["answers"]))


@dataclass
class Measure:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    errors: list[tuple[str, str, Any]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def support(self) -> int:
        """Answers that break the rule."""
        return self.tp + self.fn


def measure(answers: list[dict[str, Any]], name: str, profile: StyleProfile) -> Measure:
    m = Measure()
    for a in answers:
        result = run_checks(a["answer"], [name], CheckContext(prompt=a["prompt"], style=profile))[name]
        broken, flagged = not a["labels"][name], not result.passed
        if flagged and broken:
            m.tp += 1
        elif flagged:
            m.fp += 1
            m.errors.append(("false alarm", a["id"], result.evidence))
        elif broken:
            m.fn += 1
            m.errors.append(("missed", a["id"], None))
        else:
            m.tn += 1
    return m
