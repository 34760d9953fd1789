"""A chat endpoint whose streams break off midway: the first ``breaks`` streamed answers stop after two pieces
(the connection closes inside the chunked body), the later ones are whole. For ``chat``'s stream handling."""

from __future__ import annotations

import json
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any, Iterator

from tests.support.net import local_server

PIECES = ["[emulator stand-in] Rome ", "is lovely in spring. ", "Which season suits you?"]


def _event(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


@contextmanager
def broken_stream_endpoint(breaks: int) -> Iterator[tuple[str, list[int]]]:
    """``with broken_stream_endpoint(1) as (url, requests):``; ``requests[0]`` counts the chat requests."""
    requests = [0]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            self.rfile.read(int(self.headers.get("content-length") or 0))
            requests[0] += 1
            broken = requests[0] <= breaks
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.send_header("x-emulator", "stand-in")
            self.end_headers()
            base = {"id": "chatcmpl-broken", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1"}
            for piece in PIECES[:2] if broken else PIECES:
                self.wfile.write(_chunk(_event({**base, "choices": [{"index": 0, "delta": {"content": piece},
                                                                      "finish_reason": None}]})))
                self.wfile.flush()
            if broken:
                self.close_connection = True
                self.connection.shutdown(2)  # inside the chunked body: the client sees the stream break off
                return
            self.wfile.write(_chunk(_event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})))
            self.wfile.write(_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
            self.wfile.flush()

        def log_message(self, *args: Any) -> None:
            pass

    with local_server(Handler) as url:
        yield url, requests
