"""The playground page in a real browser (Debian's Chromium, headless) over the emulator's LOCAL backend: what a
person sees of answers a small model generated on this machine. Each answer carries the "local model" badge
(its title names the model and what it stands in for), never the "stand-in" badge nor the canned label, and the
page's "Local model:" note appears once such answers are there. The answer source is the local backend's own
(:class:`emulator.local.answer_source.LocalAnswerSource`) over a scripted fake of the runtime: no torch, no
llama.cpp, no weights (the real model runs in tests/test_local_backend_e2e.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from emulator.local.answer_source import LocalAnswerSource
from emulator.local.trainer import LocalTrainer
from emulator.server import EmulatorServer
from tests.support.browser import named, viewport, wait_for
from tests.support.emulators import fast_config
from tests.support.local import FakeModels
from tests.support.playground import BASE, playground_on

pytestmark = pytest.mark.usefixtures("runner_env")

SAID = "Trastevere is a lovely area to stay in . Do you prefer quiet streets ?"  # what the fake model generates
QUESTION = "Where should I stay in Rome?"
# What the page says of an answer the local backend generated for a gpt-4.1 deployment (jobs/stand_in.py).
LABEL = "local model (SmolLM2-135M-Instruct on this machine) standing in for gpt-4.1"


@pytest.fixture
def local(tmp_path: Path) -> Iterator[tuple[EmulatorServer, FakeModels]]:
    """The emulator over real HTTP whose answers come from the local backend's answer source (a fake model)."""
    models = FakeModels(text=SAID)
    backend = (LocalAnswerSource(models), LocalTrainer())
    with EmulatorServer(tmp_path / "emulator", fast_config(limits={"enabled": False}), backend=backend) as server:
        yield server, models


def _answers(driver: Any) -> list[dict[str, Any]]:
    """Every answer on the page, per column, as a person sees it: its text and the badges shown beside it."""
    return driver.execute_script("""
        return [0, 1].map((i) => [...document.querySelectorAll(`#col-${i} .msg.assistant`)].map((node) => ({
          busy: node.getAttribute("aria-busy") === "true",
          text: node.querySelector(".text").textContent,
          badges: [...node.querySelectorAll(".who .badge")].filter((b) => b.getClientRects().length > 0
                    && getComputedStyle(b).visibility === "visible").map((b) => ({text: b.textContent,
                                                                                    title: b.title}))})));""")


def _status(driver: Any) -> str:
    return str(driver.find_element("id", "status").text)


def _shows_local_answers(driver: Any, when: str) -> None:
    """One answer in each column, each with the "local model" badge alone (no "stand-in") and the model's own
    text, and the page's "Local model:" note visible, the "Stand-in answers:" one not."""
    columns = _answers(driver)
    assert [len(c) for c in columns] == [1, 1], when
    for answer in (c[0] for c in columns):
        assert not answer["busy"], when
        assert answer["badges"] == [{"text": "local model", "title": LABEL}], when
        assert answer["text"].strip() == SAID and "[emulator stand-in]" not in answer["text"], when
    assert driver.find_element("id", "local-model-banner").is_displayed(), when
    assert driver.find_element("id", "local-model-label").text == LABEL, when
    assert not driver.find_element("id", "stand-in-banner").is_displayed(), when


def test_local_model_answers_carry_the_local_model_badge_and_the_note(
        browser: Any, local: tuple[EmulatorServer, FakeModels]) -> None:
    from selenium.webdriver.common.keys import Keys

    server, models = local
    with playground_on(server.url, tuned_deployment=BASE, variants=("base", "base-no-system")) as playground:
        viewport(browser, 1280, 900)
        browser.get(playground.url)
        wait_for("the page to read its state", lambda: browser.find_element("id", "name-1").text == "base-no-system")
        assert not browser.find_element("id", "local-model-banner").is_displayed()  # no answer yet: nothing to explain

        named(browser, "Message").send_keys(QUESTION, Keys.ENTER)
        wait_for("both columns to answer", lambda: _status(browser).startswith("Answered"))
        assert len(models.requests) == 2  # one generation per column, by the local backend's answer source
        _shows_local_answers(browser, "as the answers arrived")  # finish() on the stream's "done" events

        browser.refresh()  # the same answers drawn from /api/state
        wait_for("the page to show the answers again", lambda: all(_answers(browser)))
        _shows_local_answers(browser, "after a reload")
