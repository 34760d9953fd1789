"""watch / upload internals with a scripted service: event de-duplication with unstable ids,
polling backoff (reset on change), paused reported, train loss, a file that fails processing."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace as NS
from typing import Any

import pytest

from jobs import lifecycle as lc
from jobs.display import PlainDisplay
from jobs.errors import JobFailedError
from jobs.status import JobStatus


class FakeConn:
    """``conn.call(fn, ...)`` without retries; the client is whatever the test scripts."""

    def __init__(self, client: Any):
        self.client = client
        self.stack = "dev"

    def call(self, fn: Any, *args: Any, what: str | None = None, idempotent: bool = True,
             reconcile: Any = None, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)


def ev(t: int, msg: str, *, id: str, level: str = "info", type: str = "message", data: Any = None) -> NS:
    return NS(id=id, created_at=t, message=msg, level=level, type=type, data=data)


class ScriptedJobs:
    def __init__(self, statuses: list[str], pages: list[list[NS]]):
        self.statuses = statuses
        self.pages = pages
        self.n = 0

    def retrieve(self, job_id: str) -> NS:
        s = self.statuses[min(self.n, len(self.statuses) - 1)]
        self.n += 1
        err = NS(code="invalidTrainingFile", message="line 3 is bad", param="training_file") if s == "failed" else None
        return NS(id=job_id, status=s, created_at=None, estimated_finish=None, fine_tuned_model=None, error=err)

    def list_events(self, job_id: str, limit: int = 50) -> NS:
        page = self.pages[min(self.n - 1, len(self.pages) - 1)]
        return NS(data=list(reversed(page)))  # newest first, like the service


def watch(statuses: list[str], pages: list[list[NS]]) -> tuple[lc.WatchOutcome, str, list[float]]:
    jobs = ScriptedJobs(statuses, pages)
    conn = FakeConn(NS(fine_tuning=NS(jobs=jobs)))
    out = io.StringIO()
    slept: list[float] = []
    result = lc.watch_job(conn, "ftjob-1", rs=None, display=PlainDisplay(out), sleep=slept.append)
    return result, out.getvalue(), slept


@pytest.fixture(autouse=True)
def _poll(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTJOBS_POLL_INTERVAL", "2")
    monkeypatch.setenv("FTJOBS_POLL_MAX", "30")


def test_events_with_new_ids_are_not_shown_twice() -> None:
    a1 = ev(100, "Job enqueued.", id="e-1")
    b1 = ev(101, "Job started.", id="e-2")
    a2 = ev(100, "Job enqueued.", id="e-77")  # same event, new id on the next page
    b2 = ev(101, "Job started.", id="e-78")
    c = ev(105, "Job succeeded.", id="e-79")
    result, text, _ = watch(["queued", "running", "succeeded"], [[a1], [a2, b1], [a2, b2, c]])
    assert text.count("Job enqueued.") == 1 and text.count("Job started.") == 1 and text.count("Job succeeded.") == 1
    assert [e.message for e in result.events] == ["Job enqueued.", "Job started.", "Job succeeded."]
    assert result.status is JobStatus.SUCCEEDED


def test_same_message_at_another_time_is_a_new_event() -> None:
    result, text, _ = watch(["running", "succeeded"],
                            [[ev(1, "Checkpoint saved.", id="x")], [ev(1, "Checkpoint saved.", id="y"),
                                                                    ev(2, "Checkpoint saved.", id="z")]])
    assert text.count("Checkpoint saved.") == 2


def test_backoff_grows_while_nothing_changes_and_resets_on_change() -> None:
    statuses = ["running"] * 9 + ["succeeded"]
    same = [ev(1, "Job started.", id="s")]
    pages = [same] * 6 + [same + [ev(9, "Checkpoint created.", id="c")]] * 4
    _, _, slept = watch(statuses, pages)
    assert slept[0] == 2.0  # something new on the first poll
    assert slept[1:6] == [3.0, 4.5, 6.75, 10.125, 15.1875]  # x1.5 while polls 2-6 see nothing new
    assert slept[6] == 2.0  # poll 7 sees a new event: back to the first interval
    assert max(slept) <= 30


def test_backoff_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTJOBS_POLL_MAX", "5")
    _, _, slept = watch(["running"] * 12 + ["succeeded"], [[ev(1, "Job started.", id="s")]])
    assert max(slept) == 5.0 and slept[-1] == 5.0


def test_paused_is_reported_not_failed() -> None:
    result, text, _ = watch(["running", "paused", "paused", "running", "succeeded"], [[]])
    assert "ftjob-1: paused" in text and "python -m jobs resume ftjob-1" in text
    assert result.status is JobStatus.SUCCEEDED


def test_latest_train_loss_from_metrics_events() -> None:
    m1 = ev(10, "Step 1/4: training loss=1.5000", id="m1", type="metrics", data={"step": 1, "train_loss": 1.5})
    m2 = ev(11, "Step 2: training loss=0.75", id="m2", type="metrics", data=None)  # message only
    result, text, _ = watch(["running", "succeeded"], [[m1], [m1, m2]])
    assert result.last_loss == (2, 0.75)
    assert "train loss 1.5000 (step 1)" in text and "train loss 0.7500 (step 2)" in text
    assert "Step 1/4" not in text  # metrics events feed the loss line, not the event log


def test_failed_job_error_carries_azure_code_and_message() -> None:
    result, _, _ = watch(["running", "failed"], [[]])
    err = lc.failure_error(result.job, result.status)
    assert isinstance(err, JobFailedError) and err.exit_code == 1
    assert err.message == "job ftjob-1 failed: invalidTrainingFile: line 3 is bad (param: training_file)"


def test_cancelled_is_exit_1() -> None:
    result, _, _ = watch(["cancelled"], [[]])
    err = lc.failure_error(result.job, result.status)
    assert err.exit_code == 1 and "cancelled" in err.message


def test_file_processing_error_reports_status_details(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jobs.state import RunState

    monkeypatch.setenv("FTJOBS_POLL_INTERVAL", "0")
    data = tmp_path / "d.jsonl"
    data.write_text("{}\n")
    states = iter(["pending", "running", "error"])

    def retrieve(file_id: str) -> NS:
        s = next(states)
        return NS(id=file_id, status=s, created_at=1,
                  status_details="Invalid file format: line 1 has no messages" if s == "error" else None)

    files = NS(create=lambda **kw: NS(id="file-9", status="pending", created_at=1), retrieve=retrieve,
               list=lambda: NS(data=[]))
    rs = RunState("dev", tmp_path / "state")
    with pytest.raises(JobFailedError) as info:
        lc.ensure_uploaded(FakeConn(NS(files=files)), rs, data, "abc", say=lambda m: None)
    assert "file-9" in info.value.message and "Invalid file format: line 1 has no messages" in info.value.message
    assert rs.load()["files"]["abc"]["status"] == "error"  # recorded: the id is never lost


def test_run_key_depends_on_every_parameter() -> None:
    base: dict[str, Any] = dict(training="sha256:a", validation=None, model="gpt-4.1-2025-04-14", suffix="ft-travel",
                                hyperparameters={"n_epochs": 2}, training_type=None, seed=None)
    k = lc.run_key(**base)
    assert k == lc.run_key(**{**base, "hyperparameters": {"n_epochs": 2, "batch_size": None}})
    for change in ({"training": "sha256:b"}, {"validation": "sha256:v"}, {"model": "gpt-4o-2024-08-06"},
                   {"suffix": "x"}, {"hyperparameters": {"n_epochs": 3}}, {"training_type": "Developer"},
                   {"seed": 1}):
        assert lc.run_key(**{**base, **change}) != k, change


def test_crash_hook_is_inert_without_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FTJOBS_TEST_CRASH_AT", raising=False)
    lc.checkpoint("after_create")  # must simply return
    monkeypatch.setenv("FTJOBS_TEST_CRASH_AT", "something_else")
    lc.checkpoint("after_create")


def test_adoption_matches_file_suffix_time_model_and_epochs() -> None:
    def job(id: str, *, file: str = "file-1", suffix: Any = "ft-travel", t: int = 1000, model: str = "gpt-4.1-2025-04-14",
            epochs: Any = 3, ftm: Any = None) -> NS:
        return NS(id=id, training_file=file, suffix=suffix, created_at=t, model=model,
                  hyperparameters=NS(n_epochs=epochs), fine_tuned_model=ftm)

    listed = [job("wrong-file", file="file-2"), job("wrong-suffix", suffix="other"), job("too-old", t=900),
              job("wrong-model", model="gpt-4o-2024-08-06"), job("wrong-epochs", epochs=5),
              job("the-one", t=1010), job("later-dup", t=1020)]
    conn = FakeConn(NS(fine_tuning=NS(jobs=NS(list=lambda limit: NS(data=listed)))))
    found = lc.find_adoptable(conn, training_file="file-1", suffix="ft-travel", since=1000,
                              model="gpt-4.1-2025-04-14", n_epochs=3)
    assert found.id == "the-one"  # the earliest match: the one the lost request created
    assert lc.find_adoptable(conn, training_file="file-3", suffix="ft-travel", since=1000) is None
    # no suffix attribute: the fine-tuned model name carries it
    listed[:] = [job("by-name", suffix=None, ftm="gpt-4.1-2025-04-14.ft-abc-ft-travel")]
    assert lc.find_adoptable(conn, training_file="file-1", suffix="ft-travel", since=1000).id == "by-name"
    listed[:] = [job("by-name", suffix=None, ftm="gpt-4.1-2025-04-14.ft-abc-other")]
    assert lc.find_adoptable(conn, training_file="file-1", suffix="ft-travel", since=1000) is None
