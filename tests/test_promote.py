"""promote: the exact pulumi calls, the no-pulumi path, --up, warnings and the run state."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobs import contract
from jobs.api import JobInfo
from jobs.contract import StackOutputs
from jobs.deploy import PulumiDeployer
from jobs.errors import JobFailedError, JobsError, UsageError
from jobs.flow import promote as pr
from jobs.session import Session
from jobs.state import RunState
from tests.support.cli import stack_env
from tests.support.clients import FinishedJob, run_job_on
from tests.support.fake_pulumi import FakePulumi
from tests.support.paths import CWD

MODEL = "gpt-4.1-2025-04-14.ft-0123456789abcdef0123456789abcdef-ft-travel"


def job(status: str = "succeeded", model: str | None = MODEL, job_id: str = "ftjob-abc") -> dict[str, Any]:
    return {"id": job_id, "status": status, "fine_tuned_model": model}


def promote_job(job: dict[str, Any], *, stack: str = "dev", up: bool = False, deployment_name: str | None = None,
                outputs: StackOutputs | None = None) -> pr.PromoteOutcome:
    """The promote step on a command's session for ``stack`` (the real stack's deployer, through pulumi)."""
    session = Session.for_stack(stack)
    if outputs is not None:
        session.deployer = PulumiDeployer(session.stack, outputs=outputs)
    with session.state.locked():
        return pr.promote(session, JobInfo.of(job), deployment_name=deployment_name, up=up)


def test_sets_fine_tuned_model_with_exact_argv(fake_pulumi: FakePulumi, stack_state_dir: Path) -> None:
    result = promote_job(job(), stack="dev")
    calls = fake_pulumi.calls()
    assert ["config", "set", "--stack", "dev", "fineTunedModel", MODEL, *CWD] in calls
    assert calls[-1] == ["config", "set", "--stack", "dev", "fineTunedModel", MODEL, *CWD]
    assert ["config", "get", "--stack", "dev", "fineTunedDeploymentSku", *CWD] in calls
    assert not any(c[0] == "up" for c in calls)
    assert fake_pulumi.config["fineTunedModel"] == MODEL
    assert result.applied and not result.up_ran
    assert result.next_command == "pulumi up --stack dev"  # run from the project root: no --cwd needed
    text = result.to_text()
    assert "next: pulumi up --stack dev" in text
    # fineTunedDeploymentSku not set: the stack's default, Developer
    assert result.sku == "Developer"
    assert "24 hours" in text and "billed per hour" not in text
    promoted = RunState("dev").load()["promoted"]
    assert promoted["job_id"] == "ftjob-abc" and promoted["fine_tuned_model"] == MODEL
    assert promoted["applied"] is True


def test_deployment_name_only_when_given(fake_pulumi: FakePulumi, stack_state_dir: Path) -> None:
    promote_job(job(), stack="prod", deployment_name="travel-ft")
    sets = [c for c in fake_pulumi.calls() if c[:2] == ["config", "set"]]
    assert sets == [
        ["config", "set", "--stack", "prod", "fineTunedModel", MODEL, *CWD],
        ["config", "set", "--stack", "prod", "fineTunedDeploymentName", "travel-ft", *CWD],
    ]


@pytest.mark.parametrize("sku,hourly,developer", [("Developer", False, True), ("GlobalStandard", True, False),
                                                  ("Standard", True, False)])
def test_warning_follows_the_stack_sku(fake_pulumi: FakePulumi, stack_state_dir: Path, sku: str, hourly: bool,
                                       developer: bool) -> None:
    fake_pulumi.set_config(fineTunedDeploymentSku=sku)
    result = promote_job(job(), stack="dev")
    assert result.sku == sku
    joined = " ".join(result.warnings)
    assert ("billed per hour" in joined) is hourly
    assert ("24 hours" in joined) is developer
    if hourly:
        assert "check current pricing" in joined


def test_sku_from_stack_outputs_skips_config_get(fake_pulumi: FakePulumi, stack_state_dir: Path) -> None:
    result = promote_job(job(), stack="dev", outputs=StackOutputs(fine_tuned_deployment_sku="Developer"))
    assert result.sku == "Developer"
    assert not any(c[:2] == ["config", "get"] and "fineTunedDeploymentSku" in c for c in fake_pulumi.calls())


def test_up_runs_pulumi_up_yes(fake_pulumi: FakePulumi, stack_state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = promote_job(job(), stack="dev", up=True)
    calls = fake_pulumi.calls()
    assert calls[-1] == ["up", "--yes", "--stack", "dev", *CWD]
    assert calls.index(["config", "set", "--stack", "dev", "fineTunedModel", MODEL, *CWD]) < calls.index(
        ["up", "--yes", "--stack", "dev", *CWD])
    assert result.up_ran and result.next_command is None
    assert "Updating (dev)" in capsys.readouterr().err  # streamed, on stderr
    assert RunState("dev").load()["promoted"]["up"] is True


@pytest.mark.usefixtures("no_pulumi")
def test_without_pulumi_prints_commands_and_records_not_applied(stack_state_dir: Path) -> None:
    result = promote_job(job(), stack="dev", up=True)
    assert result.applied is False and result.up_ran is False
    assert result.manual_commands == [f"pulumi config set --stack dev fineTunedModel {MODEL}",
                                     f"pulumi up --stack dev"]
    text = result.to_text()
    assert "NOT set in stack dev" in text and "`pulumi` executable is not on PATH" in text
    assert f"    pulumi config set --stack dev fineTunedModel {MODEL}" in text
    assert "--up skipped" in text
    # no Pulumi.dev.yaml setting fineTunedDeploymentSku: the infra default, one warning (not both)
    assert result.sku == "Developer"
    assert "24 hours" in text and "billed per hour" not in text
    assert len(result.warnings) == 1
    promoted = RunState("dev").load()["promoted"]
    assert promoted["applied"] is False and promoted["fine_tuned_model"] == MODEL


def _project(root: Path, stack_yaml: str | None, stack: str = "dev") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Pulumi.yaml").write_text("name: foundry-finetune\nruntime: python\n", encoding="utf-8")
    if stack_yaml is not None:
        (root / f"Pulumi.{stack}.yaml").write_text(stack_yaml, encoding="utf-8")
    return root


@pytest.mark.usefixtures("no_pulumi")
@pytest.mark.parametrize("stack_yaml, sku, hourly", [
    ("config:\n  foundry-finetune:fineTunedDeploymentSku: GlobalStandard\n", "GlobalStandard", True),
    ("config:\n  foundry-finetune:fineTunedDeploymentSku: Standard\n  foundry-finetune:location: x\n",
     "Standard", True),
    ("config:\n  foundry-finetune:fineTunedDeploymentSku: Developer\n", "Developer", False),
    ("config:\n  foundry-finetune:location: swedencentral\n", "Developer", False),  # key not set: default
    (None, "Developer", False),  # no stack file: default
    ("config: [not: valid\n", "Developer", False),  # unreadable: default (pulumi itself would report it)
])
def test_without_pulumi_the_sku_comes_from_the_stack_file(stack_state_dir: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch, stack_yaml: str | None,
                                                           sku: str, hourly: bool) -> None:
    monkeypatch.chdir(_project(tmp_path / "proj", stack_yaml))
    result = promote_job(job(), stack="dev")
    assert result.sku == sku
    assert len(result.warnings) == 1  # only the warning that applies
    assert ("billed per hour" in result.warnings[0]) is hourly
    assert ("24 hours" in result.warnings[0]) is (not hourly)
    assert any(f"deployment SKU {sku}" in n for n in result.notes)


@pytest.mark.usefixtures("no_pulumi")
def test_without_pulumi_a_qualified_stack_reads_its_own_file(stack_state_dir: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(_project(tmp_path / "proj", "config:\n  foundry-finetune:fineTunedDeploymentSku: Standard\n",
                               stack="prod"))
    assert promote_job(job(), stack="org/foundry-finetune/prod").sku == "Standard"


def test_default_sku_matches_infra() -> None:
    from infra.config import KEYS

    default = {k.name: k.default for k in KEYS}["fineTunedDeploymentSku"]
    assert contract.DEFAULT_FINE_TUNED_SKU == default


@pytest.mark.parametrize("status", ["running", "failed", "cancelled"])
def test_refuses_a_job_that_did_not_succeed(fake_pulumi: FakePulumi, stack_state_dir: Path, status: str) -> None:
    with pytest.raises(JobFailedError, match=f"is {status}"):
        promote_job(job(status=status, model=None), stack="dev")
    assert fake_pulumi.calls() == []
    assert RunState("dev").load()["promoted"] is None


def test_config_set_failure_keeps_the_job_and_names_the_fix(fake_pulumi: FakePulumi, stack_state_dir: Path) -> None:
    fake_pulumi.fail("config set", code=255, stderr="error: no stack named 'dev' found\n")
    with pytest.raises(JobsError) as info:
        promote_job(job(), stack="dev")
    assert "no stack named 'dev'" in info.value.message
    assert info.value.hint is not None and "python -m jobs promote ftjob-abc" in info.value.hint
    assert RunState("dev").load()["promoted"]["applied"] is False


def test_latest_succeeded_job_from_state(stack_state_dir: Path) -> None:
    with pytest.raises(UsageError, match="no succeeded job"):
        pr.latest_succeeded_job_id(Session.for_stack("dev"))

    def seed(data: dict[str, Any]) -> None:
        data["jobs"] = {
            "k1": {"job_id": "ftjob-old", "status": "succeeded", "created_at": 100, "fine_tuned_model": "m1"},
            "k2": {"job_id": "ftjob-new", "status": "succeeded", "created_at": 200, "fine_tuned_model": "m2"},
            "k3": {"job_id": "ftjob-running", "status": "running", "created_at": 300, "fine_tuned_model": None},
        }

    RunState("dev").update(seed)
    assert pr.latest_succeeded_job_id(Session.for_stack("dev")) == "ftjob-new"


def test_money_warnings_text() -> None:
    assert pr.money_warnings("Developer") == [pr.DEVELOPER_WARNING]
    both = pr.money_warnings(None)
    assert len(both) == 2
    assert "Standard or GlobalStandard" in both[0]


def test_result_json_round_trips(fake_pulumi: FakePulumi, stack_state_dir: Path) -> None:
    result = promote_job(job(), stack="dev")
    data = json.loads(json.dumps(result.to_json()))
    assert data["fine_tuned_model"] == MODEL and data["applied"] is True
    assert data["commands_run"] == [f"pulumi config set --stack dev fineTunedModel {MODEL}"]


# ----------------------------------------------------------------- the command, against the emulator

def _jobs_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jobs", *args], env=env, capture_output=True, text=True, timeout=60)


def _emulator_deployments(url: str) -> dict[str, str]:
    data = httpx.get(f"{url}/++/deployments").json()["data"]
    return {d["name"]: d["model"] for d in data}


@pytest.mark.slow
@pytest.mark.subprocess
def test_cli_promote_with_stand_in_pulumi(finished_job: FinishedJob, tmp_path: Path) -> None:
    fj = finished_job
    fake = FakePulumi.create(tmp_path / "bin")
    fake.set_config(fineTunedDeploymentSku="Developer")
    proc = _jobs_cli(["promote", fj.job_id, "--stack", "dev"], stack_env(fj.url, tmp_path / "state",
                                                                          pulumi=fake))
    assert proc.returncode == 0, proc.stderr
    assert ["config", "set", "--stack", "dev", "fineTunedModel", fj.fine_tuned_model, *CWD] in fake.calls()
    assert not any(c[0] == "up" for c in fake.calls())
    assert "next: pulumi up --stack dev" in proc.stdout
    assert "24 hours" in proc.stdout and "billed per hour" not in proc.stdout
    # a real stack's promote never uses the emulator's admin routes, even when the endpoint is the emulator
    assert "gpt-4.1-ft-travel" not in _emulator_deployments(fj.url)
    assert RunState("dev", tmp_path / "state").load()["promoted"]["applied"] is True


@pytest.mark.slow
@pytest.mark.subprocess
def test_cli_promote_up_and_deployment_name(finished_job: FinishedJob, tmp_path: Path) -> None:
    fj = finished_job
    fake = FakePulumi.create(tmp_path / "bin")
    proc = _jobs_cli(["promote", fj.job_id, "--stack", "staging", "--up", "--deployment-name", "travel-ft"],
                     stack_env(fj.url, tmp_path / "state", pulumi=fake))
    assert proc.returncode == 0, proc.stderr
    calls = fake.calls()
    assert ["config", "set", "--stack", "staging", "fineTunedDeploymentName", "travel-ft", *CWD] in calls
    assert calls[-1] == ["up", "--yes", "--stack", "staging", *CWD]
    assert "Updating (staging)" in proc.stderr  # pulumi up's output is streamed to stderr
    assert "pulumi up finished" in proc.stdout
    assert "travel-ft" not in _emulator_deployments(fj.url)  # pulumi, not the emulator, deploys a real stack


@pytest.mark.slow
@pytest.mark.subprocess
def test_cli_promote_without_pulumi_exits_0_and_prints_commands(finished_job: FinishedJob, tmp_path: Path) -> None:
    fj = finished_job
    proc = _jobs_cli(["promote", fj.job_id], stack_env(fj.url, tmp_path / "state"))
    assert proc.returncode == 0, proc.stderr
    assert "NOT set in stack dev" in proc.stdout
    assert f"pulumi config set --stack dev fineTunedModel {fj.fine_tuned_model}" in proc.stdout
    assert "pulumi up --stack dev" in proc.stdout
    promoted = RunState("dev", tmp_path / "state").load()["promoted"]
    assert promoted == {**promoted, "applied": False, "job_id": fj.job_id, "fine_tuned_model": fj.fine_tuned_model}


@pytest.mark.slow
@pytest.mark.subprocess
def test_cli_promote_defaults_to_latest_succeeded_job_in_state(finished_job: FinishedJob, tmp_path: Path) -> None:
    fj = finished_job

    def seed(data: dict[str, Any]) -> None:
        data["jobs"] = {"k": {"job_id": fj.job_id, "status": "succeeded", "created_at": 1,
                              "fine_tuned_model": fj.fine_tuned_model}}

    RunState("dev", tmp_path / "state").update(seed)
    fake = FakePulumi.create(tmp_path / "bin")
    proc = _jobs_cli(["promote", "--json"], stack_env(fj.url, tmp_path / "state", pulumi=fake))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["job_id"] == fj.job_id and out["applied"] is True


@pytest.mark.subprocess
def test_cli_promote_empty_state_is_usage_error(emulator: Any, tmp_path: Path) -> None:
    proc = _jobs_cli(["promote"], stack_env(emulator.url, tmp_path / "state"))
    assert proc.returncode == 2
    assert "no succeeded job" in proc.stderr and "python -m jobs promote ftjob-" in proc.stderr


@pytest.mark.slow
@pytest.mark.subprocess
def test_cli_promote_failed_job_exits_1_nothing_promoted(emulator: Any, mslearn_data: Path, tmp_path: Path) -> None:
    fj = run_job_on(emulator.url, mslearn_data / "travel-finetune-hotel.jsonl", suffix="will-fail")
    fake = FakePulumi.create(tmp_path / "bin")
    proc = _jobs_cli(["promote", fj.job_id], stack_env(emulator.url, tmp_path / "state", pulumi=fake))
    assert proc.returncode == 1
    assert "only a succeeded job" in proc.stderr
    assert fake.calls() == []
    assert RunState("dev", tmp_path / "state").load()["promoted"] is None


@pytest.mark.slow
@pytest.mark.subprocess
def test_api_key_never_appears_in_output_or_state(finished_job: FinishedJob, tmp_path: Path) -> None:
    fj = finished_job
    secret = "k3y-promote-and-metrics-must-not-leak-42"
    fake = FakePulumi.create(tmp_path / "bin")
    env = stack_env(fj.url, tmp_path / "state", pulumi=fake, AZURE_OPENAI_API_KEY=secret)
    env.pop("AZURE_OPENAI_AD_TOKEN")
    outputs = []
    for args in (["promote", fj.job_id], ["promote", fj.job_id, "--json", "--api", "v1"],
                 ["metrics", fj.job_id, "--json", "--api", "v1"], ["metrics", "ftjob-missing"]):
        proc = _jobs_cli(args, env)
        outputs.append(proc.stdout + proc.stderr)
    assert "fineTunedModel set" in outputs[0] and "pulumi config set --stack dev fineTunedModel" in outputs[0]
    assert json.loads(_json_part(outputs[1]))["applied"] is True
    assert json.loads(_json_part(outputs[2]))["result_file"] == fj.result_files[0]  # v1 shape
    for text in outputs:
        assert secret not in text
    written = [p for p in (tmp_path / "state").rglob("*") if p.is_file()] + [fake.record, fake.settings_path]
    assert written
    for path in written:
        assert secret.encode() not in path.read_bytes(), path


def _json_part(text: str) -> str:
    start = text.index("{")
    depth = 0
    for i, ch in enumerate(text[start:], start):
        depth += (ch == "{") - (ch == "}")
        if depth == 0:
            return text[start:i + 1]
    raise AssertionError("no JSON object in output")


def _rehearsal(url: str, root: Path, *, base: str = "gpt-4.1") -> Session:
    from rehearsal.deployer import EmulatorDeployer
    from rehearsal.session import rehearsal_session

    session = rehearsal_session(url, root, stack="rehearsal", json_mode=False)
    session.deployer = EmulatorDeployer(url, "rehearsal", root / "stand-in.json", base_deployment=base)
    return session


def test_the_rehearsal_deployer_stands_in_for_the_second_pulumi_up(finished_job: FinishedJob, tmp_path: Path,
                                                                    no_pulumi: None) -> None:
    fj = finished_job
    session = _rehearsal(fj.url, tmp_path)
    with session.state.locked():
        result = pr.promote(session, JobInfo.of(job(model=fj.fine_tuned_model, job_id=fj.job_id)), up=True)
    assert result.applied and result.up_ran and result.stand_in
    assert result.emulator_deployment == "gpt-4.1-ft-travel"
    assert _emulator_deployments(fj.url)["gpt-4.1-ft-travel"] == fj.fine_tuned_model
    assert result.commands_run[0] == f"pulumi config set --stack rehearsal fineTunedModel {fj.fine_tuned_model}"
    text = result.to_text()
    assert "stands in for: pulumi config set --stack rehearsal fineTunedModel" in text
    assert "emulator: deployment 'gpt-4.1-ft-travel' now serves" in text
    assert json.loads((tmp_path / "stand-in.json").read_text())["fineTunedModel"] == fj.fine_tuned_model
    assert not list(tmp_path.glob("Pulumi.*.yaml"))  # never a real stack file


def test_the_rehearsal_deployer_takes_a_deployment_name(finished_job: FinishedJob, tmp_path: Path) -> None:
    fj = finished_job
    session = _rehearsal(fj.url, tmp_path)
    with session.state.locked():
        result = pr.promote(session, JobInfo.of(job(model=fj.fine_tuned_model, job_id=fj.job_id)),
                            deployment_name="travel-ft", up=True)
    assert result.emulator_deployment == "travel-ft"
    assert _emulator_deployments(fj.url)["travel-ft"] == fj.fine_tuned_model


def test_emulator_deployment_name_follows_base_deployment(finished_job: FinishedJob, tmp_path: Path) -> None:
    fj = finished_job
    session = _rehearsal(fj.url, tmp_path, base="gpt41")
    with session.state.locked():
        result = pr.promote(session, JobInfo.of(job(model=fj.fine_tuned_model, job_id=fj.job_id)), up=True)
    assert result.emulator_deployment == "gpt41-ft-travel"
    assert _emulator_deployments(fj.url)["gpt41-ft-travel"] == fj.fine_tuned_model


def test_a_real_stack_is_never_probed_over_http(fake_pulumi: FakePulumi, stack_state_dir: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("promote on a real stack sends no HTTP request of its own")

    for name in ("get", "post", "delete", "request"):
        monkeypatch.setattr(httpx, name, boom)
    result = promote_job(job(), stack="dev")
    assert result.emulator_deployment is None and result.stand_in is None


def test_a_model_set_elsewhere_is_named_as_replaced(fake_pulumi: FakePulumi, stack_state_dir: Path) -> None:
    """No run state here: the stack's own setting (set from another machine) tells what the apply replaces."""
    older = MODEL.replace("0123456789abcdef", "aaaaaaaaaaaaaaaa")
    fake_pulumi.set_config(fineTunedModel=older)
    result = promote_job(job(), stack="dev")
    assert result.replaced_model == older
    assert f"already serves {older}" in result.to_text()
    assert ["config", "get", "--stack", "dev", "fineTunedModel", *CWD] in fake_pulumi.calls()


@pytest.mark.usefixtures("no_pulumi")
def test_without_pulumi_the_replaced_model_comes_from_the_stack_file(stack_state_dir: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    older = MODEL.replace("0123456789abcdef", "bbbbbbbbbbbbbbbb")
    monkeypatch.chdir(_project(tmp_path / "proj", f"config:\n  foundry-finetune:fineTunedModel: {older}\n"))
    result = promote_job(job(), stack="dev")
    assert not result.applied and result.manual_commands  # the commands to run by hand, and what they replace
    assert result.replaced_model == older and f"already serves {older}" in result.to_text()


def test_re_promoting_says_the_old_deployment_is_replaced(fake_pulumi: FakePulumi, stack_state_dir: Path) -> None:
    first = promote_job(job(), stack="dev")
    assert first.replaced_model is None and not any("cannot change" in n for n in first.notes)
    newer = MODEL.replace("0123456789abcdef", "fedcba9876543210")
    second = promote_job(job(model=newer, job_id="ftjob-def"), stack="dev")
    assert second.replaced_model == MODEL
    assert f"note: the deployment gpt-4.1-ft-travel already serves {MODEL}; Azure cannot change the model" in \
        second.to_text()
    assert f"deletes it and then creates it again with {newer}" in second.to_text()
