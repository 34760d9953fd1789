"""How many threads the local model's torch work gets on this machine. No torch here."""

from __future__ import annotations

import os


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """The cores this process may use minus those other processes keep busy (the 1-minute load average,
    rounded), at least 1. On a 2-core machine: 2 when idle, 1 when another process holds a core. OpenMP threads
    that share a core with another busy process wait on each other, which costs more than the thread gains
    (docs/benchmarks.md, local training)."""
    cores = usable_cores()
    try:
        busy = int(os.getloadavg()[0] + 0.5)
    except OSError:
        busy = 0
    return max(1, min(cores, cores - busy))


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
