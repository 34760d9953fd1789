"""The playground page in a real browser: Debian's Chromium, headless, against the emulator (through a proxy
that records what reached the model). A person's session: a lab question by its chip, both answers
streaming in with the base's violation marked while it arrives, the keyboard, clear chat, a new system
message used, a missing deployment in one column while the other answers, the export, the accessible
names, visible focus, and the layout at 1280 and 375 px with screenshots.

Screenshots go to a temporary folder; with ``PLAYGROUND_SCREENSHOTS=docs/img`` they replace the ones in the
docs (docs/playground.md says how they were taken)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from jobs import lab
from jobs.compare import report as reports
from tests.support.browser import named, screenshot, shrink_png, viewport, wait_for
from tests.support.compare import TUNED, CompareEmulator
from tests.support.paths import REPO
from tests.support.playground import BASE, ROME_STAY, Recorded, playground_on

pytestmark = pytest.mark.usefixtures("runner_env")

EDITED = "Answer in one short sentence, then ask one question."


@pytest.fixture
def page(browser: Any, proxy: Recorded) -> Iterator[Any]:
    """A fresh playground (base | tuned) opened at 1280 x 900; the page has read its state."""
    proxy.requests.clear()
    with playground_on(proxy.url) as server:
        viewport(browser, 1280, 900)
        browser.get(server.url)
        wait_for("the page to read its state", lambda: browser.find_element("id", "name-1").text == "tuned")
        yield browser


@pytest.fixture
def shots(tmp_path: Path) -> Iterator[Path]:
    """Where screenshots go: a temporary folder, or ``$PLAYGROUND_SCREENSHOTS`` (then made small for the docs)."""
    folder = os.environ.get("PLAYGROUND_SCREENSHOTS")
    target = (REPO / folder) if folder else tmp_path
    before = {p: p.stat().st_mtime for p in target.glob("*.png")}
    yield target
    if folder:
        for p in target.glob("playground-*.png"):
            if before.get(p) != p.stat().st_mtime:
                shrink_png(p)


def _js(driver: Any, script: str, *args: Any) -> Any:
    return driver.execute_script(script, *args)


def _answers(driver: Any, column: int) -> list[dict[str, Any]]:
    """Every answer of a column as the page shows it: busy, text, marks, check items, error, notes."""
    return _js(driver, """
        return [...document.querySelectorAll(`#col-${arguments[0]} .msg.assistant`)].map((node) => ({
          busy: node.getAttribute("aria-busy") === "true",
          text: node.querySelector(".text").textContent,
          marks: [...node.querySelectorAll("mark.violation")].map((m) => ({
            text: m.textContent, check: m.dataset.check,
            underline: getComputedStyle(m).textDecorationLine, tag: m.nextElementSibling.textContent})),
          checks: [...node.querySelectorAll(".check")].map((c) => c.textContent),
          error: (node.querySelector(".error") || {}).textContent || null,
          errorRole: node.querySelector(".error") ? node.querySelector(".error").getAttribute("role") : null,
          meta: (node.querySelector(".meta") || {}).textContent || "",
          sent: (node.querySelector(".sent") || {}).textContent || "",
          standIn: !!node.querySelector(".who .badge")}));""", column)


def _status(driver: Any) -> str:
    return str(driver.find_element("id", "status").text)


def _answered(driver: Any) -> str:
    return wait_for("both columns to answer", lambda: _status(driver) if _status(driver).startswith("Answered")
                    else "")


def test_a_person_compares_both_columns_in_the_browser(page: Any, em: CompareEmulator, proxy: Recorded,
                                                       downloads: Path, shots: Path) -> None:
    # a lab question by its chip; slow tokens, so the page is seen while the answers stream in
    em.configure(latency={"per_token_ms": 12})
    try:
        named(page, ROME_STAY).click()
        seen = wait_for("both columns to show part of an answer while it streams", lambda: all(
            a and a[-1]["busy"] and len(a[-1]["text"]) > 20 for a in (_answers(page, 0), _answers(page, 1))))
        assert seen
        live = wait_for("the base's violation marked while its answer still arrives", lambda: [
            a for a in _answers(page, 0) if a["busy"] and a["marks"]])
        assert live[0]["marks"][0]["check"] == "no_recommendations"
        _answered(page)
    finally:
        em.configure(latency={"per_token_ms": 0})
    base, tuned = _answers(page, 0)[-1], _answers(page, 1)[-1]
    assert not base["busy"] and not tuned["busy"] and base["standIn"] and tuned["standIn"]
    assert base["text"].startswith("[emulator stand-in] ") and tuned["text"].startswith("[emulator stand-in] ")
    marked = [m["text"] for m in base["marks"]]
    assert "no_recommendations violation: Harborview Grand Hotel" in marked  # named for screen readers too
    assert base["marks"][0]["tag"] == "⚠ no_recommendations" and base["marks"][0]["underline"] == "underline"
    assert any(c.startswith("✗ no_recommendations: FAIL") for c in base["checks"])
    assert "✓ no_recommendations: pass" in tuned["checks"] and "✓ asks_question: pass" in tuned["checks"]
    assert tuned["marks"] == []
    for answer in (base, tuned):
        assert "latency " in answer["meta"] and "prompt +" in answer["meta"] and "completion tokens" in answer["meta"]
    assert _status(page).startswith("Answered. base: failed no_recommendations")
    assert screenshot(page, shots / "playground-1280.png") == (1280, 900)

    # the keyboard: Shift+Enter is a new line, Enter sends to both columns
    from selenium.webdriver.common.keys import Keys

    message = named(page, "Message")
    message.click()
    message.send_keys("I'm mostly there for the food.", Keys.SHIFT, Keys.ENTER, Keys.NULL, "Where should I stay?")
    assert message.get_attribute("value") == "I'm mostly there for the food.\nWhere should I stay?"
    assert len(_answers(page, 0)) == 1
    message.send_keys(Keys.ENTER)
    _answered(page)
    assert len(_answers(page, 0)) == len(_answers(page, 1)) == 2 and message.get_attribute("value") == ""
    history = proxy.chats(TUNED)[-1]["messages"]
    assert [m["role"] for m in history] == ["system", "user", "assistant", "user"]  # the column's own history

    # clear chat
    named(page, "Clear chat").click()
    wait_for("the chat to clear", lambda: _answers(page, 0) == [] and _answers(page, 1) == [])
    assert _status(page) == "Chat cleared in both columns."

    # a new system message in the right column, applied, then used
    system = named(page, "System message tuned")
    system.clear()
    system.send_keys(EDITED)
    named(page, "Apply to tuned").click()
    wait_for("the new system message", lambda: "edited in the playground" in page.find_element(
        "id", "system-source-1").text)
    message = named(page, "Message")
    message.send_keys(lab.FIRST_QUESTION, Keys.ENTER)
    _answered(page)
    assert proxy.chats(TUNED)[-1]["messages"][0] == {"role": "system", "content": EDITED}
    assert proxy.chats(BASE)[-1]["messages"][0] == {"role": "system", "content": lab.SYSTEM_PROMPT}
    assert _answers(page, 1)[-1]["sent"] == f"Sent with system message (edited in the playground): “{EDITED}”"

    # a missing deployment in the right column: its message there, the left column answers
    deployment = named(page, "Deployment tuned")
    deployment.clear()
    deployment.send_keys("no-such-deployment")
    named(page, "Apply to tuned").click()
    region = wait_for("the right column to be renamed", lambda: page.find_element("id", "name-1").text ==
                      "no-such-deployment")
    assert region and named(page, "no-such-deployment").aria_role == "region"
    named(page, "Message").send_keys(lab.QUESTIONS[3], Keys.ENTER)
    status = _answered(page)
    left, right = _answers(page, 0)[-1], _answers(page, 1)[-1]
    assert left["error"] is None and left["checks"] and left["text"]
    assert right["errorRole"] == "alert" and right["text"] == ""
    assert "No answer from no-such-deployment: stream chat with no-such-deployment: HTTP 404 DeploymentNotFound" \
        in right["error"] and "fix: the deployment does not exist" in right["error"]
    assert "no-such-deployment: no answer (its column says why)" in status
    screenshot(page, shots / "playground-missing-deployment.png")

    # the export downloads as a compare report
    named(page, "Export report (JSON)").click()
    exported = wait_for("the download", lambda: [p for p in downloads.glob("playground-*.json")])
    report = reports.validate(json.loads(exported[0].read_text(encoding="utf-8")), source=str(exported[0]))
    assert [v["name"] for v in report["variants"]] == ["base", "tuned", "tuned #2", "no-such-deployment"]
    assert len(report["rows"]) == 8


def test_every_control_is_named_reachable_by_keyboard_and_shows_its_focus(page: Any) -> None:
    for name, tag in (("Message", "textarea"), ("Send", "button"), ("Clear chat", "button"),
                      ("System message base", "textarea"), ("System message tuned", "textarea"),
                      ("Variant base", "select"), ("Deployment tuned", "input"), ("Apply to base", "button"),
                      ("Apply to both: the system message of tuned", "button"), ("Export report (JSON)", "a")):
        assert named(page, name).tag_name == tag, name
    for region, index in (("base", 0), ("tuned", 1)):
        section = named(page, region)
        assert section.aria_role == "region" and section.get_attribute("id") == f"col-{index}"
    for question in (lab.FIRST_QUESTION, *lab.QUESTIONS):
        assert named(page, question).tag_name == "button"  # a chip
    # Tab walks every control, and each shows a visible focus ring
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    page.find_element("tag name", "h1").click()
    reached: list[str] = []
    for _ in range(40):  # until the focus leaves the page's last control
        ActionChains(page).send_keys(Keys.TAB).perform()
        focus = _js(page, """const e = document.activeElement, s = getComputedStyle(e);
                             return e === document.body ? null : [e.id || e.textContent.trim(), s.outlineStyle,
                                                                  s.outlineWidth];""")
        if focus is None:
            break
        assert focus[1] == "solid" and focus[2] == "3px", focus
        reached.append(focus[0])
    controls = ["clear", "export", *[f"{c}-{i}" for i in (0, 1) for c in ("variant", "deployment-input", "system")],
                lab.FIRST_QUESTION, *lab.QUESTIONS, "message", "send"]
    assert [r for r in reached if r in controls] == controls  # in reading order
    assert reached.count("Apply") == reached.count("Apply to both") == 2


def test_the_columns_sit_side_by_side_and_stack_at_375_px(page: Any, shots: Path) -> None:
    def boxes() -> list[dict[str, float]]:
        return _js(page, "return [0, 1].map((i) => document.getElementById(`col-${i}`).getBoundingClientRect()"
                         ".toJSON());")

    left, right = boxes()
    assert left["top"] == right["top"] and left["right"] < right["left"]  # side by side at 1280
    named(page, ROME_STAY).click()
    _answered(page)
    viewport(page, 375, 812)
    wait_for("the layout at 375 px", lambda: _js(page, "return window.innerWidth") == 375)
    left, right = boxes()
    assert right["top"] >= left["bottom"] and left["width"] == right["width"] <= 375  # stacked
    assert _js(page, "return document.documentElement.scrollWidth") <= 375  # nothing wider than the phone
    assert screenshot(page, shots / "playground-375.png") == (375, 812)
    _js(page, "window.scrollTo(0, document.getElementById('col-1').getBoundingClientRect().top + scrollY - 330)")
    screenshot(page, shots / "playground-375-stacked.png")
