"""clean: deletes this project's files (and models with --models) on the emulator, unsets fineTunedModel."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobs.state import RunState
from tests.support.cli import stack_env
from tests.support.clients import FinishedJob
from tests.support.fake_pulumi import FakePulumi
from tests.support.paths import CWD

API = {"api-version": "2025-04-01-preview"}
AUTH = {"Authorization": "Bearer test-placeholder-token"}


def seed_state(state_dir: Path, fj: FinishedJob, *, promoted: bool = True, stack: str = "dev") -> None:
    state = RunState(stack, state_dir)

    def change(data: dict[str, Any]) -> None:
        data["files"] = {"sha-train": {"file_id": fj.training_file, "filename": "travel.jsonl",
                                       "purpose": "fine-tune", "status": "processed"}}
        data["jobs"] = {"run-1": {"job_id": fj.job_id, "training_file": fj.training_file, "status": "succeeded",
                                  "fine_tuned_model": fj.fine_tuned_model, "created_at": 1}}
        if promoted:
            data["promoted"] = {"job_id": fj.job_id, "fine_tuned_model": fj.fine_tuned_model, "applied": True,
                                "deployment_name": "gpt-4.1-ft-travel"}

    state.update(change)


def server_file_ids(url: str) -> set[str]:
    r = httpx.get(f"{url}/openai/files", params=API, headers=AUTH)
    r.raise_for_status()
    return {f["id"] for f in r.json()["data"]}


def job_status_code(url: str, job_id: str) -> int:
    return httpx.get(f"{url}/openai/fine_tuning/jobs/{job_id}", params=API, headers=AUTH).status_code


def jobs_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jobs", *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.slow
@pytest.mark.subprocess
def test_clean_yes_models_deletes_everything_and_unsets(finished_job: FinishedJob, tmp_path: Path) -> None:
    fj = finished_job
    fake = FakePulumi.create(tmp_path / "bin")
    fake.set_config(fineTunedModel=fj.fine_tuned_model)
    seed_state(tmp_path / "state", fj)
    assert {fj.training_file, *fj.result_files} <= server_file_ids(fj.url)

    # the dated surface: deleting a fine-tuned model deletes its job (FineTuning_Delete, asserted below)
    proc = jobs_cli(["clean", "--models", "--yes", "--api", "dated"], stack_env(fj.url, tmp_path / "state", pulumi=fake))
    assert proc.returncode == 0, proc.stderr
    assert f"deleted file {fj.training_file}" in proc.stdout
    assert f"deleted file {fj.result_files[0]}" in proc.stdout
    assert f"deleted model {fj.fine_tuned_model} (job {fj.job_id})" in proc.stdout
    assert "next: pulumi destroy --stack dev" in proc.stdout
    assert "emulator:" not in proc.stdout  # a real stack's deployments are pulumi's business, never the emulator's

    assert not ({fj.training_file, *fj.result_files} & server_file_ids(fj.url))
    assert job_status_code(fj.url, fj.job_id) == 404  # FineTuning_Delete: the job and its model
    assert ["config", "rm", "--stack", "dev", "fineTunedModel", *CWD] in fake.calls()
    assert "fineTunedModel" not in fake.config
    state = RunState("dev", tmp_path / "state").load()
    assert state["files"] == {} and state["promoted"] is None
    assert state["jobs"]["run-1"]["model_deleted"] is True


@pytest.mark.slow
@pytest.mark.subprocess
def test_clean_without_models_keeps_the_job(finished_job: FinishedJob, tmp_path: Path) -> None:
    fj = finished_job
    fake = FakePulumi.create(tmp_path / "bin")
    seed_state(tmp_path / "state", fj)
    proc = jobs_cli(["clean", "--yes", "--json"], stack_env(fj.url, tmp_path / "state", pulumi=fake))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out["deleted_files"]) == {fj.training_file, *fj.result_files}
    assert out["deleted_models"] == [] and out["unset_model"] is True
    assert job_status_code(fj.url, fj.job_id) == 200


@pytest.mark.slow
@pytest.mark.subprocess
def test_clean_refuses_without_yes_when_it_cannot_ask(finished_job: FinishedJob, tmp_path: Path) -> None:
    fj = finished_job
    fake = FakePulumi.create(tmp_path / "bin")
    seed_state(tmp_path / "state", fj)
    env = stack_env(fj.url, tmp_path / "state", pulumi=fake)
    proc = subprocess.run([sys.executable, "-m", "jobs", "clean", "--models"], env=env, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert proc.returncode == 3
    assert "not confirmed" in proc.stderr and "--yes" in proc.stderr
    assert fj.training_file in server_file_ids(fj.url)
    assert fake.calls() == []  # nothing touched, not even the stack


@pytest.mark.slow
@pytest.mark.subprocess
def test_clean_without_pulumi_prints_the_commands(finished_job: FinishedJob, tmp_path: Path) -> None:
    fj = finished_job
    seed_state(tmp_path / "state", fj)
    proc = jobs_cli(["clean", "--yes"], stack_env(fj.url, tmp_path / "state"))
    assert proc.returncode == 0, proc.stderr
    assert "pulumi config rm --stack dev fineTunedModel" in proc.stdout
    assert "`pulumi` is not on PATH" in proc.stdout
    # promote applied the model, so the tuned deployment is still there: said clearly, with the commands
    out = proc.stdout
    assert "fineTunedModel is still set in stack dev" in out and "still exists" in out
    assert "pulumi config rm --stack dev fineTunedModel && pulumi up --stack dev" in out
    assert "or remove everything: pulumi destroy --stack dev" in out
    # the stack was not changed, so promoted stays recorded
    assert RunState("dev", tmp_path / "state").load()["promoted"] is not None


@pytest.mark.slow
@pytest.mark.subprocess
def test_clean_without_pulumi_reads_the_stack_file(finished_job: FinishedJob, tmp_path: Path) -> None:
    """promote never applied it, but the user set fineTunedModel by hand: the warning follows the file's SKU."""
    fj = finished_job
    seed_state(tmp_path / "state", fj, promoted=False)
    project = tmp_path / "proj"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: foundry-finetune\nruntime: python\n", encoding="utf-8")
    (project / "Pulumi.dev.yaml").write_text(
        "config:\n  foundry-finetune:fineTunedModel: " + fj.fine_tuned_model
        + "\n  foundry-finetune:fineTunedDeploymentSku: GlobalStandard\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "jobs", "clean", "--yes"],  # no --models: nothing of ours to unset
                          env=stack_env(fj.url, tmp_path / "state"), cwd=project,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"Pulumi.dev.yaml sets {fj.fine_tuned_model}" in out
    assert "as a GlobalStandard deployment it is billed per hour" in out
    assert "pulumi config rm --stack dev fineTunedModel && pulumi up --stack dev" in out
    assert "pulumi destroy --stack dev" in out


@pytest.mark.subprocess
def test_clean_with_empty_state_says_nothing_to_do(emulator: Any, tmp_path: Path) -> None:
    proc = jobs_cli(["clean"], stack_env(emulator.url, tmp_path / "state"))
    assert proc.returncode == 0, proc.stderr
    assert "nothing to delete" in proc.stdout


def test_clean_core_with_confirm_callback(finished_job: FinishedJob, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch, fake_pulumi: FakePulumi) -> None:
    from jobs.commands.clean import clean
    from jobs.errors import RefusedError
    from jobs.session import Session

    fj = finished_job
    for k, v in stack_env(fj.url, tmp_path / "state", pulumi=fake_pulumi).items():
        monkeypatch.setenv(k, v)
    seed_state(tmp_path / "state", fj)
    questions: list[str] = []

    def say_no(question: str) -> bool:
        questions.append(question)
        return False

    session = Session.for_stack(None)
    session.ui.ask = say_no  # type: ignore[method-assign]
    with pytest.raises(RefusedError):
        clean(session)
    assert "2 file(s)" in questions[0] and fj.url in questions[0]
    session.ui.ask = lambda q: True  # type: ignore[method-assign]
    result = clean(session, models=True)
    assert result.exit_code == 0 and len(result.deleted_files) == 2


@pytest.mark.subprocess
def test_clean_on_a_fresh_machine_needs_no_endpoint(tmp_path: Path) -> None:
    env = stack_env("http://127.0.0.1:9", tmp_path / "state")
    env.pop("AZURE_OPENAI_ENDPOINT")
    proc = jobs_cli(["clean", "--models"], env)
    assert proc.returncode == 0, proc.stderr
    assert "nothing to delete" in proc.stdout and "pulumi destroy --stack dev" in proc.stdout


def test_clean_on_the_rehearsal_stack_removes_the_emulator_deployment(finished_job: FinishedJob,
                                                                       tmp_path: Path) -> None:
    """The rehearsal's deployer stands in for the `pulumi up` that removes the tuned deployment on Azure."""
    from jobs.api import JobInfo
    from rehearsal.session import rehearsal_session
    from jobs.flow.clean import clean
    from jobs.flow.promote import promote

    fj = finished_job
    session = rehearsal_session(fj.url, tmp_path, stack="rehearsal", json_mode=False)
    seed_state(session.state.directory, fj, stack="rehearsal")
    with session.state.locked():
        promote(session, JobInfo.of({"id": fj.job_id, "status": "succeeded",
                                     "fine_tuned_model": fj.fine_tuned_model}), up=True)
    names = {d["name"] for d in httpx.get(f"{fj.url}/++/deployments").json()["data"]}
    assert "gpt-4.1-ft-travel" in names
    result = clean(session, models=True, yes=True)
    assert result.unset_model and result.emulator_deployment_removed == "gpt-4.1-ft-travel"
    text = result.to_text()
    assert "emulator: deployment 'gpt-4.1-ft-travel' removed" in text and "in the rehearsal stack" in text
    names = {d["name"] for d in httpx.get(f"{fj.url}/++/deployments").json()["data"]}
    assert "gpt-4.1-ft-travel" not in names and "gpt-4.1" in names
    assert f"deleted model {fj.fine_tuned_model} (job {fj.job_id})" in text


@pytest.mark.slow
@pytest.mark.subprocess
def test_after_clean_models_status_and_metrics_no_longer_default_to_the_deleted_job(
        finished_job: FinishedJob, tmp_path: Path) -> None:
    fj = finished_job
    fake = FakePulumi.create(tmp_path / "bin")
    seed_state(tmp_path / "state", fj)
    RunState("dev", tmp_path / "state").update(lambda d: d.update(latest_job=fj.job_id))
    env = stack_env(fj.url, tmp_path / "state", pulumi=fake)
    assert jobs_cli(["clean", "--models", "--yes"], env).returncode == 0
    assert RunState("dev", tmp_path / "state").load()["latest_job"] is None
    for command in (["status"], ["metrics"], ["watch"]):
        proc = jobs_cli(command, env)
        assert proc.returncode == 2, (command, proc.stderr)
        assert "has no job in its run state" in proc.stderr and "HTTP 404" not in proc.stderr, proc.stderr


@pytest.mark.slow
@pytest.mark.subprocess
def test_clean_prints_the_purge_commands_for_what_destroy_leaves_soft_deleted(finished_job: FinishedJob,
                                                                              tmp_path: Path) -> None:
    fj = finished_job
    fake = FakePulumi.create(tmp_path / "bin")
    fake.set_outputs({"resource_group": "rg-ftlab-dev", "location": "swedencentral", "topology": "hub",
                      "ai_services_name": "ais-ftlab-abc123", "hub_name": "hub-ftlab-abc123",
                      "project_name": "proj-ftlab-abc123", "key_vault_name": "kv-ftlab-abc123"})
    seed_state(tmp_path / "state", fj)
    proc = jobs_cli(["clean", "--yes"], stack_env(fj.url, tmp_path / "state", pulumi=fake))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    before = out.index("before `pulumi destroy`")
    after = out.index("after `pulumi destroy`")
    assert before < out.index("az ml workspace delete --name proj-ftlab-abc123 --resource-group rg-ftlab-dev "
                              "--permanently-delete --yes") < after
    assert out.index("az ml workspace delete --name proj-ftlab") < out.index("az ml workspace delete --name hub-ftlab")
    assert after < out.index("az keyvault purge --name kv-ftlab-abc123 --location swedencentral")
    assert after < out.index("az cognitiveservices account purge --name ais-ftlab-abc123 --resource-group "
                             "rg-ftlab-dev --location swedencentral")
    assert "soft-deleted for 14 days" in out and "soft-deleted for 48 hours" in out
