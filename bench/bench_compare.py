"""Benchmark ``python -m jobs compare`` against the emulator (figures in docs/benchmarks.md and docs/compare.md,
"Benchmark").

    .venv/bin/python bench/bench_compare.py [--tpm 100000] [--concurrency N] [--sequential-full]
                                            [--json bench/out/compare.json]

Setup: the emulator as its own process (``python -m jobs emulator``), latency 200 ms + 5 ms per completion
token, a tokens-per-minute limit per deployment (RPM: Azure's 6 per 1000 TPM); a model fine-tuned on
data/travel-train.jsonl as the tuned deployment. ``compare`` runs with its defaults (the concurrency adapts
to the deployments' limits; ``--concurrency N`` passes a cap instead).

The runs, one after the other (the emulator's rate windows are reset between them):

1. 40 requests (the default suite's first 20 one-turn cases x base, tuned x 1 repeat), side by side:
   ``sequential-40``, a loop calling the SDK once per request, and ``compare-40``;
2. ``compare``: the default suite (data/compare-suite.yaml) x 2 variants x 3 repeats, against its lower bound;
3. ``compare+faults``: the same with 10% of the chat requests failing (429 with Retry-After, 500, 503);
4. with ``--sequential-full``: the SDK loop on run 2's workload too (one call per turn, the history fed back).

The lower bound of run 2 is the larger of the rate bound (per deployment: its tokens / TPM and its requests /
RPM, in minutes) and the latency bound at the allowed concurrency (the longest conversation's latencies in a
row, or all latencies spread over the cap), computed from its rows and the emulator's settings. Each result
names the machine's load (``os.getloadavg``) before and after: the machine may be shared.
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
SMALL_CASES = 20  # x 2 variants x 1 repeat = 40 requests
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


def small_suite(path: Path) -> Path:
    """The default suite's first 20 one-turn cases, as a suite file: 40 requests for the pair, once each."""
    import yaml

    from jobs.compare.suite import default_suite_path

    data = yaml.safe_load(default_suite_path().read_text(encoding="utf-8"))
    cases = [c for c in data["cases"] if len(c.get("turns") or []) == 1][:SMALL_CASES]
    path.write_text(yaml.safe_dump({**data, "suite": "compare-suite-40", "cases": cases}), encoding="utf-8")
    return path


def sequential(url: str, suite_path: Path | None = None, repeat: int = REPEAT) -> dict[str, Any]:
    """The plain way, as its own process (importing the SDK included, as compare's process imports it): a loop
    of one SDK call per turn, one after the other."""
    started = time.monotonic()
    proc = subprocess.run([sys.executable, __file__, "--loop", url, str(suite_path or ""), str(repeat)], cwd=REPO,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    if proc.returncode != 0:
        raise SystemExit(f"the sequential loop failed: {proc.stderr[-2000:]}")
    return {"wall_s": round(time.monotonic() - started, 2), "calls": json.loads(proc.stdout)["calls"]}


def loop(url: str, suite_path: Path | None, repeat: int) -> dict[str, Any]:
    """The sequential loop itself (``--loop``)."""
    import openai

    from jobs import lab
    from jobs.compare.suite import default_suite_path, load_suite

    client = openai.AzureOpenAI(azure_endpoint=url, api_key=KEY, api_version="2025-04-01-preview", max_retries=8)
    suite = load_suite(suite_path or default_suite_path())
    calls = 0
    started = time.monotonic()
    for case in suite.cases:
        for deployment in ("gpt-4.1", TUNED):
            for _ in range(repeat):
                history: list[dict[str, str]] = [{"role": "system", "content": lab.SYSTEM_PROMPT}]
                for turn in case.turns:
                    history.append({"role": "user", "content": turn})
                    answer = client.chat.completions.create(model=deployment, messages=history)  # type: ignore[arg-type]
                    history.append({"role": "assistant", "content": answer.choices[0].message.content or ""})
                    calls += 1
    return {"wall_s": round(time.monotonic() - started, 2), "calls": calls}


def compare(url: str, state: Path, out: Path, concurrency: int | None, *extra: str,
            repeat: int = REPEAT) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "AZURE_OPENAI_API_KEY": KEY, "FTJOBS_STATE_DIR": str(state),
           "CI": "1"}
    env.pop("AZURE_OPENAI_ENDPOINT", None)
    cap = ["--concurrency", str(concurrency)] if concurrency else []
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "jobs", "compare", "--endpoint", url, "--base-deployment", "gpt-4.1",
                           "--tuned-deployment", TUNED, "--repeat", str(repeat), *cap, *extra,
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


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def main() -> None:
    if sys.argv[1:2] == ["--loop"]:
        url, suite, repeat = sys.argv[2:5]
        print(json.dumps(loop(url, Path(suite) if suite else None, int(repeat))))
        return
    from jobs.compare.plan import MAX_CONCURRENCY

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tpm", type=int, default=100_000, help="tokens per minute per deployment")
    ap.add_argument("--concurrency", type=int, default=None, help="pass compare a cap (default: none, adaptive)")
    ap.add_argument("--sequential-full", action="store_true", help="also the SDK loop on the whole workload")
    ap.add_argument("--json", type=Path, default=REPO / "bench" / "out" / "compare.json")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    load_before = load()
    proc, url = start_emulator(work / "emulator", args.tpm)
    try:
        fine_tune(url, args.tpm)
        configure(url, latency={"fixed_ms": FIXED_MS, "per_token_ms": PER_TOKEN_MS})
        suite40 = small_suite(work / "suite-40.yaml")
        seq40 = sequential(url, suite40, repeat=1)
        configure(url)
        small = compare(url, work / "state-40", work / "report-40", args.concurrency, "--suite", str(suite40),
                        repeat=1)
        configure(url)
        clean = compare(url, work / "state-clean", work / "report-clean", args.concurrency)
        configure(url, faults=FAULTS)
        faulty = compare(url, work / "state-faults", work / "report-faults", args.concurrency)
        seq = None
        if args.sequential_full:
            configure(url, faults={"rate": 0.0})
            seq = sequential(url)
    finally:
        proc.kill()
        proc.wait()
    cap = args.concurrency or MAX_CONCURRENCY
    b = bounds(clean["report"], args.tpm, cap)
    rows = len(clean["report"]["rows"])
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": f"{platform.machine()}, "
        f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}, {platform.system()}",
        "load_average_before": load_before, "load_average_after": load(),
        "setup": {"latency": f"{FIXED_MS:g} ms + {PER_TOKEN_MS:g} ms per completion token", "tpm": args.tpm,
                  "rpm": args.tpm * 6 // 1000, "concurrency": args.concurrency or f"adaptive (cap {cap})",
                  "rows": rows, "repeat": REPEAT},
        "requests_40": {"sequential_s": seq40["wall_s"], "calls": seq40["calls"], "compare_s": small["wall_s"],
                        "rows": len(small["report"]["rows"]), "failed_rows": small["failed_rows"],
                        "speedup_vs_sequential": round(seq40["wall_s"] / small["wall_s"], 2),
                        "pacing": small["report"]["provenance"].get("pacing")},
        **b,
        "compare_s": clean["wall_s"], "compare_vs_bound": round(clean["wall_s"] / b["lower_bound_s"], 3),
        "compare_vs_rate_bound": round(clean["wall_s"] / b["rate_bound_s"], 3),
        "faults": {"injected": FAULTS, "wall_s": faulty["wall_s"], "retries": faulty["retries"],
                   "failed_rows": faulty["failed_rows"], "same_verdict": faulty["verdict"] == clean["verdict"],
                   "same_summary": faulty["summary"] == clean["summary"]},
        "clean_failed_rows": clean["failed_rows"], "clean_retries": clean["retries"],
        "latency_ms": clean["report"]["usage"],
        "pacing": clean["report"]["provenance"].get("pacing"),
    }
    if seq is not None:
        result.update(sequential_s=seq["wall_s"], sequential_calls=seq["calls"],
                      speedup_vs_sequential=round(seq["wall_s"] / clean["wall_s"], 2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("pacing", "latency_ms")}, indent=2))


if __name__ == "__main__":
    main()
