"""Every implemented operation's real HTTP response, validated against the official Azure specs.

Authoring operations (files, fine-tuning jobs) against ``2025-04-01-preview`` (Swagger 2.0,
via jsonschema); chat against inference ``2024-10-21`` (OpenAPI 3.0, via
openapi-schema-validator). Both the dated and the v1 surface are checked.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import ValidationError

from tests.support.http import Raw

FILE = "/files/{file-id}"
JOB = "/fine_tuning/jobs/{fine-tuning-job-id}"


@pytest.fixture
def hotel(mslearn_data: Path) -> bytes:
    return (mslearn_data / "travel-finetune-hotel.jsonl").read_bytes()


@pytest.mark.parametrize("v1", [False, True], ids=["dated", "v1"])
def test_files_operations_match_spec(emulator, spec_validator, hotel, v1):
    raw = Raw(emulator.url, v1=v1)
    up = raw.upload(hotel, "travel-finetune-hotel.jsonl")
    spec_validator.check_authoring("/files", "post", up.status_code, up.json(), v1=v1)
    assert up.json()["status"] == "pending"
    fid = up.json()["id"]

    done = raw.wait(f"/files/{fid}", "status", ("processed", "error"))
    assert done["status"] == "processed"
    got = raw.get(f"/files/{fid}")
    spec_validator.check_authoring(FILE, "get", got.status_code, got.json())

    listed = raw.get("/files", params={"purpose": "fine-tune", "limit": 5})
    spec_validator.check_authoring("/files", "get", listed.status_code, listed.json())
    assert [f["id"] for f in listed.json()["data"]] == [fid]

    content = raw.get(f"/files/{fid}/content")
    assert content.status_code == 200 and content.content == hotel

    deleted = raw.delete(f"/files/{fid}")
    spec_validator.check_authoring(FILE, "delete", deleted.status_code, deleted.json())
    assert deleted.json() == {"object": "file", "deleted": True, "id": fid}
    missing = raw.get(f"/files/{fid}")
    assert missing.status_code == 404
    spec_validator.check_authoring(FILE, "get", 404, missing.json())


@pytest.mark.parametrize("v1", [False, True], ids=["dated", "v1"])
def test_fine_tuning_operations_match_spec(emulator, spec_validator, hotel, v1):
    raw = Raw(emulator.url, v1=v1)
    emulator.set_config(training_seconds=1.0)
    f = raw.upload(hotel).json()
    raw.wait(f"/files/{f['id']}", "status", ("processed",))
    created = raw.post("/fine_tuning/jobs", json={"model": "gpt-4.1-2025-04-14", "training_file": f["id"],
                                                  "suffix": "ft-travel", "trainingType": "Standard"})
    spec_validator.check_authoring("/fine_tuning/jobs", "post", created.status_code, created.json(), v1=v1)
    job = created.json()
    assert job["status"] == "pending" and job["result_files"] is None
    assert job["hyperparameters"]["n_epochs"] == -1

    listed = raw.get("/fine_tuning/jobs", params={"limit": 10})
    spec_validator.check_authoring("/fine_tuning/jobs", "get", listed.status_code, listed.json())

    final = raw.wait(f"/fine_tuning/jobs/{job['id']}", "status", ("succeeded",))
    got = raw.get(f"/fine_tuning/jobs/{job['id']}")
    spec_validator.check_authoring(JOB, "get", got.status_code, got.json())
    assert final["result_files"] and final["fine_tuned_model"]

    events = raw.get(f"/fine_tuning/jobs/{job['id']}/events", params={"limit": 50})
    spec_validator.check_authoring(f"{JOB}/events", "get", events.status_code, events.json())
    assert {e["type"] for e in events.json()["data"]} == {"message", "metrics"}

    ckpts = raw.get(f"/fine_tuning/jobs/{job['id']}/checkpoints")
    spec_validator.check_authoring(f"{JOB}/checkpoints", "get", ckpts.status_code, ckpts.json())
    assert ckpts.json()["data"]

    result = raw.get(f"/files/{final['result_files'][0]}")
    spec_validator.check_authoring(FILE, "get", result.status_code, result.json())
    assert result.json()["purpose"] == "fine-tune-results"

    # cancel a terminal job: Azure's error shape
    refused = raw.post(f"/fine_tuning/jobs/{job['id']}/cancel")
    assert refused.status_code == 400
    spec_validator.check_authoring(f"{JOB}/cancel", "post", 400, refused.json())

    deleted = raw.delete(f"/fine_tuning/jobs/{job['id']}")
    assert deleted.status_code == 204
    assert raw.get(f"/fine_tuning/jobs/{job['id']}").status_code == 404


def test_cancel_pause_resume_match_spec(emulator_factory, spec_validator, hotel):
    em = emulator_factory({"training_seconds": 30})
    raw = Raw(em.url)
    f = raw.upload(hotel).json()
    raw.wait(f"/files/{f['id']}", "status", ("processed",))
    job = raw.post("/fine_tuning/jobs", json={"model": "gpt-4.1-2025-04-14", "training_file": f["id"]}).json()
    raw.wait(f"/fine_tuning/jobs/{job['id']}", "status", ("running",))
    paused = raw.post(f"/fine_tuning/jobs/{job['id']}/pause")
    spec_validator.check_authoring(f"{JOB}/pause", "post", paused.status_code, paused.json())
    assert paused.json()["status"] == "paused"
    resumed = raw.post(f"/fine_tuning/jobs/{job['id']}/resume")
    spec_validator.check_authoring(f"{JOB}/resume", "post", resumed.status_code, resumed.json())
    assert resumed.json()["status"] == "running"
    cancelled = raw.post(f"/fine_tuning/jobs/{job['id']}/cancel")
    spec_validator.check_authoring(f"{JOB}/cancel", "post", cancelled.status_code, cancelled.json())
    assert cancelled.json()["status"] == "cancelled"


def test_create_errors_match_spec(emulator, spec_validator, hotel):
    raw = Raw(emulator.url)
    emulator.set_config(file_processing_seconds=30)
    f = raw.upload(hotel).json()
    early = raw.post("/fine_tuning/jobs", json={"model": "gpt-4.1-2025-04-14", "training_file": f["id"]})
    assert early.status_code == 400
    spec_validator.check_authoring("/fine_tuning/jobs", "post", 400, early.json())
    assert early.json()["error"]["code"] == "invalidPayload"
    assert early.json()["error"]["message"] == "The specified file reference must point to a completed file import."


@pytest.mark.parametrize("v1", [False, True], ids=["dated", "v1"])
def test_chat_matches_inference_spec(emulator, spec_validator, v1):
    raw = Raw(emulator.url, v1=v1, api_version="2024-10-21")
    body = {"messages": [{"role": "user", "content": "What's a must-see in Paris?"}]}
    path = "/chat/completions" if v1 else "/deployments/gpt-4.1/chat/completions"
    if v1:
        body["model"] = "gpt-4.1"
    resp = raw.post(path, json=body)
    assert resp.status_code == 200
    spec_validator.check_inference("createChatCompletionResponse", resp.json())

    chunks = []
    with raw.client.stream("POST", raw.prefix + path, json={**body, "stream": True,
                                                          "stream_options": {"include_usage": True}}) as s:
        assert s.headers["content-type"].startswith("text/event-stream")
        for line in s.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                chunks.append(json.loads(line[6:]))
            elif line == "data: [DONE]":
                chunks.append("[DONE]")
    assert chunks[-1] == "[DONE]"
    for chunk in chunks[:-1]:
        spec_validator.check_inference("createChatCompletionStreamResponse", chunk)
    assert chunks[-2]["usage"]["total_tokens"] == resp.json()["usage"]["total_tokens"]

    missing = raw.post(path.replace("gpt-4.1", "nope"), json={**body, "model": "nope"})
    assert missing.status_code == 404
    spec_validator.check_inference("errorResponse", missing.json())


def test_validator_rejects_a_wrong_shape(spec_validator):
    """The helper can fail: a job with an unknown status or a file without filename is refused."""
    with pytest.raises(ValidationError):
        spec_validator.check_authoring(JOB, "get", 200, {"model": "m", "training_file": "f", "status": "done"})
    with pytest.raises(ValidationError):
        spec_validator.check_authoring(FILE, "get", 200, {"id": "file-1", "purpose": "fine-tune"})
    with pytest.raises(ValidationError):
        spec_validator.check_inference("createChatCompletionResponse", {"id": "x", "object": "chat.completion"})
