"""``python -m jobs`` in tests: in-process through click's runner, or as a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.clients import PLACEHOLDER_TOKEN
from tests.support.fake_pulumi import HOME_ENV, FakePulumi, path_without_pulumi
from tests.support.paths import REPO


@dataclass
class CliOutcome:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


def invoke_cli(*args: str, input: str | None = None) -> CliOutcome:
    """``python -m jobs ARGS`` in this process (click's CliRunner), stdout and stderr apart."""
    from click.testing import CliRunner

    from jobs.cli import cli

    res = CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)
    return CliOutcome(res.exit_code, res.stdout, res.stderr)


def run_jobs_process(args: list[str], *, env: dict[str, str] | None = None, timeout: float = 60,
                     kill_after: float | None = None, cwd: str | os.PathLike[str] | None = None) -> CliOutcome:
    """``python -m jobs ARGS`` as a subprocess; ``kill_after`` seconds → SIGKILL (exit -9)."""
    full_env = {**os.environ, **(env or {}), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "jobs", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=full_env, cwd=cwd)
    try:
        if kill_after is not None:
            try:
                out, err = proc.communicate(timeout=kill_after)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                out, err = proc.communicate(timeout=timeout)
        else:
            out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return CliOutcome(proc.returncode, out, err)


def stack_env(url: str, state_dir: Path, *, pulumi: FakePulumi | None = None, **extra: str) -> dict[str, str]:
    """Environment for ``python -m jobs ...`` against the emulator: placeholder token, private state, and the
    stand-in ``pulumi`` (or none at all)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("AZURE_OPENAI_API_KEY", "FTJOBS_API", "OPENAI_API_VERSION", "FTJOBS_STACK", "CI_TTY",
                        HOME_ENV)}
    env.update({
        "AZURE_OPENAI_ENDPOINT": url,
        "AZURE_OPENAI_AD_TOKEN": PLACEHOLDER_TOKEN,
        "FTJOBS_STATE_DIR": str(state_dir),
        "PATH": path_without_pulumi(),
        "PYTHONUNBUFFERED": "1",
    })
    if pulumi is not None:
        env.update(pulumi.env)
    env.update(extra)
    return env


MARKER_ENV = "FTJOBS_TEST_PROCESS_MARKER"  # read by nobody: it marks a test's processes and their children


def processes_marked(marker: str) -> list[int]:
    """The live processes whose environment carries ``MARKER_ENV=marker`` (a process started with it, and
    every child that inherited it), from /proc."""
    needle = f"{MARKER_ENV}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if needle in environ.split(b"\0") and state != "Z":
            found.append(int(entry.name))
    return found
