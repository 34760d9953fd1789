"""Fine-tuning job and file lifecycle: Azure's statuses, queueing, pause/resume, failures, refusals."""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path

import pytest

from tests.support.http import Raw, trained_job

MODEL = "gpt-4.1-2025-04-14"


@pytest.fixture
def hotel(mslearn_data: Path) -> bytes:
    return (mslearn_data / "travel-finetune-hotel.jsonl").read_bytes()


def processed_file(raw: Raw, content: bytes) -> str:
    f = raw.upload(content).json()
    assert raw.wait(f"/files/{f['id']}", "status", ("processed", "error"))["status"] == "processed"
    return f["id"]


def test_invalid_training_file_ends_in_error_naming_the_line(emulator):
    raw = Raw(emulator.url)
    good = json.dumps({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]})
    content = "\n".join([good] * 11 + ["{not json"] + [good]).encode()
    f = raw.upload(content, "broken.jsonl").json()
    assert f["status"] == "pending"
    done = raw.wait(f"/files/{f['id']}", "status", ("processed", "error"))
    assert done["status"] == "error"
    assert "Line 12" in done["status_details"]
    refused = raw.post("/fine_tuning/jobs", json={"model": MODEL, "training_file": f["id"]})
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == "The specified file reference must point to a completed file import."


def test_lab_validation_file_without_answers_is_rejected_like_azure(emulator, mslearn_data):
    raw = Raw(emulator.url)
    f = raw.upload((mslearn_data / "travel-finetune-validation.jsonl").read_bytes()).json()
    done = raw.wait(f"/files/{f['id']}", "status", ("processed", "error"))
    assert done["status"] == "error"
    assert "Line 1" in done["status_details"] and "assistant" in done["status_details"]


@pytest.mark.parametrize("model", ["gpt-4-0613", "gpt-4", "gpt-35-turbo-0613", "curie", "no-such-model"])
def test_unsupported_base_model_is_refused(emulator, hotel, model):
    raw = Raw(emulator.url)
    fid = processed_file(raw, hotel)
    r = raw.post("/fine_tuning/jobs", json={"model": model, "training_file": fid})
    assert r.status_code == 400
    assert r.json()["error"] == {"code": "invalidPayload", "message": "The specified base model does not support fine-tuning.",
                                 "target": "model", "param": "model"}


def test_unknown_training_file_and_bad_suffix_are_refused(emulator, hotel):
    raw = Raw(emulator.url)
    r = raw.post("/fine_tuning/jobs", json={"model": MODEL, "training_file": "file-missing"})
    assert r.status_code == 400 and "file-missing" in r.json()["error"]["message"]
    fid = processed_file(raw, hotel)
    r = raw.post("/fine_tuning/jobs", json={"model": MODEL, "training_file": fid, "suffix": "has space"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "suffix"
    r = raw.post("/fine_tuning/jobs", json={"model": MODEL, "training_file": fid,
                                            "hyperparameters": {"n_epochs": 0}})
    assert r.status_code == 400 and "n_epochs" in r.json()["error"]["message"]


def test_job_success_quirks(emulator, hotel):
    raw = Raw(emulator.url)
    job = trained_job(raw, hotel)
    assert job["status"] == "succeeded"
    assert job["hyperparameters"]["n_epochs"] == -1  # "default", as Azure reports it
    assert re.fullmatch(rf"{re.escape(MODEL)}\.ft-[0-9a-f]{{32}}-ft-travel", job["fine_tuned_model"])
    assert isinstance(job["finished_at"], int) and job["finished_at"] >= job["created_at"]
    content = raw.get(f"/files/{job['result_files'][0]}/content")
    assert content.headers["content-type"].startswith("text/csv")
    assert content.text.splitlines()[0] == ("step,train_loss,train_mean_token_accuracy,valid_loss,"
                                            "valid_mean_token_accuracy,full_valid_loss,full_valid_mean_token_accuracy")


def _statuses(raw: Raw, jobs: list[dict]) -> list[str]:
    return [raw.get(f"/fine_tuning/jobs/{j['id']}").json()["status"] for j in jobs]


def test_at_most_three_standard_jobs_run_at_a_time(emulator_factory, hotel):
    em = emulator_factory({"training_seconds": 600.0, "queue_seconds": 0.0})  # time moves by the clock route
    raw = Raw(em.url)
    fid = processed_file(raw, hotel)
    jobs = [raw.post("/fine_tuning/jobs", json={"model": MODEL, "training_file": fid, "suffix": s}).json()
            for s in "abcd"]
    assert _statuses(raw, jobs) == ["running", "running", "running", "pending"]
    statuses = [j["status"] for j in raw.get("/fine_tuning/jobs").json()["data"]]
    assert statuses.count("running") == 3
    em.advance_clock(600)
    assert _statuses(raw, jobs) == ["succeeded", "succeeded", "succeeded", "running"]
    em.advance_clock(600)
    done = [raw.wait(f"/fine_tuning/jobs/{j['id']}", "status", ("succeeded",)) for j in jobs]
    events_d = raw.get(f"/fine_tuning/jobs/{jobs[3]['id']}/events", params={"limit": 500}).json()["data"]
    started_d = next(e for e in events_d if e["message"] == "Job started.")
    assert started_d["created_at"] >= min(d["finished_at"] for d in done[:3])  # the first slot that freed
    assert len({d["fine_tuned_model"] for d in done}) == 4


def test_pause_resume_and_cancel(emulator_factory, hotel):
    em = emulator_factory({"training_seconds": 30, "queue_seconds": 0.0})
    raw = Raw(em.url)
    fid = processed_file(raw, hotel)
    job = raw.post("/fine_tuning/jobs", json={"model": MODEL, "training_file": fid}).json()
    assert raw.post(f"/fine_tuning/jobs/{job['id']}/resume").status_code == 400  # not paused
    paused = raw.post(f"/fine_tuning/jobs/{job['id']}/pause").json()
    assert paused["status"] == "paused"
    assert raw.post(f"/fine_tuning/jobs/{job['id']}/pause").status_code == 400
    assert raw.post(f"/fine_tuning/jobs/{job['id']}/resume").json()["status"] == "running"
    cancelled = raw.post(f"/fine_tuning/jobs/{job['id']}/cancel").json()
    assert cancelled["status"] == "cancelled" and cancelled["result_files"] is None
    messages = [e["message"] for e in raw.get(f"/fine_tuning/jobs/{job['id']}/events").json()["data"]]
    assert messages[:4] == ["Job cancelled.", "Job resumed training.", "Job resume requested.", "Job paused."]
    assert raw.post(f"/fine_tuning/jobs/{job['id']}/cancel").status_code == 400


def test_estimated_finish_follows_the_schedule_and_a_pause(emulator_factory, hotel):
    """A running job says when it should end (Azure's ``estimated_finish``); paused, it says nothing, and a pause
    moves the end by the time it lasted."""
    em = emulator_factory({"training_seconds": 600.0, "queue_seconds": 0.0})
    raw = Raw(em.url)
    fid = processed_file(raw, hotel)
    job = raw.post("/fine_tuning/jobs", json={"model": MODEL, "training_file": fid}).json()
    running = raw.get(f"/fine_tuning/jobs/{job['id']}").json()
    assert running["status"] == "running"
    first = running["estimated_finish"]
    assert job["created_at"] + 600 <= first <= job["created_at"] + 603
    assert raw.post(f"/fine_tuning/jobs/{job['id']}/pause").json().get("estimated_finish") is None
    em.advance_clock(100)
    assert raw.post(f"/fine_tuning/jobs/{job['id']}/resume").json()["status"] == "running"
    later = raw.get(f"/fine_tuning/jobs/{job['id']}").json()["estimated_finish"]
    assert first + 99 <= later <= first + 103
    em.advance_clock(600)
    done = raw.get(f"/fine_tuning/jobs/{job['id']}").json()
    assert done["status"] == "succeeded" and done.get("estimated_finish") is None


def test_three_standard_jobs_run_and_the_fourth_waits_for_a_slot(emulator_factory, hotel):
    """Microsoft's quota: 3 running Standard/Global training jobs per resource (contract.MAX_RUNNING_TRAINING_JOBS)."""
    em = emulator_factory({"training_seconds": 30, "queue_seconds": 0.0})
    raw = Raw(em.url)
    fid = processed_file(raw, hotel)
    jobs = [raw.post("/fine_tuning/jobs", json={"model": MODEL, "training_file": fid,
                                                 **({"trainingType": "globalstandard"} if i == 1 else {})}).json()
            for i in range(4)]
    assert _statuses(raw, jobs) == ["running", "running", "running", "pending"]  # Global shares Standard's 3
    raw.post(f"/fine_tuning/jobs/{jobs[0]['id']}/pause")
    assert _statuses(raw, jobs)[1:] == ["running", "running", "running"]  # the paused job freed its slot
    assert raw.post(f"/fine_tuning/jobs/{jobs[0]['id']}/resume").json()["status"] == "pending"  # waits for one
    events = [e["message"] for e in raw.get(f"/fine_tuning/jobs/{jobs[3]['id']}/events").json()["data"]]
    assert "Job started." in events


def test_developer_jobs_have_five_slots_of_their_own(emulator_factory, hotel):
    em = emulator_factory({"training_seconds": 30, "queue_seconds": 0.0})
    raw = Raw(em.url)
    fid = processed_file(raw, hotel)
    standard = [raw.post("/fine_tuning/jobs", json={"model": MODEL, "training_file": fid}).json() for _ in range(3)]
    developer = [raw.post("/fine_tuning/jobs", json={"model": MODEL, "training_file": fid,
                                                      "trainingType": "developerTier"}).json() for _ in range(6)]
    assert _statuses(raw, standard) == ["running"] * 3
    assert _statuses(raw, developer) == ["running"] * 5 + ["pending"]



def test_suffix_trigger_makes_the_job_fail(emulator, hotel):
    raw = Raw(emulator.url)
    job = trained_job(raw, hotel, suffix="please-fail")
    assert job["status"] == "failed"
    assert job["error"]["code"] == "internalFailure" and job["result_files"] is None
    assert "fine_tuned_model" not in job  # the dated surface omits unset fields
    events = raw.get(f"/fine_tuning/jobs/{job['id']}/events").json()["data"]
    assert events[0]["message"] == "Job failed." and events[0]["level"] == "error"


def test_files_list_filters_and_paginates(emulator, hotel):
    raw = Raw(emulator.url)
    ids = [raw.upload(hotel, f"f{i}.jsonl").json()["id"] for i in range(3)]
    raw.upload(b"a,b\n", "notes.csv", purpose="assistants")
    page1 = raw.get("/files", params={"purpose": "fine-tune", "limit": 2}).json()
    assert [f["id"] for f in page1["data"]] == ids[::-1][:2] and page1["has_more"] is True
    page2 = raw.get("/files", params={"purpose": "fine-tune", "limit": 2, "after": page1["data"][-1]["id"]}).json()
    assert [f["id"] for f in page2["data"]] == [ids[0]] and page2["has_more"] is False
    assert len(raw.get("/files").json()["data"]) == 4
    bad = raw.post("/files", data={"purpose": "fine-tune"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalidPayload"
    bad = raw.upload(hotel, purpose="pictures")
    assert bad.status_code == 400 and "pictures" in bad.json()["error"]["message"]


def test_validation_file_adds_validation_metrics(emulator, hotel):
    raw = Raw(emulator.url)
    valid_id = processed_file(raw, hotel)
    job = trained_job(raw, hotel, validation_file=valid_id, hyperparameters={"n_epochs": 2})
    assert job["status"] == "succeeded" and job["validation_file"] == valid_id
    rows = raw.get(f"/files/{job['result_files'][0]}/content").text.splitlines()
    header = rows[0].split(",")
    by_step = {int(r.split(",")[0]): dict(zip(header, r.split(","))) for r in rows[1:]}
    assert sorted(by_step) == list(range(1, 21))
    assert all(by_step[s]["valid_loss"] for s in by_step)
    assert [s for s in by_step if by_step[s]["full_valid_loss"]] == [10, 20]  # end of each epoch
    ckpts = raw.get(f"/fine_tuning/jobs/{job['id']}/checkpoints").json()["data"]
    assert [c["step_number"] for c in ckpts] == [20, 10]  # newest first
    assert {"full_valid_loss", "full_valid_mean_token_accuracy", "valid_loss"} <= set(ckpts[0]["metrics"])
    metric_events = [e for e in raw.get(f"/fine_tuning/jobs/{job['id']}/events", params={"limit": 100}).json()["data"]
                     if e["type"] == "metrics"]
    assert all("valid_loss" in e["data"] for e in metric_events)


def test_long_runs_report_metrics_every_few_steps(emulator, hotel):
    raw = Raw(emulator.url)
    job = trained_job(raw, hotel, hyperparameters={"n_epochs": 25})  # 250 steps
    events = raw.get(f"/fine_tuning/jobs/{job['id']}/events", params={"limit": 1000}).json()["data"]
    steps = sorted(e["data"]["step"] for e in events if e["type"] == "metrics")
    assert steps == list(range(3, 250, 3)) + [250]
    assert len(raw.get(f"/files/{job['result_files'][0]}/content").text.splitlines()) == 251


def test_models_list_get_and_delete(emulator, hotel, spec_validator):
    raw = Raw(emulator.url)
    job = trained_job(raw, hotel)
    listed = raw.get("/models")
    spec_validator.check_authoring("/models", "get", 200, listed.json())
    ids = [m["id"] for m in listed.json()["data"]]
    assert MODEL in ids and job["fine_tuned_model"] in ids
    got = raw.get(f"/models/{job['fine_tuned_model']}")
    spec_validator.check_authoring("/models/{model-id}", "get", 200, got.json())
    assert got.json()["fine_tune"] == job["id"] and got.json()["model"] == MODEL

    emulator.add_deployment("tuned", job["fine_tuned_model"])
    busy = raw.delete(f"/models/{job['fine_tuned_model']}")
    assert busy.status_code == 409 and "tuned" in busy.json()["error"]["message"]
    import httpx

    assert httpx.delete(emulator.url + "/++/deployments/tuned").status_code == 204
    gone = raw.delete(f"/models/{job['fine_tuned_model']}")
    assert gone.status_code == 200 and gone.json()["deleted"] is True
    assert raw.get(f"/models/{job['fine_tuned_model']}").status_code == 404
    assert raw.delete(f"/models/{MODEL}").status_code == 400


def test_tuned_answers_survive_deleting_the_training_file(emulator, hotel):
    raw = Raw(emulator.url)
    job = trained_job(raw, hotel)
    emulator.add_deployment("tuned", job["fine_tuned_model"])
    ask = {"messages": [{"role": "user", "content": "What's the best way to see the Northern Lights?"}]}
    before = raw.post("/deployments/tuned/chat/completions", json=ask).json()["choices"][0]["message"]["content"]
    assert raw.delete(f"/files/{job['training_file']}").status_code == 200
    after = raw.post("/deployments/tuned/chat/completions", json=ask).json()["choices"][0]["message"]["content"]
    assert after == before and "Tromsø" in after


@pytest.mark.parametrize("kind,ok", [("Standard", True), ("globalstandard", True), ("developerTier", True),
                                     ("Provisioned", False)])
def test_training_type_is_accepted_and_echoed(emulator, hotel, kind, ok):
    raw = Raw(emulator.url)
    fid = processed_file(raw, hotel)
    r = raw.post("/fine_tuning/jobs", json={"model": MODEL, "training_file": fid, "trainingType": kind})
    if ok:
        assert r.status_code == 201 and r.json()["trainingType"] == kind
    else:
        assert r.status_code == 400 and r.json()["error"]["param"] == "trainingType"


def test_checkpoints_are_azures_last_three_and_the_final_is_the_model(emulator, hotel):
    """Issue 12, item 1: tutorials/fine-tune.md shows three checkpoints, `ftchkpt-` ids, the newest named as the model."""
    raw = Raw(emulator.url)
    job = trained_job(raw, hotel, hyperparameters={"n_epochs": 10})  # 10 examples x 10 epochs = 100 steps
    ckpts = raw.get(f"/fine_tuning/jobs/{job['id']}/checkpoints").json()["data"]
    assert [c["step_number"] for c in ckpts] == [100, 90, 80]  # newest first, the last three epochs only
    assert [c["fine_tuned_model_checkpoint"] for c in ckpts] == [
        job["fine_tuned_model"], f"{job['fine_tuned_model']}:ckpt-step-90", f"{job['fine_tuned_model']}:ckpt-step-80"]
    assert all(re.fullmatch(r"ftchkpt-[0-9a-f]{32}", c["id"]) for c in ckpts)


def test_method_is_echoed_with_its_hyperparameters(emulator, hotel):
    """Issue 12, item 4: code reading job.method.supervised.hyperparameters (the SDK samples' shape) works."""
    from tests.support.clients import sdk_client

    raw = Raw(emulator.url)
    fid = processed_file(raw, hotel)
    client = sdk_client(emulator.url)
    hp = {"n_epochs": 3, "batch_size": 1, "learning_rate_multiplier": 1.0}
    job = client.fine_tuning.jobs.create(model=MODEL, training_file=fid,
                                         method={"type": "supervised", "supervised": {"hyperparameters": hp}})
    assert job.method.type == "supervised"
    assert job.method.supervised.hyperparameters.n_epochs == 3
    assert job.method.supervised.hyperparameters.learning_rate_multiplier == 1.0
    again = client.fine_tuning.jobs.retrieve(job.id)
    assert again.method.supervised.hyperparameters.batch_size == 1 and again.hyperparameters.n_epochs == 3
    bad = raw.post("/fine_tuning/jobs", json={"model": MODEL, "training_file": fid, "method": {"type": "rlhf"}})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "method.type"


def test_unset_hyperparameters_are_reported_as_the_tutorial_shows(emulator, hotel):
    """Issue 12, item 5: the tutorial's job shows n_epochs -1, batch_size -1, learning_rate_multiplier 1."""
    raw = Raw(emulator.url)
    fid = processed_file(raw, hotel)
    job = raw.post("/fine_tuning/jobs", json={"model": MODEL, "training_file": fid}).json()
    assert job["hyperparameters"] == {"n_epochs": -1, "batch_size": -1, "learning_rate_multiplier": 1}
    assert job["method"] == {"type": "supervised", "supervised": {"hyperparameters": job["hyperparameters"]}}


def test_validator_warnings_never_become_job_events(emulator, hotel):
    """Issue 12, item 6: a file with a duplicate line (a validator warning) gives only Azure's own event texts."""
    raw = Raw(emulator.url)
    lines = hotel.splitlines()
    job = trained_job(raw, b"\n".join(lines + lines[:1]) + b"\n")
    events = raw.get(f"/fine_tuning/jobs/{job['id']}/events", params={"limit": 500}).json()["data"]
    assert {e["level"] for e in events} == {"info"}
    assert not [e for e in events if "line" in e["message"].lower() or "duplicate" in e["message"].lower()]
    assert [e["message"] for e in events if e["type"] == "message"][::-1] == [
        "Job enqueued. Waiting for jobs ahead to complete.", "Job started.", "Job succeeded.",
        "Postprocessing started.", f"Completed results file: {job['result_files'][0]}"]


@pytest.mark.parametrize("version,served", [("2023-10-01-preview", True), ("2023-06-01-preview", True),
                                            ("2024-02-15-preview", True), ("2024-10-21", True),
                                            ("2023-09-15-preview", False), ("2023-12-01-preview", False),
                                            ("2023-03-15-preview", False)])
def test_api_versions_azure_still_serves(emulator, version, served):
    """Issue 12, item 7: versions the lifecycle page keeps are served; retired ones get Azure's 400."""
    for path in ("/files", "/fine_tuning/jobs"):
        r = Raw(emulator.url, api_version=version).get(path)
        if served:
            assert r.status_code == 200, (version, path, r.text)
        else:
            assert r.status_code == 400 and r.json() == {"error": {"code": "BadRequest",
                                                                   "message": "API version not supported"}}
    chat = Raw(emulator.url, api_version=version).post("/deployments/gpt-4.1/chat/completions",
                                                       json={"messages": [{"role": "user", "content": "hi"}]})
    assert chat.status_code == (200 if served else 400)


def test_job_without_training_type_is_accepted_with_the_default(emulator, hotel):
    """Issue 22: Azure accepts a job without trainingType; the emulator applies its documented default."""
    raw = Raw(emulator.url)
    fid = processed_file(raw, hotel)
    r = raw.post("/fine_tuning/jobs", json={"model": MODEL, "training_file": fid})
    assert r.status_code == 201 and r.json()["trainingType"] == "standard"
    assert raw.get(f"/fine_tuning/jobs/{r.json()['id']}").json()["trainingType"] == "standard"
    ow = raw.post("/fine_tuning/jobs", json={"model": "gpt-oss-20b", "training_file": fid})
    assert ow.status_code == 201 and ow.json()["trainingType"] == "globalstandard"


@pytest.mark.parametrize("model", ["Ministral-3B", "Qwen-32B", "Llama-3.3-70B-Instruct", "gpt-oss-20b"])
def test_open_weight_models_train_global_only(emulator, hotel, model):
    """Open-weight models: Global (or Data Zone) training only (jobs.models.FINE_TUNE_MODELS_SOURCE)."""
    raw = Raw(emulator.url)
    fid = processed_file(raw, hotel)
    for kind in ("standard", "Standard", "developerTier"):
        r = raw.post("/fine_tuning/jobs", json={"model": model, "training_file": fid, "trainingType": kind})
        assert r.status_code == 400, kind
        err = r.json()["error"]
        assert err["code"] == "invalidPayload" and err["param"] == "trainingType"
        assert "globalstandard" in err["message"]  # names the fix
    ok = raw.post("/fine_tuning/jobs", json={"model": model, "training_file": fid, "trainingType": "GlobalStandard"})
    assert ok.status_code == 201 and ok.json()["trainingType"] == "GlobalStandard"


def test_training_retired_model_is_refused(emulator, hotel, monkeypatch):
    """Issue 22: fine-tuning gpt-4.1 after its training retirement (lifecycle table; today injected) gets a 400."""
    from jobs import models

    day = models.resolve(MODEL).lifecycle.training_retires
    assert day is not None
    raw = Raw(emulator.url)
    fid = processed_file(raw, hotel)
    monkeypatch.setenv(models.TODAY_ENV, day.isoformat())
    r = raw.post("/fine_tuning/jobs", json={"model": MODEL, "training_file": fid})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "invalidPayload" and err["param"] == "model"
    assert err["message"].startswith("The specified base model does not support fine-tuning.") and "retired" in err["message"]
    monkeypatch.setenv(models.TODAY_ENV, (day - datetime.timedelta(days=1)).isoformat())
    assert raw.post("/fine_tuning/jobs", json={"model": MODEL, "training_file": fid}).status_code == 201


def test_pausing_a_queued_job_is_refused(emulator_factory, hotel):
    """Microsoft documents pausing for running jobs only (fine-tuning-studio.md, "Pause and resume"): a pending job
    gets 400 unexpectedEntityState, and stays pending (the azure-ai-projects sample pauses right after create)."""
    em = emulator_factory(config={"queue_seconds": 30})
    raw = Raw(em.url)
    job = raw.post("/fine_tuning/jobs", json={"model": MODEL, "training_file": processed_file(raw, hotel)}).json()
    assert job["status"] == "pending"
    r = raw.post(f"/fine_tuning/jobs/{job['id']}/pause")
    assert r.status_code == 400 and r.json()["error"]["code"] == "unexpectedEntityState"
    assert "running" in r.json()["error"]["message"]
    assert raw.get(f"/fine_tuning/jobs/{job['id']}").json()["status"] == "pending"
