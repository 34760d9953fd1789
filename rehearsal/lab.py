"""The offline lab: an emulator in a folder of its own, a rehearsal session on it, then everything removed.

One set-up for ``python -m jobs rehearse`` and ``python -m jobs playground --rehearsal``::

    with offline_lab(stack="rehearsal", config={...}) as lab:
        Pipeline(lab.session, ...).run()

The emulator listens on a free loopback port with the given backend (``stand-in`` or ``local``); the lab's
folder is a new temporary one (removed at the end) unless ``root`` names one to keep.
"""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from jobs.session import Session
from jobs.settings import PollSettings
from rehearsal.session import POLL, rehearsal_session


@dataclass
class Lab:
    url: str
    root: Path
    session: Session
    temporary: bool


@contextmanager
def offline_lab(*, stack: str, config: dict[str, Any], json_mode: bool, backend: str = "stand-in",
                root: Path | None = None, poll: PollSettings = POLL, prefix: str = "ftjobs-rehearsal-",
                capacity: float | None = None) -> Iterator[Lab]:
    """Start the emulator (its state in ``<root>/emulator``), yield the lab, stop it and delete a temporary root.

    ``capacity`` (thousands of tokens per minute): every deployment's, the base ones and those the rehearsal
    registers (None: the emulator's default, 50)."""
    from emulator.serve import require_server_packages

    require_server_packages()
    from emulator.config import EmulatorConfig
    from emulator.server import EmulatorServer

    if capacity is not None:
        deployments = config.get("deployments") or EmulatorConfig().deployments
        config = {**config, "deployments": {n: {**d, "capacity": capacity} for n, d in deployments.items()}}

    temporary = root is None
    folder = Path(tempfile.mkdtemp(prefix=prefix)) if root is None else root
    server = None
    try:
        (folder / "emulator").mkdir()
        server = EmulatorServer(folder / "emulator", config={**config, "backend": backend}, host="127.0.0.1",
                                port=0).start()
        session = rehearsal_session(server.url, folder, stack=stack, json_mode=json_mode, poll=poll,
                                    capacity=capacity)
        yield Lab(server.url, folder, session, temporary)
    finally:
        if server is not None:
            server.stop()
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)
