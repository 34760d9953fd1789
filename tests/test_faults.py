"""With ~20% of data-plane requests failing (429 with Retry-After, 500, 503, dropped connections),
`run` completes with the same result as on a healthy service: one file, one job, promoted."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures_runner import read_state, runner_config, server_view

pytestmark = pytest.mark.usefixtures("runner_env")


class Inject429:
    """ASGI wrapper: answers a share of /openai requests with 429 + retry-after-ms, before the emulator."""

    def __init__(self, app: Any, rate: float, seed: int):
        self.app = app
        self.rate = rate
        self.rng = random.Random(seed)
        self.count = 0

    def __getattr__(self, name: str) -> Any:  # the server reads the emulator's attributes through us
        return getattr(self.app, name)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/openai") and self.rng.random() < self.rate:
            self.count += 1
            body = json.dumps({"error": {"code": "429", "message": "Requests to the API have exceeded the rate "
                                         "limit. Please retry after 1 second. (test: injected)"}}).encode()
            await send({"type": "http.response.start", "status": 429,
                        "headers": [(b"content-type", b"application/json"), (b"retry-after", b"1"),
                                    (b"retry-after-ms", b"40"), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def _outcome(url: str, state_dir: Path, fake_pulumi: Any) -> dict[str, Any]:
    view = server_view(url)
    assert len(view.training_files()) == 1 and len(view.jobs) == 1
    job = view.jobs[0]
    state = read_state(state_dir)
    assert state["promoted"]["fine_tuned_model"] == job.fine_tuned_model == fake_pulumi.config["fineTunedModel"]
    return {"status": job.status, "model": job.model, "suffix": (job.model_extra or {}).get("suffix"),
            "n_epochs": job.hyperparameters.n_epochs, "trained_tokens": job.trained_tokens,
            "file_bytes": view.training_files()[0].bytes, "ft_suffix": job.fine_tuned_model.rsplit("-ft-", 1)[-1]}


def test_run_survives_20_percent_faults(tmp_path: Path, training_copy: Path, fake_pulumi: Any, runner_env: Path,
                                        monkeypatch: pytest.MonkeyPatch, jobs_cli: Any) -> None:
    import jobs.emulator.server as server_mod
    from jobs.emulator.server import EmulatorServer

    args = ["--yes", "--epochs", "2"]
    # the reference: a healthy service
    with EmulatorServer(tmp_path / "healthy", runner_config()) as healthy:
        ok = jobs_cli("run", str(training_copy), "--endpoint", healthy.url, *args)
        assert ok.exit_code == 0, ok.stderr
        reference = _outcome(healthy.url, runner_env, fake_pulumi)

    # the same run against a faulty service, from a fresh run state
    monkeypatch.setenv("FTJOBS_STATE_DIR", str(tmp_path / "faulty-state"))
    real_create_app = server_mod.create_app
    wrappers: list[Inject429] = []

    def create_app(state_dir: Any, config: Any) -> Any:
        wrappers.append(Inject429(real_create_app(state_dir, config), rate=0.06, seed=7))
        return wrappers[-1]

    monkeypatch.setattr(server_mod, "create_app", create_app)
    faulty_cfg = runner_config(faults={"rate": 0.15, "kinds": ["500", "503", "drop"], "seed": 11})
    with EmulatorServer(tmp_path / "faulty", faulty_cfg) as faulty:
        out = jobs_cli("run", str(training_copy), "--endpoint", faulty.url, *args)
        assert out.exit_code == 0, out.stderr
        assert out.stderr.count("retry:") >= 3  # faults happened and were retried
        assert "HTTP 429" in out.stderr and wrappers[0].count > 0
        faulty.set_config(faults={"rate": 0.0})  # read the result back without noise
        result = _outcome(faulty.url, tmp_path / "faulty-state", fake_pulumi)
    assert result == reference
