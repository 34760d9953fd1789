"""The playground's HTTP server: the standard library's ``ThreadingHTTPServer``, no web framework (so
``requirements.txt``, which Pulumi's virtualenv installs for every ``pulumi up``, gains nothing).

=====  ==================  ===============================================================================
GET    ``/``               the page (``static/index.html``); ``/static/playground.js`` and ``.css`` beside it
GET    ``/api/state``      :meth:`Board.state`: the columns, their conversations, variants, the lab's questions
POST   ``/api/ask``        ``{"text"}``: the answers of both columns as server-sent events, until ``end``
POST   ``/api/apply``      ``{"columns": [{"index", "variant"?, "deployment"?, "system"?}]}``: a new setup
POST   ``/api/clear``      "Clear chat": a new conversation in both columns
GET    ``/api/export``     the session as a compare ``report.json``, as a download
=====  ==================  ===============================================================================

Errors are JSON, ``{"error": {"message", "hint"}}``: 400 (a bad request, JSON nested too deep included),
403, 404, 405, 409 (a column is still answering), 413 (a body over 1 MiB), 415. Guards, since any web page
the browser shows could send requests to a local port: a request must be addressed (``Host``) to a loopback
name, to the address the server is bound to, or to a name given with ``--allow-host`` (no DNS rebinding,
whatever the bind address); a POST must be JSON (a cross-site form cannot send that without a CORS
preflight, which is never granted) and, when the browser names its ``Origin``, come from this page. The page's Content-Security-Policy allows
nothing but this server. No response carries a credential: the session's connection stays here.
"""

from __future__ import annotations

import ipaddress
import json
import queue
import socket
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jobs.errors import JobsError, UsageError
from jobs.playground.board import Board, Busy, Event, Setup

STATIC = Path(__file__).with_name("static")
PAGES = {"/": ("index.html", "text/html; charset=utf-8"),
         "/static/playground.js": ("playground.js", "text/javascript; charset=utf-8"),
         "/static/playground.css": ("playground.css", "text/css; charset=utf-8")}
POSTS = ("/api/ask", "/api/apply", "/api/clear")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
KEEPALIVE = 15.0  # seconds between comment lines of a quiet event stream (a long rate-limit wait)
MAX_BODY = 1 << 20
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


class TooLarge(UsageError):
    """A request body over :data:`MAX_BODY` (HTTP 413)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def sse(event: Event) -> bytes:
    """One server-sent event: its kind as the event name, the whole event as JSON data."""
    return f"event: {event['kind']}\ndata: {json.dumps(event, ensure_ascii=False)}\n\n".encode("utf-8")


def _setups(body: dict[str, Any]) -> list[Setup]:
    items = body.get("columns")
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise UsageError('"columns" must be a list of {"index", "variant"?, "deployment"?, "system"?}',
                         hint='e.g. {"columns": [{"index": 1, "variant": "base-short"}]}')
    out = []
    for item in items:
        index = item.get("index")
        texts = {k: item.get(k) for k in ("variant", "deployment", "system")}
        if not isinstance(index, int) or isinstance(index, bool) or not all(
                v is None or isinstance(v, str) for v in texts.values()):
            raise UsageError('each column needs an integer "index"; "variant", "deployment" and "system" are '
                             "strings", hint='e.g. {"index": 0, "system": "You are ..."}')
        out.append(Setup(index=index, **texts))
    return out


class PlaygroundServer(ThreadingHTTPServer):
    """Serves one :class:`Board` on ``host:port`` (port 0: a free one); binding raises ``OSError``."""

    daemon_threads = True
    block_on_close = False  # stopping never waits for a browser's idle keep-alive connection

    def __init__(self, board: Board, host: str = "127.0.0.1", port: int = 0, allow_hosts: tuple[str, ...] = ()):
        self.board = board
        self.loopback = is_loopback(host)
        self.allow_hosts = tuple(h.strip().lower() for h in allow_hosts if h.strip())
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host.strip("[]"), port), Handler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        host = str(self.server_address[0])
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}/"

    def host_names(self) -> list[str]:
        """The names a request may be addressed to: loopback's, the bound address, and ``--allow-host``'s."""
        bound = str(self.server_address[0])
        bound = f"[{bound}]" if ":" in bound else bound
        return list(dict.fromkeys([*LOOPBACK_NAMES, bound, *self.allow_hosts]))

    def allowed_host(self, value: str | None) -> bool:
        """Only requests addressed to one of :meth:`host_names` (with or without this port): a page whose
        DNS name was rebound to this machine sends its own name and is refused."""
        if not value:
            return False
        value = value.strip().lower()
        return any(value in (name, f"{name}:{self.port}") for name in self.host_names())

    def start(self) -> "PlaygroundServer":
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="playground", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    server: PlaygroundServer
    protocol_version = "HTTP/1.1"
    server_version = "foundry-finetune-playground"
    sys_version = ""
    timeout = 300  # an idle keep-alive connection closes after this many seconds

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the http.server API
        pass  # quiet: the terminal shows the URL and the retry policy's notes

    # ------------------------------------------------------------------ routing
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        self._route(post=False)

    def do_POST(self) -> None:  # noqa: N802
        self._route(post=True)

    def _route(self, *, post: bool) -> None:
        path = urlsplit(self.path).path
        try:
            if not self._allowed(post=post):
                return
            if post and path in POSTS:
                self._post(path, self._body())
            elif not post and path in PAGES:
                self._page(*PAGES[path])
            elif not post and path == "/api/state":
                self._json(200, self.server.board.state())
            elif not post and path == "/api/export":
                self._export()
            elif not post and path == "/favicon.ico":
                self._send(204, b"", "text/plain")
            elif path in POSTS or path in PAGES or path in ("/api/state", "/api/export"):
                self._error(405, f"{self.command} {path} is not allowed",
                            hint=f"use {'POST' if path in POSTS else 'GET'}")
            else:
                self._error(404, f"no such page: {path}", hint="open / for the playground")
        except Busy as exc:
            self._error(409, exc.message, exc.hint)
        except TooLarge as exc:
            self._error(413, exc.message, exc.hint)
        except UsageError as exc:
            self._error(400, exc.message, exc.hint)
        except JobsError as exc:
            self._error(502 if exc.status else 500, exc.message, exc.hint)
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # the browser went away (mid-answer: the columns finish all the same)
        except Exception as exc:  # a bug: the page gets a readable error, the terminal the traceback
            traceback.print_exc(file=sys.stderr)
            self._error(500, f"internal error: {type(exc).__name__}", hint="the server's terminal shows the traceback")

    def _allowed(self, *, post: bool) -> bool:
        host = self.headers.get("Host")
        if not self.server.allowed_host(host):
            names = " or ".join(f"{n}:{self.server.port}" for n in self.server.host_names())
            self._error(403, f"this playground answers requests addressed to {names}, not to {host!r}",
                        hint=f"open {self.server.url}, or start the playground with --allow-host NAME for the "
                        "name you use")
            return False
        if not post:
            return True
        origin = self.headers.get("Origin")
        if origin is not None and origin != f"http://{host}":
            self._error(403, f"requests from {origin} are refused", hint=f"use the page at {self.server.url}")
            return False
        if (self.headers.get("Content-Type") or "").split(";")[0].strip().lower() != "application/json":
            self._error(415, "a POST must send JSON (Content-Type: application/json)", hint="use the page")
            return False
        return True

    def _body(self) -> dict[str, Any]:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            raise UsageError("the Content-Length header is not a number of bytes", hint="send a JSON body")
        if length > MAX_BODY:
            raise TooLarge(f"the request body has {length:,} bytes; at most {MAX_BODY:,} are read",
                           hint="send less (a question or a system message is at most 20,000 characters)")
        raw = self.rfile.read(length) if length else b"{}"
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise UsageError("the request body is not JSON", hint='send e.g. {"text": "What can you do?"}') from None
        except RecursionError:  # json's parser recurses per nesting level
            raise UsageError("the request body's JSON is nested too deeply",
                             hint='send e.g. {"text": "What can you do?"}') from None
        if not isinstance(body, dict):
            raise UsageError("the request body must be a JSON object", hint='send e.g. {"text": "What can you do?"}')
        return body

    def _post(self, path: str, body: dict[str, Any]) -> None:
        board = self.server.board
        if path == "/api/ask":
            text = body.get("text")
            if not isinstance(text, str):
                raise UsageError('"text" must be a string', hint='send {"text": "What can you do?"}')
            self._stream(text)
        elif path == "/api/apply":
            self._json(200, board.apply(_setups(body)))
        else:
            self._json(200, board.clear())

    # ------------------------------------------------------------------ answers
    def _stream(self, text: str) -> None:
        """Both columns' events as server-sent events, until ``end``; the connection closes after it."""
        events: queue.Queue[Event] = queue.Queue()
        self.server.board.ask(text, events.put)  # refused (empty, too long, busy) before anything is sent
        self.close_connection = True
        self.send_response(200)
        self._headers("text/event-stream; charset=utf-8")
        self.send_header("Connection", "close")
        self.end_headers()
        while True:
            try:
                event: Event | None = events.get(timeout=KEEPALIVE)
            except queue.Empty:
                event = None
            # a closed page raises ConnectionError here; the columns still finish and are recorded
            self.wfile.write(sse(event) if event is not None else b": still waiting\n\n")
            self.wfile.flush()
            if event is not None and event["kind"] == "end":
                return

    def _export(self) -> None:
        board = self.server.board
        body = json.dumps(board.export(), indent=2, ensure_ascii=False).encode("utf-8") + b"\n"
        self.send_response(200)
        self._headers("application/json; charset=utf-8", len(body))
        self.send_header("Content-Disposition", f'attachment; filename="playground-{board.run_id}.json"')
        self.end_headers()
        self.wfile.write(body)

    # ------------------------------------------------------------------ writing
    def _headers(self, content_type: str, length: int | None = None) -> None:
        self.send_header("Content-Type", content_type)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Security-Policy", CSP)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self._headers(content_type, len(body))
        self.end_headers()
        self.wfile.write(body)

    def _page(self, name: str, content_type: str) -> None:
        self._send(200, (STATIC / name).read_bytes(), content_type)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def _error(self, status: int, message: str, hint: str | None = None) -> None:
        self.close_connection = True  # a refused request's body may be unread: never read it as the next request
        self._json(status, {"error": {"message": message, "hint": hint}})
