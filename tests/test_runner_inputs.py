"""Bad input and a bad disk never end in a traceback: run-state folder, stack names, hyperparameter ranges."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest

from jobs.flow.train import TrainingOptions
from jobs.errors import UsageError
from jobs.state import RunState, resolve_stack
from tests.support.cli import run_jobs_process
from tests.support.paths import REPO



# --------------------------------------------------------------------------- the run-state folder and the disk


def test_state_dir_that_cannot_be_created_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTJOBS_STATE_DIR", "/proc/nope/state")  # /proc refuses new folders
    with pytest.raises(UsageError) as info:
        RunState("dev").save({"version": 1})
    text = info.value.message + " " + (info.value.hint or "")
    assert "/proc/nope/state" in info.value.message and "FTJOBS_STATE_DIR" in text


def test_full_disk_while_saving_keeps_the_old_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rs = RunState("dev", tmp_path)
    rs.save({"version": 1, "latest_job": "ftjob-old"})

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(UsageError) as info:
        rs.save({"version": 1, "latest_job": "ftjob-new"})
    assert str(rs.path) in info.value.message and "No space left" in info.value.message
    assert "FTJOBS_STATE_DIR" in (info.value.hint or "")
    monkeypatch.undo()
    assert json.loads(rs.path.read_text())["latest_job"] == "ftjob-old"  # intact
    assert [p.name for p in tmp_path.iterdir()] == [rs.path.name]  # no temp file left behind


@pytest.mark.subprocess
def test_upload_with_an_impossible_state_dir_exits_2_without_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_OPENAI", "FTJOBS_"))}
    env.update(FTJOBS_STATE_DIR="/proc/nope", AZURE_OPENAI_API_KEY="placeholder")
    proc = run_jobs_process(["upload", str(REPO / "data" / "travel-train.jsonl"), "--endpoint", "http://127.0.0.1:9"],
                            env=env)
    assert proc.exit_code == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "error: cannot write the run state /proc/nope" in proc.stderr and "FTJOBS_STATE_DIR" in proc.stderr


def raise_permission_error() -> None:  # a core function whose disk problem nobody named
    raise PermissionError(errno.EACCES, "Permission denied", "/srv/data/out.png")


def raise_connection_error() -> None:
    raise ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")


def raise_value_error() -> None:
    raise ValueError("a bug")


def test_invoke_maps_a_stray_os_error_to_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    from jobs.cli import invoke

    with pytest.raises(SystemExit) as info:
        invoke("tests.test_runner_inputs:raise_permission_error")
    assert info.value.code == 2
    err = capsys.readouterr().err
    first = err.splitlines()[0]
    assert first.startswith("error: ") and "Permission denied" in first and "/srv/data/out.png" in first
    assert "Traceback" not in err

    with pytest.raises(SystemExit):
        invoke("tests.test_runner_inputs:raise_permission_error", json_mode=True)
    payload = json.loads(capsys.readouterr().out)
    assert payload["error"]["exit_code"] == 2 and "/srv/data/out.png" in payload["error"]["message"]


@pytest.mark.parametrize("target, exc", [("raise_connection_error", ConnectionResetError),
                                         ("raise_value_error", ValueError)])
def test_invoke_lets_bugs_and_network_errors_show(target: str, exc: type) -> None:
    from jobs.cli import invoke

    with pytest.raises(exc):
        invoke(f"tests.test_runner_inputs:{target}")


# --------------------------------------------------------------------------- stack names


@pytest.mark.parametrize("name", ["dev", "prod-2", "a.b_c-D", "org/dev", "org/foundry-finetune/dev"])
def test_valid_stack_names(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FTJOBS_STACK", raising=False)
    assert resolve_stack(name) == name


@pytest.mark.parametrize("name", ["", " ", "\xff", "a b", "dev/", "/dev", "a//b", "a/b/c/d", "-dev", "dé"])
def test_invalid_stack_names_are_refused(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FTJOBS_STACK", raising=False)
    with pytest.raises(UsageError) as info:
        resolve_stack(name)
    assert f"--stack={name!r}" in info.value.message and "FTJOBS_STACK" in (info.value.hint or "")
    with pytest.raises(UsageError):
        RunState(name)  # the state file name never comes from an unchecked name


def test_stack_default_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FTJOBS_STACK", raising=False)
    assert resolve_stack(None) == "dev"
    monkeypatch.setenv("FTJOBS_STACK", "a b")
    with pytest.raises(UsageError, match="env FTJOBS_STACK='a b'"):
        resolve_stack("a b")


def test_state_file_names_do_not_collide(tmp_path: Path) -> None:
    names = ["org/dev", "org__dev", "org_dev", "dev", "org/p/dev", "org/p__dev"]  # old scheme: org/dev == org__dev
    paths = {RunState(n, tmp_path).path for n in names}
    assert len(paths) == len(names)
    assert all(p.parent == tmp_path for p in paths)


@pytest.mark.parametrize("args, shown", [(["--stack", ""], "--stack=''"), (["--stack", " "], "--stack=' '")])
def test_cli_refuses_a_bad_stack_before_anything_else(args: list[str], shown: str, jobs_cli: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FTJOBS_STACK", raising=False)
    for command in (["status"], ["metrics"], ["promote"], ["clean", "--yes"]):
        out = jobs_cli(*command, *args, "--endpoint", "http://127.0.0.1:9")
        assert out.exit_code == 2, (command, out.stderr)
        assert shown in out.stderr and "Traceback" not in out.stderr


# --------------------------------------------------------------------------- hyperparameter ranges


@pytest.mark.parametrize("kwargs, words", [
    ({"epochs": 0}, ["--epochs 0", "1..50"]),
    ({"epochs": 51}, ["--epochs 51", "1..50"]),
    ({"epochs": 1000}, ["--epochs 1000", "1..50"]),
    ({"seed": -1}, ["--seed -1", "0..2147483647"]),
    ({"seed": 2 ** 31}, ["--seed 2147483648", "0..2147483647"]),
    ({"batch_size": 0}, ["--batch-size 0", "at least 1"]),
    ({"lrm": 0.0}, ["--learning-rate-multiplier", "greater than 0"]),
    ({"lrm": float("nan")}, ["--learning-rate-multiplier", "greater than 0"]),
])
def test_hyperparameters_out_of_the_api_range(kwargs: dict[str, Any], words: list[str]) -> None:
    args = {"learning_rate_multiplier" if k == "lrm" else k: v for k, v in kwargs.items()}
    with pytest.raises(UsageError) as info:
        TrainingOptions(**args).checked()
    text = info.value.message + " " + (info.value.hint or "")
    for w in words:
        assert w in text, (w, text)


def test_hyperparameters_at_the_edges_are_accepted() -> None:
    edge = TrainingOptions(epochs=1, batch_size=1, learning_rate_multiplier=0.02, seed=0).checked()
    assert edge.hyperparameters["n_epochs"] == 1
    assert TrainingOptions(epochs=50, seed=2147483647).checked().hyperparameters == {
        "n_epochs": 50, "batch_size": None, "learning_rate_multiplier": None}


def test_train_epochs_1000_exits_2_before_any_request(jobs_cli: Any) -> None:
    out = jobs_cli("train", "--file-id", "file-x", "--epochs", "1000", "--endpoint", "http://127.0.0.1:9")
    assert out.exit_code == 2
    assert "1..50" in out.stderr and "cannot connect" not in out.stderr
