"""Azure's answers to auth and api-version mistakes; admin routes; no secret ever echoed or stored."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.support.clients import sdk_client
from tests.support.http import Raw

ACCESS_DENIED = {"error": {"code": "401", "message": (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
    "for an active subscription and use a correct regional API endpoint for your resource.")}}


@pytest.mark.parametrize("path", ["/openai/files?api-version=2024-10-21", "/openai/v1/fine_tuning/jobs",
                                  "/openai/deployments/gpt-4.1/chat/completions?api-version=2024-10-21"])
def test_missing_credentials_get_azures_401(emulator, path):
    method = "POST" if "chat" in path else "GET"
    r = httpx.request(method, emulator.url + path, json={"messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 401
    assert r.json() == ACCESS_DENIED
    r = httpx.request(method, emulator.url + path, headers={"Authorization": "Basic abc"})
    assert r.status_code == 401


def test_any_key_or_token_works_without_configured_keys(emulator):
    for headers in ({"api-key": "anything"}, {"Authorization": "Bearer eyJ.fake.token"}):
        assert Raw(emulator.url, headers=headers).get("/files").status_code == 200


def test_configured_keys_are_enforced_and_never_echoed(emulator_factory, tmp_path):
    secret = "s3cr3t-key-value-0123456789"
    em = emulator_factory({"api_keys": [secret]})
    assert Raw(em.url, headers={"api-key": "wrong"}).get("/files").status_code == 401
    assert Raw(em.url, headers={"api-key": secret}).get("/files").status_code == 200
    assert Raw(em.url, headers={"Authorization": f"Bearer {secret}"}).get("/files").status_code == 200

    client = sdk_client(em.url, key="not-the-key-98765", api_version="2024-10-21", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        client.files.list()
    assert "not-the-key-98765" not in str(info.value)

    ok = sdk_client(em.url, key=secret, api_version="2024-10-21")
    ok.files.create(file=("t.jsonl", b'{"messages": []}\n'), purpose="fine-tune")
    config = httpx.get(em.url + "/++/config")
    assert secret not in config.text and config.json()["api_keys"] != [secret]
    stored = "".join(p.read_text(errors="replace") for p in em.state_dir.rglob("*") if p.is_file())
    assert secret not in stored


def test_api_version_mistakes_are_answered_as_azure_does(emulator):
    auth = {"api-key": "k"}
    missing = httpx.get(emulator.url + "/openai/files", headers=auth)
    assert missing.status_code == 404 and missing.json() == {"error": {"code": "404", "message": "Resource not found"}}
    unknown = httpx.get(emulator.url + "/openai/files?api-version=2099-01-01", headers=auth)
    assert unknown.status_code == 400
    assert unknown.json() == {"error": {"code": "BadRequest", "message": "API version not supported"}}
    assert httpx.get(emulator.url + "/openai/v1/files", headers=auth).status_code == 200
    assert httpx.get(emulator.url + "/openai/v1/files?api-version=preview", headers=auth).status_code == 200
    assert httpx.get(emulator.url + "/openai/v1/files?api-version=2099-01-01", headers=auth).status_code == 400
    assert httpx.get(emulator.url + "/openai/nothing-here?api-version=2024-10-21", headers=auth).status_code == 404


def test_admin_deployments_register_list_and_delete(emulator):
    base = emulator.url + "/++/deployments"
    assert httpx.post(base, json={"name": "x"}).status_code == 400
    created = httpx.post(base, json={"name": "travel-ft", "model": "gpt-4.1-2025-04-14.ft-abc-ft-travel"})
    assert created.status_code == 201
    names = {d["name"]: d["model"] for d in httpx.get(base).json()["data"]}
    assert names == {"gpt-4.1": "gpt-4.1", "travel-ft": "gpt-4.1-2025-04-14.ft-abc-ft-travel"}
    raw = Raw(emulator.url)
    assert raw.post("/deployments/travel-ft/chat/completions",
                    json={"messages": [{"role": "user", "content": "hi"}]}).status_code == 200
    assert httpx.delete(base + "/travel-ft").status_code == 204
    gone = raw.post("/deployments/travel-ft/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "DeploymentNotFound"


def test_admin_config_patch_validates_and_applies(emulator):
    url = emulator.url + "/++/config"
    bad = httpx.patch(url, json={"faults": {"rate": 2}})
    assert bad.status_code == 400 and "faults.rate" in bad.json()["error"]["message"]
    bad = httpx.patch(url, json={"trainng_seconds": 1})
    assert bad.status_code == 400 and "trainng_seconds" in bad.json()["error"]["message"]
    assert httpx.get(url).json()["faults"]["rate"] == 0.0  # nothing applied from a refused patch
    ok = httpx.patch(url, json={"training_seconds": 4, "latency": {"per_token_ms": 1}})
    assert ok.status_code == 200
    assert ok.json()["training_seconds"] == 4.0 and ok.json()["latency"] == {"fixed_ms": 0.0, "per_token_ms": 1.0}
    assert httpx.get(emulator.url + "/++/health").json()["status"] == "ok"


def test_chat_request_errors_use_openai_shape(emulator):
    raw = Raw(emulator.url)
    r = raw.post("/deployments/gpt-4.1/chat/completions", json={"messages": []})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    assert r.json()["error"]["param"] == "messages"
    r = Raw(emulator.url, v1=True).post("/chat/completions", json={"messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "model"


def test_admin_config_patch_merges_deployments(emulator):
    url = emulator.url + "/++/config"
    emulator.add_deployment("registered", "gpt-4.1")
    r = httpx.patch(url, json={"deployments": {"extra": {"model": "gpt-4.1-mini", "capacity": 1}, "gpt-4.1": None}})
    assert r.status_code == 200
    assert sorted(r.json()["deployments"]) == ["extra", "registered"]
    limited = httpx.post(emulator.url + "/openai/deployments/extra/chat/completions?api-version=2024-10-21",
                         headers={"api-key": "k"}, json={"messages": [{"role": "user", "content": "hi"}]})
    assert limited.headers["x-ratelimit-limit-requests"] == "6" and limited.headers["x-ratelimit-limit-tokens"] == "1000"


def test_admin_routes_refuse_non_loopback_clients(tmp_path):
    import asyncio

    from emulator.app import create_app

    app = create_app(tmp_path / "s", {"deployments": {"gpt-4.1": {"model": "gpt-4.1"}}})

    async def call(client_addr: tuple[str, int]) -> tuple[int, int]:
        transport = httpx.ASGITransport(app=app, client=client_addr)
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as c:
            admin = await c.post("/++/deployments", json={"name": "evil", "model": "gpt-4.1"})
            data = await c.get("/openai/v1/files", headers={"api-key": "k"})
            return admin.status_code, data.status_code

    assert asyncio.run(call(("203.0.113.7", 5555))) == (403, 200)
    assert "evil" not in app.config.deployments
    assert asyncio.run(call(("127.0.0.1", 5555))) == (201, 200)


def test_data_plane_responses_carry_a_request_id(emulator):
    r = Raw(emulator.url).get("/files")
    assert r.headers["apim-request-id"] == r.headers["x-request-id"]
    assert len(r.headers["apim-request-id"]) == 36
