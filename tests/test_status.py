"""The one status vocabulary: Azure's and OpenAI's words map onto JobStatus / FileStatus."""

from __future__ import annotations

import pytest

from jobs.status import FileStatus, JobStatus, normalise, normalise_file


@pytest.mark.parametrize("raw, expected", [
    # Azure (dated API, FineTuningState) and older Azure spellings
    ("created", JobStatus.QUEUED), ("pending", JobStatus.QUEUED), ("notRunning", JobStatus.QUEUED),
    ("running", JobStatus.RUNNING), ("pausing", JobStatus.PAUSING), ("paused", JobStatus.PAUSED),
    ("resuming", JobStatus.RESUMING), ("succeeded", JobStatus.SUCCEEDED), ("failed", JobStatus.FAILED),
    ("cancelled", JobStatus.CANCELLED), ("canceled", JobStatus.CANCELLED), ("Canceling", JobStatus.CANCELLING),
    # OpenAI / v1
    ("validating_files", JobStatus.VALIDATING), ("queued", JobStatus.QUEUED), ("Succeeded", JobStatus.SUCCEEDED),
    ("NOT_RUNNING", JobStatus.QUEUED),
    # unknown words do not crash
    ("exploded", JobStatus.UNKNOWN), (None, JobStatus.UNKNOWN), ("", JobStatus.UNKNOWN),
])
def test_job_status_vocabularies(raw: object, expected: JobStatus) -> None:
    assert normalise(raw) is expected


def test_terminal_and_ok() -> None:
    assert {s for s in JobStatus if s.terminal} == {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED}
    assert JobStatus.SUCCEEDED.ok and not JobStatus.FAILED.ok
    assert not JobStatus.PAUSED.terminal  # paused is a state to report, not an end


def test_status_renders_as_word() -> None:
    assert str(JobStatus.PAUSED) == "paused"
    assert f"{normalise('canceled')}" == "cancelled"


@pytest.mark.parametrize("raw, expected", [
    ("uploaded", FileStatus.PROCESSING), ("pending", FileStatus.PROCESSING), ("running", FileStatus.PROCESSING),
    ("processed", FileStatus.PROCESSED), ("error", FileStatus.ERROR), ("deleted", FileStatus.DELETED),
    ("deleting", FileStatus.DELETED), ("weird", FileStatus.UNKNOWN),
])
def test_file_status(raw: str, expected: FileStatus) -> None:
    assert normalise_file(raw) is expected
    assert normalise_file(raw).terminal == (expected in (FileStatus.PROCESSED, FileStatus.ERROR, FileStatus.DELETED))
