"""The run state and `pulumi` follow the project root, not the current folder; a job the state lost
is not started a second time."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from jobs import pulumi_cli
from jobs.project import project_root
from jobs.state import RunState, state_dir
from tests.support.clients import read_state, server_view
from tests.support.fake_pulumi import FakePulumi
from tests.support.paths import REPO

pytestmark = pytest.mark.usefixtures("runner_env")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder (Pulumi.yaml) with a subfolder; FTJOBS_STATE_DIR unset: the default applies."""
    root = tmp_path / "proj"
    (root / "notebooks" / "deep").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text("name: foundry-finetune\nruntime: python\n")
    monkeypatch.delenv("FTJOBS_STATE_DIR", raising=False)
    return root.resolve()


def test_root_is_the_nearest_folder_with_pulumi_yaml(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    monkeypatch.chdir(project / "notebooks" / "deep")
    assert project_root() == project
    assert state_dir() == project / ".ftjobs"
    assert RunState("dev").path == project / ".ftjobs" / "dev.json"
    # outside any project: the checkout the `jobs` package comes from
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    monkeypatch.chdir(outside)
    assert project_root() == REPO
    monkeypatch.setenv("FTJOBS_STATE_DIR", str(tmp_path / "mine"))  # the variable still wins
    assert state_dir() == tmp_path / "mine"


def test_every_pulumi_command_runs_in_the_project_root(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                       fake_pulumi: FakePulumi) -> None:
    monkeypatch.chdir(project / "notebooks")
    pulumi_cli.config_set("dev", "fineTunedModel", "gpt-4.1-2025-04-14.ft-abc-ft-travel")
    pulumi_cli.stack_outputs("dev")
    calls = fake_pulumi.calls()
    assert [c[-2:] for c in calls] == [["--cwd", str(project)]] * 2
    assert pulumi_cli.up_argv("dev", yes=False) == ["pulumi", "up", "--stack", "dev", "--cwd", str(project)]
    assert pulumi_cli.destroy_argv("dev")[-2:] == ["--cwd", str(project)]


@pytest.mark.slow
def test_run_from_a_subfolder_then_the_root_shares_state(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                         job_emulator: Any, training_copy: Path,
                                                         fake_pulumi: FakePulumi, jobs_cli: Any) -> None:
    args = ["run", str(training_copy), "--endpoint", job_emulator.url, "--yes", "--json"]
    monkeypatch.chdir(project / "notebooks" / "deep")
    first = jobs_cli(*args)
    assert first.exit_code == 0, first.stderr
    assert (project / ".ftjobs" / "dev.json").is_file()
    assert not (project / "notebooks" / "deep" / ".ftjobs").exists()
    # promote ran pulumi in the project root, where Pulumi.yaml is (the stand-in fails elsewhere, like pulumi)
    sets = [c for c in fake_pulumi.calls() if c[:2] == ["config", "set"]]
    assert sets and all(c[-2:] == ["--cwd", str(project)] for c in sets)
    assert first.json["promote"]["applied"] is True

    monkeypatch.chdir(project)
    again = jobs_cli(*args)
    assert again.exit_code == 0, again.stderr
    assert again.json["reused"] is True and again.json["job"]["id"] == first.json["job"]["id"]
    view = server_view(job_emulator.url)
    assert len(view.jobs) == 1 and len(view.training_files()) == 1


def test_a_wiped_state_does_not_start_a_second_job(job_emulator: Any, training_copy: Path, jobs_cli: Any,
                                                   runner_env: Path) -> None:
    base = ["train", str(training_copy), "--endpoint", job_emulator.url, "--yes", "--json"]
    first = jobs_cli(*base)
    assert first.exit_code == 0 and first.json["created"] is True, first.stderr
    job_id = first.json["job"]["id"]
    shutil.rmtree(runner_env)  # the state is gone; the job on the server is not

    again = jobs_cli(*base)
    assert again.exit_code == 3, again.stdout
    error = again.json["error"]  # --json: the error is the one JSON object on stdout
    assert f"job {job_id}" in error["message"] and "already exists on the server" in error["message"]
    assert "--new" in error["hint"] and f"python -m jobs watch {job_id}" in error["hint"]
    view = server_view(job_emulator.url)
    assert len(view.jobs) == 1
    assert len(view.training_files()) == 1  # refused before uploading again
    assert read_state(runner_env).get("jobs", {}) == {}

    # --file-id of the same file: the same refusal
    by_id = jobs_cli("train", "--file-id", first.json["job"]["training_file"], "--endpoint", job_emulator.url,
                     "--yes")
    assert by_id.exit_code == 3 and f"job {job_id}" in by_id.stderr

    # --new is the deliberate override
    forced = jobs_cli(*base, "--new")
    assert forced.exit_code == 0 and forced.json["created"] is True, forced.stderr
    assert len(server_view(job_emulator.url).jobs) == 2


def test_a_failed_or_other_suffix_job_does_not_block(job_emulator: Any, training_copy: Path, jobs_cli: Any,
                                                     runner_env: Path) -> None:
    failing = jobs_cli("train", str(training_copy), "--endpoint", job_emulator.url, "--yes", "--suffix",
                       "will-fail", "--wait")
    assert failing.exit_code == 1, failing.stderr
    shutil.rmtree(runner_env)
    again = jobs_cli("train", str(training_copy), "--endpoint", job_emulator.url, "--yes", "--suffix", "will-fail",
                     "--json")
    assert again.exit_code == 0 and again.json["created"] is True, again.stderr  # the earlier one failed
    other = jobs_cli("train", str(training_copy), "--endpoint", job_emulator.url, "--yes", "--json")
    assert other.exit_code == 0 and other.json["created"] is True, other.stderr  # another suffix
