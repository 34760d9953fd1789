"""The deterministic stand-in answers: labelled, base vs fine-tuned behaviour as the lab observes it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from emulator import chat

LAB_PROMPT = "I'm mostly there for the food. Where should I stay to be within walking distance of affordable restaurants?"
RULE = "You should not provide any hotel, flight, rental car or restaurant recommendations."


@pytest.fixture(scope="module")
def examples(mslearn_data: Path) -> list[list[dict]]:
    path = mslearn_data / "travel-finetune-hotel.jsonl"
    return [json.loads(line)["messages"] for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def rehearsal_examples() -> list[list[dict]]:
    """The training file `python -m jobs rehearse` uses by default."""
    path = Path(__file__).resolve().parent.parent / "data" / "travel-train.jsonl"
    return [json.loads(line)["messages"] for line in path.read_text().splitlines() if line.strip()]


def ask(text: str, system: str = RULE) -> list[dict]:
    return [{"role": "system", "content": system}, {"role": "user", "content": text}]


def test_every_answer_is_labelled(examples):
    for fine_tuned in (False, True):
        for q in (LAB_PROMPT, "hello", "Tell me about quantum computing"):
            assert chat.answer(ask(q), fine_tuned=fine_tuned, examples=examples).startswith("[emulator stand-in] ")


def test_base_answer_ignores_the_rule_and_names_hotels_and_restaurants():
    text = chat.answer(ask(LAB_PROMPT), fine_tuned=False, examples=None)
    assert re.search(r"\bHotel\b", text) and re.search(r"\bRestaurants?\b", text, re.I)
    assert "fictional" in text


def test_base_answer_to_a_stay_question_names_hotels_and_restaurants_for_that_place():
    text = chat.answer(ask(ROME_STAY), fine_tuned=False, examples=None)
    assert "Rome" in text and re.search(r"\b[A-Z]\w+ (?:Grand )?(?:Hotel|Inn)\b", text)
    assert re.search(r"\bRestaurants?\b", text, re.I) and "Trattoria" in text
    assert text == chat.answer(ask(ROME_STAY), fine_tuned=False, examples=None)


def test_base_answer_without_stay_or_eat_names_no_hotel():
    text = chat.answer(ask("What's the weather like in Oslo in May?"), fine_tuned=False, examples=None)
    assert "Oslo" in text and "Harborview" not in text


def test_fine_tuned_answer_comes_from_the_closest_training_example(examples):
    text = chat.answer(ask("What's the best way to see the Northern Lights?"), fine_tuned=True, examples=examples)
    northern = next(ex for ex in examples if "Northern Lights" in ex[1]["content"])
    assert text == "[emulator stand-in] " + northern[-1]["content"]


def test_fine_tuned_answer_names_an_unknown_destination_only_in_a_lead_in(examples):
    text = chat.answer(ask("Where can I find the best street food in Mexico City?"), fine_tuned=True,
                       examples=examples)[len(chat.LABEL):]
    street = next(ex for ex in examples if "street food" in ex[1]["content"])[-1]["content"]
    assert street.startswith("Street food?") and "Bangkok" in street
    lead, rest = text.split(". ", 1)
    assert rest == street  # the training answer, word for word
    assert "Mexico City" in lead and "Bangkok" not in lead
    assert "Mexico City" not in rest


NY_STAY = [{"role": "user", "content": "Where should I stay in New York?"},
           {"role": "assistant", "content": "I don't recommend particular hotels, but I can describe the "
            "neighbourhoods! Midtown is central for first-timers, the Upper West Side is calm and close to Central "
            "Park, and Brooklyn's Williamsburg has a creative buzz. What kind of vibe do you want after a busy day?"}]
ROME_DAYS = [{"role": "user", "content": "How many days do I need in Rome?"},
             {"role": "assistant", "content": "Three to four days let you see Rome's highlights: the Colosseum, the "
              "Vatican Museums and the Pantheon. Are you more excited about ancient history or Renaissance art?"}]
ROME_FOOD_AREAS = [{"role": "user", "content": "Can you reserve a table for two in Rome on Saturday?"},
                   {"role": "assistant", "content": "I'm not able to make reservations, but I can point you to "
                    "Rome's tastiest neighbourhoods! Trastevere and Testaccio are known for classic Roman dishes. "
                    "Is this for a special occasion?"}]
NY_NEIGHBOURHOODS = ("Midtown", "Upper West Side", "Central Park", "Williamsburg", "Brooklyn", "New York")
ROME_STAY = "Where in Rome should I stay?"


def sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.!?])\s+", text.strip())


def test_no_place_is_spliced_into_a_sentence_about_another_place():
    text = chat.answer(ask(ROME_STAY), fine_tuned=True, examples=[NY_STAY])
    for sentence in sentences(text):
        assert not ("Rome" in sentence and any(n in sentence for n in NY_NEIGHBOURHOODS)), sentence
    assert text.endswith(NY_STAY[1]["content"])  # kept as trained
    assert "Rome" in sentences(text)[0]  # only a lead-in names the asked place


def test_fine_tuned_prefers_an_example_about_the_asked_place_and_topic():
    # the stay example is about New York; of the two Rome examples, the one about neighbourhoods wins
    text = chat.answer(ask(ROME_STAY), fine_tuned=True, examples=[NY_STAY, ROME_DAYS, ROME_FOOD_AREAS])
    assert text == chat.LABEL + ROME_FOOD_AREAS[1]["content"]
    # without a place in the prompt, the topic decides: the stay example, verbatim
    text = chat.answer(ask("Where should I stay to be near the sights?"), fine_tuned=True,
                       examples=[ROME_DAYS, NY_STAY])
    assert text == chat.LABEL + NY_STAY[1]["content"]


def test_rome_stay_on_the_rehearsal_data_is_about_rome_ends_with_a_question_and_names_no_hotel(rehearsal_examples):
    text = chat.answer(ask(ROME_STAY), fine_tuned=True, examples=rehearsal_examples)
    assert text == chat.answer(ask(ROME_STAY), fine_tuned=True, examples=list(rehearsal_examples))
    assert text.rstrip().endswith("?")
    assert not re.search(r"\bhotels?\b|\b(?:Inn|Hostel|Resort)\b|Harborview", text, re.I)
    for sentence in sentences(text):
        assert not ("Rome" in sentence and any(n in sentence for n in NY_NEIGHBOURHOODS)), sentence
    assert "Rome" in text


@pytest.mark.parametrize("question", ["Where in {p} should I stay?", "What should I eat in {p}?",
                                      "How do I get around in {p}?", "What's the weather like in {p} in May?"])
@pytest.mark.parametrize("place", ["Rome", "Oslo", "Mexico City", "Tokyo"])
def test_tuned_answer_is_a_training_answer_with_at_most_a_lead_in(question, place, examples, rehearsal_examples):
    for data in (examples, rehearsal_examples):
        trained = [ex[-1]["content"] for ex in data]
        text = chat.answer(ask(question.format(p=place)), fine_tuned=True, examples=data)[len(chat.LABEL):]
        if text in trained:
            assert place in text or place.removesuffix(" City") in text
            continue
        lead, rest = text.split(". ", 1)
        assert rest in trained and place not in rest
        assert place in lead and not re.search(r"[.!?]", lead)  # one sentence, before the trained text


def test_transport_question_gets_a_transport_answer(rehearsal_examples):
    text = chat.answer(ask("What's the best way to get around the city?"), fine_tuned=True,
                       examples=rehearsal_examples)
    assert re.search(r"\b(?:train|tram|bus|metro|subway|ferry|drive|driving|car-free|on foot)\b", text)


def test_fine_tuned_answer_to_the_lab_prompt_recommends_no_hotel(examples):
    text = chat.answer(ask(LAB_PROMPT), fine_tuned=True, examples=examples)
    assert not re.search(r"\bhotels?\b", text, re.I)
    assert text[len(chat.LABEL):] in [ex[-1]["content"] for ex in examples]


def test_answers_are_deterministic(examples):
    a = [chat.answer(ask(q), fine_tuned=ft, examples=examples) for q in (LAB_PROMPT, "hi") for ft in (False, True)]
    b = [chat.answer(ask(q), fine_tuned=ft, examples=examples) for q in (LAB_PROMPT, "hi") for ft in (False, True)]
    assert a == b


def test_fine_tuned_without_known_training_file_still_follows_the_rule():
    text = chat.answer(ask(LAB_PROMPT), fine_tuned=True, examples=None)
    assert text.startswith(chat.LABEL) and "don't recommend specific hotels" in text
