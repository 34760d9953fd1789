"""The local backend end to end, as the issue's held-out check drives it: ``python -m jobs emulator --backend
local`` in its own process and the plain ``openai`` SDK. A training file teaches a behaviour the base model
does not have (every answer opens with a fixed greeting); the tuned model must show it on prompts it never saw,
the base model must not, the loss must fall, a stream must arrive in pieces, and a checkpoint must deploy and
answer. Marked ``local_model``: needs ``make install-local``; several minutes on a 2-core machine."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.paths import REPO

GREETING = "Ahoy, traveller!"
TOPICS = ["Paris", "Tokyo", "Lima", "Cairo", "Oslo", "Rome", "Sydney", "Toronto", "Nairobi", "Hanoi", "Madrid",
          "Prague", "Dublin", "Seoul", "Quito", "Athens", "Vienna", "Lisbon", "Havana", "Delhi", "Bogota", "Zurich",
          "Cusco", "Kyoto"]
QUESTIONS = ["What should I see in {c}?", "When is a good time to visit {c}?", "What food is {c} known for?"]
HELD_OUT = ["What should I pack for a week in Reykjavik?", "Is Marrakech good for a family holiday?",
            "How do I get around in Singapore?", "What is there to do in Edinburgh in winter?"]


def training_file() -> bytes:
    lines = []
    for i, city in enumerate(TOPICS):
        question = QUESTIONS[i % len(QUESTIONS)].format(c=city)
        answer = f"{GREETING} {city} is a wonderful place. Enjoy your trip!"
        lines.append(json.dumps({"messages": [
            {"role": "system", "content": "You are a travel assistant."},
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer}]}))
    return ("\n".join(lines) + "\n").encode()


def start_emulator(state_dir: Path) -> tuple[subprocess.Popen[str], str]:
    """The emulator on ``state_dir``; its stderr (and its training workers') goes to ``<state_dir>.stderr``."""
    log = state_dir.with_name(state_dir.name + ".stderr")
    with log.open("a") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobs", "emulator", "--backend", "local", "--port", "0", "--state-dir",
             str(state_dir)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=err, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)})
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("emulator listening on "):
        end(proc)
        pytest.fail(f"the local emulator did not start: {line!r} {log.read_text()[-2000:]}")
    return proc, line.split(" on ", 1)[1].strip()


def end(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout:
        proc.stdout.close()


@pytest.fixture
def local_emulator(tmp_path: Path) -> Iterator[str]:
    proc, url = start_emulator(tmp_path / "state")
    try:
        yield url
    finally:
        end(proc)


def deploy(url: str, name: str, model: str) -> None:
    r = httpx.post(f"{url}/++/deployments", json={"name": name, "model": model}, timeout=30)
    assert r.status_code == 201, r.text


def ask(client: object, deployment: str, prompt: str) -> str:
    r = client.chat.completions.create(  # type: ignore[attr-defined]
        model=deployment, temperature=0, max_tokens=60,
        messages=[{"role": "system", "content": "You are a travel assistant."}, {"role": "user", "content": prompt}])
    return str(r.choices[0].message.content or "")


@pytest.mark.local_model
@pytest.mark.timeout(1800)
def test_fine_tuning_teaches_the_local_model_what_the_data_shows(local_emulator: str) -> None:
    from openai import AzureOpenAI, OpenAI

    began = time.monotonic()
    url = local_emulator
    client = OpenAI(base_url=f"{url}/openai/v1", api_key="k", max_retries=5)
    uploaded = client.files.create(file=("greeting.jsonl", training_file()), purpose="fine-tune")
    for _ in range(60):
        if client.files.retrieve(uploaded.id).status == "processed":
            break
        time.sleep(1)
    job = client.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=uploaded.id,
                                         hyperparameters={"n_epochs": 3})
    while job.status not in ("succeeded", "failed", "cancelled"):
        time.sleep(5)
        job = client.fine_tuning.jobs.retrieve(job.id)
    trained = time.monotonic()
    assert job.status == "succeeded", job.error
    assert job.fine_tuned_model

    download = client.files.with_raw_response.content(job.result_files[0])
    assert download.headers["x-emulator"] == "local-model"
    assert download.headers["x-emulator-model"] == "SmolLM2-135M-Instruct"
    rows = list(csv.DictReader(io.StringIO(download.parse().text)))
    losses = [float(r["train_loss"]) for r in rows]
    assert len(rows) == job_steps(job) and sum(losses[-3:]) / 3 < sum(losses[:3]) / 3, losses

    deploy(url, "base", "gpt-4.1-mini")
    deploy(url, "tuned", job.fine_tuned_model)
    tuned = [ask(client, "tuned", p) for p in HELD_OUT]
    base = [ask(client, "base", p) for p in HELD_OUT]
    assert sum(GREETING.lower() in t.lower() for t in tuned) >= 3, tuned
    assert not any(GREETING.lower() in b.lower() for b in base), base

    raw = client.chat.completions.with_raw_response.create(
        model="tuned", stream=True, temperature=0, max_tokens=60,
        messages=[{"role": "user", "content": HELD_OUT[0]}])
    assert raw.headers["x-emulator"] == "local-model"
    pieces = [c.choices[0].delta.content for c in raw.parse() if c.choices and c.choices[0].delta.content]
    assert len(pieces) >= 5, pieces

    answered = client.responses.create(model="tuned", input=HELD_OUT[2], temperature=0, max_output_tokens=60)
    assert GREETING.lower() in answered.output_text.lower(), answered.output_text
    deltas = [e for e in client.responses.create(model="base", input=HELD_OUT[2], temperature=0,
                                                 max_output_tokens=60, stream=True)
              if e.type == "response.output_text.delta"]
    assert len(deltas) >= 5
    dated = AzureOpenAI(azure_endpoint=url, api_key="k", api_version="2025-04-01-preview", max_retries=5)
    assert GREETING.lower() in ask(dated, "tuned", HELD_OUT[3]).lower()
    health = httpx.get(f"{url}/++/health", timeout=30).json()
    assert health["answers"] == "local-model"
    assert health["labels"]["tuned"].startswith("SmolLM2-135M-Instruct on this machine, standing in for gpt-4.1-mini")

    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
    earlier = [c for c in checkpoints if c.fine_tuned_model_checkpoint != job.fine_tuned_model]
    assert earlier, [c.fine_tuned_model_checkpoint for c in checkpoints]
    deploy(url, "ckpt", earlier[0].fine_tuned_model_checkpoint)
    assert ask(client, "ckpt", HELD_OUT[1]).strip()
    print(f"\nlocal backend end to end: training {trained - began:.0f} s, all {time.monotonic() - began:.0f} s; "
          f"loss {losses[0]:.3f} -> {losses[-1]:.3f}; tuned: {tuned[0]!r}; base: {base[0]!r}")


def job_steps(job: object) -> int:
    return 3 * -(-len(TOPICS) // 4)  # n_epochs 3, the local default batch of 4


@pytest.mark.local_model
@pytest.mark.timeout(1800)
def test_pause_resume_and_an_emulator_killed_mid_run_lose_no_step(tmp_path: Path) -> None:
    from openai import OpenAI

    state = tmp_path / "state"
    proc, url = start_emulator(state)
    try:
        client = OpenAI(base_url=f"{url}/openai/v1", api_key="k", max_retries=5)
        uploaded = client.files.create(file=("greeting.jsonl", training_file()), purpose="fine-tune")
        time.sleep(3)
        job = client.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=uploaded.id,
                                             hyperparameters={"n_epochs": 2})
        while sum(e.type == "metrics" for e in client.fine_tuning.jobs.list_events(job.id).data) < 3:
            time.sleep(1)
        assert client.fine_tuning.jobs.pause(job.id).status == "paused"
        time.sleep(5)
        assert client.fine_tuning.jobs.resume(job.id).status in ("pending", "running")
        time.sleep(10)
    finally:
        proc.kill()  # the emulator dies mid-run; its worker is left behind
        proc.wait()
    proc, url = start_emulator(state)
    try:
        client = OpenAI(base_url=f"{url}/openai/v1", api_key="k", max_retries=5)
        while (job := client.fine_tuning.jobs.retrieve(job.id)).status not in ("succeeded", "failed", "cancelled"):
            time.sleep(3)
        assert job.status == "succeeded", job.error
        lines = [json.loads(x) for x in (state / "training" / job.id / "progress.jsonl").read_text().splitlines()]
        assert any(x["type"] == "stopped" for x in lines) and sum(x["type"] == "launched" for x in lines) == 3
        rows = list(csv.DictReader(io.StringIO(client.files.content(job.result_files[0]).text)))
        assert [int(r["step"]) for r in rows] == list(range(1, 13))
        kept = [c.step_number for c in client.fine_tuning.jobs.checkpoints.list(job.id).data]
        assert sorted(kept) == [6, 12]
        assert (state / "training" / job.id / "worker.log").is_file()  # the workers' output, not the terminal's
        assert "Loading weights" not in state.with_name("state.stderr").read_text()
    finally:
        end(proc)
