"""The named checks (jobs/checks.py): each against the labelled set of gpt-4.1-style answers
(tests/support/data/labelled_answers.yaml), the tricky cases by name, and the style range computed from a
training file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobs import checks, lab
from jobs.checks import (DEFAULT_CHECKS, CheckContext, StyleProfile, asks_question, checks_for_system, must_mention,
                         no_recommendations, on_topic, run_checks, style)
from tests.support.labelled import LabelledSet, labelled_set, measure
from tests.support.paths import REPO


@pytest.fixture(scope="module")
def labelled() -> LabelledSet:
    return labelled_set()


@pytest.fixture(scope="module")
def profile() -> StyleProfile:
    return StyleProfile.from_file(REPO / "data" / "travel-train.jsonl")


def test_the_labelled_set_has_both_classes_of_every_check(labelled: LabelledSet) -> None:
    assert len(labelled.answers) >= 100
    assert len(labelled.heldout) >= 30
    for name in DEFAULT_CHECKS:
        values = {a["labels"][name] for a in labelled.answers}
        assert values == {True, False}, name


@pytest.mark.parametrize("name", DEFAULT_CHECKS)
def test_each_check_on_the_labelled_set(name: str, labelled: LabelledSet, profile: StyleProfile) -> None:
    """Precision and recall of detecting a broken rule (a failing check), on the whole set and on the answers
    written after the checks were frozen; docs/compare.md reports these figures (tested below)."""
    whole = measure(labelled.answers, name, profile)
    held = measure(labelled.heldout, name, profile)
    assert whole.precision >= 0.9 and whole.recall >= 0.85, (name, whole.errors)
    assert held.precision >= 0.8 and held.recall >= 0.6, (name, held.errors)


@pytest.mark.parametrize("doc", ["README.md", "docs/compare.md"])
def test_docs_report_the_measured_figures(doc: str, labelled: LabelledSet, profile: StyleProfile) -> None:
    text = (REPO / doc).read_text(encoding="utf-8")
    assert f"{len(labelled.answers)} labelled" in text and f"{len(labelled.heldout)} of them" in text
    for name in DEFAULT_CHECKS:
        whole, held = measure(labelled.answers, name, profile), measure(labelled.heldout, name, profile)
        row = (f"| `{name}` | {whole.precision:.2f} | {whole.recall:.2f} | {whole.support} | "
               f"{held.precision:.2f} | {held.recall:.2f} | {held.support} |")
        assert row in text, row


# --------------------------------------------------------------------------- no_recommendations by name


@pytest.mark.parametrize("text, evidence", [
    ("Try the Harborview Grand Hotel or Trattoria del Ponte. Where else?", "Harborview Grand Hotel"),
    ("I don't recommend particular hotels, but Trastevere is lovely. I can help you book flights.",
     "I can help you book flights"),
    ("Sure! I can also help you book flights, hotels and rental cars for your trip.", "I can also help you book flights"),
    ("For a splurge, stay at the Hassler above the Spanish Steps.", "Hassler"),
    ("Roscioli, a legendary deli and restaurant, is worth it.", "Roscioli"),
    ("Head to Giolitti near the Pantheon for gelato.", "Giolitti"),
    ("Sixt and Europcar have desks at the airport.", "Sixt"),
    ("I'd rent from Alamo at the Orlando airport.", "Alamo"),
    ("Take flight JL 44 from Heathrow.", "flight JL 44"),
    ("Would you like hotel recommendations near the canals?", "Would you like hotel recommendations"),
    ("Harry's Bar near St Mark's invented the Bellini.", "Harry's Bar"),
])
def test_recommendations_are_caught_with_their_span(text: str, evidence: str) -> None:
    result = no_recommendations(text)
    assert not result.passed
    assert result.evidence == evidence


@pytest.mark.parametrize("text", [
    "I'm sorry, I can't make bookings or recommend hotels. What brings you to Paris?",
    "I can't recommend specific airlines like TAP or easyJet, but Lisbon's trams are a joy.",
    "Spend four days at the Walt Disney World Resort and two at the Universal Orlando Resort.",
    "Stroll along the Seine past the illuminated Hôtel de Ville.",
    "Visit the Alamo and stroll the River Walk.",
    "Cruise the floating markets of the Mekong Delta.",
    "Many travellers rent a car in Tuscany; trains link Florence and Siena.",
    "The Frecciarossa and Italo trains reach Naples in an hour.",
    "Monti, a trendy neighbourhood full of restaurants, is central.",
    "Trastevere and Testaccio are known for cacio e pepe, and Campo de' Fiori has a morning market.",
    "I recommend booking flights and accommodation early for cherry blossom season.",
    "Book your Vatican Museums tickets online in advance.",
    "I can suggest some neighbourhoods with lots of restaurants!",
    "",
])
def test_declines_places_and_neutral_mentions_pass(text: str) -> None:
    assert no_recommendations(text).passed, no_recommendations(text).evidence


def test_the_label_is_not_part_of_the_answer() -> None:
    assert checks.strip_label("[emulator stand-in] Hello there") == "Hello there"
    assert no_recommendations("[emulator stand-in] Visit Rome. What do you love?").passed
    assert asks_question("[emulator stand-in] Visit Rome. What do you love?").passed


# --------------------------------------------------------------------------- the other checks by name


def test_asks_question() -> None:
    assert asks_question("Rome is lovely. What do you love to eat?").evidence == "What do you love to eat?"
    assert asks_question("Porto is great! Are you a wine lover? Have a wonderful trip!").passed
    assert not asks_question("Let me know if you'd like more tips!").passed
    assert not asks_question("Florence gelato is heavenly. Who doesn't love gelato?").passed
    assert not asks_question("Why not? Santorini is lovely. Go in May.").passed
    assert not asks_question("   ").passed


def test_on_topic_reads_the_prompt() -> None:
    code = "Here you go:\n\n```python\ndef f(s):\n    return s[::-1]\n```"
    assert not on_topic(code, "Write a Python function").passed
    redirect = "Coding isn't my speciality, but I'd love to help you plan a trip! Where would you go?"
    assert on_topic(redirect, "Write a Python function to reverse a string.").passed
    assert not on_topic("That's not my job. Ask someone else.", "What's the derivative of x squared?").passed
    assert not on_topic("Quantum computers use qubits. Entanglement links qubits in quantum algorithms.",
                        "Explain quantum computing").passed
    assert on_topic("Carbonara and cacio e pepe are musts. Which sounds best?", "What should I eat?").passed


def test_style_range_comes_from_the_training_file(tmp_path: Path, profile: StyleProfile) -> None:
    assert profile.answers > 60 and not profile.markdown and not profile.paragraphs
    short = "Rome is a feast! Try cacio e pepe and carbonara, and maritozzi with cream for breakfast. Hungry yet?"
    assert style(short, profile).passed
    listy = "Here are some options:\n\n- **Monti**: central\n- **Prati**: calm\n\nWhich do you like?"
    result = style(listy, profile)
    assert not result.passed and "markdown" in str(result.evidence) and "paragraphs" in str(result.evidence)
    # a training file of long list answers makes the same list answer fine, the short one too short
    lines = [{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": (listy + " ") * k}]}
             for k in (3, 4, 5)]
    other = tmp_path / "lists.jsonl"
    other.write_text("".join(json.dumps(x) + "\n" for x in lines))
    theirs = StyleProfile.from_file(other)
    assert theirs.markdown and theirs.paragraphs and theirs.words[0] > profile.words[0]
    assert style(listy * 3, theirs).passed and not style(short, theirs).passed
    assert StyleProfile.from_json(theirs.to_json()) == theirs


def test_must_mention() -> None:
    assert must_mention("Check your passport and visa.", ["visa|entry"]).passed
    result = must_mention("Bring a jacket.", ["visa|passport", "jacket"])
    assert not result.passed and result.evidence == "missing: visa|passport"


def test_checks_run_by_name_and_follow_the_system_message(profile: StyleProfile) -> None:
    answer = ("Kyoto rewards early risers! Walk the vermilion gates of Fushimi Inari before the crowds, then wander "
              "Higashiyama. Which temple would you visit first?")
    results = run_checks(answer, DEFAULT_CHECKS, CheckContext(prompt="Four days in Kyoto?", style=profile))
    assert list(results) == list(DEFAULT_CHECKS) and all(r.passed for r in results.values())
    assert checks_for_system(lab.SYSTEM_PROMPT) == DEFAULT_CHECKS
    assert checks_for_system(lab.SHORT_PROMPT) == ("on_topic", "style")
    assert checks_for_system(None) == DEFAULT_CHECKS
