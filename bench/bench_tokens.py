#!/usr/bin/env python3
"""Token counting on long runs of text without spaces (issue 21, item 1).

    .venv/bin/python bench/bench_tokens.py [--chars 100000]

One such run is a single piece for the byte-pair merge. For each kind of run, prints the time of
``jobs.tokens.TokenCounter.count`` (the Python counter the validator and the emulator use) and of tiktoken's
Rust ``encode_ordinary``, and checks that the counts agree. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jobs import tokens  # noqa: E402

RUNS = {
    "lowercase": lambda rnd, n: "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n)),
    "one letter": lambda rnd, n: "a" * n,
    "base64": lambda rnd, n: "".join(rnd.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
                                     for _ in range(n)),
    "cjk": lambda rnd, n: "".join(chr(rnd.randint(0x4E00, 0x9FFF)) for _ in range(n)),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, action="append", help="run length (repeatable; default 8000, 100000)")
    args = parser.parse_args()
    enc = tokens.get_encoding("o200k_base")
    print(f"{'run':<12} {'chars':>8} {'tokens':>8} {'counter s':>10} {'tiktoken s':>11}")
    for n in args.chars or [8_000, 100_000]:
        for kind, make in RUNS.items():
            text = make(random.Random(kind), n)
            counter = tokens.TokenCounter()
            start = time.perf_counter()
            got = counter.count(text)
            ours = time.perf_counter() - start
            start = time.perf_counter()
            want = len(enc.encode_ordinary(text))
            theirs = time.perf_counter() - start
            if got != want:
                print(f"MISMATCH on {kind} x {n}: {got} != {want}")
                return 1
            print(f"{kind:<12} {n:>8} {got:>8} {ours:>10.3f} {theirs:>11.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
