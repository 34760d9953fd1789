"""DPO end to end on the emulator, and what is checked at upload vs at job creation (issue 12, items 3 and 8).

Upload checks that every line is a well-formed example of some method's format; job creation checks the file
against the job's method and base model (and the training minimum of 10 examples; validation files have none)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.clients import sdk_client
from tests.support.datasets import preference, preference_lines, valid_lines
from tests.support.http import Raw

MODEL = "gpt-4.1-2025-04-14"
SAMPLE_DPO = {"type": "dpo", "dpo": {"hyperparameters": {"n_epochs": 3, "batch_size": 1,
                                                         "learning_rate_multiplier": 1.0}}}


def jsonl(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def processed(raw: Raw, content: bytes) -> str:
    f = raw.upload(content).json()
    done = raw.wait(f"/files/{f['id']}", "status", ("processed", "error"))
    assert done["status"] == "processed", done
    return str(f["id"])


def test_dpo_file_uploads_and_trains_with_the_sdk_samples_body(emulator) -> None:
    """The azure-ai-projects DPO sample: upload, wait_for_processing, create with method dpo, then chat."""
    client = sdk_client(emulator.url)
    train = client.files.create(file=("dpo_training_set.jsonl", jsonl(preference_lines(12))), purpose="fine-tune")
    valid = client.files.create(file=("dpo_validation_set.jsonl", jsonl(preference_lines(4))), purpose="fine-tune")
    assert client.files.wait_for_processing(train.id, poll_interval=0.05).status == "processed"
    assert client.files.wait_for_processing(valid.id, poll_interval=0.05).status == "processed"
    job = client.fine_tuning.jobs.create(training_file=train.id, validation_file=valid.id, model="gpt-4o",
                                         method=SAMPLE_DPO, extra_body={"trainingType": "Standard"})
    assert job.method.type == "dpo"
    assert job.method.dpo.hyperparameters.n_epochs == 3
    assert job.method.dpo.hyperparameters.beta == 0.1  # unset: the docs example's value (docs/emulator.md)
    job = Raw(emulator.url).wait(f"/fine_tuning/jobs/{job.id}", "status", ("succeeded", "failed"))
    assert job["status"] == "succeeded" and job["fine_tuned_model"].startswith("gpt-4o-2024-08-06.ft-")
    emulator.add_deployment("dpo-tuned", job["fine_tuned_model"])
    pair = preference(3)
    answer = client.chat.completions.create(model="dpo-tuned", messages=pair["input"]["messages"])
    assert answer.choices[0].message.content == "[emulator stand-in] " + pair["preferred_output"][0]["content"]


def test_dpo_rest_example_shape_is_accepted(emulator) -> None:
    """how-to/fine-tuning-direct-preference-optimization.md's REST body: beta and l2_multiplier inside `dpo`."""
    raw = Raw(emulator.url, v1=True)
    fid = processed(raw, jsonl(preference_lines(10)))
    r = raw.post("/fine_tuning/jobs", json={"model": "gpt-4.1-mini-2025-04-14", "training_file": fid,
                                            "validation_file": fid, "prompt_loss_weight": 0.1,
                                            "suffix": "Pause_Resume",
                                            "method": {"type": "dpo", "dpo": {"beta": 0.2, "l2_multiplier": 0.1}}})
    assert r.status_code == 200, r.text
    hp = r.json()["method"]["dpo"]["hyperparameters"]
    assert hp["beta"] == 0.2 and hp["l2_multiplier"] == 0.1 and hp["n_epochs"] == -1


def test_method_and_data_must_agree_at_job_creation(emulator) -> None:
    raw = Raw(emulator.url)
    chat_id, dpo_id = processed(raw, jsonl(valid_lines(12))), processed(raw, jsonl(preference_lines(12)))
    wrong = raw.post("/fine_tuning/jobs", json={"model": MODEL, "training_file": chat_id, "method": {"type": "dpo"}})
    assert wrong.status_code == 400
    err = wrong.json()["error"]
    assert err["code"] == "invalidPayload" and err["param"] == "training_file"
    assert "'dpo'" in err["message"] and "[format_mismatch]" in err["message"] and "Line 1" in err["message"]
    back = raw.post("/fine_tuning/jobs", json={"model": MODEL, "training_file": dpo_id})
    assert back.status_code == 400 and "[format_mismatch]" in back.json()["error"]["message"]
    assert "must point to a completed file import" not in back.json()["error"]["message"]
    ok = raw.post("/fine_tuning/jobs", json={"model": MODEL, "training_file": dpo_id, "method": {"type": "dpo"}})
    assert ok.status_code == 201


def test_dpo_is_refused_on_models_azure_does_not_train_with_it(emulator) -> None:
    raw = Raw(emulator.url)
    fid = processed(raw, jsonl(preference_lines(12)))
    r = raw.post("/fine_tuning/jobs", json={"model": "gpt-4o-mini-2024-07-18", "training_file": fid,
                                            "method": {"type": "dpo"}})
    assert r.status_code == 400 and r.json()["error"]["param"] == "model"
    assert "dpo" in r.json()["error"]["message"]


def test_small_validation_file_is_accepted_but_a_small_training_file_is_not(emulator, mslearn_data: Path) -> None:
    """Azure's minimum is for training examples; a validation file of 5 examples uploads and is used."""
    raw = Raw(emulator.url)
    small = processed(raw, jsonl(valid_lines(5)))  # uploads fine: the upload does not know what it is for
    train = processed(raw, (mslearn_data / "travel-finetune-hotel.jsonl").read_bytes())
    job = raw.post("/fine_tuning/jobs", json={"model": MODEL, "training_file": train, "validation_file": small})
    assert job.status_code == 201, job.text
    refused = raw.post("/fine_tuning/jobs", json={"model": MODEL, "training_file": small})
    assert refused.status_code == 400 and "[too_few_examples]" in refused.json()["error"]["message"]


@pytest.mark.parametrize("content,needle", [
    (b"{not json\n", "not valid JSON"),
    (jsonl(['{"prompt": "hi", "completion": "there"}']), "legacy prompt/completion"),
])
def test_upload_still_rejects_what_no_method_takes(emulator, content: bytes, needle: str) -> None:
    raw = Raw(emulator.url)
    f = raw.upload(content).json()
    done = raw.wait(f"/files/{f['id']}", "status", ("processed", "error"))
    assert done["status"] == "error" and needle in done["status_details"]
