"""Emulator fixtures (see tests/conftest.py); the helpers they wrap live in ``tests/support``.

- ``emulator``: a fresh in-process emulator on a free loopback port with ``tests.support.emulators.FAST``.
- ``emulator_factory(config=..., state_dir=...)``: more emulators with custom config.
- ``emulator_process(state_dir, config)``: the emulator as its own OS process (``EmulatorProcess``), stopped
  at the end of the test.
- ``spec_validator``: validates real responses against the official Azure OpenAI specs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from emulator.server import EmulatorServer
from tests.support.emulators import EmulatorProcess, fast_config
from tests.support.spec import SpecValidator


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorServer]:
    with EmulatorServer(tmp_path / "emulator-state", fast_config()) as em:
        yield em


@pytest.fixture
def emulator_factory(tmp_path: Path) -> Iterator[Callable[..., EmulatorServer]]:
    started: list[EmulatorServer] = []
    counter = [0]

    def make(config: dict[str, Any] | None = None, state_dir: Path | None = None, **kwargs: Any) -> EmulatorServer:
        counter[0] += 1
        sd = state_dir or tmp_path / f"emulator-state-{counter[0]}"
        em = EmulatorServer(sd, fast_config(**(config or {})), **kwargs).start()
        started.append(em)
        return em

    yield make
    for em in started:
        em.stop()


@pytest.fixture
def emulator_process(tmp_path: Path) -> Iterator[Callable[..., EmulatorProcess]]:
    procs: list[EmulatorProcess] = []

    def start(state_dir: Path | None = None, config: dict[str, Any] | None = None) -> EmulatorProcess:
        proc = EmulatorProcess(state_dir or tmp_path / "emulator-proc-state", config).start()
        procs.append(proc)
        return proc

    yield start
    for p in procs:
        p.kill()


@pytest.fixture(scope="session")
def spec_validator(shared_dir: Path) -> SpecValidator:
    return SpecValidator(shared_dir)
