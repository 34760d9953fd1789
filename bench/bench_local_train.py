"""Benchmark the local backend's trainer (figures in docs/benchmarks.md, "Local training").

    .venv/bin/python bench/bench_local_train.py [--epochs 3] [--threads N] [--batch-size 4] [--no-validation]
        [--no-share-prefix] [--precision auto|bf16|fp32] [--cache-dir DIR]
        [--workdir DIR] [--json bench/out/local-train.json]

Needs ``make install-local``. Trains SmolLM2-135M-Instruct with the trainer's defaults (LoRA r=16 on all seven
projections, lr 1e-3) on data/travel-train.jsonl (62 examples; with data/travel-validation.jsonl as the
validation file unless --no-validation) in a worker process, exactly as the emulator does, and reports:
load time (start to the ``started`` line: imports, base model, encoding), seconds per epoch (between
checkpoint lines), the mean train loss per epoch, the full validation loss per epoch, and the worker's peak
RSS. The machine's load average is printed before and after: on a shared machine, say so next to the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from emulator.local import progress, worker  # noqa: E402
from emulator.local.trainspec import TrainSpec, read_jsonl  # noqa: E402


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: the trainer's choice)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--no-validation", action="store_true")
    parser.add_argument("--no-share-prefix", action="store_true", help="the plain padded batch, for comparison")
    parser.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "ff-local-model-cache")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="train here and keep it (the adapter: checkpoints/step-N/adapter); default: a temp dir")
    return parser.parse_args()


def _summary(lines: list[dict[str, Any]], started_at: float) -> dict[str, Any]:
    started = next(x for x in lines if x["type"] == "started")
    steps = [x for x in lines if x["type"] == "step"]
    marks = [started["time"]] + [x["time"] for x in lines if x["type"] == "checkpoint"]
    epochs = sorted({s["epoch"] for s in steps})
    return {
        "load_seconds": round(started["time"] - started_at, 1),
        "threads": started["threads"],
        "precision": started["precision"],
        "seconds_per_epoch": [round(b - a, 1) for a, b in zip(marks, marks[1:])],
        "train_loss_per_epoch": [round(sum(s["train_loss"] for s in steps if s["epoch"] == e)
                                       / sum(1 for s in steps if s["epoch"] == e), 3) for e in epochs],
        "full_valid_loss_per_epoch": [s["full_valid_loss"] for s in steps if s["full_valid_loss"] is not None],
        "tokens_per_epoch": sum(s["tokens"] for s in steps if s["epoch"] == 1),
    }


def main() -> int:
    args = _args()
    data = REPO / "data"
    spec = TrainSpec(training=read_jsonl(data / "travel-train.jsonl"),
                     validation=None if args.no_validation else read_jsonl(data / "travel-validation.jsonl"),
                     n_epochs=args.epochs, batch_size=args.batch_size, threads=args.threads,
                     share_prefix=not args.no_share_prefix, precision=args.precision,
                     cache_dir=str(args.cache_dir))
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-local-train-") as tmp:
        workdir = args.workdir or Path(tmp)
        if (workdir / progress.PROGRESS_FILE).exists():
            print(f"{workdir} holds an earlier run; name an empty --workdir", file=sys.stderr)
            return 2
        started_at = time.time()
        worker.start(spec, workdir, nice=0).wait()
        lines = [json.loads(x) for x in (workdir / progress.PROGRESS_FILE).read_text().splitlines()]
    if lines[-1]["type"] != "done":
        print(f"training did not finish: {lines[-1]}", file=sys.stderr)
        return 1
    result = {**_summary(lines, started_at), "batch_size": args.batch_size, "validation": not args.no_validation,
              "share_prefix": not args.no_share_prefix,
              "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
              "load_average_before": [round(x, 2) for x in load_before],
              "load_average_after": [round(x, 2) for x in os.getloadavg()],
              "cpus": len(os.sched_getaffinity(0)), "machine": platform.processor() or platform.machine()}
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
