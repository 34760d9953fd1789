"""An endpoint that answers HTTP 200 with something that is not the Azure OpenAI API (a proxy's login page,
a wrong URL, JSON of another shape), to every request, on a free loopback port."""

from __future__ import annotations

from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any, Iterator

from tests.support.net import local_server


@contextmanager
def bad_endpoint(body: bytes, content_type: str | None) -> Iterator[str]:
    """``with bad_endpoint(b"<html>...", "text/html") as url:`` every method on every path answers 200 so."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            self.send_response(200)
            if content_type is not None:
                self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _answer

        def log_message(self, *args: Any) -> None:
            pass

    with local_server(Handler) as url:
        yield url
