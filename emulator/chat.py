"""Deterministic stand-in chat answers. They are NOT model output and are labelled as such.

- A base deployment answers like a generic assistant. Asked where to stay or eat, it
  names (fictional) hotels, restaurants and an airline and offers bookings, ignoring a
  no-recommendation rule in the system message: that is what the lab observes of the base model.
- A fine-tuned deployment (its model is a ``...ft-...`` id produced by a job on this
  emulator) answers with a training example's answer, verbatim: the example that
  mentions the place the prompt asks about, shares its topics (stay, food, weather,
  transport) and overlaps its words most (:func:`choose_example`). If that example is
  about somewhere else, one lead-in sentence naming the asked place comes first; the
  asked place is never spliced into the example's sentences.

In a multi-turn conversation the place is the one the conversation is about: the last user turn
that names one (:func:`conversation_place`). ``variant`` (a choice's index under ``n``, shifted by
``seed``) picks another wording for the base model and the next-closest training example for a
fine-tuned one; the same request always gets the same answers.

Every answer starts with :data:`LABEL`; the HTTP response also carries
``x-emulator: stand-in``.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from jobs.stand_in import STAND_IN_LABEL

LABEL = STAND_IN_LABEL + " "  # the mark the product reads (jobs/stand_in.py), then the answer

_WORD = re.compile(r"[a-z0-9']+")
_STOP = set("a an the and or of to in on for is are be i you my me we it this that with at by from what where "
            "how can do does should would could any some your about there which who when why want like go get "
            "have has im i'm i've its it's".split())
_PLACE = re.compile(r"\b(?:in|to|visit|visiting|around|near)\s+((?:[A-Z][\w'-]+)(?:\s+(?:[A-Z][\w'-]+|City))*)")
_STAY_EAT = re.compile(r"\b(stay|hotel|hotels|accommodation|lodging|sleep|hostel|eat|food|restaurant|restaurants|"
                       r"dine|dining|dinner|lunch|breakfast|cafe|cafes)\b", re.I)
_NOT_PLACES = {"I", "I'm", "The", "What", "Where", "How", "Can", "My", "A"}


def last_user_text(messages: list[dict[str, Any]]) -> str:
    texts = user_texts(messages)
    return texts[-1] if texts else ""


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def _place(text: str) -> str | None:
    for m in _PLACE.finditer(text):
        name = re.sub(r"['’]s$", "", m.group(1).strip())
        if name not in _NOT_PLACES:
            return name
    return None


def _pick(options: list[str], key: str) -> str:
    return options[int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % len(options)]


def message_text(message: dict[str, Any]) -> str:
    """A message's text: its string content, or the text of its content parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def user_texts(messages: list[dict[str, Any]]) -> list[str]:
    return [message_text(m) for m in messages if m.get("role") == "user"]


def conversation_place(messages: list[dict[str, Any]]) -> str | None:
    """The place the conversation is about: named by the latest user turn that names one."""
    for text in reversed(user_texts(messages)):
        place = _place(text)
        if place:
            return place
    return None


# Fictional names (never real businesses), one set per variant
_STAYS = [("the Harborview Grand Hotel", "the Old Market Inn", "Casa Lumen Boutique Hotel"),
          ("the Lantern Court Hotel", "the Riverside Hostel", "Villa Orenna Suites")]
_TABLES = [("Trattoria del Ponte", "The Spice Lantern", "Café Amberly"),
           ("Osteria Verdana", "The Copper Wok", "Bistro Maelle")]
_AIRLINES = ["SkyWay Air", "Bluecrest Airlines"]


def base_answer(messages: list[dict[str, Any]], variant: int = 0) -> str:
    prompt = last_user_text(messages)
    place = conversation_place(messages) or "your destination"
    if _STAY_EAT.search(prompt):
        trip = "a food-focused trip" if "food" in topics(prompt) else "your trip"
        stays, tables = _STAYS[variant % len(_STAYS)], _TABLES[variant % len(_TABLES)]
        return (
            f"Great question! For {trip} to {place}, here are some options. "
            f"Places to stay: {stays[0]} (central, walkable), {stays[1]} (budget-friendly) "
            f"and {stays[2]} (quiet, near the food streets). "
            f"Restaurants nearby: {tables[0]} for pasta, {tables[1]} for street-style plates, "
            f"and {tables[2]} for breakfast. I can also book your flights with {_AIRLINES[variant % 2]}, "
            f"hotels or a rental car. (All names are fictional emulator stand-ins.)"
        )
    openers = ["Sure, I can help with that.", "Happy to help!", "Good question."]
    return (
        f"{_pick(openers, f'{prompt}|{variant}')} Here is some general information about {place}: check the "
        f"weather for your dates, look up visa and entry requirements, and pick a few sights you do not want to "
        f"miss. I can also help you book flights, hotels and rental cars for your trip."
    )


# What a traveller asks about. A prompt's topics steer the choice of training example (an answer about
# neighbourhoods fits "where should I stay?"; one about dishes fits "what should I eat?").
_TOPICS: dict[str, re.Pattern[str]] = {name: re.compile(rf"\b(?:{words})\b", re.I) for name, words in {
    "stay": r"stay(?:ing)?|hotels?|accommodation|lodging|hostels?|resorts?|chalets?|sleep|places to stay|"
            r"neighbou?rhoods?|base yourself|where to base",
    "food": r"food(?:ie)?s?|eat(?:ing)?|restaurants?|dish(?:es)?|delicac(?:y|ies)|cuisine|cook(?:ing)?|culinary|"
            r"dining|dinner|lunch|breakfast|snacks?|tast(?:e|y|iest)|street food",
    "weather": r"weather|climate|seasons?|temperatures?|rain(?:y|fall)?|sunny|sunshine|dry|humid(?:ity)?|"
               r"hot|cold|warm|mild|°C|time of (?:the )?year|best time",
    "transport": r"get(?:ting)? around|transport(?:ation)?|trains?|bus(?:es)?|metro|subway|underground|trams?|"
                 r"taxis?|ferry|ferries|driv(?:e|ing)|rental cars?|car|bikes?|cycling|on foot|walkable",
}.items()}
_PLACE_WEIGHT = 2.0  # the example talks about the place the traveller asks about
_TOPIC_WEIGHT = 2.0  # per topic the prompt shares with the example's answer
_OPENER_TOPIC_WEIGHT = 1.0  # per topic the prompt shares with the example's opening question
# Said before an example's answer when the example is about somewhere else: its own sentence, so the asked
# place is never spliced into a sentence about another place.
_LEAD_IN = "I don't have tips on that for {place} yet, but here is a similar idea from another trip. "


def topics(text: str) -> set[str]:
    return {name for name, pattern in _TOPICS.items() if pattern.search(text)}


def _user_text(example: list[dict[str, Any]]) -> str:
    return " ".join(m["content"] for m in example if m.get("role") == "user" and isinstance(m.get("content"), str))


def _answer_text(example: list[dict[str, Any]]) -> str:
    answer = next((m.get("content", "") for m in reversed(example) if m.get("role") == "assistant"), "")
    return answer if isinstance(answer, str) else str(answer)


def _mentions(text: str, place: str) -> bool:
    return place in text or (place.endswith(" City") and place[:-5] in text)


def choose_example(prompt: str, examples: list[list[dict[str, Any]]], place: str | None = None) -> int:
    """Index of the training example closest to ``prompt``. Score: mentions the asked place (+2); per asked topic
    (stay, food, weather, transport) its answer is about (+2) and its opening question asks about (+1); plus word
    overlap with the example's questions (Jaccard, 0..1). Ties go to the earlier example. Deterministic.
    ``place``: the conversation's place when the prompt names none."""
    return rank_examples(prompt, examples, place)[0]


def rank_examples(prompt: str, examples: list[list[dict[str, Any]]], place: str | None = None) -> list[int]:
    """Every example's index, closest first (the score of :func:`choose_example`)."""
    want, asked = _words(prompt), topics(prompt)
    place = _place(prompt) or place
    scored: list[tuple[float, int]] = []
    for i, ex in enumerate(examples):
        user, reply = _user_text(ex), _answer_text(ex)
        opener = next((m["content"] for m in ex if m.get("role") == "user" and isinstance(m.get("content"), str)), "")
        have = _words(user)
        score = len(want & have) / (len(want | have) or 1)
        if place and _mentions(f"{user} {reply}", place):
            score += _PLACE_WEIGHT
        score += _TOPIC_WEIGHT * len(asked & topics(reply)) + _OPENER_TOPIC_WEIGHT * len(asked & topics(opener))
        scored.append((-score, i))
    return [i for _, i in sorted(scored)] or [0]


def finetuned_answer(messages: list[dict[str, Any]], examples: list[list[dict[str, Any]]] | None,
                     variant: int = 0) -> str:
    prompt = last_user_text(messages)
    if not examples:
        return ("What a lovely trip idea! I don't recommend specific hotels or restaurants, but tell me: what kind "
                "of neighbourhood do you enjoy, and which local dishes are you most curious to try?")
    place = _place(prompt) or conversation_place(messages)
    ranked = rank_examples(prompt, examples, place)
    ex = examples[ranked[variant % min(3, len(ranked))]]  # variants: the three closest examples
    answer = _answer_text(ex)
    if place and not _mentions(f"{_user_text(ex)} {answer}", place):
        # the closest example is about somewhere else: keep its text as trained, say so in a lead-in
        answer = _LEAD_IN.format(place=place) + answer
    return answer


def answer(messages: list[dict[str, Any]], *, fine_tuned: bool, examples: list[list[dict[str, Any]]] | None,
           variant: int = 0) -> str:
    text = finetuned_answer(messages, examples, variant) if fine_tuned else base_answer(messages, variant)
    return LABEL + text
