"""Emulator fixtures (see tests/conftest.py); the helpers they wrap live in ``tests/support``.

- ``emulator``: a fresh in-process emulator on a free loopback port with ``tests.support.emulators.FAST``.
- ``emulator_factory(config=..., state_dir=...)``: more emulators with custom config.
- ``emulator_process(state_dir, config)``: the emulator as its own OS process (``EmulatorProcess``), stopped
  at the end of the test.
- ``spec_validator``: validates real responses against the official Azure OpenAI specs.
- ``em`` (one per test module): the emulator with the lab's base deployment and a fine-tuned deployment of a
  model trained there on data/travel-train.jsonl (``tests.support.compare``), for compare, chat, playground.
- ``proxy`` (one per test module): a recording proxy in front of ``em`` (``tests.support.playground``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from emulator.server import EmulatorServer
from tests.support.compare import CompareEmulator, start_compare_emulator
from tests.support.emulators import EmulatorProcess, fast_config
from tests.support.playground import Recorded, recording_proxy
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


@pytest.fixture(scope="module")
def em(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CompareEmulator]:
    emulator = start_compare_emulator(tmp_path_factory.mktemp("compare-emulator"))
    yield emulator
    emulator.server.stop()


@pytest.fixture(scope="module")
def proxy(em: CompareEmulator) -> Iterator[Recorded]:
    with recording_proxy(em.url) as recorded:
        yield recorded
