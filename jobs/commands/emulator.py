"""``python -m jobs emulator``: serve the local Azure OpenAI emulator until Ctrl-C / SIGTERM."""

from __future__ import annotations

import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs.errors import UsageError


@dataclass
class ServeResult:
    url: str

    def to_text(self) -> str:
        return f"emulator on {self.url} stopped; files and jobs are kept in the state dir."

    def to_json(self) -> dict[str, Any]:
        return {"stopped": True, "url": self.url}


def serve(host: str = "127.0.0.1", port: int = 8089, state_dir: str = ".emulator",
          config_file: str | None = None) -> ServeResult:
    from jobs.emulator.config import EmulatorConfig
    from jobs.emulator.server import EmulatorServer, is_loopback

    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port} is out of range", hint="use 0 (any free port) or 1-65535")
    config = EmulatorConfig.from_file(config_file) if config_file else EmulatorConfig()
    sd = Path(state_dir)
    if sd.exists() and not sd.is_dir():
        raise UsageError(f"--state-dir {sd} is a file", hint="pass a directory (it is created if missing)")
    try:
        sd.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--state-dir {sd}: cannot create it ({exc.strerror})",
                         hint="pass a folder you can write to") from None
    server = EmulatorServer(sd, config, host=host, port=port)
    try:
        server.start()
    except (RuntimeError, OSError) as exc:
        raise UsageError(f"cannot serve on {host}:{port}: {exc}", hint="pick another --port, or --port 0 for a free one")
    if not is_loopback(host):
        print(f"warning: listening on {host}, not loopback: other machines can reach the data plane "
              "(the /++/ admin routes still answer loopback clients only).", file=sys.stderr, flush=True)
    print(f"emulator listening on {server.url}", flush=True)
    print("  answers are stand-ins, not model output; admin routes under /++/ (no auth, loopback only).",
          file=sys.stderr, flush=True)
    stop = threading.Event()

    def _on_term(signum: int, frame: Any) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, _on_term)
    try:
        while not stop.is_set():
            if server._thread is None or not server._thread.is_alive():
                break
            stop.wait(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        url = server.url
        server.stop()
    return ServeResult(url)
