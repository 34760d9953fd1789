"""Choosing a checkpoint with evidence: ``python -m jobs compare --checkpoints`` deploys each kept checkpoint, judges
it on the suite, picks one by the stated rule and cleans up, also after a kill; the rehearsal's deployer and the
emulator's checkpoint models (the listing and promotion are tests/test_checkpoints.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.checkpoints import checkpoint_list, jobs_cli
from tests.support.cli import stack_env
from tests.support.clients import FinishedJob
from tests.support.fake_pulumi import FakePulumi


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
    proc = jobs_cli(["compare", "--checkpoints", fj.job_id, "--repeat", "1", "--out", str(out), "--json"], env)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    # created and deleted with `az` on the stack outputs' account, not through the stack
    assert _az_deployment_calls(fake, "create") == data["deployments"]
    assert sorted(_az_deployment_calls(fake, "delete")) == sorted(data["deployments"])
    assert not [c for c in fake.calls() if c[0] in ("up", "config")]
    steps = [c["step_number"] for c in checkpoint_list(fj, env)]
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



def test_compare_checkpoints_sends_the_sampling_options_and_refuses_bad_ones_before_deploying(
        finished_job: FinishedJob, tmp_path: Path) -> None:
    """--temperature, --max-tokens and --seed reach every checkpoint's requests (greedy and short answers make a
    slow local model's selection affordable); a bad value is refused before any deployment exists."""
    from tests.support.playground import recording_proxy

    fj = finished_job
    fake = _azure_stack(tmp_path / "bin", fj.url)
    with recording_proxy(fj.url) as proxy:
        env = stack_env(proxy.url, tmp_path / "state", pulumi=fake)
        bad = jobs_cli(["compare", "--checkpoints", fj.job_id, "--max-tokens", "0"], env)
        assert bad.returncode == 2 and "--max-tokens 0 must be at least 1" in bad.stderr, bad.stderr
        assert _az_deployment_calls(fake, "create") == []
        proc = jobs_cli(["compare", "--checkpoints", fj.job_id, "--repeat", "1", "--temperature", "0",
                         "--max-tokens", "40", "--seed", "7", "--out", str(tmp_path / "r"), "--json"], env)
        assert proc.returncode == 0, proc.stderr
        bodies = [r["body"] for r in proxy.requests if r["path"].split("?")[0].endswith("/chat/completions")]
    assert bodies and all(b["temperature"] == 0 and b["max_tokens"] == 40 and b["seed"] == 7 for b in bodies)
    assert {b["model"] for b in bodies} == set(json.loads(proc.stdout)["deployments"])
    refused = jobs_cli(["compare", "--checkpoints", fj.job_id, "--judge", "x"], env)
    assert refused.returncode == 2 and "--judge does not go with --checkpoints" in refused.stderr


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
        killed = jobs_cli(args, stack_env(proxy.url, state_dir, pulumi=fake, FTJOBS_TEST_CRASH_AT=crash_at))
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

        rerun = jobs_cli([*args, "--json"], stack_env(proxy.url, state_dir, pulumi=fake))
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
    proc = jobs_cli(["compare", "--checkpoints", fj.job_id, "--repeat", "1"], env)
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
    proc = jobs_cli(["compare", "--checkpoints", fj.job_id, "--repeat", "1", "--json"], env)
    assert proc.returncode == 0, proc.stderr
    chosen = json.loads(proc.stdout)["chosen"]
    proc = jobs_cli(["promote", fj.job_id, "--checkpoint", "best", "--json"], env)
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
    session = rehearsal_session(fj.url, tmp_path, stack="rehearsal", json_mode=True, capacity=1000)
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


def test_the_rehearsals_temporary_deployments_get_its_capacity(finished_job: FinishedJob, tmp_path: Path) -> None:
    """A checkpoint deployment in a rehearsal is registered at the rehearsal's capacity, as its stack's are (the
    emulator's default of 50 would pace compare to about one request a second)."""
    import httpx

    from rehearsal.deployer import EmulatorDeployer

    fj = finished_job
    for capacity, expected in ((1000, 1000), (None, 50)):
        deployer = EmulatorDeployer(fj.url, "rehearsal", tmp_path / "stack.json", capacity=capacity)
        temporary = deployer.temporary_deployments_from({"kind": "emulator", "url": fj.url})
        assert temporary is not None
        for made in (deployer.temporary_deployments(), temporary):
            made.create("ckpt-eval-capacity", fj.fine_tuned_model, "DeveloperTier")
            data = httpx.get(f"{fj.url}/++/deployments", timeout=10).json()["data"]
            assert {d["name"]: d["capacity"] for d in data}["ckpt-eval-capacity"] == expected
            made.delete("ckpt-eval-capacity")
