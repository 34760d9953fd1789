"""``backend: local``: the answer source and the trainer of the local model (``emulator/backends.py`` imports
this module only when that backend is chosen).

:func:`make` checks that the packages and the weights are installed (``LocalModelMissing`` names
``make install-local`` otherwise), starts the serving runtime on a background thread (it measures this CPU's
speed for the ``x-ratelimit-*`` headers) and returns (:class:`LocalAnswerSource`, :class:`LocalTrainer`). The
trainer keeps the float32 conversion of the base model (517 MB; converting takes about 14 s) in the user's cache
directory (``$XDG_CACHE_HOME`` or ``~/.cache``, then ``foundry-finetune/local-model``), shared by every state
directory (a rehearsal starts on a fresh one); a cache that cannot be written costs time, not the run.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from pathlib import Path

from emulator.config import EmulatorConfig
from emulator.local.answer_source import LocalAnswerSource
from emulator.local.serve import LocalModels
from emulator.local.trainer import LocalTrainer
from emulator.local.weights import INSTALL_HINT, LocalModelMissing, gguf_path, require_packages

RUNTIME_PACKAGE = "xllamacpp"  # the llama.cpp runtime that serves the model
PARALLEL = 2  # streams the runtime serves at once (its slots share the context)
CONTEXT = 8192


def make(config: EmulatorConfig, state_dir: Path) -> tuple[LocalAnswerSource, LocalTrainer]:
    require_packages()
    if importlib.util.find_spec(RUNTIME_PACKAGE) is None:
        raise LocalModelMissing(f"the local backend needs {RUNTIME_PACKAGE}, which is not installed; {INSTALL_HINT}")
    models = LocalModels(gguf_path(), parallel=PARALLEL, context=CONTEXT)  # adapters: a temporary directory
    threading.Thread(target=_start, args=(models,), name="local-model-start", daemon=True).start()
    source = LocalAnswerSource(models, parallel=PARALLEL)
    return source, LocalTrainer(cache_dir=cache_dir())


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "foundry-finetune" / "local-model"


def _start(models: LocalModels) -> None:
    """Load the base model now, so the first request does not wait for it (and the speed is measured)."""
    try:
        models.start()
    except Exception as exc:  # noqa: BLE001 - the first request reports it again, to its client
        print(f"warning: the local model did not start: {exc}", file=sys.stderr, flush=True)
