"""Fixtures for the runner tests (see tests/conftest.py).

- ``runner_env``: an isolated run-state dir and fast, deterministic env for the
  runner (poll every 0.05 s, quick retries, a test API key, no inherited Azure
  settings). Returns the state dir.
- ``jobs_cli(*args)``: run ``python -m jobs ARGS`` in-process (click's runner);
  returns exit code, stdout and stderr separately.
- ``run_jobs_process(args, env=..., timeout=...)``: the same as a real subprocess.
- ``job_emulator``: an emulator with fast stages and no rate limits, in a thread.
- ``training_copy``: the lab's training file copied to a temp dir (read from ../shared).
- ``EmulatorProcess``: the emulator as its own OS process on a fixed port, to
  SIGKILL and restart it on the same port and state dir.
- ``server_view(url)``: what the emulator holds (files, jobs), through the SDK.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

REPO = Path(__file__).resolve().parent.parent
TEST_KEY = "test-key-not-secret"

RUNNER_FAST: dict[str, Any] = {
    "file_processing_seconds": 0.2,
    "queue_seconds": 0.2,
    "training_seconds": 1.0,
    "limits": {"enabled": False},
    "deployments": {"gpt-4.1": {"model": "gpt-4.1", "capacity": 50}},
}

_CLEARED = ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_AD_TOKEN", "FTJOBS_API",
            "OPENAI_API_VERSION", "FTJOBS_PRICE_PER_1M", "FTJOBS_STACK", "FTJOBS_TEST_CRASH_AT", "OPENAI_API_KEY",
            "OPENAI_BASE_URL", "FTJOBS_POLL_RUNNING_MIN", "FTJOBS_STATUS_EVERY", "FTJOBS_RETRY_MAX_WAIT")


def runner_config(**overrides: Any) -> dict[str, Any]:
    cfg = json.loads(json.dumps(RUNNER_FAST))
    for k, v in overrides.items():
        if isinstance(v, dict) and isinstance(cfg.get(k), dict):
            cfg[k] = {**cfg[k], **v}
        else:
            cfg[k] = v
    return cfg


@pytest.fixture
def runner_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    state = tmp_path / "ftjobs-state"
    monkeypatch.setenv("FTJOBS_STATE_DIR", str(state))
    monkeypatch.setenv("FTJOBS_POLL_INTERVAL", "0.05")
    monkeypatch.setenv("FTJOBS_POLL_MAX", "0.2")
    monkeypatch.setenv("FTJOBS_RETRY_BASE", "0.05")
    monkeypatch.setenv("FTJOBS_RETRY_CAP", "0.5")
    monkeypatch.setenv("FTJOBS_RETRY_ATTEMPTS", "12")
    monkeypatch.setenv("FTJOBS_HTTP_TIMEOUT", "10")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("CI", "1")  # plain progress lines
    monkeypatch.chdir(tmp_path)
    return state


@dataclass
class CliOutcome:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def jobs_cli() -> Callable[..., CliOutcome]:
    from click.testing import CliRunner

    from jobs.cli import cli

    def run(*args: str, input: str | None = None) -> CliOutcome:
        res = CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)
        return CliOutcome(res.exit_code, res.stdout, res.stderr)

    return run


def run_jobs_process(args: list[str], *, env: dict[str, str] | None = None, timeout: float = 60,
                     kill_after: float | None = None) -> CliOutcome:
    """``python -m jobs ARGS`` as a subprocess; ``kill_after`` seconds → SIGKILL (exit -9)."""
    full_env = {**os.environ, **(env or {}), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "jobs", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=full_env)
    try:
        if kill_after is not None:
            try:
                out, err = proc.communicate(timeout=kill_after)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                out, err = proc.communicate(timeout=timeout)
        else:
            out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return CliOutcome(proc.returncode, out, err)


@pytest.fixture
def job_emulator(tmp_path: Path) -> Iterator[Any]:
    from emulator.server import EmulatorServer

    with EmulatorServer(tmp_path / "emulator-state", runner_config()) as em:
        yield em


@pytest.fixture
def training_copy(tmp_path: Path, mslearn_data: Path) -> Path:
    dst = tmp_path / "data" / "travel-train.jsonl"
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(mslearn_data / "travel-finetune-hotel.jsonl", dst)
    return dst


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmulatorProcess:
    """The emulator as a separate process on a fixed port: kill -9 it, start it again."""

    def __init__(self, state_dir: Path, config: dict[str, Any], port: int | None = None):
        self.state_dir = Path(state_dir)
        self.config_path = self.state_dir.parent / f"{self.state_dir.name}.config.json"
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps(config))
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20) -> "EmulatorProcess":
        import urllib.request

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jobs", "emulator", "--port", str(self.port), "--state-dir", str(self.state_dir),
             "--config", str(self.config_path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(REPO)})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/++/health", timeout=1):
                    return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"emulator process exited with {self.proc.returncode}")
                time.sleep(0.05)
        raise RuntimeError("emulator process did not answer /++/health in time")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class ServerView:
    files: list[Any]
    jobs: list[Any]

    def training_files(self, filename: str = "travel-train.jsonl") -> list[Any]:
        return [f for f in self.files if f.filename == filename and f.purpose == "fine-tune"]


def server_view(url: str) -> ServerView:
    """Everything the emulator holds, read through the real SDK (dated API)."""
    import openai

    c = openai.AzureOpenAI(azure_endpoint=url, api_key=TEST_KEY, api_version="2025-04-01-preview", max_retries=5)
    files = list(c.files.list().data)
    jobs = list(c.fine_tuning.jobs.list(limit=100).data)
    return ServerView(files=files, jobs=jobs)


def sdk_client(url: str) -> Any:
    import openai

    return openai.AzureOpenAI(azure_endpoint=url, api_key=TEST_KEY, api_version="2025-04-01-preview", max_retries=5)


def wait_for_running_job(client: Any, timeout: float = 30, interval: float = 0.05) -> Any:
    """Poll the newest job on the server until it is running; fail the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        jobs = list(client.fine_tuning.jobs.list().data)
        if jobs and jobs[0].status == "running":
            return jobs[0]
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(interval)


def read_state(state_dir: Path, stack: str = "dev") -> dict[str, Any]:
    p = Path(state_dir) / f"{stack}.json"
    return json.loads(p.read_text()) if p.exists() else {}
