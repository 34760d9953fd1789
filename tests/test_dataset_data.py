"""The project's own travel-assistant data (data/): valid, and written in the lab's style."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from jobs import dataset
from tests.support.paths import REPO

TRAIN = REPO / "data" / "travel-train.jsonl"
VALID = REPO / "data" / "travel-validation.jsonl"

DECLINE = re.compile(r"\b(can't|cannot|can not|not able to|don't recommend|unable to)\b", re.I)
ASKS_FOR_BOOKING = re.compile(r"\b(book|reserve|recommend|which airline|best restaurant|hotel|rental|"
                              r"cheapest|stay)\b", re.I)
# Brands the assistant must never name: it recommends no hotel, flight, rental car or restaurant.
BRANDS = ["hilton", "marriott", "hyatt", "sheraton", "ritz", "four seasons", "ibis", "novotel", "airbnb",
          "booking.com", "expedia", "kayak", "skyscanner", "trivago", "emirates", "lufthansa", "ryanair",
          "easyjet", "delta air", "united airlines", "qantas", "british airways", "air france", "hertz", "avis",
          "europcar", "sixt", "enterprise rent", "michelin", "mcdonald", "starbucks"]


def load(path: Path) -> list[list[dict[str, Any]]]:
    return [json.loads(line)["messages"] for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def lab_system(mslearn_data: Path) -> str:
    first = (mslearn_data / "travel-finetune-hotel.jsonl").read_text(encoding="utf-8").splitlines()[0]
    return str(json.loads(first)["messages"][0]["content"])


@pytest.mark.parametrize("path", [TRAIN, VALID], ids=["train", "validation"])
def test_validate_passes_without_warnings(path: Path) -> None:
    r = dataset.validate_file(path)
    assert r.exit_code == 0
    assert r.errors == [] and r.warnings == []


def test_sizes() -> None:
    assert len(load(TRAIN)) >= 60
    assert 8 <= len(load(VALID)) <= 12


@pytest.mark.parametrize("path", [TRAIN, VALID], ids=["train", "validation"])
def test_lab_system_message_everywhere(path: Path, lab_system: str) -> None:
    for msgs in load(path):
        assert msgs[0] == {"role": "system", "content": lab_system}
        assert all(m["role"] != "system" for m in msgs[1:])


@pytest.mark.parametrize("path", [TRAIN, VALID], ids=["train", "validation"])
def test_turns_alternate_and_every_answer_asks_a_question(path: Path) -> None:
    for msgs in load(path):
        roles = [m["role"] for m in msgs[1:]]
        assert roles == ["user", "assistant"] * (len(roles) // 2)
        for m in msgs:
            if m["role"] == "assistant":
                assert m["content"].rstrip().endswith("?"), m["content"]


@pytest.mark.parametrize("path", [TRAIN, VALID], ids=["train", "validation"])
def test_no_brand_recommendations(path: Path) -> None:
    for msgs in load(path):
        for m in msgs[1:]:
            if m["role"] == "assistant":
                low = m["content"].lower()
                assert not [b for b in BRANDS if b in low], m["content"]


def _counts(path: Path) -> tuple[int, int]:
    multi = declines = 0
    for msgs in load(path):
        if sum(m["role"] == "assistant" for m in msgs) >= 2:
            multi += 1
        pairs = zip(msgs[1::2], msgs[2::2])
        if any(ASKS_FOR_BOOKING.search(u["content"]) and DECLINE.search(a["content"]) for u, a in pairs):
            declines += 1
    return multi, declines


def test_multi_turn_and_declines() -> None:
    multi, declines = _counts(TRAIN)
    assert multi >= 15
    assert declines >= 12
    v_multi, v_declines = _counts(VALID)
    assert v_multi >= 2 and v_declines >= 3


def test_no_validation_example_is_in_training() -> None:
    train_questions = {m["content"] for msgs in load(TRAIN) for m in msgs if m["role"] == "user"}
    for msgs in load(VALID):
        assert not [m for m in msgs if m["role"] == "user" and m["content"] in train_questions]
