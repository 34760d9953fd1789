"""kill -9 the runner (and the emulator) at many points of `run`; a rerun finishes with exactly
one uploaded training file, one job, and the right fineTunedModel in the stack."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import run_jobs_process
from tests.support.clients import read_state, sdk_client, server_view, wait_for_running_job
from tests.support.emulators import EmulatorProcess, runner_config

pytestmark = pytest.mark.usefixtures("runner_env")

# Named checkpoints (jobs/crash.py:CHECKPOINTS), in the order `run` reaches them.
CHECKPOINTS = [
    "after_validate",
    "before_upload",
    "after_upload_pending",
    "after_upload",  # the server has the file, the state does not
    "after_upload_recorded",
    "after_processed",
    "after_pending",  # pending create written, nothing sent
    "after_create",  # the server has the job, the state does not
    "after_job_recorded",
    "watch_poll#2",
    "before_promote",
    "after_promote",
]


def _run_args(data: Path, url: str) -> list[str]:
    return ["run", str(data), "--endpoint", url, "--yes", "--price-per-1m", "25"]


def _assert_exactly_one_and_promoted(url: str, fake_pulumi: Any, state_dir: Path) -> None:
    view = server_view(url)
    assert len(view.training_files()) == 1, [f.id for f in view.files]
    assert len(view.jobs) == 1, [j.id for j in view.jobs]
    job = view.jobs[0]
    assert job.status == "succeeded"
    assert job.training_file == view.training_files()[0].id
    assert fake_pulumi.config.get("fineTunedModel") == job.fine_tuned_model
    state = read_state(state_dir)
    assert state["promoted"]["fine_tuned_model"] == job.fine_tuned_model
    assert {r["job_id"] for r in state["jobs"].values()} == {job.id}
    assert state["pending"] == {} and state["pending_uploads"] == {}


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.parametrize("point", CHECKPOINTS)
def test_kill_at_checkpoint_then_resume(point: str, job_emulator: Any, training_copy: Path, fake_pulumi: Any,
                                        runner_env: Path) -> None:
    crashed = run_jobs_process(_run_args(training_copy, job_emulator.url),
                               env={**os.environ, "FTJOBS_TEST_CRASH_AT": point})
    assert crashed.exit_code == -signal.SIGKILL, (point, crashed.stderr)
    resumed = run_jobs_process(_run_args(training_copy, job_emulator.url), env=dict(os.environ))
    assert resumed.exit_code == 0, resumed.stderr
    _assert_exactly_one_and_promoted(job_emulator.url, fake_pulumi, runner_env)
    if point in ("after_upload", "after_create"):
        assert "interrupted" in resumed.stderr  # found on the server, not repeated


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.parametrize("after", [0.4, 0.9, 1.3, 1.8, 2.4])
def test_kill_after_a_delay_then_resume(after: float, job_emulator: Any, training_copy: Path, fake_pulumi: Any,
                                        runner_env: Path) -> None:
    first = run_jobs_process(_run_args(training_copy, job_emulator.url), env=dict(os.environ), kill_after=after)
    assert first.exit_code in (0, -signal.SIGKILL), first.stderr
    second = run_jobs_process(_run_args(training_copy, job_emulator.url), env=dict(os.environ))
    assert second.exit_code == 0, second.stderr
    _assert_exactly_one_and_promoted(job_emulator.url, fake_pulumi, runner_env)


@pytest.mark.slow
@pytest.mark.subprocess
def test_kill_twice_in_a_row(job_emulator: Any, training_copy: Path, fake_pulumi: Any, runner_env: Path) -> None:
    for point in ("after_upload", "after_create"):
        out = run_jobs_process(_run_args(training_copy, job_emulator.url),
                               env={**os.environ, "FTJOBS_TEST_CRASH_AT": point})
        assert out.exit_code == -signal.SIGKILL
    final = run_jobs_process(_run_args(training_copy, job_emulator.url), env=dict(os.environ))
    assert final.exit_code == 0, final.stderr
    _assert_exactly_one_and_promoted(job_emulator.url, fake_pulumi, runner_env)


@pytest.mark.slow
@pytest.mark.subprocess
def test_emulator_killed_mid_job_and_restarted(tmp_path: Path, training_copy: Path, fake_pulumi: Any,
                                               runner_env: Path) -> None:
    import threading

    em = EmulatorProcess(tmp_path / "em-proc-state", runner_config(training_seconds=4)).start()
    try:
        result: dict[str, Any] = {}
        env = {**os.environ, "FTJOBS_RETRY_ATTEMPTS": "60", "FTJOBS_RETRY_CAP": "0.3"}
        t = threading.Thread(target=lambda: result.update(
            out=run_jobs_process(_run_args(training_copy, em.url), env=env, timeout=90)))
        t.start()
        wait_for_running_job(sdk_client(em.url))
        em.kill()  # SIGKILL the service mid-job
        time.sleep(0.5)
        em.start()  # same port, same state dir
        t.join(90)
        out = result["out"]
        assert out.exit_code == 0, out.stderr
        assert "retry:" in out.stderr  # it noticed the outage and waited it out
        _assert_exactly_one_and_promoted(em.url, fake_pulumi, runner_env)
    finally:
        em.stop()
