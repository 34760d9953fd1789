"""Debian's Chromium, headless, driven by selenium through Debian's chromedriver: nothing is downloaded at test
time (the driver's path is given, so Selenium Manager never runs). ``make browser`` installs both packages;
a test that finds them missing fails and says so, it is never skipped."""

from __future__ import annotations

import base64
import os
import struct
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# As the probe of this kind of machine started it: without the background-networking flags Chromium's own
# connections are refused by the closed network.
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage")
T = TypeVar("T")


def chromium(downloads: Path) -> Any:
    """A headless Chromium with a new empty profile; files the page downloads go to ``downloads``."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail(f"{' and '.join(missing)} missing: run `make browser` (`make test` runs it first), which "
                    "installs Debian's chromium and chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={tempfile.mkdtemp(prefix='playground-chromium-')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    return driver


def viewport(driver: Any, width: int, height: int) -> None:
    """The page's viewport, exactly (a window's size would include what headless Chromium counts as its frame)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})


def screenshot(driver: Any, path: Path) -> tuple[int, int]:
    """The viewport as a PNG at ``path``; returns its (width, height) as the file says."""
    data = base64.b64decode(driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})["data"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def wait_for(what: str, probe: Callable[[], T], timeout: float = 20.0) -> T:
    """``probe()`` once it is truthy (polled every 20 ms); fails naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


def named(driver: Any, name: str, *, within: Any = None) -> Any:
    """The one control (or region) whose accessible name, as Chromium computes it, is ``name``."""
    from selenium.webdriver.common.by import By

    root = within or driver
    found = [e for e in root.find_elements(By.CSS_SELECTOR, "button, textarea, input, select, a, section")
             if e.accessible_name == name]
    assert len(found) == 1, f"{len(found)} elements named {name!r}"
    return found[0]


def shrink_png(path: Path, colours: int = 128) -> None:
    """The screenshot in ``colours`` colours (a third of the bytes; text and marks look the same): for the docs."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=colours, method=Image.Quantize.MEDIANCUT,
                                              dither=Image.Dither.NONE)
    small.save(path, optimize=True)
