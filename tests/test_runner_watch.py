"""watch / upload internals with a scripted service: event de-duplication with unstable ids,
polling backoff (reset on a status change, floor while running), event paging, plain-output volume,
paused reported, train loss, a file that fails processing."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace as NS
from typing import Any

import pytest

from jobs.display import PlainDisplay
from jobs.errors import JobFailedError
from jobs.flow import train, upload
from jobs.crash import CrashHook
from jobs.flow.data import DataCheck
from jobs.flow.watch import WatchOutcome, failure_error, follow
from jobs.status import JobStatus
from tests.support.scripted import ScriptedApi, ScriptedSession


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

    def list_events(self, job_id: str, limit: int = 50, after: str | None = None) -> NS:
        page = self.pages[min(self.n - 1, len(self.pages) - 1)]
        return NS(data=list(reversed(page)))  # newest first, like the service


def watch(statuses: list[str], pages: list[list[NS]]) -> tuple[WatchOutcome, str, list[float]]:
    session = ScriptedSession(ScriptedApi(jobs=ScriptedJobs(statuses, pages)))
    out = io.StringIO()
    result = follow(session, "ftjob-1", display=PlainDisplay(out), record=False)  # type: ignore[arg-type]
    return result, out.getvalue(), session.slept


@pytest.fixture(autouse=True)
def _poll(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTJOBS_POLL_INTERVAL", "2")
    monkeypatch.setenv("FTJOBS_POLL_MAX", "30")
    monkeypatch.delenv("FTJOBS_POLL_RUNNING_MIN", raising=False)  # the default floor, 10 s
    monkeypatch.delenv("FTJOBS_STATUS_EVERY", raising=False)


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


def test_backoff_resets_on_status_change_only_and_running_has_a_floor() -> None:
    statuses = ["queued"] * 4 + ["running"] * 9 + ["succeeded"]
    pages = [[ev(i, f"Event {i}.", id=f"e{i}")] for i in range(1, 15)]  # something new on every poll
    _, _, slept = watch(statuses, pages)
    assert slept[:4] == [2.0, 3.0, 4.5, 6.75]  # queued: new events do not reset the backoff
    # running: back to the start (status changed), but never below the 10 s floor; then x1.5 up to 30
    assert slept[4:] == [10.0, 15.0, 22.5, 30.0, 30.0, 30.0, 30.0, 30.0, 30.0]


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
    err = failure_error(result.job)
    assert isinstance(err, JobFailedError) and err.exit_code == 1
    assert err.message == "job ftjob-1 failed: invalidTrainingFile: line 3 is bad (param: training_file)"


def test_cancelled_is_exit_1() -> None:
    result, _, _ = watch(["cancelled"], [[]])
    err = failure_error(result.job)
    assert err.exit_code == 1 and "cancelled" in err.message


def test_file_processing_error_reports_status_details(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTJOBS_POLL_INTERVAL", "0.01")
    data = tmp_path / "d.jsonl"
    data.write_text("{}\n")
    states = iter(["pending", "running", "error"])

    def retrieve(file_id: str) -> NS:
        s = next(states)
        return NS(id=file_id, status=s, created_at=1,
                  status_details="Invalid file format: line 1 has no messages" if s == "error" else None)

    files = NS(create=lambda **kw: NS(id="file-9", status="pending", created_at=1), retrieve=retrieve,
               list=lambda: NS(data=[]))
    session = ScriptedSession(ScriptedApi(files=files), state_dir=tmp_path / "state")
    check = DataCheck(path=data, sha256="abc", examples=1, size=3, billed_tokens_per_epoch=None, epochs=None)
    with pytest.raises(JobFailedError) as info:
        upload.ensure_uploaded(session, check)  # type: ignore[arg-type]
    assert "file-9" in info.value.message and "Invalid file format: line 1 has no messages" in info.value.message
    assert session.state is not None
    assert session.state.load()["files"]["abc"]["status"] == "error"  # recorded: the id is never lost


def test_run_key_depends_on_every_parameter() -> None:
    base = train.TrainingOptions(model="gpt-4.1-2025-04-14", suffix="ft-travel", epochs=2)
    k = train.run_key(training="sha256:a", validation=None, options=base)
    assert len(k) == 32 and k == train.run_key(training="sha256:a", validation=None, options=base)
    assert train.run_key(training="sha256:b", validation=None, options=base) != k
    assert train.run_key(training="sha256:a", validation="sha256:v", options=base) != k
    for change in ({"model": "gpt-4o-2024-08-06"}, {"suffix": "x"}, {"epochs": 3}, {"batch_size": 4},
                   {"learning_rate_multiplier": 0.5}, {"training_type": "Developer"}, {"seed": 1}):
        changed = train.TrainingOptions(**{**base.__dict__, **change})
        assert train.run_key(training="sha256:a", validation=None, options=changed) != k, change


def test_crash_hook_is_inert_without_a_spec() -> None:
    CrashHook(None)("after_create")  # must simply return
    CrashHook("something_else")("after_create")
    CrashHook("after_create#2")("after_create")  # the first time only counts 1
    CrashHook("after_create#x")("after_create")  # a count that is not a number never fires


def test_adoption_matches_file_suffix_time_model_and_epochs() -> None:
    def job(id: str, *, file: str = "file-1", suffix: Any = "ft-travel", t: int = 1000, model: str = "gpt-4.1-2025-04-14",
            epochs: Any = 3, ftm: Any = None) -> NS:
        return NS(id=id, status="running", training_file=file, suffix=suffix, created_at=t, model=model,
                  hyperparameters=NS(n_epochs=epochs), fine_tuned_model=ftm)

    listed = [job("wrong-file", file="file-2"), job("wrong-suffix", suffix="other"), job("too-old", t=900),
              job("wrong-model", model="gpt-4o-2024-08-06"), job("wrong-epochs", epochs=5),
              job("the-one", t=1010), job("later-dup", t=1020)]
    session: Any = ScriptedSession(ScriptedApi(jobs=NS(list=lambda limit: NS(data=listed))))
    options = train.TrainingOptions(model="gpt-4.1-2025-04-14", suffix="ft-travel", epochs=3)
    found = train.find_adoptable(session, training_file="file-1", options=options, since=1000)
    assert found is not None and found.id == "the-one"  # the earliest match: the one the lost request created
    assert train.find_adoptable(session, training_file="file-3", options=options, since=1000) is None
    # no suffix attribute: the fine-tuned model name carries it
    listed[:] = [job("by-name", suffix=None, ftm="gpt-4.1-2025-04-14.ft-abc-ft-travel")]
    found = train.find_adoptable(session, training_file="file-1", options=options, since=1000)
    assert found is not None and found.id == "by-name"
    listed[:] = [job("by-name", suffix=None, ftm="gpt-4.1-2025-04-14.ft-abc-other")]
    assert train.find_adoptable(session, training_file="file-1", options=options, since=1000) is None


# --------------------------------------------------------------------------- a long job on a simulated clock


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        assert seconds > 0, "a zero wait is a busy loop"
        self.t += seconds


class TimedService:
    """queued until t=20, running until t=620 (a metrics event and a checkpoint event on every poll
    while running), then succeeded. Events: newest first, ``limit``/``after`` paging like the service."""

    def __init__(self, clock: Clock, *, burst: int = 0):
        self.clock = clock
        self.events: list[NS] = []  # oldest first
        self.retrieves = 0
        self.event_calls = 0
        self.burst = burst

    def retrieve(self, job_id: str) -> NS:
        self.retrieves += 1
        t = self.clock.t
        status = "queued" if t < 20 else "running" if t < 620 else "succeeded"
        if status == "running":
            n = len(self.events)
            for k in range(self.burst or 1):
                self.events.append(ev(int(t), f"Checkpoint {n + k}.", id=f"c{n + k}"))
            self.events.append(ev(int(t), f"Step {n}: training loss=0.5", id=f"m{n}", type="metrics",
                                  data={"step": n, "train_loss": 1.0 / (n + 1)}))
        return NS(id=job_id, status=status, created_at=None, estimated_finish=None, fine_tuned_model=None, error=None)

    def list_events(self, job_id: str, limit: int = 20, after: str | None = None) -> NS:
        self.event_calls += 1
        newest_first = list(reversed(self.events))
        if after is not None:
            ids = [e.id for e in newest_first]
            newest_first = newest_first[ids.index(after) + 1:]
        return NS(data=newest_first[:limit], has_more=len(newest_first) > limit)


def timed_watch(service: TimedService, clock: Clock) -> tuple[WatchOutcome, str]:
    session: Any = ScriptedSession(ScriptedApi(jobs=service), sleep=clock.sleep)
    out = io.StringIO()
    result = follow(session, "ftjob-1", display=PlainDisplay(out, clock=clock.now), record=False)
    return result, out.getvalue()


def test_a_ten_minute_job_is_polled_and_logged_sparingly() -> None:
    clock = Clock()
    service = TimedService(clock)
    result, text = timed_watch(service, clock)
    assert result.status is JobStatus.SUCCEEDED
    # queued: 2, 3, 4.5, 6.75, 10.1 s; running (from t=26.4): 10, 15, 22.5, then every 30 s up to t=620
    assert result.polls == 28 and service.retrieves == 28
    status_lines = [ln for ln in text.splitlines() if ln.startswith("ftjob-1: ")]
    # queued, running, then at most one line per 30 s while only the loss changes, and succeeded
    assert len(status_lines) <= 2 + 600 // 30 + 1
    assert status_lines[0].startswith("ftjob-1: queued") and status_lines[-1].startswith("ftjob-1: succeeded")
    # every checkpoint event line is still printed, exactly once
    checkpoints = [ln for ln in text.splitlines() if "Checkpoint" in ln]
    assert len(checkpoints) == len(set(checkpoints)) == sum(1 for e in service.events if e.type == "message")


def test_a_burst_of_events_between_polls_is_paged_not_lost() -> None:
    clock = Clock()
    service = TimedService(clock, burst=120)  # 121 new events per running poll: three pages of 50
    result, text = timed_watch(service, clock)
    messages = [e.message for e in service.events if e.type == "message"]
    assert len(messages) == 120 * 22  # 22 running polls (see the test above)
    for m in messages:
        assert text.count(m + "\n") == 1, m
    assert [e.message for e in result.events if e.type == "message"] == messages  # oldest first
    # 5 queued polls read one (empty) page; each running poll reads pages until it meets an event it has
    # seen or the list ends: 50 + 50 + 21 new = 3 pages; the final poll stops on its first, seen, event
    assert service.event_calls == 5 + 22 * 3 + 1


def test_plain_display_status_line_rules() -> None:
    clock = Clock()
    out = io.StringIO()
    d = PlainDisplay(out, every=30, clock=clock.now)
    d.update(job_id="j", status="running", elapsed=0, loss="1.0")
    clock.t = 10
    d.update(job_id="j", status="running", elapsed=10, loss="0.9")  # loss only, < 30 s: no line
    clock.t = 31
    d.update(job_id="j", status="running", elapsed=31, loss="0.8")  # >= 30 s since the last line
    clock.t = 32
    d.update(job_id="j", status="paused", elapsed=32, loss="0.8")  # status change: at once
    clock.t = 100
    d.update(job_id="j", status="paused", elapsed=100, loss="0.8")  # nothing changed: no line
    lines = out.getvalue().splitlines()
    assert [ln.split("  ")[0] for ln in lines] == ["j: running", "j: running", "j: paused"]
    assert "train loss 0.8" in lines[1]
