"""The emulator for tests: one fast config, and the emulator as a separate OS process.

In-process servers are :class:`emulator.server.EmulatorServer` itself (``with EmulatorServer(dir, config)``).
"""

from __future__ import annotations

import copy
import json
import os
import selectors
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.paths import REPO

# Short stages (every one still visible to a poller) and the lab's base deployment.
FAST: dict[str, Any] = {
    "file_processing_seconds": 0.2,
    "queue_seconds": 0.2,
    "training_seconds": 1.5,
    "deployments": {"gpt-4.1": {"model": "gpt-4.1", "capacity": 50}},
}
# The runner tests also switch the rate limits off (they test the runner, not the limits).
NO_LIMITS: dict[str, Any] = {"training_seconds": 1.0, "limits": {"enabled": False}}


def fast_config(**overrides: Any) -> dict[str, Any]:
    """:data:`FAST` with ``overrides`` (a dict value is merged into the dict it replaces)."""
    cfg = copy.deepcopy(FAST)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


def runner_config(**overrides: Any) -> dict[str, Any]:
    """:func:`fast_config` for the runner tests: no rate limits, 1 s of training."""
    return fast_config(**{**copy.deepcopy(NO_LIMITS), **overrides})


class EmulatorProcess:
    """``python -m jobs emulator`` as its own process: start, SIGKILL, start again on the same port and state.

    The first start takes a free port (``--port 0``) and reads the URL the emulator prints; later starts reuse it.
    """

    def __init__(self, state_dir: Path, config: dict[str, Any] | None = None, port: int = 0):
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.state_dir.parent / f"{self.state_dir.name}.config.json"
        self.config_path.write_text(json.dumps(fast_config(**(config or {}))))
        self.port = port
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self, timeout: float = 20.0) -> "EmulatorProcess":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jobs", "emulator", "--port", str(self.port), "--state-dir", str(self.state_dir),
             "--config", str(self.config_path)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)})
        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        line = self.proc.stdout.readline() if sel.select(timeout) else ""
        sel.close()
        prefix = "emulator listening on "
        if not line.startswith(prefix):
            self.proc.kill()
            _, err = self.proc.communicate(timeout=5)
            raise RuntimeError(f"emulator process did not start: {line!r} {err[-2000:]}")
        self.url = line[len(prefix):].strip()
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def kill(self) -> None:
        """SIGKILL: a crash, no clean-up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._close()

    def stop(self) -> int | None:
        """SIGTERM, as a user's Ctrl-C; returns the exit code."""
        code = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            code = self.proc.returncode
        self._close()
        return code

    def _close(self) -> None:
        if self.proc is not None:
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream:
                    stream.close()
