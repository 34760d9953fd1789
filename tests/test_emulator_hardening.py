"""Hostile neighbours and malformed requests (issue 21, items 6-7): refused with Azure's 4xx shape, never a 500
with a traceback, and nothing changes on the server."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

import emulator.guard as guard
from emulator.server import EmulatorServer
from tests.support.emulators import fast_config

KEY = {"api-key": "k"}


@pytest.fixture
def em(tmp_path: Path) -> Any:
    with EmulatorServer(tmp_path / "s", fast_config()) as server:
        yield server


def _error(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return dict(body["error"])


# ---------------------------------------------------------------- item 6: Host, Origin, Content-Type
def test_a_rebinding_host_is_refused(em: Any) -> None:
    r = httpx.get(em.url + "/openai/v1/files", headers={**KEY, "Host": "attacker.example:8089"})
    assert "Host" in _error(r, 403)["message"]
    assert httpx.get(em.url + "/++/deployments", headers={"Host": "attacker.example"}).status_code == 403
    for host in ("localhost", f"localhost:{em.port}", "127.0.0.1", "app.localhost"):
        assert httpx.get(em.url + "/openai/v1/files", headers={**KEY, "Host": host}).status_code == 200, host


def test_a_server_bound_elsewhere_accepts_its_own_name(tmp_path: Path) -> None:
    names = guard.allowed_hosts("0.0.0.0")
    assert names is not None and socket.gethostname().lower() in names and "localhost" in names
    assert "build-box" in (guard.allowed_hosts("build-box") or set())
    assert "build-box" not in (guard.allowed_hosts("127.0.0.1") or set())


def test_a_cross_site_origin_is_refused(em: Any) -> None:
    r = httpx.post(em.url + "/++/deployments", json={"name": "evil", "model": "gpt-4.1"},
                   headers={"Origin": "https://attacker.example"})
    _error(r, 403)
    r = httpx.get(em.url + "/openai/v1/files", headers={**KEY, "Origin": "null"})
    _error(r, 403)
    assert "evil" not in {d["name"] for d in httpx.get(em.url + "/++/deployments").json()["data"]}
    same = httpx.get(em.url + "/openai/v1/files", headers={**KEY, "Origin": f"http://localhost:{em.port}"})
    assert same.status_code == 200


def test_admin_bodies_must_be_json(em: Any) -> None:
    # a cross-site "simple" request: text/plain needs no CORS preflight
    r = httpx.post(em.url + "/++/deployments", content=b'{"name": "evil", "model": "gpt-4.1"}',
                   headers={"Content-Type": "text/plain"})
    assert _error(r, 415)["code"] == "unsupportedMediaType"
    r = httpx.patch(em.url + "/++/config", content=b'{"training_seconds": 1}',
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    _error(r, 415)
    assert "evil" not in {d["name"] for d in httpx.get(em.url + "/++/deployments").json()["data"]}
    assert httpx.post(em.url + "/++/deployments", json={"name": "ok", "model": "gpt-4.1"}).status_code == 201


# ---------------------------------------------------------------- item 7: malformed bodies
@pytest.mark.parametrize("raw", [b'{"messages": "\xff\xfe"}', b"[" * 5000 + b"]" * 5000,
                                 b'{"messages": [{"role": "user", "content": "hi"}], "temperature": NaN}'])
def test_a_malformed_chat_body_is_a_400(em: Any, raw: bytes) -> None:
    r = httpx.post(em.url + "/openai/deployments/gpt-4.1/chat/completions?api-version=2024-10-21", content=raw,
                   headers={**KEY, "Content-Type": "application/json"})
    assert _error(r, 400)["type"] == "invalid_request_error"


@pytest.mark.parametrize("raw", [b"\xff", b'{"model": ' + b"[" * 5000 + b"]" * 5000 + b"}"])
def test_a_malformed_job_body_is_a_400(em: Any, raw: bytes) -> None:
    r = httpx.post(em.url + "/openai/v1/fine_tuning/jobs", content=raw,
                   headers={**KEY, "Content-Type": "application/json"})
    assert _error(r, 400)["code"] == "invalidPayload"


def test_stream_options_must_be_an_object(em: Any) -> None:
    r = httpx.post(em.url + "/openai/v1/chat/completions", headers=KEY,
                   json={"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "stream": True,
                         "stream_options": "yes"})
    assert _error(r, 400)["param"] == "stream_options"


@pytest.mark.parametrize("raw", [b'{"training_seconds": NaN}', b'{"latency": {"fixed_ms": Infinity}}',
                                 b'{"training_seconds": -Infinity}', b"\xff", b"[" * 3000 + b"]" * 3000])
def test_config_patch_with_non_numbers_is_refused_and_config_stays_readable(em: Any, raw: bytes) -> None:
    r = httpx.patch(em.url + "/++/config", content=raw, headers={"Content-Type": "application/json"})
    _error(r, 400)
    got = httpx.get(em.url + "/++/config")
    assert got.status_code == 200 and got.json()["training_seconds"] == fast_config()["training_seconds"]


def test_a_config_file_with_infinity_is_refused(tmp_path: Path) -> None:
    from emulator.config import EmulatorConfig
    from jobs.errors import UsageError

    path = tmp_path / "em.json"
    path.write_text('{"queue_seconds": Infinity}')
    with pytest.raises(UsageError, match="queue_seconds must be a finite number"):
        EmulatorConfig.from_file(path)


@pytest.mark.parametrize("capacity", [1e308, float("inf"), -1, 0, "50", True])
def test_an_impossible_capacity_is_refused(em: Any, capacity: Any) -> None:
    body = f'{{"name": "big", "model": "gpt-4.1", "capacity": {str(capacity).lower() if capacity is True else capacity!r}}}'
    body = body.replace("inf", "1e999")  # JSON has no infinity literal: 1e999 parses to it
    r = httpx.post(em.url + "/++/deployments", content=body.replace("'", '"').encode(),
                   headers={"Content-Type": "application/json"})
    assert "capacity" in _error(r, 400)["message"]
    r = httpx.patch(em.url + "/++/config", json={"deployments": {"big": {"model": "gpt-4.1", "capacity": 1e308}}})
    assert "capacity" in _error(r, 400)["message"]
    chat = httpx.post(em.url + "/openai/deployments/gpt-4.1/chat/completions?api-version=2024-10-21", headers=KEY,
                      json={"messages": [{"role": "user", "content": "hi"}]})
    assert chat.status_code == 200


@pytest.mark.parametrize("name", ["../../x", "a/b", "-lead", "", "x" * 65, "sp ace", "ünï"])
def test_deployment_names_follow_azures_rule(em: Any, name: str) -> None:
    r = httpx.post(em.url + "/++/deployments", json={"name": name, "model": "gpt-4.1"})
    _error(r, 400)
    assert name not in {d["name"] for d in httpx.get(em.url + "/++/deployments").json()["data"]}


def test_names_azure_takes_are_taken(em: Any) -> None:
    for name in ("gpt-4.1-ft-travel", "My_Deployment.2", "x" * 64):
        assert httpx.post(em.url + "/++/deployments", json={"name": name, "model": "gpt-4.1"}).status_code == 201
        assert httpx.delete(f"{em.url}/++/deployments/{name}").status_code == 204


# ---------------------------------------------------------------- item 7: upload size
def test_an_upload_declared_over_512_mb_is_refused_before_it_is_read(em: Any) -> None:
    with socket.create_connection((em.bound[0], em.port), timeout=10) as sock:
        sock.sendall(b"POST /openai/v1/files HTTP/1.1\r\nHost: 127.0.0.1\r\napi-key: k\r\n"
                     b"Content-Type: multipart/form-data; boundary=b\r\n"
                     + f"Content-Length: {600 * 1024 * 1024}\r\n\r\n".encode())
        answer = b""
        while b"fileTooLarge" not in answer and (chunk := sock.recv(4096)):
            answer += chunk
    text = answer.decode("latin-1")
    assert text.startswith("HTTP/1.1 413") and "fileTooLarge" in text


def test_an_upload_that_grows_past_the_cap_is_refused(em: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guard, "MAX_UPLOAD_BYTES", 1024)
    monkeypatch.setattr(guard, "FORM_SLACK", 0)

    def chunks() -> Any:  # chunked: no Content-Length to refuse up front
        yield b"--b\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nfine-tune\r\n"
        yield b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"t.jsonl\"\r\n\r\n"
        for _ in range(10):
            yield b"x" * 512
        yield b"\r\n--b--\r\n"

    r = httpx.post(em.url + "/openai/v1/files", content=chunks(),
                   headers={**KEY, "Content-Type": "multipart/form-data; boundary=b"})
    assert _error(r, 413)["code"] == "fileTooLarge"
    assert httpx.get(em.url + "/openai/v1/files", headers=KEY).json()["data"] == []
