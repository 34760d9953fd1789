"""Stack fixtures (see tests/conftest.py): the stand-in ``pulumi`` on PATH and a finished job.

- ``fake_pulumi``: a fresh ``tests.support.fake_pulumi.FakePulumi`` home, with ``tests/support/bin`` first on
  ``PATH`` (and no real pulumi) for this process and every subprocess it starts.
- ``no_pulumi``: ``PATH`` without any ``pulumi``.
- ``stack_state_dir``: an empty run-state folder (env FTJOBS_STATE_DIR), stack env reset to the default.
- ``finished_job``: a succeeded fine-tuning job (with a validation file) on a fresh emulator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.clients import FinishedJob, run_job_on
from tests.support.fake_pulumi import FakePulumi, path_without_pulumi


@pytest.fixture
def fake_pulumi(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> FakePulumi:
    fake = FakePulumi.create(tmp_path_factory.mktemp("fake-pulumi-home"))
    for name, value in fake.env.items():
        monkeypatch.setenv(name, value)
    return fake


@pytest.fixture
def no_pulumi(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", path_without_pulumi())


@pytest.fixture
def stack_state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path_factory.mktemp("ftjobs-state")
    monkeypatch.setenv("FTJOBS_STATE_DIR", str(directory))
    monkeypatch.delenv("FTJOBS_STACK", raising=False)
    return directory


@pytest.fixture
def finished_job(emulator: Any, mslearn_data: Path) -> FinishedJob:
    return run_job_on(emulator.url, mslearn_data / "travel-finetune-hotel.jsonl", validation=True)
