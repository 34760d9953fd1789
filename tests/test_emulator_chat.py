"""The deterministic stand-in answers: labelled, base vs fine-tuned behaviour as the lab observes it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from jobs.emulator import chat

LAB_PROMPT = "I'm mostly there for the food. Where should I stay to be within walking distance of affordable restaurants?"
RULE = "You should not provide any hotel, flight, rental car or restaurant recommendations."


@pytest.fixture(scope="module")
def examples(mslearn_data: Path) -> list[list[dict]]:
    path = mslearn_data / "travel-finetune-hotel.jsonl"
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


def test_base_answer_without_stay_or_eat_names_no_hotel():
    text = chat.answer(ask("What's the weather like in Oslo in May?"), fine_tuned=False, examples=None)
    assert "Oslo" in text and "Harborview" not in text


def test_fine_tuned_answer_comes_from_the_closest_training_example(examples):
    text = chat.answer(ask("What's the best way to see the Northern Lights?"), fine_tuned=True, examples=examples)
    northern = next(ex for ex in examples if "Northern Lights" in ex[1]["content"])
    assert text == "[emulator stand-in] " + northern[-1]["content"]


def test_fine_tuned_answer_is_adapted_to_the_prompts_destination(examples):
    text = chat.answer(ask("Where can I find the best street food in Mexico City?"), fine_tuned=True,
                       examples=examples)
    assert "Mexico City" in text
    assert "Street food" in text  # the style of the matching training example


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
