"""Shared by the checkpoint tests (tests/test_checkpoints.py, tests/test_checkpoint_selection.py): the runner's CLI
as a subprocess, and a job's checkpoints as ``python -m jobs checkpoints --json`` lists them."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.clients import FinishedJob


def jobs_cli(args: list[str], env: dict[str, str]) -> "subprocess.CompletedProcess[str]":
    return subprocess.run([sys.executable, "-m", "jobs", *args], env=env, capture_output=True, text=True, timeout=60)


def checkpoint_list(fj: FinishedJob, env: dict[str, str]) -> list[dict[str, object]]:
    proc = jobs_cli(["checkpoints", fj.job_id, "--json"], env)
    assert proc.returncode == 0, proc.stderr
    data: list[dict[str, object]] = json.loads(proc.stdout)
    return data
