"""``python -m jobs emulator``: serve the local Azure OpenAI emulator until Ctrl-C / SIGTERM.

The emulator is a separate program beside the product: its server packages
(``emulator/requirements.txt``: starlette, uvicorn, python-multipart) are not in
``requirements.txt``, which Pulumi's virtualenv installs for ``pulumi up``.
"""

from __future__ import annotations

import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.errors import UsageError

if TYPE_CHECKING:
    from emulator.config import EmulatorConfig
    from emulator.server import EmulatorServer


@dataclass
class ServeResult:
    url: str

    def to_text(self) -> str:
        return f"emulator on {self.url} stopped; files and jobs are kept in the state dir."

    def to_json(self) -> dict[str, Any]:
        return {"stopped": True, "url": self.url}


SERVER_PACKAGES = ("starlette", "uvicorn", "multipart")


def require_server_packages() -> None:
    """A clear error, not an ImportError, when the emulator's own packages are not installed."""
    import importlib.util

    missing = [name for name in SERVER_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageError(f"the emulator's server packages are not installed ({', '.join(missing)})",
                         hint="run `make install` (or `pip install -r emulator/requirements.txt`)")


def serve(host: str = "127.0.0.1", port: int = 8089, state_dir: str = ".emulator",
          config_file: str | None = None, backend: str | None = None) -> ServeResult:
    require_server_packages()
    from emulator.server import is_loopback

    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port} is out of range", hint="use 0 (any free port) or 1-65535")
    config = _config(config_file, backend)
    server = _start(_state_dir(state_dir), config, host, port)
    if not is_loopback(host):
        print(f"warning: listening on {host}, not loopback: other machines can reach the data plane "
              "(the /++/ admin routes still answer loopback clients only).", file=sys.stderr, flush=True)
    print(f"emulator listening on {server.url}", flush=True)
    answers = ("answers are stand-ins, not model output" if config.backend == "stand-in"
               else "answers come from a small local model, standing in for the deployments' models")
    print(f"  {answers}; admin routes under /++/ (no auth, loopback only).", file=sys.stderr, flush=True)
    _wait(server)
    return ServeResult(server.url)


def _config(config_file: str | None, backend: str | None) -> "EmulatorConfig":
    from emulator.config import BACKENDS, EmulatorConfig

    config = EmulatorConfig.from_file(config_file) if config_file else EmulatorConfig()
    _check_today()
    if backend is not None:
        if backend not in BACKENDS:
            raise UsageError(f"--backend {backend!r} is not a backend", hint=f"use one of: {', '.join(BACKENDS)}")
        config.backend = backend
    return config


def _check_today() -> None:
    """An unreadable FTJOBS_TODAY is refused at start, not answered as a 500 by every job and chat request
    (the lifecycle checks read "today" through jobs.models.today())."""
    from jobs import models

    try:
        models.today()
    except ValueError as exc:
        raise UsageError(str(exc), hint=f"e.g. {models.TODAY_ENV}=2027-01-20, or unset it") from None


def _state_dir(state_dir: str) -> Path:
    sd = Path(state_dir)
    if sd.exists() and not sd.is_dir():
        raise UsageError(f"--state-dir {sd} is a file", hint="pass a directory (it is created if missing)")
    try:
        sd.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--state-dir {sd}: cannot create it ({exc.strerror})",
                         hint="pass a folder you can write to") from None
    return sd


def _start(sd: Path, config: "EmulatorConfig", host: str, port: int) -> "EmulatorServer":
    from emulator.server import BindError, EmulatorServer

    server = EmulatorServer(sd, config, host=host, port=port)
    try:
        server.start()
    except BindError as exc:
        hint = ("pick another --port, or --port 0 for a free one" if exc.option == "--port"
                else "pass --host an address of this machine, e.g. 127.0.0.1 (the default)")
        raise UsageError(f"cannot serve on {host}:{port}: {exc}", hint=hint) from None
    except RuntimeError as exc:
        raise UsageError(f"cannot serve on {host}:{port}: {exc}",
                         hint="run again; if it keeps failing, try another --port") from None
    return server


def _wait(server: "EmulatorServer") -> None:
    """Serve until Ctrl-C or SIGTERM, then stop."""
    stop = threading.Event()

    def _on_term(signum: int, frame: Any) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, _on_term)
    try:
        while not stop.is_set():
            if not server.running:
                break
            stop.wait(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
