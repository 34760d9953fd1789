"""Run the emulator on a real uvicorn server in a background thread (tests, the CLI)."""

from __future__ import annotations

import ipaddress
import json
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from jobs.emulator.app import Emulator, create_app
from jobs.emulator.config import EmulatorConfig


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class EmulatorServer:
    """``with EmulatorServer(tmp_path) as em: AzureOpenAI(azure_endpoint=em.url, ...)``."""

    def __init__(self, state_dir: Path | str, config: EmulatorConfig | dict[str, Any] | None = None,
                 host: str = "127.0.0.1", port: int = 0):
        self.state_dir = Path(state_dir)
        self.config = config if isinstance(config, EmulatorConfig) else EmulatorConfig.from_dict(config)
        self.host = host
        self.port = port
        self.emulator: Emulator | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.bound: tuple[str, int] | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 15.0) -> "EmulatorServer":
        import uvicorn

        self.emulator = create_app(self.state_dir, self.config)
        cfg = uvicorn.Config(self.emulator, host=self.host, port=self.port, log_level="warning",
                             lifespan="off", access_log=False)
        self._server = uvicorn.Server(cfg)
        self._thread = threading.Thread(target=self._server.run, name="emulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the emulator could not bind {self.host}:{self.port} (is the port in use?)")
            if time.monotonic() > deadline:
                raise RuntimeError("the emulator did not start in time")
            time.sleep(0.01)
        sock = self._server.servers[0].sockets[0]
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
