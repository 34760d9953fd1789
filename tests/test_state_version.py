"""The run state's ``version`` (issue 21, item 5): a state written by a newer version of the project is refused
with the file and the fix, and left as it is; a version that is not a whole number is a wrong shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jobs.errors import UsageError
from jobs.state import SCHEMA_VERSION, RunState


def _write(folder: Path, data: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "dev.json"
    path.write_text(json.dumps(data))
    return path


def test_a_newer_state_is_refused_and_kept(runner_env: Path, jobs_cli: Any) -> None:
    newer = {"version": SCHEMA_VERSION + 98, "stack": "dev", "jobs": {"k": {"job_id": "ftjob-new"}},
             "latest_job": "ftjob-new", "checkpoints": {"meaning": "unknown here"}}
    path = _write(runner_env, newer)
    before = path.read_bytes()
    out = jobs_cli("status", "--endpoint", "http://127.0.0.1:9")
    assert out.exit_code == 2, out.stderr
    assert (f"error: run state {path} has version {SCHEMA_VERSION + 98}, newer than this project's "
            f"{SCHEMA_VERSION}") in out.stderr
    assert "fix: update this checkout" in out.stderr and "Traceback" not in out.stderr
    with pytest.raises(UsageError, match="newer than this project's"):
        RunState("dev").update(lambda data: data.update(latest_job="ftjob-old"))
    assert path.read_bytes() == before  # never mixed with this version's keys


@pytest.mark.parametrize("version", ['"1"', "1.5", "0", "-3", "true", "[1]"])
def test_a_version_that_is_not_a_whole_number_is_a_wrong_shape(version: str, runner_env: Path) -> None:
    runner_env.mkdir(parents=True, exist_ok=True)
    (runner_env / "dev.json").write_text(f'{{"version": {version}}}')
    with pytest.raises(UsageError, match='has the wrong shape: "version" is') as info:
        RunState("dev").load()
    assert "move it aside" in (info.value.hint or "")


@pytest.mark.parametrize("version", [None, 1, SCHEMA_VERSION])
def test_this_and_older_versions_load(version: int | None, runner_env: Path) -> None:
    data: dict[str, Any] = {"stack": "dev", "latest_job": "ftjob-1"}
    if version is not None:
        data["version"] = version
    _write(runner_env, data)
    assert RunState("dev").load()["latest_job"] == "ftjob-1"
