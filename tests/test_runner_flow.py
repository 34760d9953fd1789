"""The whole lifecycle against the emulator, over real HTTP with the real openai SDK."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.clients import read_state, server_view
from tests.support.paths import CWD

pytestmark = pytest.mark.usefixtures("runner_env")


@pytest.mark.slow
@pytest.mark.parametrize("api", ["dated", "v1"])
def test_full_run_promotes_and_a_rerun_repeats_nothing(api: str, job_emulator: Any, training_copy: Path,
                                                        fake_pulumi: Any, jobs_cli: Any, runner_env: Path) -> None:
    args = ["run", str(training_copy), "--endpoint", job_emulator.url, "--api", api, "--yes", "--price-per-1m", "25"]
    first = jobs_cli(*args)
    assert first.exit_code == 0, first.stderr
    view = server_view(job_emulator.url)
    assert len(view.training_files()) == 1
    assert len(view.jobs) == 1
    job = view.jobs[0]
    assert job.status == "succeeded" and job.fine_tuned_model.endswith("-ft-travel")
    # the exact `pulumi config set` call
    assert ["config", "set", "--stack", "dev", "fineTunedModel", job.fine_tuned_model, *CWD] in fake_pulumi.calls()
    assert fake_pulumi.config["fineTunedModel"] == job.fine_tuned_model
    state = read_state(runner_env)
    assert state["promoted"]["fine_tuned_model"] == job.fine_tuned_model
    assert [r["job_id"] for r in state["jobs"].values()] == [job.id]
    assert state["pending"] == {} and state["pending_uploads"] == {}
    assert "cost estimate: 1,587 billed tokens per epoch x 10 epochs" in first.stderr and "$0.40" in first.stderr
    assert "train loss" in first.stderr  # latest loss shown while watching

    again = jobs_cli(*args)
    assert again.exit_code == 0, again.stderr
    assert "reusing" in again.stderr
    view2 = server_view(job_emulator.url)
    assert len(view2.training_files()) == 1 and len(view2.jobs) == 1


def test_run_json_is_one_object(job_emulator: Any, training_copy: Path, no_pulumi: None, jobs_cli: Any) -> None:
    out = jobs_cli("run", str(training_copy), "--endpoint", job_emulator.url, "--yes", "--json", "--epochs", "2")
    assert out.exit_code == 0, out.stderr
    data = out.json
    assert data["job"]["status"] == "succeeded"
    assert data["estimate"]["epochs"] == 2 and data["estimate"]["billed_tokens"] == 2 * 1587
    assert data["estimate"]["cost"] is None  # no price given
    assert data["promote"]["applied"] is False  # no pulumi: commands printed instead, run still succeeds
    assert any("pulumi config set --stack dev fineTunedModel" in c for c in data["promote"]["manual_commands"])


def test_failed_job_exits_1_with_azure_error_and_promotes_nothing(job_emulator: Any, training_copy: Path,
                                                                   fake_pulumi: Any, jobs_cli: Any,
                                                                   runner_env: Path) -> None:
    out = jobs_cli("run", str(training_copy), "--endpoint", job_emulator.url, "--yes", "--suffix", "will-fail")
    assert out.exit_code == 1
    job = server_view(job_emulator.url).jobs[0]
    assert job.status == "failed"
    assert f"job {job.id} failed: {job.error.code}: {job.error.message}" in out.stderr
    assert not any(c[:2] == ["config", "set"] for c in fake_pulumi.calls())
    assert read_state(runner_env)["promoted"] is None


def test_unknown_price_is_said_clearly(job_emulator: Any, training_copy: Path, jobs_cli: Any) -> None:
    out = jobs_cli("train", str(training_copy), "--endpoint", job_emulator.url, "--yes")
    assert out.exit_code == 0, out.stderr
    assert "unknown price (pass --price-per-1m or set FTJOBS_PRICE_PER_1M)" in out.stderr
    assert "cost unknown" in out.stderr


def test_price_from_env(job_emulator: Any, training_copy: Path, jobs_cli: Any,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTJOBS_PRICE_PER_1M", "100")
    out = jobs_cli("train", str(training_copy), "--endpoint", job_emulator.url, "--yes", "--epochs", "3")
    assert out.exit_code == 0, out.stderr
    assert "1,587 billed tokens per epoch x 3 epochs x $100 per 1M tokens = $0.48" in out.stderr


def test_max_cost_refuses_with_exit_3_and_creates_nothing(job_emulator: Any, training_copy: Path,
                                                          jobs_cli: Any) -> None:
    out = jobs_cli("train", str(training_copy), "--endpoint", job_emulator.url, "--yes", "--price-per-1m", "25",
                   "--max-cost", "0.10")
    assert out.exit_code == 3
    assert "above --max-cost" in out.stderr and "$0.40" in out.stderr
    view = server_view(job_emulator.url)
    assert view.jobs == [] and view.files == []  # refused before anything was uploaded


def test_max_cost_without_a_price_refuses(job_emulator: Any, training_copy: Path, jobs_cli: Any) -> None:
    out = jobs_cli("train", str(training_copy), "--endpoint", job_emulator.url, "--yes", "--max-cost", "5")
    assert out.exit_code == 3
    assert "--price-per-1m" in out.stderr
    assert server_view(job_emulator.url).jobs == []


def test_no_confirmation_off_a_terminal_refuses(job_emulator: Any, training_copy: Path, jobs_cli: Any) -> None:
    out = jobs_cli("train", str(training_copy), "--endpoint", job_emulator.url)
    assert out.exit_code == 3
    assert "--yes" in out.stderr
    view = server_view(job_emulator.url)
    assert view.jobs == [] and view.files == []


def test_train_is_idempotent_unless_new(job_emulator: Any, training_copy: Path, jobs_cli: Any,
                                        runner_env: Path) -> None:
    base = ["train", str(training_copy), "--endpoint", job_emulator.url, "--yes", "--json"]
    a = jobs_cli(*base)
    b = jobs_cli(*base)
    assert a.exit_code == b.exit_code == 0, a.stderr + b.stderr
    assert a.json["created"] is True and b.json["reused"] is True
    assert a.json["job"]["id"] == b.json["job"]["id"]
    other = jobs_cli(*base, "--epochs", "2")  # other parameters: another job
    assert other.json["created"] is True and other.json["job"]["id"] != a.json["job"]["id"]
    new = jobs_cli(*base, "--new")
    assert new.json["created"] is True and new.json["job"]["id"] != a.json["job"]["id"]
    assert len(server_view(job_emulator.url).jobs) == 3
    tracked = {r["job_id"] for r in read_state(runner_env)["jobs"].values()}
    assert tracked == {a.json["job"]["id"], other.json["job"]["id"], new.json["job"]["id"]}


@pytest.mark.parametrize("cli_value, wire_value", [("Developer", "developerTier"),
                                                   ("GlobalStandard", "globalstandard"), ("Standard", "standard")])
def test_training_type_and_hyperparameters_reach_the_service(cli_value: str, wire_value: str, job_emulator: Any,
                                                             training_copy: Path, jobs_cli: Any) -> None:
    out = jobs_cli("train", str(training_copy), "--endpoint", job_emulator.url, "--yes", "--json",
                   "--training-type", cli_value, "--epochs", "2", "--batch-size", "1",
                   "--learning-rate-multiplier", "0.5", "--seed", "105")
    assert out.exit_code == 0, out.stderr
    job = server_view(job_emulator.url).jobs[0]
    assert (job.model_extra or {}).get("trainingType") == wire_value
    assert job.hyperparameters.n_epochs == 2 and job.hyperparameters.batch_size == 1
    assert job.hyperparameters.learning_rate_multiplier == 0.5 and job.seed == 105


def test_a_second_concurrent_run_is_refused(job_emulator: Any, training_copy: Path, jobs_cli: Any,
                                            runner_env: Path) -> None:
    from jobs.state import RunState

    with RunState("dev").locked():  # another run holds the stack
        out = jobs_cli("upload", str(training_copy), "--endpoint", job_emulator.url)
    assert out.exit_code == 3 and "holds the lock" in out.stderr
    assert server_view(job_emulator.url).files == []


def test_pending_create_is_adopted_not_repeated(job_emulator: Any, training_copy: Path, jobs_cli: Any,
                                                runner_env: Path) -> None:
    """The state missed a create that reached the server: the job is found by file, suffix and time."""
    import json
    import time

    from tests.support.clients import sdk_client

    up = jobs_cli("upload", str(training_copy), "--endpoint", job_emulator.url, "--json")
    assert up.exit_code == 0, up.stderr
    file_id = up.json["file_id"]
    # what `train` does just before a crash: pending written, job created, answer lost
    first = jobs_cli("train", str(training_copy), "--endpoint", job_emulator.url, "--yes", "--json")
    key = first.json["run_key"]
    state = json.loads((runner_env / "dev.json").read_text())
    lost = state["jobs"].pop(key)
    state["pending"][key] = {"started_at": int(time.time()) - 5, "training_file": file_id, "suffix": "ft-travel"}
    state["latest_job"] = None
    (runner_env / "dev.json").write_text(json.dumps(state))

    again = jobs_cli("train", str(training_copy), "--endpoint", job_emulator.url, "--yes", "--json")
    assert again.exit_code == 0, again.stderr
    assert again.json["adopted"] is True and again.json["job"]["id"] == lost["job_id"]
    assert len(list(sdk_client(job_emulator.url).fine_tuning.jobs.list().data)) == 1


def test_upload_dedupes_and_reuploads_a_deleted_file(job_emulator: Any, training_copy: Path, jobs_cli: Any) -> None:
    from tests.support.clients import sdk_client

    a = jobs_cli("upload", str(training_copy), "--endpoint", job_emulator.url, "--json")
    b = jobs_cli("upload", str(training_copy), "--endpoint", job_emulator.url, "--json")
    assert a.exit_code == b.exit_code == 0
    assert a.json["status"] == "processed" and b.json["reused"] is True and a.json["file_id"] == b.json["file_id"]
    assert len(server_view(job_emulator.url).training_files()) == 1
    sdk_client(job_emulator.url).files.delete(a.json["file_id"])
    c = jobs_cli("upload", str(training_copy), "--endpoint", job_emulator.url, "--json")
    assert c.exit_code == 0 and c.json["reused"] is False and c.json["file_id"] != a.json["file_id"]


def test_invalid_file_is_refused_before_upload(job_emulator: Any, mslearn_data: Path, jobs_cli: Any) -> None:
    bad = mslearn_data / "travel-finetune-validation.jsonl"  # prompts without answers
    out = jobs_cli("upload", str(bad), "--endpoint", job_emulator.url)
    assert out.exit_code == 1
    assert f"{bad}:1: " in out.stderr  # PATH:LINE: RULE: message
    assert "nothing was uploaded" in out.stderr
    assert server_view(job_emulator.url).files == []


def test_missing_file_is_a_usage_error(jobs_cli: Any, job_emulator: Any) -> None:
    out = jobs_cli("upload", "nope.jsonl", "--endpoint", job_emulator.url)
    assert out.exit_code == 2 and "nope.jsonl" in out.stderr


def test_no_endpoint_names_every_source(jobs_cli: Any, no_pulumi: None, training_copy: Path) -> None:
    out = jobs_cli("status", "ftjob-x")
    assert out.exit_code == 2
    for where in ("--endpoint", "AZURE_OPENAI_ENDPOINT", "pulumi stack output"):
        assert where in out.stderr


def test_endpoint_from_stack_outputs(job_emulator: Any, fake_pulumi: Any, jobs_cli: Any) -> None:
    fake_pulumi.set_outputs({"ai_services_endpoint": job_emulator.url})
    out = jobs_cli("list", "--stack", "dev", "--json")
    assert out.exit_code == 0, out.stderr
    assert out.json["jobs"] == []
    assert ["stack", "output", "--json", "--show-secrets=false", "--stack", "dev", *CWD] in fake_pulumi.calls()


def test_status_events_list_pause_resume_cancel(job_emulator: Any, training_copy: Path, jobs_cli: Any) -> None:
    job_emulator.set_config(training_seconds=30)
    url = ["--endpoint", job_emulator.url]
    created = jobs_cli("train", str(training_copy), *url, "--yes", "--json")
    job_id = created.json["job"]["id"]
    import time

    deadline = time.monotonic() + 10
    while jobs_cli("status", *url, "--json").json["job"]["status"] != "running":  # JOB_ID defaults to latest
        assert time.monotonic() < deadline
        time.sleep(0.1)
    paused = jobs_cli("pause", *url, "--json")
    assert paused.exit_code == 0 and paused.json["job"]["id"] == job_id
    deadline = time.monotonic() + 10
    while jobs_cli("status", job_id, *url, "--json").json["job"]["status"] != "paused":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    # watching a paused job reports it; it is not a failure
    w = jobs_cli("watch", job_id, *url, "--timeout", "0.3")
    assert w.exit_code == 0, w.stderr
    assert f"{job_id}: paused" in w.stderr and f"python -m jobs resume {job_id}" in w.stderr
    assert jobs_cli("resume", job_id, *url).exit_code == 0
    ev = jobs_cli("events", job_id, *url, "--limit", "5", "--json")
    assert ev.exit_code == 0 and 0 < len(ev.json["events"]) <= 5
    times = [e["created_at"] for e in ev.json["events"]]
    assert times == sorted(times)  # oldest first
    listed = jobs_cli("list", *url, "--json").json["jobs"]
    assert [(j["id"], j["tracked"]) for j in listed] == [(job_id, True)]
    c = jobs_cli("cancel", *url, "--json")
    assert c.exit_code == 0
    w2 = jobs_cli("watch", *url)
    assert w2.exit_code == 1 and "cancelled" in w2.stderr


@pytest.mark.slow
@pytest.mark.subprocess
def test_job_cancelled_from_outside_stops_run_with_exit_1(job_emulator: Any, training_copy: Path,
                                                          fake_pulumi: Any, runner_env: Path) -> None:
    import os
    import threading

    from tests.support.cli import run_jobs_process
    from tests.support.clients import sdk_client, wait_for_running_job

    job_emulator.set_config(training_seconds=20)
    client = sdk_client(job_emulator.url)
    result: dict[str, Any] = {}

    def runner() -> None:
        result["out"] = run_jobs_process(["run", str(training_copy), "--endpoint", job_emulator.url, "--yes"],
                                         env=dict(os.environ), timeout=60)

    t = threading.Thread(target=runner)
    t.start()
    job = wait_for_running_job(client, interval=0.1)
    client.fine_tuning.jobs.cancel(job.id)
    t.join(60)
    out = result["out"]
    assert out.exit_code == 1
    assert f"job {job.id} was cancelled; nothing was promoted" in out.stderr
    assert not any(c[:2] == ["config", "set"] for c in fake_pulumi.calls())


def test_train_by_file_id_estimates_from_what_upload_counted(job_emulator: Any, training_copy: Path,
                                                             jobs_cli: Any) -> None:
    up = jobs_cli("upload", str(training_copy), "--endpoint", job_emulator.url, "--json")
    assert up.exit_code == 0, up.stderr
    out = jobs_cli("train", "--file-id", up.json["file_id"], "--endpoint", job_emulator.url, "--yes",
                   "--price-per-1m", "25", "--max-cost", "1", "--json")
    assert out.exit_code == 0, out.stderr
    assert out.json["estimate"]["billed_tokens"] == 15_870 and out.json["estimate"]["cost"] == pytest.approx(0.39675)
    assert out.json["job"]["training_file"] == up.json["file_id"]
    assert len(server_view(job_emulator.url).training_files()) == 1  # nothing uploaded again


def test_train_by_unknown_file_id_cannot_check_max_cost(job_emulator: Any, jobs_cli: Any) -> None:
    from tests.support.clients import sdk_client

    line = b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n'
    f = sdk_client(job_emulator.url).files.create(file=("x.jsonl", line * 10), purpose="fine-tune")  # 10: the minimum
    out = jobs_cli("train", "--file-id", f.id, "--endpoint", job_emulator.url, "--yes", "--price-per-1m", "25",
                   "--max-cost", "1")
    assert out.exit_code == 3 and "cost is unknown" in out.stderr
    assert server_view(job_emulator.url).jobs == []


# --------------------------------------------------------------------------- the validator's warnings


def _with_warnings(training_copy: Path) -> Path:
    """The lab's file named .txt, its first example repeated at the end: valid, with two warnings."""
    lines = training_copy.read_text(encoding="utf-8").splitlines()
    odd = training_copy.with_name("travel-train.txt")
    odd.write_text("\n".join(lines + lines[:1]) + "\n", encoding="utf-8")
    return odd


@pytest.mark.parametrize("command", [["upload"], ["train", "--yes"], ["run", "--yes"]])
def test_upload_train_and_run_show_the_validators_warnings(command: list[str], training_copy: Path,
                                                           job_emulator: Any, jobs_cli: Any,
                                                           fake_pulumi: Any) -> None:
    odd = _with_warnings(training_copy)
    out = jobs_cli(command[0], str(odd), *command[1:], "--endpoint", job_emulator.url, "--json")
    assert out.exit_code == 0, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("validate: warning:")]
    assert any(f"{odd}:11: duplicate_example" in ln for ln in lines), out.stderr
    assert any("txt_extension" in ln for ln in lines), out.stderr
    assert len(out.json["warnings"]) == len(lines) == 2


# --------------------------------------------------------------------------- DPO (beta): the runner's --method


def _dpo_file(tmp_path: Path) -> Path:
    from tests.support.datasets import preference_lines

    path = tmp_path / "travel-dpo.jsonl"
    path.write_text("\n".join(preference_lines(12)) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_run_method_dpo_trains_a_dpo_job_with_beta(tmp_path: Path, job_emulator: Any, jobs_cli: Any,
                                                   fake_pulumi: Any) -> None:
    from tests.support.clients import sdk_client

    data = _dpo_file(tmp_path)
    out = jobs_cli("run", str(data), "--method", "dpo", "--beta", "0.2", "--yes", "--endpoint", job_emulator.url,
                   "--json")
    assert out.exit_code == 0, out.stderr
    assert out.json["job"]["method"] == "dpo" and out.json["job"]["fine_tuned_model"]
    job = sdk_client(job_emulator.url).fine_tuning.jobs.retrieve(out.json["job"]["id"])
    assert job.method.type == "dpo" and job.method.dpo.hyperparameters.beta == 0.2
    again = jobs_cli("run", str(data), "--method", "dpo", "--beta", "0.2", "--yes", "--endpoint", job_emulator.url,
                     "--json")
    assert again.exit_code == 0 and again.json["reused"] is True  # the method is part of the run key


def test_a_dpo_file_is_refused_as_supervised_data_and_vice_versa(tmp_path: Path, training_copy: Path,
                                                                 job_emulator: Any, jobs_cli: Any) -> None:
    out = jobs_cli("upload", str(_dpo_file(tmp_path)), "--endpoint", job_emulator.url)
    assert out.exit_code == 1 and "not valid training data" in out.stderr
    assert "format_mismatch" in out.stderr and "check it with --method dpo" in out.stderr  # the validator says how
    out = jobs_cli("upload", str(training_copy), "--method", "dpo", "--endpoint", job_emulator.url)
    assert out.exit_code == 1 and "--method dpo` shows the full report" in out.stderr
    ok = jobs_cli("upload", str(_dpo_file(tmp_path)), "--method", "dpo", "--endpoint", job_emulator.url)
    assert ok.exit_code == 0, ok.stderr


@pytest.mark.parametrize("args, words", [
    (["--beta", "0.1"], ["--beta applies to --method dpo only"]),
    (["--method", "dpo", "--beta", "0"], ["--beta 0", "greater than 0"]),
    (["--method", "dpo", "--beta", "inf"], ["--beta inf", "finite"]),
    (["--method", "dpo", "--model", "gpt-4.1-nano"], ["gpt-4.1-nano-2025-04-14 cannot be trained with --method dpo",
                                                      "gpt-4.1-2025-04-14"]),
])
def test_dpo_options_are_checked_before_any_request(args: list[str], words: list[str], training_copy: Path,
                                                    jobs_cli: Any) -> None:
    out = jobs_cli("train", str(training_copy), "--yes", *args, "--endpoint", "http://127.0.0.1:9")
    assert out.exit_code == 2, out.stderr
    for w in words:
        assert w in out.stderr, (w, out.stderr)
