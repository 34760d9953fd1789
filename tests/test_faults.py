"""With ~20% of data-plane requests failing (the emulator's injected 429s with Retry-After, 500s, 503s and
dropped connections), `run` completes with the same result as on a healthy service: one file, one job, promoted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.clients import read_state, server_view
from tests.support.emulators import runner_config

pytestmark = pytest.mark.usefixtures("runner_env")

# Seed 7 makes the 2nd and 3rd data-plane requests 429s and the 5th and 6th a 500 and a dropped connection,
# whatever the timing of the later polls; 0.05 s Retry-After keeps the waits short.
FAULTS = {"rate": 0.2, "kinds": ["429", "500", "503", "drop"], "seed": 7, "retry_after_seconds": 0.05}


def _outcome(url: str, state_dir: Path, fake_pulumi: Any) -> dict[str, Any]:
    view = server_view(url)
    assert len(view.training_files()) == 1 and len(view.jobs) == 1
    job = view.jobs[0]
    state = read_state(state_dir)
    assert state["promoted"]["fine_tuned_model"] == job.fine_tuned_model == fake_pulumi.config["fineTunedModel"]
    return {"status": job.status, "model": job.model, "suffix": (job.model_extra or {}).get("suffix"),
            "n_epochs": job.hyperparameters.n_epochs, "trained_tokens": job.trained_tokens,
            "file_bytes": view.training_files()[0].bytes, "ft_suffix": job.fine_tuned_model.rsplit("-ft-", 1)[-1]}


@pytest.mark.slow
def test_run_survives_20_percent_faults(tmp_path: Path, training_copy: Path, fake_pulumi: Any, runner_env: Path,
                                        monkeypatch: pytest.MonkeyPatch, jobs_cli: Any) -> None:
    from emulator.server import EmulatorServer

    args = ["--yes", "--epochs", "2"]
    # the reference: a healthy service
    with EmulatorServer(tmp_path / "healthy", runner_config()) as healthy:
        ok = jobs_cli("run", str(training_copy), "--endpoint", healthy.url, *args)
        assert ok.exit_code == 0, ok.stderr
        assert "retry:" not in ok.stderr
        reference = _outcome(healthy.url, runner_env, fake_pulumi)

    # the same run against a faulty service, from a fresh run state
    monkeypatch.setenv("FTJOBS_STATE_DIR", str(tmp_path / "faulty-state"))
    with EmulatorServer(tmp_path / "faulty", runner_config(faults=FAULTS)) as faulty:
        out = jobs_cli("run", str(training_copy), "--endpoint", faulty.url, *args)
        assert out.exit_code == 0, out.stderr
        retries = [ln for ln in out.stderr.splitlines() if ln.startswith("retry:")]
        assert len(retries) >= 4  # faults happened and were retried
        assert any("HTTP 429" in ln and "retrying in 0.1 s" in ln for ln in retries)  # waited Retry-After (50 ms)
        assert any("HTTP 500" in ln or "HTTP 503" in ln for ln in retries)
        assert any("onnection" in ln for ln in retries)  # a dropped connection
        faulty.set_config(faults={"rate": 0.0})  # read the result back without noise
        result = _outcome(faulty.url, tmp_path / "faulty-state", fake_pulumi)
    assert result == reference
