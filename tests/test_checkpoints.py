"""Checkpoints of a job (``python -m jobs checkpoints``), their promotion and the holdout; their selection
(``compare --checkpoints``) is tests/test_checkpoint_selection.py."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.checkpoints import checkpoint_list, jobs_cli
from tests.support.cli import stack_env
from tests.support.clients import FinishedJob
from tests.support.fake_pulumi import FakePulumi


def test_checkpoints_command_lists_steps_ids_models_and_metrics(finished_job: FinishedJob, tmp_path: Path) -> None:
    fj = finished_job
    proc = jobs_cli(["checkpoints", fj.job_id], stack_env(fj.url, tmp_path / "state"))
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
    proc = jobs_cli(["checkpoints", "--json"], stack_env(fj.url, tmp_path / "state"))
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


# ----------------------------------------------------------------- promote --checkpoint

def test_promote_a_checkpoint_by_step_records_it_and_status_shows_it(finished_job: FinishedJob,
                                                                       tmp_path: Path) -> None:
    from jobs.state import RunState
    from tests.support.paths import CWD

    fj = finished_job
    fake = FakePulumi.create(tmp_path / "bin")
    env = stack_env(fj.url, tmp_path / "state", pulumi=fake)
    first = checkpoint_list(fj, env)[0]
    proc = jobs_cli(["promote", fj.job_id, "--checkpoint", str(first["step_number"])], env)
    assert proc.returncode == 0, proc.stderr
    model = str(first["fine_tuned_model_checkpoint"])
    assert ":ckpt-step-" in model
    assert ["config", "set", "--stack", "dev", "fineTunedModel", model, *CWD] in fake.calls()
    assert f"checkpoint: checkpoint step {first['step_number']}" in proc.stdout
    promoted = RunState("dev", tmp_path / "state").load()["promoted"]
    assert promoted["fine_tuned_model"] == model
    assert promoted["checkpoint"]["step"] == first["step_number"] and promoted["checkpoint"]["via"] == "step"
    assert promoted["checkpoint"]["checkpoint_id"] == first["id"]
    proc = jobs_cli(["status", fj.job_id, "--json"], env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["promoted"]["checkpoint"]["model"] == model
    proc = jobs_cli(["status", fj.job_id], env)
    assert f"promoted:         {model}  (checkpoint step {first['step_number']}" in proc.stdout


def test_promote_best_without_a_selection_refuses_and_names_the_command(finished_job: FinishedJob,
                                                                          tmp_path: Path) -> None:
    from tests.support.fake_pulumi import FakePulumi

    fj = finished_job
    fake = FakePulumi.create(tmp_path / "bin")
    env = stack_env(fj.url, tmp_path / "state", pulumi=fake)
    proc = jobs_cli(["promote", fj.job_id, "--checkpoint", "best"], env)
    assert proc.returncode == 2
    assert f"python -m jobs compare --checkpoints {fj.job_id}" in proc.stderr and "Traceback" not in proc.stderr
    assert not fake.calls()
    proc = jobs_cli(["promote", fj.job_id, "--checkpoint", "999999"], env)
    assert proc.returncode == 2 and "no such checkpoint" in proc.stderr and "python -m jobs checkpoints" in proc.stderr


def test_promote_best_takes_the_latest_selection(finished_job: FinishedJob, tmp_path: Path) -> None:
    from jobs.state import RunState
    from tests.support.paths import CWD

    fj = finished_job
    fake = FakePulumi.create(tmp_path / "bin")
    env = stack_env(fj.url, tmp_path / "state", pulumi=fake)
    first = checkpoint_list(fj, env)[0]
    chosen = {"step": first["step_number"], "checkpoint_id": first["id"],
              "model": first["fine_tuned_model_checkpoint"], "reason": "step 10 beat the final model"}
    RunState("dev", tmp_path / "state").update(lambda d: d["selections"].update(
        {fj.job_id: {"at": 1, "run_id": "run-1", "report": "r/report.json", "chosen": chosen}}))
    proc = jobs_cli(["promote", fj.job_id, "--checkpoint", "best", "--json"], env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["fine_tuned_model"] == first["fine_tuned_model_checkpoint"]
    assert out["checkpoint"]["via"] == "best" and "beat the final model" in out["checkpoint"]["reason"]
    assert "run-1" in out["checkpoint"]["reason"]
    assert ["config", "set", "--stack", "dev", "fineTunedModel", first["fine_tuned_model_checkpoint"], *CWD] \
        in fake.calls()


def test_run_state_version_1_is_migrated(tmp_path: Path) -> None:
    from jobs.state import SCHEMA_VERSION, RunState

    rs = RunState("dev", tmp_path)
    rs.path.parent.mkdir(parents=True, exist_ok=True)
    rs.path.write_text(json.dumps({"version": 1, "stack": "dev", "jobs": {},
                                   "promoted": {"job_id": "ftjob-1", "fine_tuned_model": "m", "applied": True}}))
    data = rs.load()
    assert SCHEMA_VERSION == 2 and data["version"] == 2
    assert data["promoted"]["checkpoint"] is None
    assert data["selections"] == {} and data["checkpoint_deployments"] == {}


# ----------------------------------------------------------------- holdout and the contamination guard

def _examples(n: int) -> bytes:
    return b"".join(json.dumps({"messages": [{"role": "user", "content": f"Question {i}?"},
                                             {"role": "assistant", "content": f"Answer {i}."}]}).encode() + b"\n"
                    for i in range(n))


def test_holdout_split_is_reproducible_and_refuses_too_many(tmp_path: Path) -> None:
    import pytest

    from jobs.compare.suite import load_suite
    from jobs.errors import UsageError
    from jobs.flow.holdout import split

    data = tmp_path / "train.jsonl"
    data.write_bytes(_examples(30))
    a = split(data, 5, tmp_path / "s1", seed=7)
    b = split(data, 5, tmp_path / "s2", seed=7)
    assert a.suite.read_bytes() == b.suite.read_bytes() and a.train_sha256 == b.train_sha256
    held = a.suite.read_text().splitlines()
    kept = a.train.read_text().splitlines()
    assert len(held) == 5 and len(kept) == 25 and not set(held) & set(kept)
    assert split(data, 5, tmp_path / "s3", seed=8).suite.read_bytes() != a.suite.read_bytes()
    suite = load_suite(a.suite)  # the held-out part is a chat-JSONL suite
    assert len(suite.cases) == 5 and all(c.reference for c in suite.cases)
    with pytest.raises(UsageError) as err:
        split(data, 21, tmp_path / "s4")
    assert "--holdout 21" in err.value.message and "1 to 20" in err.value.message


def test_contamination_names_the_cases_that_were_trained_on(tmp_path: Path) -> None:
    from jobs.compare.contamination import contaminated, warning
    from jobs.compare.suite import load_suite
    from jobs.flow.holdout import split

    data = tmp_path / "train.jsonl"
    data.write_bytes(_examples(20))
    parts = split(data, 4, tmp_path)
    assert contaminated([load_suite(parts.suite)], parts.train) == []  # held out: clean
    leaked = contaminated([load_suite(parts.suite)], data)  # judged against the full file: all four leak
    assert len(leaked) == 4
    text = warning(leaked, data)
    assert text is not None and "4 suite case(s)" in text and "--holdout" in text


def test_run_holdout_trains_on_the_rest_and_compare_warns_on_trained_prompts(emulator: object,
                                                                              tmp_path: Path) -> None:
    from jobs.state import RunState

    url = getattr(emulator, "url")
    data = tmp_path / "train.jsonl"
    data.write_bytes(_examples(24))
    env = stack_env(url, tmp_path / "state")
    proc = jobs_cli(["run", str(data), "--holdout", "6", "--seed", "3", "--yes", "--json"], env)
    assert proc.returncode == 0, proc.stderr
    state = RunState("dev", tmp_path / "state").load()
    (entry,) = state["holdouts"].values()
    assert entry["n"] == 6 and entry["seed"] == 3 and Path(entry["suite"]).is_file()
    uploaded = [f for f in state["files"].values()]
    assert [f["examples"] for f in uploaded if "examples" in f] in ([18], [])
    assert any(sha in state["holdouts"] for sha in state["files"])  # the upload is the training copy
    # the full file's prompts include the held-out ones: compare warns before sending anything
    proc = jobs_cli(["compare", "--suite", entry["suite"], "--style-from", str(data), "--variant", "a=x",
                      "--variant", "b=y", "--repeat", "1"], env)
    assert "6 suite case(s) ask a prompt that is also in the training file" in proc.stderr + proc.stdout
