"""Shared fixtures. Helpers the tests import live in ``tests/support``; each area keeps its fixtures in a
plugin module listed here:

- ``tests/fixtures_pulumi.py``: Pulumi mocks and a runner for the infra program.
- ``tests/fixtures_emulator.py``: the Azure OpenAI emulator on a free loopback port.
- ``tests/fixtures_runner.py``: isolated run-state dir, runner invocation helpers.
- ``tests/fixtures_stack.py``: stand-in ``pulumi`` executable on PATH that records its arguments.
- ``tests/fixtures_browser.py``: headless Chromium for the browser tests (playground page, compare report).

Markers (registered in pyproject.toml; ``make test-fast`` leaves out ``slow``, ``browser`` and ``local_model``):
``slow`` and ``subprocess`` are written on the tests; a test that uses the ``browser`` fixture is marked
``browser``, and one that uses ``emulator_process`` is marked ``subprocess``, here, whoever writes it.
"""

from __future__ import annotations

from pathlib import Path

import datetime
from typing import Iterator

import pytest

from jobs import models
from tests.support.paths import REPO, SHARED

pytest_plugins = [
    "tests.fixtures_pulumi",
    "tests.fixtures_emulator",
    "tests.fixtures_runner",
    "tests.fixtures_stack",
    "tests.fixtures_browser",
]



def lifecycle_today() -> datetime.date:
    """The "today" every test runs at unless it injects its own: 30 days before the lab model's earliest
    retirement warning, derived from the lifecycle table (jobs/models.py), so no test depends on the clock."""
    lc = models.resolve(models.DEFAULT_MODEL).lifecycle
    dates = [d for d in (lc.training_retires, lc.deployment_retires, lc.base_retires) if d is not None]
    return min(dates) - datetime.timedelta(days=models.WARN_DAYS + 30)


@pytest.fixture(scope="session", autouse=True)
def _lifecycle_today() -> Iterator[None]:
    """FTJOBS_TODAY for the whole session (child processes inherit it): see :func:`lifecycle_today`."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(models.TODAY_ENV, lifecycle_today().isoformat())
        yield


# a test using one of these fixtures, directly or through another fixture, gets the marker
MARKED_BY_FIXTURE = {"browser": "browser", "emulator_process": "subprocess"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for fixture, marker in MARKED_BY_FIXTURE.items():
            if fixture in used:
                item.add_marker(marker)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the project: the lab's files and the Azure specs (read-only)."""
    if not SHARED.is_dir():
        pytest.fail(f"../shared not found at {SHARED}: clone the project beside shared/ (CI does)")
    return SHARED


@pytest.fixture(scope="session")
def mslearn_data(shared_dir: Path) -> Path:
    return shared_dir / "mslearn-data"
