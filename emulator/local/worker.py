"""A local training run in its own process, so the emulator's server keeps answering while it trains.

    w = worker.start(spec, workdir)   # a spawned process runs train.run(spec, workdir)
    w.alive(); w.state()              # starting | running | stopped | done | failed | crashed
    w.stop(timeout=120)               # ask it to stop after its current step; kill it if it has not by then
    worker.start(spec, workdir)       # the same spec again: resumes from the newest saved state

The process is started with the ``spawn`` context (a fresh interpreter: nothing of the server's threads or
locks is inherited, and torch is imported there, not in the server), at a lower CPU priority (``nice``) so
the server's answers come first. No torch is imported in the calling process.
"""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import Any, Callable

from emulator.local import cpu, progress
from emulator.local.trainspec import TrainSpec

Target = Callable[[TrainSpec, Path], Any]
NICE = 5  # the worker's CPU priority below the server's
KILL_GRACE = 10.0  # seconds between terminate (SIGTERM) and kill (SIGKILL)


def _child(target: Target | None, spec: TrainSpec, workdir: Path, nice: int) -> None:
    cpu.drop_serving_env(os.environ)  # this new process's own start-up, before torch loads libgomp
    if nice:
        try:
            os.nice(nice)
        except OSError:
            pass
    if target is None:
        from emulator.local import train

        line = train.run(spec, workdir)
    else:
        line = target(spec, workdir)
    raise SystemExit(1 if isinstance(line, dict) and line.get("type") == "failed" else 0)


class Worker:
    """One worker process and its workdir."""

    def __init__(self, process: Any, workdir: Path) -> None:
        self.process = process
        self.workdir = workdir

    @property
    def pid(self) -> int | None:
        pid: int | None = self.process.pid
        return pid

    @property
    def exitcode(self) -> int | None:
        code: int | None = self.process.exitcode
        return code

    def alive(self) -> bool:
        return bool(self.process.is_alive())

    def state(self) -> str:
        return state(self.workdir, self.alive())

    def request_stop(self) -> None:
        progress.request_stop(self.workdir)

    def wait(self, timeout: float | None = None) -> bool:
        """True when the process has ended within ``timeout`` seconds."""
        self.process.join(timeout)
        return not self.alive()

    def stop(self, timeout: float = 120.0) -> bool:
        """Ask the worker to stop at its next step boundary and wait up to ``timeout`` seconds; past that, kill
        it (the run then resumes from its last epoch checkpoint). True when it stopped cleanly."""
        if not self.alive():
            return True
        self.request_stop()
        if self.wait(timeout):
            return True
        self.kill()
        return False

    def kill(self) -> None:
        """End the process now: SIGTERM, then SIGKILL after a grace period."""
        self.process.terminate()
        if not self.wait(KILL_GRACE):
            self.process.kill()
            self.process.join(KILL_GRACE)


def start(spec: TrainSpec, workdir: Path, target: Target | None = None, nice: int = NICE) -> Worker:
    """Start (or resume) the run of ``workdir`` in a new process. A stop request left from an earlier worker is
    cleared first. ``target`` replaces :func:`emulator.local.train.run` (a module-level function: the spawned
    process imports it), for tests."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    progress.clear_stop(workdir)
    writer = progress.ProgressWriter(workdir)
    writer.write("launched")
    writer.close()
    context = multiprocessing.get_context("spawn")
    process = context.Process(target=_child, args=(target, spec, workdir, nice), name=f"train:{workdir.name}",
                              daemon=True)
    process.start()
    return Worker(process, workdir)


def state(workdir: Path, alive: bool) -> str:
    """What a workdir's run is doing: new (never started) | starting | running | stopped | done | failed |
    crashed (the process is gone without a last line: killed, or the machine ran out of memory)."""
    folded = progress.read(workdir).state
    if folded in ("starting", "running") and not alive:
        return "crashed"
    return folded
