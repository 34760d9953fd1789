"""Browser fixtures (see tests/conftest.py); the driver's set-up lives in ``tests/support/browser.py``.

- ``downloads`` (one per test module): the folder the browser's downloads go to.
- ``browser`` (one per test module): Debian's Chromium, headless, with a new empty profile; a machine without
  it fails the test and says to run ``make browser`` (never a skip).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.support.browser import chromium


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads: Path) -> Iterator[Any]:
    driver = chromium(downloads)
    yield driver
    driver.quit()
