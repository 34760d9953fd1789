"""How many threads the local model's torch work gets on this machine, and how OpenMP waits. No torch here."""

from __future__ import annotations

import os
import time
from collections.abc import MutableMapping

# The environment a process serving the local model should start with (emulator/local/serve.py, default_threads):
# OpenMP's threads spin at most 1000 rounds before they sleep (libgomp's GOMP_SPINCOUNT; it overrides
# OMP_WAIT_POLICY). Serving only: torch's training is slower with it (2 threads, one epoch of the lab's data on
# the idle 2-core machine: 36.7 s without, 57.9 s with; docs/benchmarks.md), so a training worker drops it.
RUNTIME_ENV = {"GOMP_SPINCOUNT": "1000"}


def drop_serving_env(environ: MutableMapping[str, str]) -> None:
    """Remove what :data:`RUNTIME_ENV` set from a training worker's own environment, before torch loads libgomp
    (a spawned worker inherits the serving process's environment; libgomp reads it once, when it loads)."""
    for name, value in RUNTIME_ENV.items():
        if environ.get(name) == value:
            del environ[name]


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def default_threads(sample_seconds: float = 0.5) -> int:
    """The cores this process may use minus those other processes keep busy, at least 1. On a 2-core machine:
    2 when idle, 1 when another process holds a core. OpenMP threads that share a core with another busy
    process wait on each other, which costs more than the thread gains (docs/benchmarks.md, local training).

    Busy cores are measured now (``/proc/stat`` over ``sample_seconds``), not from the 1-minute load average:
    that lags by a minute (the emulator's own model loading and start-up probe, just finished, counted as
    busy) and on this VM never falls below about 1 even when idle."""
    cores = usable_cores()
    busy = busy_cores(sample_seconds)
    if busy is None:
        try:
            busy = os.getloadavg()[0]
        except OSError:
            busy = 0.0
    return max(1, min(cores, cores - int(busy + 0.5)))


def _cpu_times() -> tuple[int, int] | None:
    """(idle, total) jiffies of all CPUs since boot (Linux ``/proc/stat``), None elsewhere."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    values = [int(v) for v in fields[1:8]]  # user nice system idle iowait irq softirq
    return values[3] + values[4], sum(values)


def busy_cores(sample_seconds: float) -> float | None:
    """How many cores were busy (all processes) over the next ``sample_seconds``; None without ``/proc/stat``."""
    before = _cpu_times()
    if before is None:
        return None
    time.sleep(sample_seconds)
    after = _cpu_times()
    if after is None or after[1] <= before[1]:
        return None
    idle = (after[0] - before[0]) / (after[1] - before[1])
    return (1.0 - idle) * (os.cpu_count() or 1)


def has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX): then bf16 training is about 2-3x
    faster than float32 here (docs/benchmarks.md); without it bf16 is emulated and slower."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False
