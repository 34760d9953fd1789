"""The emulator driven the way public tutorials, samples and notebooks drive Azure (issue 12, "clients written the
way others write them"). Written for this project from what those samples do, not copied:

- Microsoft Learn's fine-tuning tutorial (tutorials/fine-tune.md): ``OpenAI(base_url=.../openai/v1/)``, a
  status loop that sleeps between retrieves, events with ``limit``, checkpoints, the result file downloaded;
- the older tutorial and notebooks: ``AzureOpenAI`` with a dated api-version (``2024-05-01-preview``,
  ``2023-10-01-preview``), and the module-level ``openai`` client configured by attributes;
- the azure-ai-projects sample: ``files.wait_for_processing``, ``method`` with hyperparameters, list/iterate;
- the cookbook ("How to fine-tune chat models"): results.csv read into columns (here numpy's ``genfromtxt``,
  pandas-like: a header of names, numbers, empty cells as NaN), pagination with ``after``.

On purpose, the clients here are NOT built with the tests' factory (``tests.support.clients.sdk_client``): each
is constructed exactly as the sample it mirrors constructs it (same constructor, same keyword arguments, SDK
defaults), because the emulator has to behave like Azure for the code people actually write.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import openai
import pytest
from openai import AzureOpenAI, OpenAI

HOTEL = "travel-finetune-hotel.jsonl"
POLL = 0.1  # the tutorial sleeps 10 s between polls; the emulator's stages are short


def v1_client(url: str) -> Any:
    # Mirrors user code on purpose (not sdk_client): Microsoft Learn's fine-tuning tutorial
    # (tutorials/fine-tune.md), ``OpenAI(api_key=..., base_url="https://<resource>.openai.azure.com/openai/v1/")``.
    return OpenAI(api_key="any-key", base_url=f"{url}/openai/v1/")


def dated_client(version: str) -> Callable[[str], Any]:
    # Mirrors user code on purpose (not sdk_client): the older fine-tuning tutorial and the notebooks,
    # ``AzureOpenAI(api_key=..., api_version=<dated>, azure_endpoint=...)``.
    return lambda url: AzureOpenAI(api_key="any-key", api_version=version, azure_endpoint=url)


def tutorial_flow(client: Any, path: Path, **create: Any) -> Any:
    """Upload, poll the file and the job with sleeps, then read what the tutorial reads."""
    training = client.files.create(file=open(path, "rb"), purpose="fine-tune")
    while client.files.retrieve(training.id).status not in ("processed", "error"):
        time.sleep(POLL)
    job = client.fine_tuning.jobs.create(training_file=training.id, validation_file=training.id,
                                         model="gpt-4.1-2025-04-14", seed=105, **create)
    assert job.status == "pending" and job.seed == 105
    status, deadline = job.status, time.monotonic() + 30
    while status not in ("succeeded", "failed"):
        assert time.monotonic() < deadline
        time.sleep(POLL)
        status = client.fine_tuning.jobs.retrieve(job.id).status
    assert status == "succeeded"
    return client.fine_tuning.jobs.retrieve(job.id)


@pytest.mark.parametrize("make", [v1_client, dated_client("2024-05-01-preview"), dated_client("2023-10-01-preview")],
                         ids=["v1", "azure-2024-05-01-preview", "azure-2023-10-01-preview"])
def test_tutorial_flow(emulator, mslearn_data: Path, make: Callable[[str], Any]) -> None:
    client = make(emulator.url)
    job = tutorial_flow(client, mslearn_data / HOTEL, hyperparameters={"n_epochs": 3})
    assert job.hyperparameters.n_epochs == 3 and job.hyperparameters.learning_rate_multiplier == 1

    events = client.fine_tuning.jobs.list_events(fine_tuning_job_id=job.id, limit=10)
    assert len(events.data) == 10 and events.has_more

    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert [c.step_number for c in checkpoints] == [30, 20, 10]
    assert checkpoints[0].fine_tuned_model_checkpoint == job.fine_tuned_model

    # "Analyze your customized model": download results.csv, read it as columns
    result_id = job.result_files[0]
    name = client.files.retrieve(result_id).filename
    table = np.genfromtxt(io.StringIO(client.files.content(result_id).read().decode()), delimiter=",", names=True)
    assert name == "results.csv" and len(table) == 30
    assert table.dtype.names[:3] == ("step", "train_loss", "train_mean_token_accuracy")
    assert np.all(np.isfinite(table["train_loss"])) and table["train_loss"][-1] < table["train_loss"][0]
    assert np.isnan(table["full_valid_loss"][0]) and np.isfinite(table["full_valid_loss"][9])  # epoch ends only
    # the LLM-Fine-Tuning-Azure notebooks and the cookbook plot this column by name (Azure's spelling)
    assert np.all(np.isfinite(table["valid_mean_token_accuracy"]))

    answer = client.chat.completions.create(model="gpt-4.1", messages=[
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Does Azure OpenAI support customer managed keys?"},
        {"role": "assistant", "content": "Yes, customer managed keys are supported by Azure OpenAI."},
        {"role": "user", "content": "Do other Azure services support this too?"}])
    assert answer.choices[0].message.content.startswith("[emulator stand-in] ")


def test_module_level_client(emulator, mslearn_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``openai.api_type = "azure"`` and friends, then ``openai.files`` / ``openai.fine_tuning`` / ``openai.chat``."""
    for name, value in {"api_type": "azure", "azure_endpoint": emulator.url, "api_version": "2024-08-01-preview",
                        "api_key": "any-key", "base_url": None, "azure_ad_token": None,
                        "azure_ad_token_provider": None, "_client": None}.items():
        monkeypatch.setattr(openai, name, value)
    try:
        job = tutorial_flow(openai, mslearn_data / HOTEL)
        assert job.fine_tuned_model.startswith("gpt-4.1-2025-04-14.ft-")
        emulator.add_deployment("ft", job.fine_tuned_model)
        reply = openai.chat.completions.create(model="ft", messages=[{"role": "user", "content": "Ski trip ideas?"}])
        assert reply.choices[0].message.content.startswith("[emulator stand-in] ")
    finally:
        openai._reset_client()


def test_sdk_sample_style_wait_method_and_iteration(emulator, mslearn_data: Path) -> None:
    """azure-ai-projects' supervised sample: wait_for_processing, method with hyperparameters, iterate lists."""
    client = v1_client(emulator.url)
    with open(mslearn_data / HOTEL, "rb") as f:
        train = client.files.create(file=f, purpose="fine-tune")
    assert client.files.wait_for_processing(train.id, poll_interval=POLL).status == "processed"
    created = [client.fine_tuning.jobs.create(
        training_file=train.id, model="gpt-4.1", suffix=f"s{i}",
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3, "batch_size": 1,
                                                                          "learning_rate_multiplier": 1.0}}},
        extra_body={"trainingType": "Standard"}) for i in range(3)]
    assert all(j.method.supervised.hyperparameters.batch_size == 1 for j in created)
    # pagination with `after`: by hand, and the SDK's own auto-paging
    first = client.fine_tuning.jobs.list(limit=2)
    second = client.fine_tuning.jobs.list(limit=2, after=first.data[-1].id)
    assert [j.id for j in first.data + second.data] == [j.id for j in reversed(created)]
    assert first.has_more and not second.has_more
    assert [j.id for j in client.fine_tuning.jobs.list(limit=1)] == [j.id for j in reversed(created)]
    files = client.files.list(limit=1)
    assert [f.id for f in files] == [train.id]
    client.fine_tuning.jobs.cancel(created[0].id)
    assert client.fine_tuning.jobs.retrieve(created[0].id).status == "cancelled"
