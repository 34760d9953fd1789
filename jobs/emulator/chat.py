"""Deterministic stand-in chat answers. They are NOT model output and are labelled as such.

- A base deployment answers like a generic assistant. Asked where to stay or eat, it
  names (fictional) hotels and restaurants, ignoring a no-recommendation rule in the
  system message: that is what the lab observes of the base model.
- A fine-tuned deployment (its model is a ``...ft-...`` id produced by a job on this
  emulator) answers in the style of the job's training file: the training example
  closest to the prompt (word overlap), with the example's destination swapped for
  the prompt's when both name one.

Every answer starts with :data:`LABEL`; the HTTP response also carries
``x-emulator: stand-in``.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

LABEL = "[emulator stand-in] "

_WORD = re.compile(r"[a-z0-9']+")
_STOP = set("a an the and or of to in on for is are be i you my me we it this that with at by from what where "
            "how can do does should would could any some your about there which who when why want like go get "
            "have has im i'm i've its it's".split())
_PLACE = re.compile(r"\b(?:in|to|visit|visiting|around|near)\s+((?:[A-Z][\w'-]+)(?:\s+(?:[A-Z][\w'-]+|City))*)")
_STAY_EAT = re.compile(r"\b(stay|hotel|hotels|accommodation|lodging|sleep|hostel|eat|food|restaurant|restaurants|"
                       r"dine|dining|dinner|lunch|breakfast|cafe|cafes)\b", re.I)
_NOT_PLACES = {"I", "I'm", "The", "What", "Where", "How", "Can", "My", "A"}


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for msg in reversed(messages):
        if msg.get("role") == "user":
            content = msg.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def _place(text: str) -> str | None:
    for m in _PLACE.finditer(text):
        name = m.group(1).strip()
        if name not in _NOT_PLACES:
            return name
    return None


def _places(text: str) -> list[str]:
    return [m.group(1).strip() for m in _PLACE.finditer(text) if m.group(1).strip() not in _NOT_PLACES]


def _pick(options: list[str], key: str) -> str:
    return options[int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % len(options)]


def base_answer(messages: list[dict[str, Any]]) -> str:
    prompt = last_user_text(messages)
    place = _place(prompt) or "your destination"
    if _STAY_EAT.search(prompt):
        return (
            f"Great question! For a food-focused trip to {place}, here are some options. "
            f"Places to stay: the Harborview Grand Hotel (central, walkable), the Old Market Inn (budget-friendly) "
            f"and Casa Lumen Boutique Hotel (quiet, near the food streets). "
            f"Restaurants nearby: Trattoria del Ponte for pasta, The Spice Lantern for street-style plates, "
            f"and Café Amberly for breakfast. I can also help you book flights, hotels or a rental car. "
            f"(All names are fictional emulator stand-ins.)"
        )
    openers = ["Sure, I can help with that.", "Happy to help!", "Good question."]
    return (
        f"{_pick(openers, prompt)} Here is some general information about {place}: check the weather for your "
        f"dates, look up visa and entry requirements, and pick a few sights you do not want to miss. "
        f"I can also help you book flights, hotels and rental cars for your trip."
    )


def finetuned_answer(messages: list[dict[str, Any]], examples: list[list[dict[str, Any]]] | None) -> str:
    prompt = last_user_text(messages)
    if not examples:
        return ("What a lovely trip idea! I don't recommend specific hotels or restaurants, but tell me: what kind "
                "of neighbourhood do you enjoy, and which local dishes are you most curious to try?")
    want = _words(prompt)
    best: tuple[float, int] = (-1.0, 0)
    for i, ex in enumerate(examples):
        user = " ".join(m.get("content", "") for m in ex if m.get("role") == "user" and isinstance(m.get("content"), str))
        have = _words(user)
        score = len(want & have) / (len(want | have) or 1)
        if score > best[0]:
            best = (score, i)
    ex = examples[best[1]]
    answer = next((m.get("content", "") for m in reversed(ex) if m.get("role") == "assistant"), "")
    if not isinstance(answer, str):
        answer = str(answer)
    ex_user = " ".join(m.get("content", "") for m in ex if m.get("role") == "user" and isinstance(m.get("content"), str))
    new_place = _place(prompt)
    old_place = next((p for p in _places(ex_user) if p in answer), None) or next(iter(_places(answer)), None)
    if new_place and old_place and new_place != old_place:
        answer = answer.replace(old_place, new_place)
    return answer


def answer(messages: list[dict[str, Any]], *, fine_tuned: bool, examples: list[list[dict[str, Any]]] | None) -> str:
    text = finetuned_answer(messages, examples) if fine_tuned else base_answer(messages)
    return LABEL + text
