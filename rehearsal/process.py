"""The emulator as a child process (``python -m jobs emulator``), for the local backend's offline lab.

Why a process and not a thread of the runner, as the stand-in's lab uses: the local backend's llama.cpp runtime
only serves fast on two threads when OpenMP's threads spin briefly before they sleep (``GOMP_SPINCOUNT=1000``,
``emulator/local/cpu.py`` ``RUNTIME_ENV``; docs/benchmarks.md), and libgomp reads that once, when it loads. A
child gets it in its own environment, so the runner's ``os.environ`` is never changed to steer it; the child's
model memory (llama.cpp, and the trainer's worker beside it) goes away with it; and a crash there cannot take the
runner's state with it. Its output goes to ``emulator.log`` in the lab's folder, which an error quotes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from jobs.errors import JobsError

LISTENING = re.compile(r"emulator listening on (http://\S+)")
START_SECONDS = 180.0  # loading the model and the start-up probe take seconds; a busy 2-core machine, more
LOG_TAIL = 1500


class EmulatorProcess:
    """``python -m jobs emulator --backend B --port 0`` with ``config`` as its config file and ``env`` added to
    its environment; :meth:`start` returns once it listens (its URL in :attr:`url`), :meth:`stop` ends it."""

    def __init__(self, state_dir: Path, config: dict[str, Any], *, backend: str, env: dict[str, str] | None = None):
        self.state_dir = Path(state_dir)
        self.config = config
        self.backend = backend
        self.env = dict(env or {})
        self.log_path = self.state_dir.parent / "emulator.log"
        self.url = ""
        self._proc: subprocess.Popen[bytes] | None = None

    def command(self, config_path: Path) -> list[str]:
        return [sys.executable, "-m", "jobs", "emulator", "--host", "127.0.0.1", "--port", "0",
                "--state-dir", str(self.state_dir), "--config", str(config_path), "--backend", self.backend]

    def start(self, timeout: float = START_SECONDS) -> "EmulatorProcess":
        config_path = self.state_dir.parent / "emulator-config.json"
        config_path.write_text(json.dumps(self.config, indent=2) + "\n", encoding="utf-8")
        with open(self.log_path, "wb") as log:
            self._proc = subprocess.Popen(self.command(config_path), stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT, env={**os.environ, **self.env})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = LISTENING.search(self._log())
            if found:
                self.url = found.group(1)
                return self
            if self._proc.poll() is not None:
                raise self._failed(f"exited with status {self._proc.returncode} before it listened")
            time.sleep(0.1)
        self.stop()
        raise self._failed(f"did not listen within {timeout:.0f} s")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # SIGTERM: the emulator stops its server and the trainer's worker
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def _log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def _failed(self, what: str) -> JobsError:
        tail = self._log()[-LOG_TAIL:].strip()
        return JobsError(f"the emulator (--backend {self.backend}) {what}" + (f"; its log ends:\n{tail}" if tail else ""),
                         hint=f"read {self.log_path} (kept with --keep DIR); with the stand-in instead: "
                              "--backend stand-in")
