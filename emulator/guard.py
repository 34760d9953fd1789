"""What the ASGI wrapper refuses before any route runs: hostile neighbours and over-size uploads.

- **Host**: a DNS-rebinding page reaches a loopback server under its own domain name, so a request whose
  ``Host`` is a name other than ``localhost`` (or ``*.localhost``), the name the emulator was bound to, or (bound
  to every interface) this machine's name is refused. An IP literal is accepted: rebinding needs a name.
- **Origin**: browsers send it on cross-site requests; the SDKs never do. A request with an ``Origin`` that is not
  a loopback origin is refused (the admin routes have no auth, and the data plane accepts any key by default).
- **Admin bodies** must say ``Content-Type: application/json``: a cross-site "simple" request (``text/plain``,
  form encodings) cannot, without a CORS preflight the emulator never answers.
- **Uploads** over Azure's cap are refused with 413 from ``Content-Length`` before anything is read, and while
  the body streams in (a chunked upload says no length).
"""

from __future__ import annotations

import ipaddress
import json
import socket
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from emulator.net import is_loopback

# Azure OpenAI's upload cap: "Max file size for Assistants & fine-tuning | 512 MB" (Microsoft Learn, "Azure OpenAI
# quotas and limits", learn.microsoft.com/azure/ai-services/openai/quotas-limits, read 2026-12-06); taken as MiB.
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
FORM_SLACK = 64 * 1024  # the multipart form's purpose field, headers and boundaries around the file
WILDCARDS = ("", "0.0.0.0", "::")


class TooLarge(Exception):
    """The request's body grew past the cap while it was read."""


def allowed_hosts(bound: str | None) -> frozenset[str] | None:
    """The ``Host`` names accepted for a server bound to ``bound`` (None: in-process, no socket)."""
    names = {"localhost"}
    if bound is not None and bound not in WILDCARDS and not is_loopback(bound):
        names.add(bound.lower())
    if bound in WILDCARDS:
        names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
    return frozenset(names)


def _hostname(value: str) -> str:
    """``example.com:8089`` -> ``example.com``; ``[::1]:80`` -> ``::1``."""
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_ok(scope: Scope, names: frozenset[str]) -> bool:
    host = _header(scope, b"host")
    if host is None:
        return True  # HTTP/1.0 without Host: no browser sends that
    name = _hostname(host.strip().lower()).rstrip(".")
    return _is_ip(name) or name in names or name.endswith(".localhost")


def origin_ok(scope: Scope) -> bool:
    origin = _header(scope, b"origin")
    if origin is None:
        return True
    rest = origin.strip().lower().partition("://")[2]
    name = _hostname(rest.split("/", 1)[0]) if rest else ""
    return name == "localhost" or name.endswith(".localhost") or (_is_ip(name) and is_loopback(name))


def json_content_type(scope: Scope) -> bool:
    value = (_header(scope, b"content-type") or "").split(";", 1)[0].strip().lower()
    return value == "application/json"


def declared_length(scope: Scope) -> int | None:
    value = _header(scope, b"content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def capped(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises :class:`TooLarge` once more than ``limit`` body bytes came in."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise TooLarge()
        return message

    return wrapped


async def refuse(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    headers: Any = scope.get("headers") or []
    for key, value in headers:
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None
