"""Issue 22 in the emulator: open-weight models end to end, and retired models' deployments answering 410."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from jobs import models
from tests.support.http import Raw, trained_job

ASK = {"messages": [{"role": "user", "content": "Recommend a hotel in Paris."}]}


@pytest.fixture
def hotel(mslearn_data: Path) -> bytes:
    return (mslearn_data / "travel-finetune-hotel.jsonl").read_bytes()


@pytest.mark.parametrize("model", ["Ministral-3B", "Qwen-32B", "Llama-3.3-70B-Instruct", "gpt-oss-20b"])
def test_open_weight_model_trains_deploys_and_answers(emulator, hotel, model):
    raw = Raw(emulator.url)
    base = models.resolve(model)
    assert base.open_weight
    job = trained_job(raw, hotel, model=model, trainingType=models.GLOBAL)
    assert job["status"] == "succeeded" and job["fine_tuned_model"].startswith(f"{model}.ft-")
    assert job["trainingType"] == models.GLOBAL
    emulator.add_deployment("tuned", job["fine_tuned_model"])
    emulator.add_deployment("base", model)
    for name in ("tuned", "base"):
        for r in (raw.post(f"/deployments/{name}/chat/completions", json=ASK),
                  Raw(emulator.url, v1=True).post("/chat/completions", json={"model": name, **ASK})):
            assert r.status_code == 200, r.text
            assert r.json()["choices"][0]["message"]["content"].startswith("[emulator stand-in] ")
            assert r.headers["x-emulator"] == "stand-in"


def test_deployment_of_a_retired_tuned_model_answers_410(emulator, hotel, monkeypatch):
    raw = Raw(emulator.url)
    job = trained_job(raw, hotel, trainingType="Standard")
    emulator.add_deployment("tuned", job["fine_tuned_model"])
    day = models.resolve(job["model"]).lifecycle.deployment_retires
    assert day is not None
    monkeypatch.setenv(models.TODAY_ENV, (day - datetime.timedelta(days=1)).isoformat())
    assert raw.post("/deployments/tuned/chat/completions", json=ASK).status_code == 200
    monkeypatch.setenv(models.TODAY_ENV, day.isoformat())
    for r in (raw.post("/deployments/tuned/chat/completions", json=ASK),
              Raw(emulator.url, v1=True).post("/chat/completions", json={"model": "tuned", **ASK}),
              Raw(emulator.url, v1=True).post("/responses", json={"model": "tuned", "input": "Hello"})):
        assert r.status_code == 410, r.text
        err = r.json()["error"]
        assert err["code"] == "ServiceModelDeprecated"
        assert day.isoformat() in err["message"] and "instead" in err["message"]  # names the replacement


def test_deployment_of_a_retired_base_model_answers_410(emulator):
    """gpt-4 0613 (the seed lab's model) is in the table as retired: its deployment answers 410."""
    raw = Raw(emulator.url)
    emulator.add_deployment("old", "gpt-4-0613")
    r = raw.post("/deployments/old/chat/completions", json=ASK)
    assert r.status_code == 410
    assert "gpt-4-0613" in r.json()["error"]["message"] and models.LAB_2026_MODEL in r.json()["error"]["message"]


def test_deployment_type_of_a_tuned_model_follows_the_model_table(emulator, hotel):
    """Developer deployments: the gpt-4.1 family only; open-weight models deploy GlobalStandard (jobs/models.py)."""
    import httpx

    raw = Raw(emulator.url)
    oss = trained_job(raw, hotel, model="gpt-oss-20b")["fine_tuned_model"]
    gpt41 = trained_job(raw, hotel)["fine_tuned_model"]

    def deploy(name: str, model: str, sku: str) -> httpx.Response:
        return httpx.post(f"{emulator.url}/++/deployments", json={"name": name, "model": model, "sku": sku})

    refused = deploy("oss-dev", oss, "Developer")
    assert refused.status_code == 400
    assert "GlobalStandard" in refused.json()["error"]["message"] and "sku" in refused.json()["error"]["message"]
    assert deploy("oss", oss, "GlobalStandard").status_code == 201
    assert deploy("gpt41-dev", gpt41, "Developer").status_code == 201
    assert raw.post("/deployments/oss/chat/completions", json=ASK).status_code == 200
    assert raw.post("/deployments/oss-dev/chat/completions", json=ASK).status_code == 404


def _epoch(day: datetime.date) -> int:
    return int(datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.timezone.utc).timestamp())


def test_models_report_the_lifecycle_tables_dates(emulator, hotel):
    raw = Raw(emulator.url)
    lc = models.resolve("gpt-4.1").lifecycle
    assert lc.training_retires and lc.base_retires and lc.deployment_retires
    base = raw.get("/models/gpt-4.1-2025-04-14").json()
    assert base["lifecycle_status"] == "deprecating"  # Legacy: retirement announced
    assert base["deprecation"] == {"fine_tune": _epoch(lc.training_retires), "inference": _epoch(lc.base_retires)}
    tuned = trained_job(raw, hotel)["fine_tuned_model"]
    assert raw.get(f"/models/{tuned}").json()["deprecation"] == {"inference": _epoch(lc.deployment_retires)}
