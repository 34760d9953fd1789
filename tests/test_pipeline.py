"""pipeline against the emulator with a stand-in pulumi that records its calls and answers `stack output --json`
as the real CLI would (its `up` stands in for ARM by registering the tuned deployment in the emulator)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import run_jobs_process
from tests.support.clients import read_state, sdk_client, server_view
from tests.support.fake_pulumi import FakePulumi
from tests.support.paths import CWD, DATA

pytestmark = pytest.mark.usefixtures("runner_env")

ESTATE = {"resource_group": "rg-ftlab-dev", "location": "swedencentral", "topology": "hub",
          "ai_services_name": "ais-ftlab-abc123", "hub_name": "hub-ftlab-abc123", "project_name": "proj-ftlab-abc123",
          "key_vault_name": "kv-ftlab-abc123", "base_deployment": "gpt-4.1", "fine_tune_model": "gpt-4.1-2025-04-14",
          "fine_tuned_deployment_sku": "DeveloperTier"}


@pytest.fixture
def stack(fake_pulumi: FakePulumi, job_emulator: Any) -> FakePulumi:
    fake_pulumi.set_estate({**ESTATE, "ai_services_endpoint": job_emulator.url}, emulator_url=job_emulator.url)
    return fake_pulumi


SUITE = DATA / "small-suite.jsonl"  # two conversations: compare runs, quickly


def _args(training: Path, *extra: str) -> list[str]:
    return ["pipeline", str(training), "--stack", "dev", "--yes", "--price-per-1m", "25", "--suite", str(SUITE),
            "--repeat", "1", *extra]


def _kinds(calls: list[list[str]]) -> list[str]:
    return [" ".join(c[:2]) if c[0] in ("config", "stack") else c[0] for c in calls]


@pytest.mark.slow
def test_the_steps_run_in_order(stack: FakePulumi, training_copy: Path, jobs_cli: Any, job_emulator: Any,
                                runner_env: Path) -> None:
    out = jobs_cli(*_args(training_copy))
    assert out.exit_code == 0, out.stderr
    calls = stack.calls()
    kinds = _kinds(calls)
    # preflight (login, stack, config), the base estate, then the model into the stack and the second up
    assert kinds[:3] == ["whoami", "stack ls", "config --json"]
    ups = [i for i, c in enumerate(calls) if c[0] == "up"]
    assert len(ups) == 2 and calls[ups[0]] == ["up", "--yes", "--stack", "dev", *CWD]
    set_model = calls.index(["config", "set", "--stack", "dev", "fineTunedModel",
                             stack.config["fineTunedModel"], *CWD])
    assert ups[0] < set_model < ups[1]
    shown = re.findall(r"^running `pulumi ([^`]*)`$", out.stderr, re.M)  # every call, printed before it runs
    assert [line.split()[:2] for line in shown] == [c[:2] for c in calls], (shown, calls)
    assert "running `pulumi up --yes --stack dev" in out.stderr
    assert out.stderr.count("cost estimate:") == 1  # shown once, in the preflight
    steps = re.findall(r"^  (\S+) +(?:done|skipped)", out.stdout, re.M)
    assert steps == ["preflight", "up-base", "train", "compare-base", "watch", "metrics", "promote", "up-tuned",
                     "ready", "compare", "clean", "destroy"]
    view = server_view(job_emulator.url)
    assert len(view.training_files()) == 1 and len(view.jobs) == 1
    state = read_state(runner_env)
    assert set(state["flows"]["pipeline"]) == {"inputs", "preflight", "up-base", "train", "compare-base", "watch",
                                               "metrics", "promote", "up-tuned", "ready", "compare"}
    assert state["flows"]["pipeline"]["inputs"]["data_sha256"] == hashlib.sha256(training_copy.read_bytes()).hexdigest()
    assert "answered after" in out.stdout
    # the base variants the lab tries, compared while the job trained; then base against the fine-tuned model
    base_report = json.loads((Path(state["flows"]["pipeline"]["compare-base"]["report"]).parent
                              / "report.json").read_text())
    assert [v["name"] for v in base_report["variants"]] == ["base-no-system", "base-short", "base"]
    final = json.loads((Path(state["flows"]["pipeline"]["compare"]["report"]).parent / "report.json").read_text())
    assert [v["name"] for v in final["variants"]] == ["base", "tuned"]
    assert final["variants"][1]["deployment"] == "gpt-4.1-ft-travel"
    verdict = next(ln for ln in out.stdout.splitlines() if ln.startswith("verdict: "))
    assert verdict.startswith("verdict: [emulator stand-in] ")
    chart = Path(next(ln for ln in out.stdout.splitlines() if ln.startswith("metrics chart: ")).split(": ", 1)[1])
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "cost: a DeveloperTier fine-tuned deployment" in out.stdout or "Developer fine-tuned deployment" in out.stdout


# every step's checkpoint, and points inside the paid ones; continued with --resume or with the same command
@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.parametrize("point, again", [
    ("pipeline:preflight", "same"), ("pipeline:up-base", "--resume"), ("after_create", "same"),
    ("pipeline:train", "--resume"), ("compare_row", "same"), ("pipeline:compare-base", "--resume"),
    ("watch_poll#2", "same"), ("pipeline:watch", "--resume"), ("pipeline:metrics", "same"),
    ("after_promote", "--resume"), ("pipeline:promote", "same"), ("pipeline:up-tuned", "--resume"),
    ("pipeline:ready", "same"), ("pipeline:compare", "--resume")])
def test_a_kill_between_steps_then_the_same_command_continues(point: str, again: str, stack: FakePulumi,
                                                              training_copy: Path, job_emulator: Any,
                                                              runner_env: Path) -> None:
    first = run_jobs_process(_args(training_copy), env={**os.environ, "FTJOBS_TEST_CRASH_AT": point}, timeout=120)
    assert first.exit_code == -signal.SIGKILL, first.stderr
    second = run_jobs_process(_args(training_copy, *([again] if again != "same" else [])), env=dict(os.environ),
                              timeout=120)
    assert second.exit_code == 0, second.stderr
    view = server_view(job_emulator.url)
    assert len(view.training_files()) == 1 and len(view.jobs) == 1  # one upload, one job
    sets = [c for c in stack.calls() if c[:4] == ["config", "set", "--stack", "dev"] and c[4] == "fineTunedModel"]
    assert len(sets) == 1  # one promote
    assert len([c for c in stack.calls() if c[0] == "up"]) <= 3  # an interrupted up may run again, no more
    assert ("skipped: done before" in second.stdout) is (point != "pipeline:preflight")  # it always runs again
    assert "verdict: [emulator stand-in]" in second.stdout


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.parametrize("point", ["pipeline:clean", "pipeline:destroy"])
def test_a_kill_in_the_clean_up_then_the_same_command_finishes_it(point: str, stack: FakePulumi, training_copy: Path,
                                                                  job_emulator: Any) -> None:
    # the dated surface, where deleting a fine-tuned model deletes its job (the assertion on view.jobs below)
    first = run_jobs_process(_args(training_copy, "--destroy-after", "--api", "dated"),
                             env={**os.environ, "FTJOBS_TEST_CRASH_AT": point}, timeout=120)
    assert first.exit_code == -signal.SIGKILL, first.stderr
    second = run_jobs_process(_args(training_copy, "--destroy-after", "--api", "dated"), env=dict(os.environ),
                              timeout=120)
    assert second.exit_code == 0, second.stderr
    assert [c for c in stack.calls() if c[0] == "destroy"] == [["destroy", "--yes", "--stack", "dev", *CWD]]
    view = server_view(job_emulator.url)
    assert view.jobs == [] and [f for f in view.files if f.status != "deleted"] == []
    assert "every step of this pipeline was done before" in second.stdout if point == "pipeline:destroy" else True


@pytest.mark.slow
@pytest.mark.parametrize("api", ["v1", "dated"])
def test_destroy_after_leaves_no_file_model_or_deployment(api: str, stack: FakePulumi, training_copy: Path,
                                                          jobs_cli: Any, job_emulator: Any) -> None:
    import httpx

    out = jobs_cli(*_args(training_copy, "--destroy-after", *(["--api", api] if api == "dated" else [])))
    assert out.exit_code == 0, out.stderr
    assert ["destroy", "--yes", "--stack", "dev", *CWD] in stack.calls()
    view = server_view(job_emulator.url)
    assert [f for f in view.files if f.status != "deleted"] == []
    names = {d["name"] for d in httpx.get(f"{job_emulator.url}/++/deployments").json()["data"]}
    assert "gpt-4.1-ft-travel" not in names
    assert "az cognitiveservices account purge --name ais-ftlab-abc123" in out.stdout
    # the hub's workspaces are deleted for good before destroy (afterwards only the portal can purge them):
    # the project before its hub, both before `pulumi destroy`
    deletes = [c for c in stack.az_calls() if c[:3] == ["ml", "workspace", "delete"]]
    assert [c[c.index("--name") + 1] for c in deletes] == ["proj-ftlab-abc123", "hub-ftlab-abc123"]
    assert all("--permanently-delete" in c and "--resource-group" in c for c in deletes)
    assert out.stderr.index("running `az ml workspace delete --name hub-ftlab-abc123") < out.stderr.index(
        "running `pulumi destroy --yes --stack dev")
    assert "Azure ML workspace (hub) hub-ftlab-abc123: deleted for good before `pulumi destroy`" in out.stdout
    assert "before `pulumi destroy`, to free the names" not in out.stdout  # no advice that cannot be followed
    # the dated API deletes a fine-tuned model with its job; v1 (the default) deletes the model only
    assert (view.jobs == []) is (api == "dated")
    models = [m.id for m in sdk_client(job_emulator.url, api="v1").models.list().data]
    assert models and not [m for m in models if "ft-travel" in m or m.startswith("ft:")]


@pytest.mark.slow
def test_destroy_after_when_az_cannot_delete_a_workspace(stack: FakePulumi, training_copy: Path,
                                                          jobs_cli: Any) -> None:
    stack.set_az(ml_fails=True)
    out = jobs_cli(*_args(training_copy, "--destroy-after"))
    assert out.exit_code == 0, out.stderr
    assert "that did not work (exit 2: ERROR: 'ml' is misspelled" in out.stderr
    assert ["destroy", "--yes", "--stack", "dev", *CWD] in stack.calls()  # destroy goes on
    assert ("Azure ML workspace (hub) hub-ftlab-abc123: soft-deleted for 14 days" in out.stdout
            and "Recently deleted" in out.stdout)


@pytest.mark.slow
def test_the_same_command_after_the_end_runs_nothing_and_new_starts_over(stack: FakePulumi, training_copy: Path,
                                                                         jobs_cli: Any, job_emulator: Any,
                                                                         runner_env: Path) -> None:
    assert jobs_cli(*_args(training_copy)).exit_code == 0
    calls = len(stack.calls())
    again = jobs_cli(*_args(training_copy))
    assert again.exit_code == 0, again.stderr
    assert "every step of this pipeline was done before: nothing ran" in again.stdout
    assert "--new` runs the lab again" in again.stdout
    assert [c for c in stack.calls()[calls:] if c[0] in ("up", "destroy") or c[:2] == ["config", "set"]] == []
    assert len(server_view(job_emulator.url).jobs) == 1
    fresh = jobs_cli(*_args(training_copy, "--new"))
    assert fresh.exit_code == 0, fresh.stderr
    assert "pipeline: --new: starting over" in fresh.stderr
    assert "skipped: done before" not in fresh.stdout
    assert len(server_view(job_emulator.url).jobs) == 2  # --new: a new job, as asked
    state = read_state(runner_env)
    assert "train" in state["flows"]["pipeline:previous"] and "train" in state["flows"]["pipeline"]
    both = jobs_cli(*_args(training_copy, "--new", "--resume"))
    assert both.exit_code == 2 and "--new and --resume contradict each other" in both.stderr


@pytest.mark.slow
@pytest.mark.subprocess
def test_other_inputs_on_a_stack_with_a_pipeline_are_refused(stack: FakePulumi, training_copy: Path, jobs_cli: Any,
                                                             job_emulator: Any, tmp_path: Path) -> None:
    first = run_jobs_process(_args(training_copy, "--max-cost", "50"),
                             env={**os.environ, "FTJOBS_TEST_CRASH_AT": "pipeline:train"}, timeout=120)
    assert first.exit_code == -signal.SIGKILL, first.stderr
    other = tmp_path / "other.jsonl"
    data = training_copy.read_bytes()  # valid data with one example more (refused after the data is validated)
    other.write_bytes(data.rstrip(b"\n") + b"\n" + data.splitlines(keepends=True)[1])
    refused = jobs_cli(*_args(other))
    assert refused.exit_code == 3, refused.stderr
    assert "already has a pipeline started with other inputs (the data was" in refused.stderr
    # the hint continues the recorded pipeline with its own command, guards included
    assert f"`python -m jobs pipeline {training_copy} " in refused.stderr and "--max-cost 50" in refused.stderr
    assert "--resume`" in refused.stderr and f"`python -m jobs pipeline {other} " in refused.stderr
    assert len(server_view(job_emulator.url).jobs) == 1
    options = jobs_cli(*_args(training_copy, "--epochs", "2"))
    assert options.exit_code == 3 and "the training options, suites or --repeat differ" in options.stderr


def test_a_failed_step_names_the_whole_command_that_continues(stack: FakePulumi, training_copy: Path,
                                                              jobs_cli: Any, job_emulator: Any) -> None:
    stack.fail("up")
    out = jobs_cli(*_args(training_copy, "--max-cost", "50", "--epochs", "2", "--endpoint", job_emulator.url))
    assert out.exit_code != 0
    hint = next(ln for ln in out.stderr.splitlines() if "continue with" in ln)
    for words in ("--max-cost 50", "--epochs 2", "--price-per-1m 25", "--yes", "--repeat 1", "--resume",
                  f"--suite {SUITE}", f"--endpoint {job_emulator.url}"):
        assert words in hint, (words, hint)


@pytest.mark.parametrize("breakage, words", [
    ("no-login", ["`pulumi` is not logged in", "pulumi login"]),
    ("no-az", ["no Azure identity", "az login"]),
    ("bad-config", ["config foundry-finetune:location", "pulumi config set location"]),
    ("bad-data", ["not valid training data", "python -m jobs validate"]),
    ("no-stack", ["has no stack 'prod'", "pulumi stack init prod"]),
])
def test_preflight_refusals_name_their_fix_and_create_nothing(breakage: str, words: list[str], stack: FakePulumi,
                                                              training_copy: Path, jobs_cli: Any, job_emulator: Any,
                                                              mslearn_data: Path) -> None:
    data = training_copy
    args = _args(training_copy)
    if breakage == "no-login":
        stack.set_logged_in(False)
    elif breakage == "no-az":
        data_home = Path(os.environ["FAKE_PULUMI_HOME"]) / "settings.json"
        settings = json.loads(data_home.read_text())
        settings["az_logged_in"] = False
        data_home.write_text(json.dumps(settings))
    elif breakage == "bad-config":
        stack.set_config(location="moon")
    elif breakage == "bad-data":
        data = mslearn_data / "travel-finetune-validation.jsonl"
        args = _args(data)
    elif breakage == "no-stack":
        args = [a if a != "dev" else "prod" for a in args]
        args.remove("--yes")
    out = jobs_cli(*args)
    assert out.exit_code == (1 if breakage == "bad-data" else 2), out.stderr  # invalid data exits 1, as validate
    for w in words:
        assert w in out.stderr, (w, out.stderr)
    assert "nothing was created or spent" in out.stderr and "Traceback" not in out.stderr
    assert "--resume" not in out.stderr  # nothing ran: the same command again, once fixed
    assert not any(c[0] == "up" for c in stack.calls())
    view = server_view(job_emulator.url)
    assert view.files == [] and view.jobs == []


def test_resume_without_a_pipeline_is_a_usage_error(stack: FakePulumi, training_copy: Path, jobs_cli: Any) -> None:
    out = jobs_cli(*_args(training_copy, "--resume"))
    assert out.exit_code == 2 and "has no pipeline to resume" in out.stderr


@pytest.mark.slow
def test_ready_waits_until_the_new_deployment_answers(stack: FakePulumi, training_copy: Path, jobs_cli: Any,
                                                      job_emulator: Any) -> None:
    # like Azure right after `pulumi up`: the deployment exists but answers DeploymentNotFound for a while
    job_emulator.set_config(deployment_ready_seconds=1.5)
    out = jobs_cli(*_args(training_copy))
    assert out.exit_code == 0, out.stderr
    assert "deployment gpt-4.1-ft-travel: not answering yet" in out.stderr
    assert "DeploymentNotFound" in out.stderr
    ready = next(ln for ln in out.stdout.splitlines() if ln.strip().startswith("ready"))
    waited = int(ready.rsplit("answered after ", 1)[1].split()[0])
    assert waited >= 1


def test_a_deployment_that_never_answers_fails_the_ready_step_with_the_fix(stack: FakePulumi, training_copy: Path,
                                                                           job_emulator: Any, runner_env: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from jobs.errors import JobsError
    from jobs.flow.ready import wait_until_answers
    from jobs.client import Target
    from jobs.session import Session

    job_emulator.set_config(deployment_ready_seconds=3600)
    job_emulator.add_deployment("late", "gpt-4.1")
    session = Session.for_stack("dev", target=Target(endpoint=job_emulator.url))
    with pytest.raises(JobsError) as info:
        wait_until_answers(session, "late", timeout=0.5)
    assert "deployment late did not answer within 0.5 s" in info.value.message
    assert "DeploymentNotFound" in info.value.message
    assert "run the same command again" in (info.value.hint or "")


def test_select_checkpoint_step_survives_a_kill_and_promotes_the_choice(stack: FakePulumi, training_copy: Path,
                                                                        job_emulator: Any, runner_env: Path) -> None:
    import httpx

    stack.set_az(emulator=job_emulator.url)  # the account's deployments, as `az` creates and deletes them
    args = _args(training_copy, "--select-checkpoint")
    first = run_jobs_process(args, env={**os.environ, "FTJOBS_TEST_CRASH_AT": "ckpt_deployed#2"}, timeout=120)
    assert first.exit_code == -signal.SIGKILL, first.stderr
    recorded = read_state(runner_env)["checkpoint_deployments"]  # recorded before created: the rerun finds them
    assert recorded and {e["kind"] for e in recorded.values()} == {"az"}
    second = run_jobs_process(args, env=dict(os.environ), timeout=180)
    assert second.exit_code == 0, second.stderr
    steps = re.findall(r"^  (\S+) +(?:done|skipped)", second.stdout, re.M)
    assert steps.index("metrics") < steps.index("select") < steps.index("promote")
    state = read_state(runner_env)
    chosen = state["selections"][state["flows"]["pipeline"]["train"]["job_id"]]["chosen"]
    assert stack.config["fineTunedModel"] == chosen["model"]
    assert state["promoted"]["checkpoint"]["via"] == "best"
    live = httpx.get(f"{job_emulator.url}/++/deployments", timeout=10).json()["data"]
    assert not [d for d in live if d["name"].startswith("ckpt-eval-")] and state["checkpoint_deployments"] == {}
    created = [c for c in stack.az_calls() if c[:4] == ["cognitiveservices", "account", "deployment", "create"]]
    assert created and {c[c.index("--name") + 1] for c in created} == {ESTATE["ai_services_name"]}
