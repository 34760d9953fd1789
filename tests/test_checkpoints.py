"""Checkpoints of a job (``python -m jobs checkpoints``), their selection, promotion and the holdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.cli import stack_env
from tests.support.clients import FinishedJob


def _jobs_cli(args: list[str], env: dict[str, str]) -> "subprocess.CompletedProcess[str]":
    return subprocess.run([sys.executable, "-m", "jobs", *args], env=env, capture_output=True, text=True, timeout=60)


def test_checkpoints_command_lists_steps_ids_models_and_metrics(finished_job: FinishedJob, tmp_path: Path) -> None:
    fj = finished_job
    proc = _jobs_cli(["checkpoints", fj.job_id], stack_env(fj.url, tmp_path / "state"))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"job {fj.job_id}: succeeded" in out
    assert f"{fj.fine_tuned_model}:ckpt-step-" in out and "ftchkpt-" in out
    assert f"{fj.fine_tuned_model}  (final)" in out
    header = next(line for line in out.splitlines() if line.startswith("step"))
    assert "train loss" in header and "valid loss" in header and "train acc" in header


def test_checkpoints_json_uses_azures_field_names(finished_job: FinishedJob, tmp_path: Path) -> None:
    fj = finished_job
    from jobs.state import RunState

    RunState("dev", tmp_path / "state").update(lambda d: d.update(latest_job=fj.job_id))  # the default job
    proc = _jobs_cli(["checkpoints", "--json"], stack_env(fj.url, tmp_path / "state"))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert isinstance(data, list) and len(data) >= 2
    for item in data:
        assert {"id", "step_number", "fine_tuned_model_checkpoint", "metrics"} <= set(item)
        assert item["id"].startswith("ftchkpt-") and isinstance(item["step_number"], int)
        assert item["metrics"]["train_loss"] is not None and item["metrics"]["valid_loss"] is not None
    steps = [c["step_number"] for c in data]
    assert steps == sorted(steps)
    assert data[-1]["fine_tuned_model_checkpoint"] == fj.fine_tuned_model and data[-1]["final"] is True
    assert data[0]["fine_tuned_model_checkpoint"] == f"{fj.fine_tuned_model}:ckpt-step-{steps[0]}"
    assert data[0]["final"] is False


def test_checkpoint_metrics_missing_from_the_object_come_from_results_csv() -> None:
    from jobs import metrics

    table = metrics.parse_results_csv("step,train_loss,valid_loss,train_mean_token_accuracy\n1,2.0,2.2,0.5\n"
                                      "2,1.0,1.4,0.7\n")
    cp = metrics.parse_checkpoints([{"id": "ftchkpt-a", "step_number": 2, "fine_tuned_model_checkpoint": "m:ckpt-step-2",
                                     "metrics": {"train_loss": 0.99}}])[0]
    cp.fill_from(table)
    assert cp.metrics == {"train_loss": 0.99, "valid_loss": 1.4, "train_mean_token_accuracy": 0.7}
    assert cp.to_azure()["id"] == "ftchkpt-a" and cp.to_azure()["step_number"] == 2
