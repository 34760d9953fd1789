"""Runner fixtures (see tests/conftest.py); the helpers they wrap live in ``tests/support``.

- ``runner_env``: an isolated run-state dir and fast, deterministic env for the runner (poll every 0.05 s,
  quick retries, a test API key, no inherited Azure settings). Returns the state dir.
- ``jobs_cli(*args)``: ``python -m jobs ARGS`` in-process (click's runner); exit code, stdout, stderr apart.
- ``job_emulator``: an in-process emulator with ``runner_config()`` (no rate limits).
- ``training_copy``: the lab's training file copied to a temp dir (read from ../shared).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests.support.cli import CliOutcome, invoke_cli
from tests.support.clients import TEST_KEY
from tests.support.emulators import runner_config

_CLEARED = ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_AD_TOKEN", "FTJOBS_API",
            "OPENAI_API_VERSION", "FTJOBS_PRICE_PER_1M", "FTJOBS_STACK", "FTJOBS_TEST_CRASH_AT", "OPENAI_API_KEY",
            "OPENAI_BASE_URL", "FTJOBS_POLL_RUNNING_MIN", "FTJOBS_STATUS_EVERY", "FTJOBS_RETRY_MAX_WAIT")


@pytest.fixture
def runner_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    state = tmp_path / "ftjobs-state"
    monkeypatch.setenv("FTJOBS_STATE_DIR", str(state))
    monkeypatch.setenv("FTJOBS_POLL_INTERVAL", "0.05")
    monkeypatch.setenv("FTJOBS_POLL_MAX", "0.2")
    monkeypatch.setenv("FTJOBS_RETRY_BASE", "0.05")
    monkeypatch.setenv("FTJOBS_RETRY_CAP", "0.5")
    monkeypatch.setenv("FTJOBS_RETRY_ATTEMPTS", "12")
    monkeypatch.setenv("FTJOBS_HTTP_TIMEOUT", "10")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("CI", "1")  # plain progress lines
    monkeypatch.chdir(tmp_path)
    return state


@pytest.fixture
def jobs_cli() -> Callable[..., CliOutcome]:
    return invoke_cli


@pytest.fixture
def job_emulator(tmp_path: Path) -> Iterator[Any]:
    from emulator.server import EmulatorServer

    with EmulatorServer(tmp_path / "emulator-state", runner_config()) as em:
        yield em


@pytest.fixture
def training_copy(tmp_path: Path, mslearn_data: Path) -> Path:
    dst = tmp_path / "data" / "travel-train.jsonl"
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(mslearn_data / "travel-finetune-hotel.jsonl", dst)
    return dst
