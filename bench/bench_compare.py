"""Benchmark ``python -m jobs compare`` against the emulator (figures in docs/compare.md, "Benchmark").

    .venv/bin/python bench/bench_compare.py [--tpm 100000] [--concurrency 16] [--json bench/out/compare.json]

Setup: the emulator as its own process (``python -m jobs emulator``), latency 200 ms + 5 ms per completion
token, a tokens-per-minute limit per deployment (RPM: Azure's 6 per 1000 TPM); a model fine-tuned on
data/travel-train.jsonl as the tuned deployment. Workload: the default suite (data/compare-suite.yaml) x 2
variants (base, tuned) x 3 repeats.

Three runs, one after the other (the emulator's rate windows are reset between them):

1. ``sequential``: a loop calling the SDK once per turn (the conversations' history fed back), nothing else;
2. ``compare``: ``python -m jobs compare --concurrency N``;
3. ``compare+faults``: the same with 10% of the chat requests failing (429 with Retry-After, 500, 503).

The lower bound of a run is the larger of the rate bound (per deployment: its tokens / TPM and its requests /
RPM, in minutes) and the latency bound at the allowed concurrency (the longest conversation's latencies in a
row, or all latencies spread over N workers), computed from the rows of run 2 and the emulator's settings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import selectors
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

FIXED_MS, PER_TOKEN_MS = 200.0, 5.0
REPEAT = 3
TUNED = "gpt-4.1-ft-travel"
KEY = "bench-key-not-secret"
FAULTS = {"rate": 0.1, "kinds": ["429", "500", "503"], "seed": 7, "routes": ["/deployments"],
          "retry_after_seconds": 1.0}


def start_emulator(state: Path, tpm: int) -> tuple[subprocess.Popen[str], str]:
    config = state.parent / "emulator.json"
    capacity = tpm // 1000
    config.write_text(json.dumps({"file_processing_seconds": 0.2, "queue_seconds": 0.2, "training_seconds": 1.0,
                                  "deployments": {"gpt-4.1": {"model": "gpt-4.1", "capacity": capacity}}}))
    proc = subprocess.Popen([sys.executable, "-m", "jobs", "emulator", "--port", "0", "--state-dir", str(state),
                             "--config", str(config)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    line = proc.stdout.readline() if sel.select(30) else ""
    if not line.startswith("emulator listening on "):
        proc.kill()
        raise SystemExit(f"the emulator did not start: {line!r}")
    return proc, line.split()[-1]


def fine_tune(url: str, tpm: int) -> None:
    import openai

    client = openai.AzureOpenAI(azure_endpoint=url, api_key=KEY, api_version="2025-04-01-preview")
    with open(REPO / "data" / "travel-train.jsonl", "rb") as fh:
        f = client.files.create(file=fh, purpose="fine-tune")
    while client.files.retrieve(f.id).status != "processed":
        time.sleep(0.1)
    job = client.fine_tuning.jobs.create(model="gpt-4.1-2025-04-14", training_file=f.id, suffix="ft-travel")
    while job.status not in ("succeeded", "failed", "cancelled"):
        time.sleep(0.2)
        job = client.fine_tuning.jobs.retrieve(job.id)
    assert job.status == "succeeded", job
    resp = httpx.post(f"{url}/++/deployments", json={"name": TUNED, "model": job.fine_tuned_model,
                                                     "capacity": tpm // 1000})
    assert resp.status_code == 201, resp.text


def configure(url: str, **changes: Any) -> None:
    body = {**changes, "limits": {"enabled": True}}  # naming limits resets the rate windows
    assert httpx.patch(f"{url}/++/config", json=body).status_code == 200


def sequential(url: str) -> dict[str, Any]:
    """The plain way: one SDK call per turn, one after the other."""
    import openai

    from jobs import lab
    from jobs.compare.suite import default_suite_path, load_suite

    client = openai.AzureOpenAI(azure_endpoint=url, api_key=KEY, api_version="2025-04-01-preview", max_retries=8)
    suite = load_suite(default_suite_path())
    calls = 0
    started = time.monotonic()
    for case in suite.cases:
        for deployment in ("gpt-4.1", TUNED):
            for _ in range(REPEAT):
                history: list[dict[str, str]] = [{"role": "system", "content": lab.SYSTEM_PROMPT}]
                for turn in case.turns:
                    history.append({"role": "user", "content": turn})
                    answer = client.chat.completions.create(model=deployment, messages=history)  # type: ignore[arg-type]
                    history.append({"role": "assistant", "content": answer.choices[0].message.content or ""})
                    calls += 1
    return {"wall_s": round(time.monotonic() - started, 2), "calls": calls}


def compare(url: str, state: Path, out: Path, concurrency: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "AZURE_OPENAI_API_KEY": KEY, "FTJOBS_STATE_DIR": str(state),
           "CI": "1"}
    env.pop("AZURE_OPENAI_ENDPOINT", None)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "jobs", "compare", "--endpoint", url, "--base-deployment", "gpt-4.1",
                           "--tuned-deployment", TUNED, "--repeat", str(REPEAT), "--concurrency", str(concurrency),
                           "--out", str(out), "--json"], cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"compare failed ({proc.returncode}): {proc.stderr[-2000:]}")
    report = json.loads((out / "report.json").read_text())
    return {"wall_s": round(wall, 2), "report": report, "retries": proc.stderr.count("retry: "),
            "failed_rows": sum(1 for r in report["rows"] if r["error"] is not None),
            "verdict": report["verdict"]["better"], "summary": report["summary"]}


def bounds(report: dict[str, Any], tpm: int, concurrency: int) -> dict[str, float]:
    rpm = tpm * 6 // 1000
    rate = 0.0
    for v in report["variants"]:
        rows = [r for r in report["rows"] if r["variant"] == v["name"]]
        tokens = sum(int(r["usage"].get("total_tokens") or 0) for r in rows)
        rate = max(rate, tokens / tpm * 60, len(rows) / rpm * 60)
    latency = {id(r): (FIXED_MS + PER_TOKEN_MS * int(r["usage"].get("completion_tokens") or 0)) / 1000
               for r in report["rows"]}
    chains: dict[tuple[str, str, int], float] = {}
    for r in report["rows"]:
        key = (r["case_id"], r["variant"], r["repeat"])
        chains[key] = chains.get(key, 0.0) + latency[id(r)]
    latency_bound = max(max(chains.values()), sum(latency.values()) / concurrency)
    return {"rate_bound_s": round(rate, 2), "latency_bound_s": round(latency_bound, 2),
            "lower_bound_s": round(max(rate, latency_bound), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tpm", type=int, default=100_000, help="tokens per minute per deployment")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--json", type=Path, default=REPO / "bench" / "out" / "compare.json")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    proc, url = start_emulator(work / "emulator", args.tpm)
    try:
        fine_tune(url, args.tpm)
        configure(url, latency={"fixed_ms": FIXED_MS, "per_token_ms": PER_TOKEN_MS})
        seq = sequential(url)
        configure(url)
        clean = compare(url, work / "state-clean", work / "report-clean", args.concurrency)
        configure(url, faults=FAULTS)
        faulty = compare(url, work / "state-faults", work / "report-faults", args.concurrency)
    finally:
        proc.kill()
        proc.wait()
    b = bounds(clean["report"], args.tpm, args.concurrency)
    rows = len(clean["report"]["rows"])
    result = {
        "date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}, {platform.system()}",
        "setup": {"latency": f"{FIXED_MS:g} ms + {PER_TOKEN_MS:g} ms per completion token", "tpm": args.tpm,
                  "rpm": args.tpm * 6 // 1000, "concurrency": args.concurrency, "rows": rows, "repeat": REPEAT},
        **b,
        "sequential_s": seq["wall_s"], "sequential_calls": seq["calls"],
        "compare_s": clean["wall_s"], "compare_vs_bound": round(clean["wall_s"] / b["lower_bound_s"], 3),
        "speedup_vs_sequential": round(seq["wall_s"] / clean["wall_s"], 2),
        "faults": {"injected": FAULTS, "wall_s": faulty["wall_s"], "retries": faulty["retries"],
                   "failed_rows": faulty["failed_rows"], "same_verdict": faulty["verdict"] == clean["verdict"],
                   "same_summary": faulty["summary"] == clean["summary"]},
        "clean_failed_rows": clean["failed_rows"], "clean_retries": clean["retries"],
        "pacing": clean["report"]["provenance"].get("pacing"),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "pacing"}, indent=2))


if __name__ == "__main__":
    main()
