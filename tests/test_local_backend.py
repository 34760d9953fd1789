"""The local backend's adapters to the emulator's seams, without torch or llama.cpp: the answer source over a
scripted fake of ``LocalModels`` (stream order, n, max_tokens, cancel on disconnect, checkpoint -> adapter),
and the trainer over a scripted fake training run in real worker processes, driven by the emulator's engine
(plan, steps and results.csv, checkpoint retention, pause, resume, restart, cancel). The real model runs in
tests/test_local_backend_e2e.py (marker ``local_model``)."""

from __future__ import annotations

import asyncio
import functools
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator import errors
from emulator.answers import AnswerRequest, ResponseFormat, TunedModel
from emulator.app import Emulator
from emulator.config import EmulatorConfig
from emulator.local import checkpoints, progress, worker
from emulator.local.answer_source import DEFAULT_MAX_TOKENS, LocalAnswerSource
from emulator.local.trainer import LocalTrainer
from emulator.local.trainspec import TrainSpec
from emulator.state import State
from emulator.trainer import TrainingData
from tests.support.emulators import fast_config
from tests.support.imports import model_packages_loaded_by
from tests.support.local import FakeModels

USER = [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "Rome?"}]


def _req(**kw: Any) -> AnswerRequest:
    return AnswerRequest(**{"messages": USER, "model": "gpt-4.1", **kw})


async def _drain(source: LocalAnswerSource, request: AnswerRequest, index: int = 0) -> tuple[list[str], Any]:
    stream = source.answer(request, index)
    pieces = [p async for p in stream]
    return pieces, stream.end


def test_pieces_stream_in_order_and_the_end_carries_the_local_usage() -> None:
    models = FakeModels()
    pieces, end = asyncio.run(_drain(LocalAnswerSource(models), _req(temperature=0.0, stop=("x",))))
    assert pieces == ["Rome ", "is ", "lovely ", "in ", "spring ", ". "]
    assert (end.finish_reason, end.completion_tokens, end.prompt_tokens) == ("stop", 6, 11)
    request, adapter = models.requests[0]
    assert adapter is None and request.temperature == 0.0 and request.stop == ("x",)
    assert request.messages[0] == {"role": "system", "content": "Be brief."}  # developer speaks as system


def test_max_tokens_is_honoured_and_capped_when_unset() -> None:
    models = FakeModels()
    source = LocalAnswerSource(models)
    pieces, end = asyncio.run(_drain(source, _req(max_tokens=2)))
    assert pieces == ["Rome ", "is "] and end.finish_reason == "length" and end.completion_tokens == 2
    asyncio.run(_drain(source, _req()))
    assert [r.max_tokens for r, _ in models.requests] == [2, DEFAULT_MAX_TOKENS]
    assert models.requests[1][0].temperature == 1.0 and models.requests[1][0].top_p == 1.0  # OpenAI's defaults


def test_each_choice_is_its_own_generation_seeded_apart() -> None:
    models = FakeModels()
    source = LocalAnswerSource(models)
    for index in range(3):
        asyncio.run(_drain(source, _req(n=3, seed=7, response_format=ResponseFormat("json_schema", {})), index))
    assert [(r.n, r.seed, r.json_object) for r, _ in models.requests] == [(1, 7, True), (1, 8, True), (1, 9, True)]
    asyncio.run(_drain(source, _req(top_p=0.0, temperature=5.0)))
    assert (models.requests[-1][0].temperature, models.requests[-1][0].seed) == (0.0, None)  # top_p 0: greedy


def test_a_client_that_leaves_closes_the_generation() -> None:
    models = FakeModels()
    source = LocalAnswerSource(models)

    async def leave_early() -> None:
        stream = source.answer(_req(), 0)
        assert await stream.__anext__() == "Rome "
        await stream.aclose()
    asyncio.run(leave_early())
    assert models.closed == 1


def test_a_checkpoint_answers_with_its_adapter_added_once(tmp_path: Path) -> None:
    models = FakeModels()
    source = LocalAnswerSource(models)
    ckpt = tmp_path / "checkpoints" / "step-000006" / "adapter"
    ckpt.mkdir(parents=True)
    tuned = TunedModel("ftjob-1", "gpt-4.1-2025-04-14", 6, str(ckpt), lambda: None)
    for _ in range(2):
        asyncio.run(_drain(source, _req(model="gpt-4.1-2025-04-14.ft-1:ckpt-step-6", tuned=tuned)))
    assert models.added == [(str(ckpt), ckpt)]
    assert [adapter for _, adapter in models.requests] == [str(ckpt)] * 2
    gone = TunedModel("ftjob-1", "gpt-4.1-2025-04-14", 2, None, lambda: None)
    with pytest.raises(errors.ApiError) as caught:
        asyncio.run(_drain(source, _req(model="x.ft-1:ckpt-step-2", tuned=gone)))
    assert caught.value.status == 404 and "not on this machine" in caught.value.message


def test_capacity_follows_the_measured_speed() -> None:
    assert LocalAnswerSource(FakeModels(rate=0)).capacity("gpt-4.1") is None  # not measured yet
    cap = LocalAnswerSource(FakeModels(rate=1200), parallel=2).capacity("gpt-4.1")
    assert cap is not None and cap.tokens_per_minute == 4800 and cap.requests_per_minute == 48
    assert LocalAnswerSource(FakeModels()).label("gpt-4.1") == \
        "SmolLM2-135M-Instruct on this machine, standing in for gpt-4.1-2025-04-14"


def test_llama_cpp_gets_two_threads_only_when_openmp_spins_briefly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unbounded spinning starves a busy machine (docs/benchmarks.md): more than one thread only when the process
    started with GOMP_SPINCOUNT small (the rehearsal's RUNTIME_ENV) or with OMP_WAIT_POLICY=passive alone."""
    import os

    from emulator.local.cpu import RUNTIME_ENV
    from emulator.local.serve import default_threads

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert default_threads({}) == 1
    assert default_threads(RUNTIME_ENV) == 2
    assert default_threads({"OMP_WAIT_POLICY": "passive"}) == 2
    assert default_threads({"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "300000"}) == 1  # the count wins
    assert default_threads({"GOMP_SPINCOUNT": "infinite"}) == 1
    assert default_threads({"OMP_WAIT_POLICY": "active"}) == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert default_threads(RUNTIME_ENV) == 4


def test_the_routes_send_the_local_headers_and_usage(tmp_path: Path) -> None:
    cfg = EmulatorConfig.from_dict(fast_config(limits={"enabled": False}))
    app = Emulator(State.build(tmp_path / "s", cfg, LocalAnswerSource(FakeModels()), LocalTrainer()))

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.post("/openai/v1/chat/completions", headers={"api-key": "k"},
                                     json={"model": "gpt-4.1", "messages": USER, "max_tokens": 3})
    r = asyncio.run(post())
    assert r.status_code == 200, r.text
    assert r.headers["x-emulator"] == "local-model" and r.headers["x-emulator-model"] == "SmolLM2-135M-Instruct"
    body = r.json()
    assert body["choices"][0]["message"]["content"] == "Rome is lovely "
    assert body["usage"] == {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}


# --- the trainer, with a scripted fake run in real worker processes -------------------------------------------

def fake_run(spec: TrainSpec, workdir: Path) -> dict[str, Any]:
    """A fake train.run: steps every 0.05 s, a checkpoint per epoch (the newest 3 kept), stop and resume."""
    per_epoch = -(-len(spec.training) // spec.batch_size)
    total = per_epoch * spec.n_epochs
    saved = _fake_resume_point(workdir)  # checkpoints.resume_point reads torch state
    step = saved.step if saved else 0
    writer = progress.ProgressWriter(workdir)
    writer.write("started", step=step, total_steps=total, steps_per_epoch=per_epoch)
    while step < total:
        time.sleep(0.05)
        step += 1
        writer.write("step", step=step, epoch=(step - 1) // per_epoch + 1, train_loss=3.0 / step,
                     train_mean_token_accuracy=0.5, valid_loss=None, valid_mean_token_accuracy=None,
                     full_valid_loss=None, full_valid_mean_token_accuracy=None)
        if step % per_epoch == 0:
            _save(checkpoints.checkpoint_dir(workdir, step), step)
            removed = checkpoints.prune(workdir, spec.keep_checkpoints)
            path = checkpoints.checkpoint_dir(workdir, step)
            writer.write("checkpoint", step=step, epoch=step // per_epoch, path=str(path.relative_to(workdir)),
                         adapter=str((path / "adapter").relative_to(workdir)),
                         removed=[str(p.relative_to(workdir)) for p in removed])
        if progress.stop_requested(workdir) and step < total:
            _save(workdir / checkpoints.RESUME, step)
            progress.clear_stop(workdir)
            return writer.write("stopped", step=step)
    return writer.write("done", step=step, adapter="x")


def _save(path: Path, step: int) -> None:
    (path / "adapter").mkdir(parents=True, exist_ok=True)
    (path / "adapter" / "adapter_config.json").write_text("{}")
    (path / checkpoints.STATE).write_text("")
    (path / "step").write_text(str(step))


def _fake_resume_point(workdir: Path) -> Any:
    """checkpoints.resume_point without torch: the fake's state files hold no torch state."""
    found = checkpoints.listed(workdir)[-1:]
    resume = workdir / checkpoints.RESUME
    if (resume / "step").is_file():
        found.append(checkpoints.Saved(resume, int((resume / "step").read_text())))
    return max(found, key=lambda s: s.step) if found else None


def _trainer() -> LocalTrainer:
    return LocalTrainer(launch=functools.partial(worker.start, target=fake_run, nice=0))


CHAT = [{"messages": [{"role": "user", "content": f"Where is city {i}?"},
                      {"role": "assistant", "content": f"City {i} is far."}]} for i in range(12)]
TRAINING = ("\n".join(json.dumps(r) for r in CHAT) + "\n").encode()


def _state(root: Path, trainer: LocalTrainer, models: FakeModels | None = None) -> State:
    cfg = EmulatorConfig.from_dict(fast_config(queue_seconds=0.0, file_processing_seconds=0.0,
                                               limits={"enabled": False}))
    return State.build(root, cfg, LocalAnswerSource(models or FakeModels()), trainer)


def _create(state: State, **hp: Any) -> dict[str, Any]:
    f = state.engine.upload("train.jsonl", "fine-tune", TRAINING)
    return state.engine.create_job({"model": "gpt-4.1", "training_file": f["id"], "hyperparameters": hp})


def _until(state: State, job_id: str, check: Any, seconds: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        job = state.engine.get_job(job_id)
        if check(job):
            return job
        assert time.monotonic() < deadline, (job["status"], job["emitted_steps"])
        time.sleep(0.05)


def test_a_job_trains_in_a_worker_and_keeps_azures_checkpoints(tmp_path: Path) -> None:
    state = _state(tmp_path / "s", _trainer())
    job = _create(state, n_epochs=5, batch_size=3)
    assert (job["epochs"], job["steps_per_epoch"], job["total_steps"]) == (5, 4, 20)  # the local run's plan
    done = _until(state, job["id"], lambda j: j["status"] in ("succeeded", "failed"))
    assert done["status"] == "succeeded", done["error"]
    kept = [(c["step_number"], c["fine_tuned_model_checkpoint"]) for c in done["checkpoints"]]
    model = done["fine_tuned_model"]
    assert kept == [(12, f"{model}:ckpt-step-12"), (16, f"{model}:ckpt-step-16"), (20, model)]
    catalogue = state.engine.catalogue
    assert catalogue.tuned_model(model).artefact.endswith("step-000020/adapter")  # type: ignore[union-attr]
    assert catalogue.tuned_model(f"{model}:ckpt-step-8").artefact is None  # type: ignore[union-attr]
    csv = state.store.file_content(done["result_files"][0]).decode().splitlines()
    assert len(csv) == 21 and csv[1].startswith("1,3.00000,0.50000")
    metrics = [e for e in done["events"] if e["type"] == "metrics"]
    assert [e["data"]["step"] for e in metrics] == list(range(1, 21))


@pytest.mark.parametrize("surface", ["chat", "responses"])
def test_a_checkpoint_no_longer_kept_answers_404_as_json_even_when_streamed(tmp_path: Path, surface: str) -> None:
    """The missing weights are found at admission: a streamed request gets Azure's JSON 404, not a 200 stream that
    breaks after its headers, and nothing is generated."""
    models = FakeModels()
    state = _state(tmp_path / "s", _trainer(), models)
    job = _create(state, n_epochs=5, batch_size=3)
    done = _until(state, job["id"], lambda j: j["status"] in ("succeeded", "failed"))
    assert done["status"] == "succeeded", done["error"]
    state.add_deployment("ckpt-8", f"{done['fine_tuned_model']}:ckpt-step-8")  # step 8's weights were pruned
    state.add_deployment("ckpt-16", f"{done['fine_tuned_model']}:ckpt-step-16")  # kept
    path, body = (("/openai/v1/chat/completions", {"messages": USER}) if surface == "chat" else
                  ("/openai/v1/responses", {"input": "Where to stay in Rome?"}))

    async def post(deployment: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=Emulator(state))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.post(path, headers={"api-key": "k"},
                                     json={"model": deployment, "stream": True, "max_tokens": 3, **body})
    gone = asyncio.run(post("ckpt-8"))
    assert gone.status_code == 404 and gone.headers["content-type"].startswith("application/json")
    error = gone.json()["error"]
    assert error["code"] == "DeploymentNotFound" and "not on this machine" in error["message"]
    assert models.requests == []  # nothing generated
    kept = asyncio.run(post("ckpt-16"))
    assert kept.status_code == 200 and kept.headers["content-type"].startswith("text/event-stream")
    assert "Rome" in kept.text and models.requests[0][1] is not None and models.requests[0][1].endswith("adapter")


def test_auto_hyperparameters_take_the_local_defaults(tmp_path: Path) -> None:
    state = _state(tmp_path / "s", _trainer())
    job = _create(state)
    assert (job["epochs"], job["steps_per_epoch"]) == (3, 3)  # trainspec's defaults: 3 epochs, batch 4
    state.engine.cancel(job["id"])


def test_pause_stops_the_worker_and_resume_continues_where_it_stopped(tmp_path: Path) -> None:
    state = _state(tmp_path / "s", _trainer())
    job = _create(state, n_epochs=40, batch_size=4)
    _until(state, job["id"], lambda j: j["emitted_steps"] >= 3)
    state.engine.pause(job["id"])
    workdir = Path(state.engine.get_job(job["id"])["local_workdir"])
    deadline = time.monotonic() + 30
    while progress.read(workdir).state != "stopped":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    stopped_at = progress.read(workdir).steps[-1]["step"]
    time.sleep(0.3)
    assert progress.read(workdir).steps[-1]["step"] == stopped_at  # no step while paused
    state.engine.resume(job["id"])
    done = _until(state, job["id"], lambda j: j["status"] in ("succeeded", "failed"))
    assert done["status"] == "succeeded"
    steps = [s["step"] for s in progress.read(workdir).steps]
    assert steps == list(range(1, 121))  # nothing lost, nothing twice


def test_estimated_finish_is_the_measured_pace_of_the_last_steps() -> None:
    from emulator.local.trainer import estimated_finish

    steps = [{"step": k, "time": 1000.0 + 3.0 * k} for k in range(1, 21)]
    assert estimated_finish(steps[:1], 48) is None  # one step: no pace yet
    assert estimated_finish(steps[:3], 48) == 1009.0 + 3.0 * 45
    slow_start = [{"step": 1, "time": 0.0}] + steps[1:]  # only the last 10 steps count
    assert estimated_finish(slow_start, 48) == 1060.0 + 3.0 * 28
    assert estimated_finish(steps, 20) == 1060.0  # at the last step: now


def test_a_running_local_job_estimates_its_end_from_its_pace(tmp_path: Path) -> None:
    """The simulated schedule (1.5 s of training in the test config) is not the local run's: the fake worker
    takes about 0.05 s a step, so 120 steps end seconds later than the schedule would say."""
    from emulator.render import render_job

    state = _state(tmp_path / "s", _trainer())
    job = _create(state, n_epochs=40, batch_size=4)
    running = _until(state, job["id"], lambda j: j["emitted_steps"] >= 5)
    shown = render_job(running, v1=True)["estimated_finish"]
    assert isinstance(shown, int)
    steps = progress.read(Path(running["local_workdir"])).steps
    pace = (steps[-1]["time"] - steps[0]["time"]) / (steps[-1]["step"] - steps[0]["step"])
    remaining = 120 - steps[-1]["step"]
    assert abs(shown - (steps[-1]["time"] + pace * remaining)) <= 1.5
    assert shown > running["run_started_at"] + 1.5 + 2  # later than the simulated schedule's end
    state.engine.cancel(job["id"])
    assert render_job(state.engine.get_job(job["id"]), v1=True)["estimated_finish"] is None


def test_a_restarted_emulator_continues_a_running_job_from_its_last_checkpoint(tmp_path: Path) -> None:
    first = _state(tmp_path / "s", _trainer())
    job = _create(first, n_epochs=30, batch_size=4)
    _until(first, job["id"], lambda j: len(j["checkpoints"]) >= 2)
    # the emulator dies; its worker is left running, and the next emulator ends it before resuming
    second = _state(tmp_path / "s", _trainer())
    workdir = Path(second.engine.get_job(job["id"])["local_workdir"])
    done = _until(second, job["id"], lambda j: j["status"] in ("succeeded", "failed"))
    assert done["status"] == "succeeded", done["error"]
    lines = [json.loads(line) for line in (workdir / progress.PROGRESS_FILE).read_text().splitlines()]
    started = [line for line in lines if line["type"] == "started"]
    assert len(started) == 2 and started[1]["step"] % 3 == 0 and started[1]["step"] >= 6  # from a checkpoint
    assert [s["step"] for s in progress.read(workdir).steps] == list(range(1, 91))


def test_cancel_kills_the_worker(tmp_path: Path) -> None:
    trainer = _trainer()
    state = _state(tmp_path / "s", trainer)
    job = _create(state, n_epochs=200, batch_size=4)
    _until(state, job["id"], lambda j: j["emitted_steps"] >= 1)
    running = trainer._workers[job["id"]]
    state.engine.cancel(job["id"])
    assert running.wait(30) and job["id"] not in trainer._workers


def test_importing_the_local_backend_loads_no_model_package() -> None:
    assert model_packages_loaded_by("emulator.local.backend") == []


def test_a_job_the_local_trainer_cannot_train_fails_with_the_reason(tmp_path: Path) -> None:
    trainer = _trainer()
    state = _state(tmp_path / "s", trainer)
    job = dict(_create(state, n_epochs=1))
    state.engine.cancel(job["id"])
    job["emitted_steps"], job["checkpoints"] = 0, []
    trainer.start(job, TrainingData(b""), tmp_path / "w", 0.0)  # e.g. a job whose training snapshot was lost
    polled = trainer.poll(job, 1.0)
    assert polled.status == "failed" and "the training file has no examples" in (polled.error or "")


@pytest.mark.parametrize("backend", ["stand-in", "local"])
def test_file_downloads_say_which_backend_wrote_them(tmp_path: Path, backend: str) -> None:
    from emulator.canned import CannedSource
    from emulator.trainer import SimulatedTrainer

    cfg = EmulatorConfig.from_dict(fast_config(file_processing_seconds=0.0))
    state = State.build(tmp_path / "s", cfg, CannedSource(cfg), SimulatedTrainer(cfg)) if backend == "stand-in" \
        else _state(tmp_path / "s", _trainer())
    f = state.engine.upload("train.jsonl", "fine-tune", TRAINING)

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=Emulator(state))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.get(f"/openai/v1/files/{f['id']}/content", headers={"api-key": "k"})
    r = asyncio.run(get())
    assert r.status_code == 200 and r.content == TRAINING
    expected = ("stand-in", "stand-in") if backend == "stand-in" else ("local-model", "SmolLM2-135M-Instruct")
    assert (r.headers["x-emulator"], r.headers["x-emulator-model"]) == expected
