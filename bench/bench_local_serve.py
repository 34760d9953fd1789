"""Benchmark the local backend's serving (figures in docs/benchmarks.md, "The local backend: serving").

    .venv/bin/python bench/bench_local_serve.py [--threads 1 2] [--transformers] [--json bench/out/local-serve.json]

Needs `make install-local`. For each thread count: the runtime's start (base GGUF loaded, ready), one stream's
first-token latency and tokens/s (greedy, 200 tokens max, three prompts), two and three concurrent streams
(aggregate tokens/s), a new adapter (a random LoRA in peft's format: conversion + runtime restart) until its
first answer, and a cancelled stream (time until the next request is served). With --transformers, the same
greedy generation through transformers (the base dequantized to float32), for the side-by-side. The machine's
load (``os.getloadavg``) is printed next to every figure: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from emulator.local.events import Piece, Request  # noqa: E402
from emulator.local.serve import LocalModels  # noqa: E402

PROMPTS = ["What should I see in Rome in two days?", "Plan a weekend in Lisbon for a family with two children.",
           "What is the best time of year to visit Kyoto, and why?"]
MAX_TOKENS = 200


def load() -> float:
    return round(os.getloadavg()[0], 2)


def one_stream(models: LocalModels, prompt: str, adapter: str | None = None) -> dict[str, float]:
    began = time.perf_counter()
    first: list[float] = []
    pieces: list[str] = []
    tokens: list[int] = []

    def emit(event: Any) -> None:
        if isinstance(event, Piece):
            if not first:
                first.append(time.perf_counter() - began)
            pieces.append(event.text)
        elif hasattr(event, "completion_tokens"):
            tokens.append(event.completion_tokens)
    models.run(Request([{"role": "user", "content": prompt}], max_tokens=MAX_TOKENS, temperature=0.0),
               adapter, emit)
    wall = time.perf_counter() - began
    generating = wall - (first[0] if first else 0.0)
    return {"first_token_s": round(first[0], 3) if first else -1.0, "tokens": tokens[-1],
            "pieces": len(pieces), "tokens_per_s": round((tokens[-1] - 1) / generating, 1) if generating else 0.0,
            "load": load()}


def concurrent(models: LocalModels, k: int) -> dict[str, float]:
    results: list[dict[str, float]] = []
    threads = [threading.Thread(target=lambda i=i: results.append(one_stream(models, PROMPTS[i % 3])))
               for i in range(k)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    return {"streams": k, "aggregate_tokens_per_s": round(sum(r["tokens"] for r in results) / wall, 1),
            "per_stream_tokens_per_s": [r["tokens_per_s"] for r in results], "load": load()}


def cancel_then_next(models: LocalModels) -> dict[str, float]:
    async def cancelled() -> None:
        count = 0
        async for _event in models.stream(Request([{"role": "user", "content": PROMPTS[0]}], max_tokens=2000)):
            count += 1
            if count == 5:
                break
    asyncio.run(cancelled())
    began = time.perf_counter()
    models.complete(Request([{"role": "user", "content": "Hi"}], max_tokens=1, temperature=0.0))
    return {"next_request_after_cancel_s": round(time.perf_counter() - began, 3), "load": load()}


def new_adapter(models: LocalModels, workdir: Path) -> dict[str, float]:
    from emulator.local.lora_gguf import write_random_adapter
    from emulator.local.weights import gguf_path

    adapter = write_random_adapter(workdir / "random-lora", gguf_path(), rank=16)
    began = time.perf_counter()
    models.add_adapter("random", adapter)
    answer = models.complete(Request([{"role": "user", "content": PROMPTS[0]}], max_tokens=8, temperature=0.0),
                             "random")
    return {"deploy_to_first_answer_s": round(time.perf_counter() - began, 2), "tokens": answer.usage.completion_tokens,
            "load": load()}


def bench_runtime(threads: int, workdir: Path) -> dict[str, Any]:
    models = LocalModels(threads=threads, workdir=workdir / f"adapters-{threads}")
    report: dict[str, Any] = {"threads": threads, "start_s": round(models.start(), 2), "load": load(),
                              "capacity_tokens_per_min": models.capacity_tokens_per_minute()}
    report["streams"] = [one_stream(models, prompt) for prompt in PROMPTS]
    report["concurrent"] = [concurrent(models, k) for k in (2, 3)]
    report["new_adapter"] = new_adapter(models, workdir)
    report["adapter_stream"] = one_stream(models, PROMPTS[0], "random")
    report["cancel"] = cancel_then_next(models)
    models.close()
    return report


def bench_transformers(threads: int) -> dict[str, Any]:
    import torch

    from emulator.local.weights import load_base

    torch.set_num_threads(threads)
    began = time.perf_counter()
    model, tokenizer = load_base()
    report: dict[str, Any] = {"threads": threads, "load_s": round(time.perf_counter() - began, 1), "streams": []}
    for prompt in PROMPTS:
        inputs = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                               return_tensors="pt", return_dict=True)
        began = time.perf_counter()
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=MAX_TOKENS, do_sample=False)
        tokens = out.shape[1] - inputs["input_ids"].shape[1]
        report["streams"].append({"tokens": tokens, "tokens_per_s": round(tokens / (time.perf_counter() - began), 1),
                                  "load": load()})
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--transformers", action="store_true", help="also time transformers' greedy generation")
    parser.add_argument("--json", type=Path, help="write the figures there")
    args = parser.parse_args()
    report: dict[str, Any] = {"cpus": os.cpu_count(), "load_before": load(),
                              "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
                              "gomp_spincount": os.environ.get("GOMP_SPINCOUNT", "(unset)")}
    with tempfile.TemporaryDirectory(prefix="bench-local-serve-") as tmp:
        report["llama_cpp"] = [bench_runtime(threads, Path(tmp)) for threads in args.threads]
    if args.transformers:
        report["transformers"] = [bench_transformers(threads) for threads in args.threads]
    report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    report["load_after"] = load()
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
