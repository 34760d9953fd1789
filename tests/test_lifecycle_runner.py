"""Issue 22 in the runner, against the emulator: trainingType on every job request (both surfaces), v1 by
default, the lifecycle gate with an injected "today" (every date from jobs/models.py's table), Azure's limits."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import pytest

from jobs import contract, models
from jobs.deploy import PulumiDeployer
from jobs.flow import limits
from jobs.flow.train import TrainingOptions, training_type_for
from tests.support.clients import server_view

pytestmark = pytest.mark.usefixtures("runner_env")

LAB = models.resolve(models.DEFAULT_MODEL)


@pytest.fixture
def job_requests(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """(URL, JSON body) of every create-job request the runner sends, read off the wire (httpx)."""
    import openai

    seen: list[tuple[str, dict[str, Any]]] = []
    # the HTTP transport class the openai SDK really uses (its own httpx build in this environment)
    transport = type(openai.OpenAI(api_key="unused", base_url="http://127.0.0.1:9/")._client._transport)
    handle = transport.handle_request

    def spy(self: Any, request: Any) -> Any:
        if request.method == "POST" and request.url.path.rstrip("/").endswith("/fine_tuning/jobs"):
            seen.append((str(request.url), json.loads(request.read())))
        return handle(self, request)

    monkeypatch.setattr(transport, "handle_request", spy)
    yield seen


def _day(d: datetime.date | None, days: int = 0) -> str:
    assert d is not None
    return (d + datetime.timedelta(days=days)).isoformat()


@pytest.mark.parametrize("api", ["dated", "v1"])
def test_training_type_is_in_every_job_request_on_both_surfaces(api: str, job_emulator: Any, training_copy: Path,
                                                                  no_pulumi: None, jobs_cli: Any,
                                                                  job_requests: list[tuple[str, dict[str, Any]]]) -> None:
    base = ["--endpoint", job_emulator.url, "--api", api, "--yes", "--json"]
    first = jobs_cli("train", str(training_copy), *base)
    assert first.exit_code == 0, first.stderr
    second = jobs_cli("train", str(training_copy), *base, "--new", "--training-type", "GlobalStandard")
    assert second.exit_code == 0, second.stderr
    assert len(job_requests) == 2
    # no option: the stack file's trainingType (the repo's Pulumi.dev.yaml says Standard) or the model's default
    assert [body[contract.TRAINING_TYPE_FIELD] for _, body in job_requests] == ["standard", "globalstandard"]
    for url, _ in job_requests:
        assert ("/openai/v1/fine_tuning/jobs" in url) is (api == "v1")
        assert ("api-version=" in url) is (api == "dated")
    echoed = {j.id: (j.model_extra or {}).get(contract.TRAINING_TYPE_FIELD) for j in server_view(job_emulator.url).jobs}
    assert sorted(echoed.values()) == ["globalstandard", "standard"]


def test_v1_is_the_runners_default_surface(job_emulator: Any, training_copy: Path, no_pulumi: None, jobs_cli: Any,
                                           job_requests: list[tuple[str, dict[str, Any]]]) -> None:
    out = jobs_cli("train", str(training_copy), "--endpoint", job_emulator.url, "--yes")
    assert out.exit_code == 0, out.stderr
    [(url, body)] = job_requests
    assert "/openai/v1/fine_tuning/jobs" in url and "api-version" not in url
    assert body[contract.TRAINING_TYPE_FIELD] == "standard"


def test_training_type_comes_from_the_stack_file_else_the_models_default(monkeypatch: pytest.MonkeyPatch) -> None:
    deployer = PulumiDeployer("dev")
    session: Any = SimpleNamespace(deployer=deployer)
    monkeypatch.setattr(deployer, "training_type_in_stack_file", lambda: ("Pulumi.dev.yaml", "globalstandard"))
    assert training_type_for(session, TrainingOptions().checked()) == (
        "GlobalStandard", "trainingType in Pulumi.dev.yaml")
    assert training_type_for(session, TrainingOptions(training_type="Developer").checked())[0] == "Developer"
    monkeypatch.setattr(deployer, "training_type_in_stack_file", lambda: ("Pulumi.dev.yaml", None))
    oss = TrainingOptions(model="gpt-oss-20b").checked()
    assert training_type_for(session, oss) == ("GlobalStandard", "the default for gpt-oss-20b")
    with pytest.raises(Exception) as info:  # open-weight models train Global only (Learn's supported-models table)
        training_type_for(session, TrainingOptions(model="gpt-oss-20b", training_type="Standard").checked())
    assert "cannot be trained with training type Standard" in str(info.value)


def test_the_seeds_gpt_4_0613_is_refused_naming_the_2026_labs_model(job_emulator: Any, training_copy: Path,
                                                                     no_pulumi: None, jobs_cli: Any) -> None:
    out = jobs_cli("run", str(training_copy), "--endpoint", job_emulator.url, "--yes", "--model", "gpt-4-0613")
    assert out.exit_code == 2, out.stderr
    assert "retired on 2025-06-06" in out.stderr and models.LAB_2026_MODEL in out.stderr
    assert server_view(job_emulator.url).files == []  # nothing uploaded


def test_a_retired_model_is_refused_before_any_upload(job_emulator: Any, training_copy: Path, no_pulumi: None,
                                                      jobs_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(models.TODAY_ENV, _day(LAB.lifecycle.training_retires))
    out = jobs_cli("run", str(training_copy), "--endpoint", job_emulator.url, "--yes")
    assert out.exit_code == 2, out.stderr
    assert f"retired on {_day(LAB.lifecycle.training_retires)}" in out.stderr
    assert LAB.lifecycle.replacement in out.stderr
    view = server_view(job_emulator.url)
    assert view.files == [] and view.jobs == []


def test_near_retirement_asks_first_and_needs_yes_without_a_terminal(job_emulator: Any, training_copy: Path,
                                                                     no_pulumi: None, jobs_cli: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    left = models.WARN_DAYS - 5
    monkeypatch.setenv(models.TODAY_ENV, _day(LAB.lifecycle.training_retires, -left))
    refused = jobs_cli("train", str(training_copy), "--endpoint", job_emulator.url, "--price-per-1m", "25")
    assert refused.exit_code == 3, refused.stderr
    assert f"retires on {_day(LAB.lifecycle.training_retires)}, in {left} days" in refused.stderr
    assert "--yes" in refused.stderr and server_view(job_emulator.url).jobs == []
    confirmed = jobs_cli("train", str(training_copy), "--endpoint", job_emulator.url, "--yes")
    assert confirmed.exit_code == 0, confirmed.stderr
    assert "warning: fine-tuning of" in confirmed.stderr and len(server_view(job_emulator.url).jobs) == 1


def test_far_from_retirement_nothing_is_asked(job_emulator: Any, training_copy: Path, no_pulumi: None,
                                              jobs_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(models.TODAY_ENV, _day(LAB.lifecycle.training_retires, -(models.WARN_DAYS + 1)))
    out = jobs_cli("train", str(training_copy), "--endpoint", job_emulator.url, "--yes")
    assert out.exit_code == 0, out.stderr
    assert "retires on" not in out.stderr


def test_a_bad_today_is_a_usage_error_naming_the_variable(job_emulator: Any, training_copy: Path, no_pulumi: None,
                                                          jobs_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(models.TODAY_ENV, "tomorrow")
    out = jobs_cli("train", str(training_copy), "--endpoint", job_emulator.url, "--yes")
    assert out.exit_code == 2 and models.TODAY_ENV in out.stderr and "YYYY-MM-DD" in out.stderr


def test_status_shows_the_training_type_and_the_deployments_retirement(job_emulator: Any, training_copy: Path,
                                                                       no_pulumi: None, jobs_cli: Any) -> None:
    out = jobs_cli("run", str(training_copy), "--endpoint", job_emulator.url, "--yes")
    assert out.exit_code == 0, out.stderr
    shown = jobs_cli("status", "--endpoint", job_emulator.url)
    assert shown.exit_code == 0, shown.stderr
    assert "training type:    Standard" in shown.stdout
    assert f"deployment retires: {_day(LAB.lifecycle.deployment_retires)}" in shown.stdout
    data = jobs_cli("status", "--endpoint", job_emulator.url, "--json").json
    assert data["training_type"] == "Standard" and data["retires"].startswith(_day(LAB.lifecycle.deployment_retires))


def test_promote_refuses_a_model_whose_deployments_retired(job_emulator: Any, training_copy: Path, no_pulumi: None,
                                                           jobs_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    out = jobs_cli("train", str(training_copy), "--endpoint", job_emulator.url, "--yes", "--json")
    assert out.exit_code == 0, out.stderr
    job_id = out.json["job"]["id"]
    assert jobs_cli("watch", job_id, "--endpoint", job_emulator.url).exit_code == 0
    monkeypatch.setenv(models.TODAY_ENV, _day(LAB.lifecycle.deployment_retires))
    refused = jobs_cli("promote", job_id, "--endpoint", job_emulator.url)
    assert refused.exit_code == 2, refused.stderr
    assert f"retired on {_day(LAB.lifecycle.deployment_retires)}" in refused.stderr
    assert "the stack was not changed" in refused.stderr


def test_the_job_size_limit_is_azures_two_billion_tokens() -> None:
    assert limits.job_size_problem(1_000_000, 2_000) is None  # exactly 2 billion
    problem = limits.job_size_problem(1_000_000, 2_001)
    assert problem is not None and "2,000,000,000" in problem and "at most 2000 epochs" in problem
    assert contract.QUOTA_SOURCE in problem


def test_a_resource_at_its_file_limit_refuses_the_upload(job_emulator: Any, training_copy: Path, no_pulumi: None,
                                                         jobs_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contract, "MAX_FINE_TUNING_FILES_BYTES", 100)  # this resource is "full" at 100 bytes
    out = jobs_cli("train", str(training_copy), "--endpoint", job_emulator.url, "--yes")
    assert out.exit_code == 2, out.stderr
    assert "over Azure's 100" in out.stderr and "nothing was uploaded" in out.stderr
    assert server_view(job_emulator.url).files == []


def test_an_open_weight_model_trains_global_with_its_own_id_context_and_a_priced_estimate(
        job_emulator: Any, training_copy: Path, no_pulumi: None, jobs_cli: Any,
        job_requests: list[tuple[str, dict[str, Any]]]) -> None:
    oss = models.resolve("gpt-oss-20b")
    out = jobs_cli("train", str(training_copy), "--endpoint", job_emulator.url, "--yes", "--json",
                   "--model", "gpt-oss-20b", "--price-per-1m", "5")
    assert out.exit_code == 0, out.stderr
    [(_, body)] = job_requests
    assert body["model"] == oss.model_id == "gpt-oss-20b"
    assert body[contract.TRAINING_TYPE_FIELD] == "globalstandard"  # Global is its only training type
    assert "does not apply to it" in out.stderr  # the repo's stack file says Standard, for gpt-4.1
    estimate = out.json["estimate"]
    assert estimate["cost"] == pytest.approx(estimate["billed_tokens"] * 5 / 1_000_000)


def test_the_validator_applies_an_open_weight_models_context_length(tmp_path: Path, jobs_cli: Any) -> None:
    oss = models.resolve("Ministral-3B")
    data = tmp_path / "long.jsonl"
    long_answer = "word " * (oss.training_context + 100)
    lines = [json.dumps({"messages": [{"role": "user", "content": f"q{i}"},
                                      {"role": "assistant", "content": long_answer if i == 0 else "short"}]})
             for i in range(10)]
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = jobs_cli("validate", str(data), "--model", "Ministral-3B")
    assert out.exit_code == 1
    assert f"{oss.training_context:,}" in out.stdout + out.stderr
    assert jobs_cli("validate", str(data), "--model", "gpt-4.1").exit_code == 0  # 65,536 tokens fit there
