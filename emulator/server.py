"""Run the emulator on a real uvicorn server in a background thread (tests, the CLI)."""

from __future__ import annotations

import errno
import json
import socket
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from emulator.answers import AnswerSource
from emulator.app import Emulator, create_app
from emulator.config import EmulatorConfig
from emulator.net import is_loopback
from emulator.trainer import Trainer

__all__ = ["BindError", "EmulatorServer", "is_loopback"]


class BindError(RuntimeError):
    """The listening socket could not be opened; ``option`` names what to change (``--host`` or ``--port``)."""

    def __init__(self, message: str, option: str):
        super().__init__(message)
        self.option = option


def bind(host: str, port: int) -> socket.socket:
    """Open the listening socket, with an error that names the host or the port that failed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise BindError(f"host {host!r} does not resolve to an address ({exc.strerror})", "--host") from None
    last: OSError | None = None
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(128)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        sock.setblocking(False)
        return sock
    reason = (last.strerror if last else None) or "unknown error"
    code = last.errno if last else None
    if code == errno.EADDRINUSE:
        raise BindError(f"port {port} on {host} is already in use ({reason})", "--port")
    if code == errno.EACCES:
        raise BindError(f"port {port} on {host} needs privileges this user lacks ({reason})", "--port")
    if code == errno.EADDRNOTAVAIL:
        raise BindError(f"host {host} is not an address of this machine ({reason})", "--host")
    raise BindError(f"cannot listen on {host}:{port} ({reason})", "--host")


class EmulatorServer:
    """``with EmulatorServer(tmp_path) as em: AzureOpenAI(azure_endpoint=em.url, ...)``."""

    def __init__(self, state_dir: Path | str, config: EmulatorConfig | dict[str, Any] | None = None,
                 host: str = "127.0.0.1", port: int = 0, backend: tuple[AnswerSource, Trainer] | None = None):
        """``backend``: a ready answer source and trainer instead of the ones the config names (see
        :func:`emulator.app.create_app`)."""
        self.state_dir = Path(state_dir)
        self.backend = backend
        self.config = config if isinstance(config, EmulatorConfig) else EmulatorConfig.from_dict(config)
        self.host = host
        self.port = port
        self.emulator: Emulator | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.bound: tuple[str, int] | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 15.0) -> "EmulatorServer":
        """Bind (raises :class:`BindError`), then serve in a background thread."""
        import uvicorn

        self.emulator = create_app(self.state_dir, self.config, host=self.host, backend=self.backend)
        sock = bind(self.host, self.port)
        cfg = uvicorn.Config(self.emulator, host=self.host, port=self.port, log_level="warning",
                             lifespan="off", access_log=False)
        self._server = uvicorn.Server(cfg)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, name="emulator",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                sock.close()
                raise RuntimeError(f"the emulator stopped while starting on {self.host}:{self.port}")
            if time.monotonic() > deadline:
                raise RuntimeError("the emulator did not start in time")
            time.sleep(0.01)
        addr = sock.getsockname()
        self.bound = (addr[0], addr[1])
        self.port = addr[1]
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> "EmulatorServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------------ addresses
    @property
    def url(self) -> str:
        host = self.bound[0] if self.bound else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def openai_endpoint(self) -> str:
        return self.url

    @property
    def v1_base_url(self) -> str:
        return f"{self.url}/openai/v1/"

    # ------------------------------------------------------------------ runtime changes
    def set_config(self, **changes: Any) -> None:
        """Change config at runtime, e.g. ``set_config(faults={"rate": 1.0}, training_seconds=1)``."""
        if self.emulator is None:
            self.config.apply(changes, source="set_config")
            return
        self._admin("PATCH", "/++/config", changes)

    def add_deployment(self, name: str, model: str, capacity: float | None = None) -> None:
        body: dict[str, Any] = {"name": name, "model": model}
        if capacity is not None:
            body["capacity"] = capacity
        if self.emulator is None:
            self.config.deployments[name] = {"model": model, "capacity": capacity or 50}
            return
        self._admin("POST", "/++/deployments", body)

    def advance_clock(self, seconds: float) -> None:
        """Move the engine's clock forward (``POST /++/clock``): jobs progress as if ``seconds`` had passed."""
        self._admin("POST", "/++/clock", {"advance": seconds})

    def _admin(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method=method,
                                     headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                data: dict[str, Any] = json.loads(resp.read() or b"{}")
                return data
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise ValueError(f"{method} {path} failed: {exc.code} {detail}") from None
