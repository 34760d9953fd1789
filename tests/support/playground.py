"""The playground in tests: served in-process on a free loopback port over a session on an emulator, or as
``python -m jobs playground`` in its own process; its event stream read as the page reads it; and a
recording proxy that shows what reached the model."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import httpx

from tests.support.compare import TUNED
from tests.support.paths import REPO

BASE = "gpt-4.1"
ROME_STAY = "Where in Rome should I stay?"


@contextmanager
def playground_on(url: str, **request: Any) -> Iterator[Any]:
    """The command's own :func:`jobs.commands.playground.start` against ``url`` (the base and tuned
    deployments of tests/support/compare.py unless given), on a free port; yields the running server."""
    from jobs.commands.playground import PlaygroundRequest, start
    from jobs.client import Target
    from jobs.session import Session

    request = {"base_deployment": BASE, "tuned_deployment": TUNED, "port": 0, **request}
    server, _, _ = start(Session.for_stack("dev", target=Target(endpoint=url)), PlaygroundRequest(**request))
    try:
        yield server
    finally:
        server.stop()


def ask(page: str, text: str, *, timeout: float = 60) -> list[dict[str, Any]]:
    """``POST /api/ask`` and every event it streams, until ``end`` (the page's URL ends with ``/``)."""
    with httpx.stream("POST", f"{page}api/ask", json={"text": text}, timeout=timeout) as resp:
        assert resp.status_code == 200, resp.read()
        assert resp.headers["content-type"].startswith("text/event-stream")
        return [json.loads(line[5:]) for line in resp.iter_lines() if line.startswith("data:")]


def of_column(events: list[dict[str, Any]], column: int) -> dict[str, Any]:
    """One column's events: ``kinds`` in order, the streamed ``text``, the ``start`` and the final
    ``done``/``error`` event (``end``), the live ``check`` events."""
    mine = [e for e in events if e.get("column") == column]
    return {"kinds": [e["kind"] for e in mine], "start": mine[0],
            "text": "".join(e["text"] for e in mine if e["kind"] == "delta"),
            "checks_live": [e["marks"] for e in mine if e["kind"] == "check"], "end": mine[-1],
            "waits": [e["note"] for e in mine if e["kind"] == "wait"]}


def settled_state(page: str, *, timeout: float = 30) -> dict[str, Any]:
    """``GET /api/state`` once the account's deployments are no longer ``pending`` (listed or unavailable)."""
    deadline = time.monotonic() + timeout
    while True:
        resp = httpx.get(f"{page}api/state", timeout=10)
        assert resp.status_code == 200, resp.text
        state: dict[str, Any] = resp.json()
        if state["account_deployments"] != "pending":
            return state
        assert time.monotonic() < deadline, "the account's deployments were still pending"
        time.sleep(0.05)


def post(page: str, route: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{page}api/{route}", json=body, timeout=30)


def apply(page: str, *columns: dict[str, Any]) -> dict[str, Any]:
    resp = post(page, "apply", {"columns": list(columns)})
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


# --------------------------------------------------------------------------- what reached the model


@dataclass
class Recorded:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)  # {"path", "headers", "body"}

    def chats(self, deployment: str) -> list[dict[str, Any]]:
        """The bodies of the chat requests sent to ``deployment``, in order."""
        return [r["body"] for r in self.requests  # the dated surface names it in the path, v1 (the default) in the body
                if f"/deployments/{deployment}/chat/completions" in r["path"]
                or ("/openai/v1/chat/completions" in r["path"] and (r["body"] or {}).get("model") == deployment)]


@contextmanager
def recording_proxy(upstream: str) -> Iterator[Recorded]:
    """A loopback proxy in front of ``upstream`` that records every request (path, headers, JSON body) and
    relays the answer as it arrives (streams stay streams)."""
    recorded = Recorded(url="")
    hop = {"host", "content-length", "connection", "transfer-encoding", "content-encoding", "accept-encoding"}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _relay(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            recorded.requests.append({"path": self.path, "headers": dict(self.headers.items()),
                                      "body": json.loads(body) if body else None})
            headers = {k: v for k, v in self.headers.items() if k.lower() not in hop}
            with httpx.stream(self.command, upstream.rstrip("/") + self.path, headers=headers, content=body,
                              timeout=30) as resp:
                self.send_response(resp.status_code)
                for k, v in resp.headers.items():
                    if k.lower() not in hop:
                        self.send_header(k, v)
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                for chunk in resp.iter_bytes():
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")

        do_GET = do_POST = do_DELETE = _relay  # noqa: N815 - the http.server API

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    recorded.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield recorded
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- the command as a process


class PlaygroundProcess:
    """``python -m jobs playground ARGS`` as its own process; ``url`` is what it printed first."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path | None = None):
        self.args, self.env, self.cwd = args, env, cwd
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.out = self.err = ""

    def start(self, timeout: float = 60.0) -> "PlaygroundProcess":
        self.proc = subprocess.Popen([sys.executable, "-m", "jobs", "playground", *self.args], cwd=self.cwd or REPO,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**self.env, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)})
        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        line = self.proc.stdout.readline() if sel.select(timeout) else ""
        sel.close()
        if not line.startswith("playground: "):
            self.stop()
            raise AssertionError(f"the playground did not start: {line!r}\n{self.err[-3000:]}")
        self.url = line[len("playground: "):].strip()
        return self

    def stop(self) -> int | None:
        """SIGTERM, as a service manager stops it; the exit code (output in ``out``/``err``)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            out, err = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        self.out, self.err = out, err
        return self.proc.returncode


def process_env(**extra: str) -> dict[str, str]:
    """The test process's environment (``runner_env`` has isolated it) plus ``extra``."""
    return {**os.environ, **extra}
