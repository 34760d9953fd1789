"""``report.html`` opened in a real browser (Debian's Chromium, headless, from ``file://``) as a person reads
it: a compare run against the emulator on a small suite where base and tuned differ on some items and agree
on others. The stand-in and verdict banners, the per-check rates, the offending words marked and named, the
"differences only" filter ticked and unticked (and matching the box after a reload), and not one request
beyond the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jobs.stand_in import STAND_IN_LABEL
from jobs.compare.stats import pct
from tests.support.browser import named, viewport, wait_for
from tests.support.compare import CompareEmulator, pair_args, report_of, run_compare

# Two items where the tuned model declines and asks (base fails both checks), two where both variants get the
# same results (both pass on_topic and style; both miss a word nobody says).
SUITE = """\
suite: browser
cases:
  - id: rome-stay
    turns: ["Where in Rome should I stay?"]
  - id: paris-hotel
    turns: ["Which budget hotel in Paris should I book?"]
  - id: what-can-you-do
    turns: ["What can you do?"]
    checks: [on_topic, style]
  - id: visa
    turns: ["Do I need a visa for Japan?"]
    checks: [on_topic]
    must_mention: ["zzz-never"]
"""


@pytest.fixture(scope="module")
def run(em: CompareEmulator, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The default pair on SUITE, once each: the report's folder and its report.json."""
    folder = tmp_path_factory.mktemp("browser-report")
    suite = folder / "suite.yaml"
    suite.write_text(SUITE, encoding="utf-8")
    out = folder / "out"
    result = run_compare(folder / "state", *pair_args(em, "--suite", str(suite), "--repeat", "1", "--out", str(out)))
    assert result.exit_code == 0, result.stderr
    return out, report_of(out)


@pytest.fixture
def page(browser: Any, run: tuple[Path, dict[str, Any]]) -> Any:
    """report.html, freshly loaded from its file, with the filter off."""
    browser.get((run[0] / "report.html").as_uri())
    wait_for("the report to load", lambda: _js(browser, "return document.readyState") == "complete")
    return browser


def _js(driver: Any, script: str, *args: Any) -> Any:
    return driver.execute_script(script, *args)


def _items(report: dict[str, Any]) -> dict[str, bool]:
    """Each item (case, turn, repeat) of report.json, in order: whether the variants' check results differ."""
    results: dict[str, set[str]] = {}
    for r in report["rows"]:
        key = f'{r["case_id"]} turn {r["turn"]}, repeat {r["repeat"] + 1}'
        checks = "error" if r["error"] is not None else json.dumps(sorted((k, c["passed"])
                                                                         for k, c in r["checks"].items()))
        results.setdefault(key, set()).add(checks)
    return {key: len(seen) > 1 for key, seen in results.items()}


def _shown_items(driver: Any) -> list[str]:
    """The matrix's rows a person sees, by their first cell's first line (case id, turn, repeat)."""
    rows = driver.find_elements("css selector", "#matrix tbody tr")
    return [r.find_element("css selector", "td").text.split("\n")[0] for r in rows if r.is_displayed()]


def test_the_banners_and_the_per_check_rates_are_on_screen(page: Any, run: tuple[Path, dict[str, Any]]) -> None:
    _, report = run
    stand_in = page.find_element("id", "stand-in")
    assert stand_in.is_displayed() and stand_in.text.startswith(STAND_IN_LABEL)
    assert report["stand_in_note"] in stand_in.text
    verdict = page.find_element("id", "verdict")
    assert verdict.is_displayed() and report["verdict"]["headline"] in verdict.text
    assert verdict.find_element("tag name", "h1").text == "Does fine-tuning beat prompting?"
    assert page.title.endswith(STAND_IN_LABEL)
    # the per-check table: one row per check, each variant's rate with its count and interval
    names = [v["name"] for v in report["variants"]]
    header = [th.text.split("\n")[0] for th in page.find_elements("css selector", "#check-table thead th")]
    assert header[:1 + len(names)] == ["check", *names]
    rows = page.find_elements("css selector", "#check-table tbody tr")
    assert [r.find_element("css selector", "td").text for r in rows] == list(report["paired"])
    for row, check in zip(rows, report["paired"]):
        cells = [td.text for td in row.find_elements("css selector", "td")]
        for cell, name in zip(cells[1:], names):
            c = report["summary"][name][check]
            low, high = c["ci95"]
            assert cell == f'{pct(c["rate"])} ({c["passed"]}/{c["total"]}; 95% {low * 100:.0f}-{high * 100:.0f}%)'
        p = report["paired"][check]
        assert cells[1 + len(names)] == f'{p["wins"]} / {p["ties"]} / {p["losses"]}'
    by_check = {r.find_element("css selector", "td").text: r.text for r in rows}
    assert by_check["no_recommendations"].startswith("no_recommendations 0% (0/2;")  # base declines nothing
    assert " 100% (2/2;" in by_check["no_recommendations"]  # the tuned model always declines


def test_the_offending_words_are_marked_and_named(page: Any, run: tuple[Path, dict[str, Any]]) -> None:
    _, report = run
    marks = _js(page, """
        return [...document.querySelectorAll("#matrix mark")].map((m) => {
          const tag = m.nextElementSibling, box = m.getBoundingClientRect();
          return {text: m.textContent, check: m.dataset.check, item: m.closest("tr").cells[0].innerText.split("\\n")[0],
                  column: m.closest("td").cellIndex, background: getComputedStyle(m).backgroundColor,
                  cell: getComputedStyle(m.closest("td")).backgroundColor, visible: box.width > 0 && box.height > 0,
                  tag: tag ? tag.innerText : null, tagVisible: !!tag && tag.getBoundingClientRect().width > 0};
        });""")
    assert marks, "no offending words marked"
    failing = {(f'{r["case_id"]} turn {r["turn"]}, repeat {r["repeat"] + 1}', 1 + names_index, check): c["evidence"]
               for names_index, name in enumerate(v["name"] for v in report["variants"])
               for r in report["rows"] if r["variant"] == name
               for check, c in r["checks"].items() if not c["passed"] and c["evidence"] in (r["answer"] or "")}
    for m in marks:
        assert m["check"] and m["visible"] and m["background"] != m["cell"], m  # highlighted ...
        for check in m["check"].split(", "):  # ... exactly the words a failed check found
            assert failing[(m["item"], m["column"], check)] == m["text"], m
        assert m["tagVisible"] and m["tag"] == f'⚠ {m["check"]}', m  # ... and named in words, not colour alone
    marked = {(m["item"], m["column"]) for m in marks}
    assert ("rome-stay turn 1, repeat 1", 1) in marked and ("paris-hotel turn 1, repeat 1", 1) in marked  # base
    assert not any(column == 2 for _, column in marked)  # the tuned answers fail nothing in their words
    assert any(m["check"] == "no_recommendations" for m in marks)


def test_differences_only_hides_the_items_where_the_variants_agree(page: Any,
                                                                   run: tuple[Path, dict[str, Any]]) -> None:
    from selenium.webdriver.common.keys import Keys

    _, report = run
    items = _items(report)
    differing = [k for k, differs in items.items() if differs]
    assert 0 < len(differing) < len(items)  # the suite has both kinds
    assert _shown_items(page) == list(items)
    box = named(page, "differences only")
    assert box.get_attribute("type") == "checkbox" and not box.is_selected()
    page.find_element("css selector", "label[for='diff-only'], label:has(#diff-only)").click()  # as a person
    assert box.is_selected()
    assert wait_for("only the differing items", lambda: _shown_items(page) == differing)
    # whatever a reload does with the ticked box, the list matches it
    page.refresh()
    wait_for("the report to load again", lambda: _js(page, "return document.readyState") == "complete")
    box = page.find_element("id", "diff-only")
    assert _shown_items(page) == (differing if box.is_selected() else list(items))
    if not box.is_selected():
        box.click()
        wait_for("only the differing items", lambda: _shown_items(page) == differing)
    # unticked from the keyboard: every item again
    box.send_keys(Keys.SPACE)
    assert not box.is_selected()
    assert wait_for("every item again", lambda: _shown_items(page) == list(items))


def test_the_report_asks_the_network_for_nothing(page: Any) -> None:
    loaded = _js(page, "return performance.getEntries().filter((e) => e.name).map((e) => [e.entryType, e.name]);")
    assert loaded and all(name.startswith(("file:", "data:")) for kind, name in loaded
                          if kind in ("navigation", "resource")), loaded
    assert _js(page, "return performance.getEntriesByType('resource').length") == 0  # nothing beyond the file
    references = _js(page, """
        return [...document.querySelectorAll("[src], [href], [srcset], [action], [poster], [data]")]
          .map((e) => e.tagName + " " + (e.getAttribute("src") || e.getAttribute("href") || e.getAttribute("srcset")
                                         || e.getAttribute("action") || e.getAttribute("poster")
                                         || e.getAttribute("data")));""")
    assert all(r.split(" ", 1)[1].startswith("#") for r in references), references  # in-page anchors only
    css = _js(page, "return [...document.styleSheets].flatMap((s) => [...s.cssRules].map((r) => r.cssText));")
    assert css and not [rule for rule in css if "url(" in rule or rule.startswith("@import")]
    assert _js(page, "return document.querySelectorAll('script[src], link, iframe, img, object, embed').length") == 0


def test_the_report_fits_a_phone(page: Any) -> None:
    viewport(page, 390, 844)
    try:
        page.refresh()
        wait_for("the report to load", lambda: _js(page, "return document.readyState") == "complete")
        wide = _js(page, """
            const over = [...document.body.querySelectorAll("*")].filter((e) => {
              const box = e.getBoundingClientRect();
              return box.width > 0 && box.right > window.innerWidth + 1 && !e.closest(".scroll");
            });
            return {page: document.documentElement.scrollWidth, over: over.map((e) => e.tagName + "#" + e.id)};""")
        assert wide["page"] <= 390 and wide["over"] == [], wide  # the wide tables scroll in their own box
        table = page.find_element("id", "matrix")
        box = _js(page, "const s = arguments[0].parentElement; return [s.className, s.clientWidth, s.scrollWidth,"
                        " getComputedStyle(s).overflowX];", table)
        assert box[0] == "scroll" and box[1] <= 390 and box[3] == "auto"
        assert page.find_element("id", "verdict").is_displayed() and page.find_element("id", "units").is_displayed()
        # readable, not squeezed: no header broken letter by letter, no check name either
        tall = _js(page, """return [...document.querySelectorAll("th, #check-table td:first-child")]
            .filter((c) => c.getBoundingClientRect().height > 3 * parseFloat(getComputedStyle(c).lineHeight))
            .map((c) => c.textContent);""")
        assert tall == [], tall
    finally:
        page.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_the_content_security_policy_runs_the_page_and_nothing_else(page: Any) -> None:
    policy = _js(page, "return document.querySelector('meta[http-equiv=\"Content-Security-Policy\"]').content")
    assert "default-src 'none'" in policy and "unsafe" not in policy
    # its own style and script run: the banner is styled, the filter works (test above)
    assert _js(page, "return getComputedStyle(document.getElementById('verdict')).backgroundColor") not in (
        "rgba(0, 0, 0, 0)", "transparent")
    # markup that got in anyway runs nothing and loads nothing
    _js(page, """
        window.violations = [];
        document.addEventListener("securitypolicyviolation", (e) => window.violations.push(e.violatedDirective));
        const s = document.createElement("script"); s.textContent = "window.injected = 1;"; document.body.append(s);
        const d = document.createElement("div"); d.setAttribute("onclick", "window.clicked = 1;");
        document.body.append(d); d.click();
        const i = document.createElement("img"); i.src = "https://example.invalid/x.png"; document.body.append(i);""")
    wait_for("the violations reported", lambda: len(_js(page, "return window.violations")) >= 3)
    assert _js(page, "return [window.injected, window.clicked]") == [None, None]
    assert set(_js(page, "return window.violations")) >= {"script-src-elem", "img-src"}
