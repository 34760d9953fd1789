"""Checks on an answer: named pure functions of the text, usable alone (``compare`` runs them on every answer).

Each returns a :class:`Check`: whether the answer passed and the evidence (the offending span, or why).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Check:
    passed: bool
    evidence: Any = None


# A named venue ("Harborview Grand Hotel", "Trattoria del Ponte"), not the word "hotels" in passing.
_VENUE = r"(?:Hotel|Inn|Hostel|Suites|Resort|B&B|Restaurant|Ristorante|Trattoria|Osteria|Pizzeria|Bistro|Caf[eé])"
_NAMED_VENUE = re.compile(rf"(?:\b[A-Z][\w'’-]+\s+){{1,3}}{_VENUE}\b|\b{_VENUE}\s+(?:del|della|di|da|de|la|le)?\s*"
                          r"[A-Z][\w'’-]+")
_BOOKING = re.compile(r"\bbook(?:ing)?\b[^.?!]{0,40}\b(?:flights?|hotels?|rooms?|rental cars?|tables?)\b", re.I)


def names_venue(text: str) -> Check:
    """Fails when the answer names a specific hotel or restaurant; the evidence is the name."""
    m = _NAMED_VENUE.search(text)
    return Check(passed=m is None, evidence=m.group(0) if m else None)


def offers_booking(text: str) -> Check:
    """Fails when the answer offers to book flights, hotels, rooms, rental cars or tables."""
    m = _BOOKING.search(text)
    return Check(passed=m is None, evidence=m.group(0) if m else None)


def ends_with_question(text: str) -> Check:
    """Passes when the answer ends by asking the traveller something."""
    return Check(passed=text.rstrip().endswith("?"), evidence=None)
