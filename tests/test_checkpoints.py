"""Checkpoints of a job (``python -m jobs checkpoints``), their selection, promotion and the holdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.cli import stack_env
from tests.support.clients import FinishedJob
from tests.support.fake_pulumi import FakePulumi


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


# ----------------------------------------------------------------- promote --checkpoint

def _steps(fj: FinishedJob, env: dict[str, str]) -> list[dict[str, object]]:
    proc = _jobs_cli(["checkpoints", fj.job_id, "--json"], env)
    assert proc.returncode == 0, proc.stderr
    data: list[dict[str, object]] = json.loads(proc.stdout)
    return data


def test_promote_a_checkpoint_by_step_records_it_and_status_shows_it(finished_job: FinishedJob,
                                                                       tmp_path: Path) -> None:
    from jobs.state import RunState
    from tests.support.paths import CWD

    fj = finished_job
    fake = FakePulumi.create(tmp_path / "bin")
    env = stack_env(fj.url, tmp_path / "state", pulumi=fake)
    first = _steps(fj, env)[0]
    proc = _jobs_cli(["promote", fj.job_id, "--checkpoint", str(first["step_number"])], env)
    assert proc.returncode == 0, proc.stderr
    model = str(first["fine_tuned_model_checkpoint"])
    assert ":ckpt-step-" in model
    assert ["config", "set", "--stack", "dev", "fineTunedModel", model, *CWD] in fake.calls()
    assert f"checkpoint: checkpoint step {first['step_number']}" in proc.stdout
    promoted = RunState("dev", tmp_path / "state").load()["promoted"]
    assert promoted["fine_tuned_model"] == model
    assert promoted["checkpoint"]["step"] == first["step_number"] and promoted["checkpoint"]["via"] == "step"
    assert promoted["checkpoint"]["checkpoint_id"] == first["id"]
    proc = _jobs_cli(["status", fj.job_id, "--json"], env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["promoted"]["checkpoint"]["model"] == model
    proc = _jobs_cli(["status", fj.job_id], env)
    assert f"promoted:         {model}  (checkpoint step {first['step_number']}" in proc.stdout


def test_promote_best_without_a_selection_refuses_and_names_the_command(finished_job: FinishedJob,
                                                                          tmp_path: Path) -> None:
    from tests.support.fake_pulumi import FakePulumi

    fj = finished_job
    fake = FakePulumi.create(tmp_path / "bin")
    env = stack_env(fj.url, tmp_path / "state", pulumi=fake)
    proc = _jobs_cli(["promote", fj.job_id, "--checkpoint", "best"], env)
    assert proc.returncode == 2
    assert f"python -m jobs compare --checkpoints {fj.job_id}" in proc.stderr and "Traceback" not in proc.stderr
    assert not fake.calls()
    proc = _jobs_cli(["promote", fj.job_id, "--checkpoint", "999999"], env)
    assert proc.returncode == 2 and "no such checkpoint" in proc.stderr and "python -m jobs checkpoints" in proc.stderr


def test_promote_best_takes_the_latest_selection(finished_job: FinishedJob, tmp_path: Path) -> None:
    from jobs.state import RunState
    from tests.support.paths import CWD

    fj = finished_job
    fake = FakePulumi.create(tmp_path / "bin")
    env = stack_env(fj.url, tmp_path / "state", pulumi=fake)
    first = _steps(fj, env)[0]
    chosen = {"step": first["step_number"], "checkpoint_id": first["id"],
              "model": first["fine_tuned_model_checkpoint"], "reason": "step 10 beat the final model"}
    RunState("dev", tmp_path / "state").update(lambda d: d["selections"].update(
        {fj.job_id: {"at": 1, "run_id": "run-1", "report": "r/report.json", "chosen": chosen}}))
    proc = _jobs_cli(["promote", fj.job_id, "--checkpoint", "best", "--json"], env)
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
    proc = _jobs_cli(["run", str(data), "--holdout", "6", "--seed", "3", "--yes", "--json"], env)
    assert proc.returncode == 0, proc.stderr
    state = RunState("dev", tmp_path / "state").load()
    (entry,) = state["holdouts"].values()
    assert entry["n"] == 6 and entry["seed"] == 3 and Path(entry["suite"]).is_file()
    uploaded = [f for f in state["files"].values()]
    assert [f["examples"] for f in uploaded if "examples" in f] in ([18], [])
    assert any(sha in state["holdouts"] for sha in state["files"])  # the upload is the training copy
    # the full file's prompts include the held-out ones: compare warns before sending anything
    proc = _jobs_cli(["compare", "--suite", entry["suite"], "--style-from", str(data), "--variant", "a=x",
                      "--variant", "b=y", "--repeat", "1"], env)
    assert "6 suite case(s) ask a prompt that is also in the training file" in proc.stderr + proc.stdout


# ----------------------------------------------------------------- compare --checkpoints

def _emulator_deployments(url: str) -> dict[str, str]:
    import httpx

    data = httpx.get(f"{url}/++/deployments", timeout=10).json()["data"]
    return {d["name"]: d["model"] for d in data}


def _azure_stack(home: Path, emulator_url: str) -> FakePulumi:
    """A deployed stack (the stand-in pulumi's outputs name the account) whose account is the emulator: the
    stand-in ``az`` creates, deletes and lists its deployments there."""
    fake = FakePulumi.create(home)
    fake.set_outputs({"resource_group": "rg-lab", "ai_services_name": "ais-lab",
                      "ai_services_endpoint": emulator_url})
    fake.set_az(emulator=emulator_url)
    return fake


def _az_deployment_calls(fake: FakePulumi, verb: str) -> list[str]:
    """The deployment names of the stand-in az's ``deployment <verb>`` calls, each on the stack's account."""
    calls = [c for c in fake.az_calls() if c[:4] == ["cognitiveservices", "account", "deployment", verb]]
    assert all(c[c.index("--resource-group") + 1] == "rg-lab" and c[c.index("--name") + 1] == "ais-lab"
               for c in calls)
    return [c[c.index("--deployment-name") + 1] for c in calls]


def test_compare_checkpoints_deploys_judges_chooses_and_cleans_up(finished_job: FinishedJob, tmp_path: Path) -> None:
    from jobs.state import RunState

    fj = finished_job
    fake = _azure_stack(tmp_path / "bin", fj.url)
    env = stack_env(fj.url, tmp_path / "state", pulumi=fake)
    out = tmp_path / "report"
    proc = _jobs_cli(["compare", "--checkpoints", fj.job_id, "--repeat", "1", "--out", str(out), "--json"], env)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    # created and deleted with `az` on the stack outputs' account, not through the stack
    assert _az_deployment_calls(fake, "create") == data["deployments"]
    assert sorted(_az_deployment_calls(fake, "delete")) == sorted(data["deployments"])
    assert not [c for c in fake.calls() if c[0] in ("up", "config")]
    steps = [c["step_number"] for c in _steps(fj, env)]
    assert [c["step"] for c in data["checkpoints"]] == steps
    assert all(d.startswith("ckpt-eval-") for d in data["deployments"])
    assert "Developer" in data["sku"]
    report = json.loads((out / "report.json").read_text())
    chosen = report["chosen"]
    assert chosen["primary"] == "no_recommendations" and chosen["reason"] and "Holm" in chosen["rule"]
    assert {c["variant"] for c in report["checkpoints"]} == {v["name"] for v in report["variants"]}
    for c in report["checkpoints"]:
        cell = c["rates"]["no_recommendations"]
        assert cell["total"] > 0 and len(cell["ci95"]) == 2
    assert (out / "checkpoints.png").read_bytes()[:4] == b"\x89PNG"
    assert "Checkpoints: which one to deploy" in (out / "report.md").read_text()
    assert 'id="checkpoints"' in (out / "report.html").read_text()
    # every temporary deployment is gone, on the server and in the run state
    assert not [n for n in _emulator_deployments(fj.url) if n.startswith("ckpt-eval-")]
    state = RunState("dev", tmp_path / "state").load()
    assert state["checkpoint_deployments"] == {}
    assert state["selections"][fj.job_id]["chosen"]["model"] == chosen["model"]


import pytest  # noqa: E402


@pytest.mark.parametrize("crash_at", ["ckpt_recorded#1", "ckpt_deployed#2", "compare_row#20"])
def test_kill_9_then_rerun_leaves_no_deployment_and_asks_nothing_twice(finished_job: FinishedJob, tmp_path: Path,
                                                                       crash_at: str) -> None:
    from jobs.state import RunState
    from tests.support.compare import history_rows
    from tests.support.playground import recording_proxy

    fj = finished_job
    state_dir = tmp_path / "state"
    fake = _azure_stack(tmp_path / "bin", fj.url)
    args = ["compare", "--checkpoints", fj.job_id, "--repeat", "1", "--out", str(tmp_path / "r")]
    with recording_proxy(fj.url) as proxy:
        killed = _jobs_cli(args, stack_env(proxy.url, state_dir, pulumi=fake, FTJOBS_TEST_CRASH_AT=crash_at))
        assert killed.returncode == -9, killed.stderr
        recorded = RunState("dev", state_dir).load()["checkpoint_deployments"]
        assert recorded  # written before the deployment was created, with the account that holds it
        assert {(e["kind"], e["resource_group"], e["account"]) for e in recorded.values()} == {
            ("az", "rg-lab", "ais-lab")}
        live = [n for n in _emulator_deployments(fj.url) if n.startswith("ckpt-eval-")]
        assert set(live) <= set(recorded)
        # the stack's outputs change meanwhile: the leftovers are still deleted where they were made
        fake.set_outputs({"resource_group": "rg-other", "ai_services_name": "ais-other",
                          "ai_services_endpoint": fj.url})
        answered = len([r for r in history_rows(state_dir) if r.get("error") is None]) \
            if (state_dir / "compare").exists() else 0
        before = len([r for r in proxy.requests if r["path"].split("?")[0].endswith("/chat/completions")])

        rerun = _jobs_cli([*args, "--json"], stack_env(proxy.url, state_dir, pulumi=fake))
        assert rerun.returncode == 0, rerun.stderr
        asked = len([r for r in proxy.requests if r["path"].split("?")[0].endswith("/chat/completions")]) - before
    data = json.loads(rerun.stdout)
    rows = json.loads((tmp_path / "r" / "report.json").read_text())["rows"]
    assert asked == len(rows) - answered == data["sent"]  # what was answered before the kill is not asked again
    assert data["reused"] == answered
    if crash_at.startswith("compare_row"):
        assert answered >= 20
    assert not [n for n in _emulator_deployments(fj.url) if n.startswith("ckpt-eval-")]
    assert RunState("dev", state_dir).load()["checkpoint_deployments"] == {}
    assert set(data["swept"]) == set(recorded)
    deletes = {(c[c.index("--deployment-name") + 1], c[c.index("--resource-group") + 1]) for c in fake.az_calls()
               if c[:4] == ["cognitiveservices", "account", "deployment", "delete"]}
    assert {(name, "rg-lab") for name in live} <= deletes  # the leftovers, where they were made
    assert {(name, "rg-other") for name in data["deployments"]} <= deletes  # this run's, on the stack's account now


def test_compare_checkpoints_on_a_stack_never_deployed_refuses_whatever_the_endpoint(finished_job: FinishedJob,
                                                                                   tmp_path: Path) -> None:
    """The endpoint's host decides nothing: a Pulumi stack without an account in its outputs cannot deploy,
    even when the endpoint is on this machine."""
    fj = finished_job
    fake = FakePulumi.create(tmp_path / "bin")  # no outputs: never deployed
    fake.set_az(emulator=fj.url)
    env = stack_env(fj.url, tmp_path / "state", pulumi=fake)
    proc = _jobs_cli(["compare", "--checkpoints", fj.job_id, "--repeat", "1"], env)
    assert proc.returncode == 2, proc.stderr
    assert "no resource group or AI Services account" in proc.stderr and "pulumi up" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not [n for n in _emulator_deployments(fj.url) if n.startswith("ckpt-eval-")]
    assert not [c for c in fake.az_calls() if c[3:4] == ["create"]]


def test_promote_best_after_compare_checkpoints_deploys_the_choice(finished_job: FinishedJob, tmp_path: Path) -> None:
    from tests.support.paths import CWD

    fj = finished_job
    fake = _azure_stack(tmp_path / "bin", fj.url)
    env = stack_env(fj.url, tmp_path / "state", pulumi=fake)
    proc = _jobs_cli(["compare", "--checkpoints", fj.job_id, "--repeat", "1", "--json"], env)
    assert proc.returncode == 0, proc.stderr
    chosen = json.loads(proc.stdout)["chosen"]
    proc = _jobs_cli(["promote", fj.job_id, "--checkpoint", "best", "--json"], env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["fine_tuned_model"] == chosen["model"] and out["checkpoint"]["reason"].startswith(chosen["reason"])
    assert ["config", "set", "--stack", "dev", "fineTunedModel", chosen["model"], *CWD] in fake.calls()


def _model_without_developer(monkeypatch: "pytest.MonkeyPatch") -> None:
    import dataclasses

    from jobs import models

    real = models.resolve
    monkeypatch.setattr(models, "resolve", lambda m: dataclasses.replace(
        real(m), fine_tuned_deployment_skus=("Standard", "GlobalStandard")))


def test_hourly_billed_checkpoints_ask_first_and_need_yes_without_a_terminal(monkeypatch: "pytest.MonkeyPatch") -> None:
    from types import SimpleNamespace

    from jobs.deploy import AzTemporaryDeployments
    from jobs.errors import RefusedError
    from jobs.flow.select_checkpoint import _sku
    from rehearsal.deployer import EmulatorTemporaryDeployments

    said: list[str] = []
    asked: list[str] = []
    azure = AzTemporaryDeployments("rg", "acct")
    assert _sku(SimpleNamespace(say=said.append), "gpt-4.1-2025-04-14", 3, azure, False) == "Developer"  # type: ignore[arg-type]
    _model_without_developer(monkeypatch)
    no_tty = SimpleNamespace(say=said.append, ui=SimpleNamespace(ask=lambda q: asked.append(q)))
    with pytest.raises(RefusedError) as err:
        _sku(no_tty, "gpt-4.1-2025-04-14", 3, azure, False)  # type: ignore[arg-type]
    assert "--yes" in (err.value.hint or "") and "billed per hour" in err.value.message
    assert len(asked) == 1 and "billed per hour" in asked[0]
    declined = SimpleNamespace(say=said.append, ui=SimpleNamespace(ask=lambda q: False))
    with pytest.raises(RefusedError):
        _sku(declined, "gpt-4.1-2025-04-14", 3, azure, False)  # type: ignore[arg-type]
    assert _sku(no_tty, "gpt-4.1-2025-04-14", 3, azure, True) == "Standard"  # type: ignore[arg-type]
    assert "billed per hour" in said[-1]
    # the rehearsal's emulator bills nothing: nothing to ask
    emulator = EmulatorTemporaryDeployments("http://127.0.0.1:1")
    assert _sku(no_tty, "gpt-4.1-2025-04-14", 3, emulator, False) == "Standard"  # type: ignore[arg-type]
    assert len(asked) == 1


def test_azure_temporary_deployments_go_through_az_cli(monkeypatch: "pytest.MonkeyPatch") -> None:
    from jobs import az_cli
    from jobs.deploy import AzTemporaryDeployments
    from jobs.flow import ckpt_deployments as temp

    calls: list[list[str]] = []
    monkeypatch.setattr(az_cli, "run", lambda argv, timeout=600.0: calls.append(argv) or az_cli.AzRun(True, ""))
    monkeypatch.setattr(az_cli, "deployments", lambda rg, acct, timeout=30.0: ["ckpt-eval-abc-s10"])
    backend = AzTemporaryDeployments("rg-lab", "ais-lab")
    backend.create("ckpt-eval-abc-s10", "m.ft-1:ckpt-step-10", "Developer")
    backend.delete("ckpt-eval-abc-s10")
    backend.delete("ckpt-eval-abc-s20")  # not there: nothing to run
    assert calls[0][:5] == ["cognitiveservices", "account", "deployment", "create", "--resource-group"]
    assert calls[0][calls[0].index("--deployment-name") + 1] == "ckpt-eval-abc-s10"
    assert "m.ft-1:ckpt-step-10" in calls[0] and calls[0][calls[0].index("--sku-name") + 1] == "Developer"
    assert calls[1][:4] == ["cognitiveservices", "account", "deployment", "delete"] and len(calls) == 2
    assert temp.deployment_name("ftjob-0123456789abcdef", 30) == "ckpt-eval-89abcdef-s30"


def test_the_stack_accepts_a_checkpoint_as_fine_tuned_model() -> None:
    from infra.config import ConfigError, parse

    tuned = "gpt-4.1-2025-04-14.ft-0123456789abcdef0123456789abcdef-ft-travel"
    assert parse({"fineTunedModel": f"{tuned}:ckpt-step-20"}).fine_tuned_model == f"{tuned}:ckpt-step-20"
    with pytest.raises(ConfigError):
        parse({"fineTunedModel": f"{tuned}:ckpt-step-"})


@pytest.mark.parametrize("v1", [False, True])
def test_a_checkpoint_model_deploys_and_answers_labelled_on_both_surfaces(finished_job: FinishedJob, v1: bool) -> None:
    import httpx

    from jobs.stand_in import STAND_IN_HEADER, STAND_IN_LABEL
    from tests.support.http import Raw

    fj = finished_job
    first = httpx.get(f"{fj.url}/openai/fine_tuning/jobs/{fj.job_id}/checkpoints",
                      params={"api-version": "2025-04-01-preview"},
                      headers={"Authorization": "Bearer fake-entra-token"}, timeout=10).json()["data"]
    model = next(c["fine_tuned_model_checkpoint"] for c in first if ":ckpt-step-" in c["fine_tuned_model_checkpoint"])
    name = f"ckpt-eval-test-{'v1' if v1 else 'dated'}"
    assert httpx.post(f"{fj.url}/++/deployments", json={"name": name, "model": model}, timeout=10).status_code == 201
    raw = Raw(fj.url, v1=v1)
    try:
        body = {"messages": [{"role": "user", "content": "What's a must-see in Paris?"}]}
        resp = raw.post("/chat/completions", json={**body, "model": name}) if v1 else \
            raw.post(f"/deployments/{name}/chat/completions", json=body)
        assert resp.status_code == 200, resp.text
        assert resp.headers.get(STAND_IN_HEADER) and resp.json()["choices"][0]["message"]["content"].startswith(
            STAND_IN_LABEL)
    finally:
        raw.close()
        httpx.delete(f"{fj.url}/++/deployments/{name}", timeout=10)


def test_compare_checkpoints_in_a_rehearsal_deploys_on_the_emulator_and_sweeps_its_leftovers(
        finished_job: FinishedJob, tmp_path: Path) -> None:
    """The rehearsal's deployer makes the temporary deployments (the emulator registers them); a leftover it
    recorded is deleted first, one made by another kind of backend is kept and named."""
    import httpx

    from jobs.compare.plan import RunOptions
    from jobs.flow.select_checkpoint import SelectRequest, select_checkpoint
    from rehearsal.session import rehearsal_session

    fj = finished_job
    session = rehearsal_session(fj.url, tmp_path, stack="rehearsal", json_mode=True)
    leftover, elsewhere = "ckpt-eval-leftover-s1", "ckpt-eval-elsewhere-s1"
    assert httpx.post(f"{fj.url}/++/deployments", json={"name": leftover, "model": fj.fine_tuned_model},
                      timeout=10).status_code == 201
    records = {leftover: {"job_id": "ftjob-old", "kind": "emulator", "url": fj.url},
               elsewhere: {"job_id": "ftjob-old", "kind": "az", "resource_group": "rg", "account": "acct"}}
    session.state.update(lambda d: d.setdefault("checkpoint_deployments", {}).update(records))
    got = select_checkpoint(session, SelectRequest(job_id=fj.job_id, repeat=1), RunOptions(out=tmp_path / "r"))
    rows = got.compare.report["rows"]
    assert rows and all(r.get("error") is None for r in rows)  # every checkpoint's deployment answered
    assert got.swept == [leftover]
    assert not [n for n in _emulator_deployments(fj.url) if n.startswith("ckpt-eval-")]
    assert set(session.state.load()["checkpoint_deployments"]) == {elsewhere}  # not this session's to delete
