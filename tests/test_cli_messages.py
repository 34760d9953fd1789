"""What a newcomer reads when something is missing (issue 21, item 14): no sentence ends on a colon when
``pulumi`` is missing, chat's hints name chat's own options, a folder given as a file (or a file as a folder)
is the project's ``error:``/``fix:``, and azure-identity's log stays off the terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import click
import pytest

from jobs.cli import cli
from tests.support.cli import CliOutcome
from tests.support.fake_pulumi import path_without_pulumi
from tests.support.paths import REPO

pytestmark = pytest.mark.usefixtures("runner_env")


def _path_params() -> list[tuple[str, str, str]]:
    """(command, option or argument, "file"|"folder") for every path parameter of every command."""
    found = []
    for name, command in sorted(cli.commands.items()):
        for param in command.params:
            if isinstance(param.type, click.Path) and param.type.file_okay != param.type.dir_okay:
                kind = "file" if param.type.file_okay else "folder"
                found.append((name, param.opts[0] if isinstance(param, click.Option) else param.name or "", kind))
    return found


PATH_PARAMS = _path_params()


def test_the_path_parameters_are_found() -> None:
    assert ("validate", "path", "file") in PATH_PARAMS and ("compare", "--out", "folder") in PATH_PARAMS
    assert len(PATH_PARAMS) >= 15


def _argv(command: str, target: str, value: str, a_file: str) -> list[str]:
    argv = [command]
    for param in cli.commands[command].params:
        is_target = (param.opts[0] if isinstance(param, click.Option) else param.name) == target
        if isinstance(param, click.Argument):
            argv.append(value if is_target else a_file)
        elif is_target:
            argv += [param.opts[0], value]
    return argv


@pytest.mark.parametrize("command, param, kind", PATH_PARAMS)
def test_a_wrong_kind_of_path_is_the_projects_error(command: str, param: str, kind: str, tmp_path: Path,
                                                    jobs_cli: Callable[..., CliOutcome]) -> None:
    a_file = tmp_path / "a-file.jsonl"
    a_file.write_text("{}\n")
    wrong = tmp_path if kind == "file" else a_file
    result = jobs_cli(*_argv(command, param, str(wrong), str(a_file)))
    assert result.exit_code == 2, result.stderr
    shown = param if param.startswith("--") else param.upper()
    expected = f"is a folder, not a file" if kind == "file" else "is a file, not a folder"
    assert result.stderr.startswith(f"error: {shown}: {wrong} {expected}\n  fix: "), result.stderr
    assert "Invalid value" not in result.stderr and "Usage:" not in result.stderr


def _without_pulumi(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", path_without_pulumi())


@pytest.mark.parametrize("args, purpose, options", [
    (["compare"], "to compare", "pass --base-deployment and --tuned-deployment"),
    (["chat", "--prompt", "hi"], "to chat with", "pass --deployment NAME"),
    (["playground"], "for the playground", "pass --base-deployment and --tuned-deployment"),
])
def test_without_pulumi_the_message_names_the_command_to_run(args: list[str], purpose: str, options: str,
                                                             jobs_cli: Callable[..., CliOutcome],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    _without_pulumi(monkeypatch)
    result = jobs_cli(*args, "--endpoint", "http://127.0.0.1:9")
    assert result.exit_code == 2, result.stderr
    first, command = result.stderr.splitlines()[:2]
    assert first == (f"error: the deployments {purpose} are not known: the `pulumi` executable is not on PATH; "
                     "run this yourself to read the stack outputs:")
    assert command.strip().startswith("pulumi stack output --json")  # the sentence goes on after the colon
    assert f"fix: {options}" in result.stderr
    if args[0] == "chat":
        assert "--base-deployment" not in result.stderr and "compare" not in result.stderr


def test_chats_switch_names_chats_own_way(jobs_cli: Callable[..., CliOutcome],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _without_pulumi(monkeypatch)
    result = jobs_cli("chat", "--deployment", "mine", "--endpoint", "http://127.0.0.1:9", input="/switch\n/quit\n")
    assert result.exit_code == 0, result.stderr
    said = result.stdout
    assert "error: the deployments to chat with are not known" in said
    assert "fix: name the deployment: /switch DEPLOYMENT" in said
    assert "--base-deployment" not in said and "--tuned-deployment" not in said and "compare" not in said


def test_no_azure_login_prints_no_azure_identity_log(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "FTJOBS_", "OPENAI_", "MSI_",
                                                                     "IDENTITY_"))}
    env.update(PATH=path_without_pulumi(names=("pulumi", "az", "azd", "pwsh")), FTJOBS_STATE_DIR=str(tmp_path),
               HOME=str(tmp_path), AZURE_CONFIG_DIR=str(tmp_path / "az"))
    proc = subprocess.run([sys.executable, "-m", "jobs", "chat", "--deployment", "mine", "--endpoint",
                           "http://127.0.0.1:9", "--prompt", "hi"], env={**env, "PYTHONPATH": str(REPO)}, cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    result = CliOutcome(proc.returncode, proc.stdout, proc.stderr)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("error: ") and "could not get an Entra ID token" in result.stderr, result.stderr
    assert "Attempted credentials" not in result.stderr and "EnvironmentCredential" not in result.stderr
    assert "fix: sign in with Entra ID: run `az login`" in result.stderr
