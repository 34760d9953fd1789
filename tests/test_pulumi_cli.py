"""The Pulumi CLI bridge, against a stand-in ``pulumi`` on PATH (tests/fixtures_stack.py)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from jobs import pulumi_cli
from jobs.errors import ExitCode, JobsError, UsageError
from tests.support.fake_pulumi import FakePulumi
from tests.support.paths import CWD, REPO

MODEL = "gpt-4.1-2025-04-14.ft-0123456789abcdef0123456789abcdef-ft-travel"


def test_stack_outputs_reads_json_without_secrets(fake_pulumi: FakePulumi) -> None:
    fake_pulumi.set_outputs({"ai_services_endpoint": "https://x.openai.azure.com/", "base_deployment_name": "gpt-4.1"})
    assert pulumi_cli.stack_outputs("dev") == {
        "ai_services_endpoint": "https://x.openai.azure.com/",
        "base_deployment_name": "gpt-4.1",
    }
    assert fake_pulumi.calls() == [["stack", "output", "--json", "--show-secrets=false", "--stack", "dev", *CWD]]


def test_config_set_exact_argv(fake_pulumi: FakePulumi) -> None:
    argv = pulumi_cli.config_set("dev", "fineTunedModel", MODEL)
    assert argv == ["pulumi", "config", "set", "--stack", "dev", "fineTunedModel", MODEL, "--cwd", str(REPO)]
    assert fake_pulumi.calls() == [["config", "set", "--stack", "dev", "fineTunedModel", MODEL, *CWD]]
    assert fake_pulumi.config["fineTunedModel"] == MODEL


def test_config_get_present_and_missing(fake_pulumi: FakePulumi) -> None:
    fake_pulumi.set_config(fineTunedDeploymentSku="Developer")
    assert pulumi_cli.config_get("prod", "fineTunedDeploymentSku") == "Developer"
    assert pulumi_cli.config_get("prod", "fineTunedModel") is None
    assert fake_pulumi.calls()[-1] == ["config", "get", "--stack", "prod", "fineTunedModel", *CWD]


def test_config_rm_and_up_argv(fake_pulumi: FakePulumi) -> None:
    fake_pulumi.set_config(fineTunedModel=MODEL)
    pulumi_cli.config_rm("dev", "fineTunedModel")
    assert "fineTunedModel" not in fake_pulumi.config
    out = io.StringIO()
    pulumi_cli.up("dev", yes=True, stream=out)
    assert fake_pulumi.calls() == [["config", "rm", "--stack", "dev", "fineTunedModel", *CWD],
                                   ["up", "--yes", "--stack", "dev", *CWD]]
    assert "Updating (dev)" in out.getvalue()


def test_failure_names_command_and_stderr(fake_pulumi: FakePulumi) -> None:
    fake_pulumi.fail("config set", code=255, stderr="error: no stack named 'nope' found\n")
    with pytest.raises(JobsError) as info:
        pulumi_cli.config_set("nope", "fineTunedModel", MODEL)
    err = info.value
    assert err.exit_code == ExitCode.FAILED
    assert "pulumi config set --stack nope fineTunedModel" in err.message
    assert "no stack named 'nope'" in err.message
    assert err.hint is not None and "pulumi stack" in err.hint


def test_up_failure_raises(fake_pulumi: FakePulumi) -> None:
    fake_pulumi.fail("up", code=1, stderr="error: update failed\n")
    with pytest.raises(pulumi_cli.PulumiFailed) as info:
        pulumi_cli.up("dev", stream=io.StringIO())
    assert info.value.returncode == 1
    assert "update failed" in info.value.message


def test_not_json_output_is_a_clear_error(fake_pulumi: FakePulumi) -> None:
    data = fake_pulumi._settings()
    data["fail"] = {"stack output": {"code": 0, "stdout": "Current stack outputs (1):\n", "stderr": ""}}
    fake_pulumi._write(data)
    with pytest.raises(JobsError) as info:
        pulumi_cli.stack_outputs("dev")
    assert "not JSON" in info.value.message
    assert "pulumi stack output --json" in info.value.message


def test_empty_output_means_no_outputs(fake_pulumi: FakePulumi) -> None:
    data = fake_pulumi._settings()
    data["fail"] = {"stack output": {"code": 0, "stdout": "", "stderr": ""}}
    fake_pulumi._write(data)
    assert pulumi_cli.stack_outputs("dev") == {}


@pytest.mark.usefixtures("no_pulumi")
def test_missing_pulumi_prints_the_command() -> None:
    assert not pulumi_cli.available()
    with pytest.raises(pulumi_cli.PulumiMissing) as info:
        pulumi_cli.config_set("dev", "fineTunedModel", MODEL)
    err = info.value
    assert isinstance(err, UsageError)
    assert err.commands == [["pulumi", "config", "set", "--stack", "dev", "fineTunedModel", MODEL, *CWD]]
    assert f"pulumi config set --stack dev fineTunedModel {MODEL}" in err.message
    assert err.hint is not None and "install the Pulumi CLI" in err.hint


def test_refuses_flag_like_values_and_bad_stack() -> None:
    with pytest.raises(UsageError, match="refusing"):
        pulumi_cli.config_set_argv("dev", "fineTunedModel", "--yes")
    with pytest.raises(UsageError, match="stack"):
        pulumi_cli.up_argv("--all")


def test_format_command_quotes() -> None:
    assert pulumi_cli.format_command(["pulumi", "config", "set", "--stack", "my stack", "k", "v"]) == (
        "pulumi config set --stack 'my stack' k v"
    )


def test_format_command_shows_cwd_only_outside_the_project_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = pulumi_cli.up_argv("dev", cwd=REPO)
    monkeypatch.chdir(REPO)
    assert pulumi_cli.format_command(argv) == "pulumi up --yes --stack dev"
    monkeypatch.chdir(tmp_path)
    assert pulumi_cli.format_command(argv) == f"pulumi up --yes --stack dev --cwd {REPO}"
