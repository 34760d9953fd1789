"""The comparison report: ``report.json`` (versioned; ``report.schema.json`` beside this module is its JSON
Schema), and its three renderings, ``report.md`` (for a PR comment), ``report.html`` (``jobs/compare/html.py``)
and the terminal text.

:func:`build` turns a plan's rows into the report: per check and variant the pass rate with its 95% Wilson
interval (``summary``), the candidate against the baseline case by case (``paired``: wins, ties, losses and
McNemar's exact p-value), repeat stability, latency/tokens/cost per variant, the ``--fail-under`` gates and a
verdict. When the endpoint was the emulator (an answer carries the stand-in header or label), the whole
report is marked ``stand_in`` and every rendering says so; answers keep their ``[emulator stand-in]`` label.
"""

from __future__ import annotations

import html
import json
import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from jobs.atomic import write_atomic
from jobs.stand_in import STAND_IN_LABEL
from jobs.checks import CHECKS
from jobs.compare import stats
from jobs.compare.stats import p_text, pct
from jobs.compare.judge import CRITERIA
from jobs.compare.plan import CANDIDATE, Gate, Plan, Price
from jobs.errors import UsageError
from jobs.models import deployment_retirement

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("report.schema.json")
SIGNIFICANCE = 0.05
FINE_TUNING_QUESTION = "Does fine-tuning beat prompting?"
STAND_IN_NOTE = (f"every answer in this report is an {STAND_IN_LABEL} answer from the local emulator, not model "
                 "output: the figures rehearse the comparison, they say nothing about gpt-4.1")


def describe_check(name: str) -> str:
    if name in CHECKS:
        return CHECKS[name].description
    if name.startswith("judge_") and name[6:] in CRITERIA:
        return f"the judge: {CRITERIA[name[6:]]}"
    return name


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return round(ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo), 1)


def _spread(values: list[float]) -> dict[str, float | None]:
    return {"p50": _percentile(values, 0.5), "p95": _percentile(values, 0.95),
            "mean": round(statistics.fmean(values), 1) if values else None}


def usage_table(rows: list[dict[str, Any]], plan: Plan, prices: Iterable[Price]) -> dict[str, Any]:
    """variant -> calls, answers, failures, tokens, latency (the service's time: p50/p95/mean ms), queueing
    (the time waited for a pacing slot, a 429's pause or a retry's back-off, likewise) and cost (None without
    a price)."""
    price = {p.deployment: p for p in prices}
    out: dict[str, Any] = {}
    for v in plan.variants:
        mine = [r for r in rows if r["variant"] == v.name]
        sent = [r for r in mine if (r.get("error") or {}).get("kind") != "skipped"]
        latencies = [float(r["latency_ms"]) for r in sent if r.get("latency_ms") is not None]
        queued = [float(r["queued_ms"]) for r in sent if r.get("queued_ms") is not None]
        prompt = sum(int((r.get("usage") or {}).get("prompt_tokens") or 0) for r in sent)
        completion = sum(int((r.get("usage") or {}).get("completion_tokens") or 0) for r in sent)
        p = price.get(v.deployment)
        out[v.name] = {
            "calls": len(sent), "answered": sum(1 for r in mine if r.get("error") is None),
            "failed": sum(1 for r in mine if r.get("error") is not None),
            "content_filtered": sum(1 for r in mine if (r.get("error") or {}).get("kind") == "content_filter"),
            "prompt_tokens": prompt, "completion_tokens": completion,
            "latency_ms": _spread(latencies), "queued_ms": _spread(queued),
            "cost_usd": (round((prompt * p.input_per_1m + completion * p.output_per_1m) / 1e6, 6) if p else None),
        }
    return out


def question(plan: Plan, models: dict[str, str | None]) -> str:
    """The report's heading: the lab's question only when a fine-tuned model is among the variants (the ready-
    made ``tuned`` variant, or a model id of Azure's fine-tuned form ``<base>.ft-<id>``: e.g.
    ``gpt-35-turbo-0613.ft-…`` in Microsoft Learn's fine-tuning tutorial, MicrosoftDocs/azure-docs
    articles/ai-services/openai/tutorials/fine-tune.md, dated 2024-05-15)."""
    if any(v.name == CANDIDATE or ".ft-" in str(models.get(v.name) or "") for v in plan.variants):
        return FINE_TUNING_QUESTION
    if len({v.deployment for v in plan.variants}) == 1:
        return "Which system message works best?"
    return "Which variant does better?"


def gate_results(summary: dict[str, Any], candidate: str, gates: Iterable[Gate]) -> list[dict[str, Any]]:
    out = []
    for g in gates:
        cell = summary.get(candidate, {}).get(g.check) or {}
        rate = cell.get("rate")
        out.append({"check": g.check, "variant": candidate, "threshold": g.rate, "rate": rate,
                    "passed": rate is not None and rate >= g.rate})
    return out


def verdict(report: dict[str, Any]) -> dict[str, Any]:
    """Which checks the candidate wins, loses or ties (McNemar p < 0.05 and more wins than losses), and
    whether the gates passed; ``headline`` says it in one sentence."""
    base, cand = report["pair"]["baseline"], report["pair"]["candidate"]
    better, worse, same = [], [], []
    for name, p in report["paired"].items():
        if p["p_value"] < SIGNIFICANCE and p["wins"] > p["losses"]:
            better.append(name)
        elif p["p_value"] < SIGNIFICANCE and p["losses"] > p["wins"]:
            worse.append(name)
        else:
            same.append(name)

    def said(names: list[str]) -> str:
        s = report["summary"]
        return ", ".join(f"{n} ({pct(s[cand][n]['rate'])} vs {pct(s[base][n]['rate'])}, "
                         f"{p_text(report['paired'][n]['p_value'])})" for n in names)

    parts = []
    if base == cand:
        parts.append(f"only one variant ({cand}): nothing to pair")
    else:
        if better:
            parts.append(f"{cand} beats {base} on {said(better)}")
        if worse:
            parts.append(f"{cand} is worse than {base} on {said(worse)}")
        if same:
            parts.append(f"no clear difference on {', '.join(same)}")
    failed = [g for g in report["gates"] if not g["passed"]]
    if failed:
        parts.append("gate failed: " + ", ".join(f"{g['check']} {pct(g['rate'])} < {pct(g['threshold'])}"
                                                 for g in failed))
    elif report["gates"]:
        parts.append("gates passed")
    errors = sum(u["failed"] for u in report["usage"].values())
    if errors:
        parts.append(f"{errors} rows failed (see their errors)")
    headline = "; ".join(parts)
    if report["stand_in"]:
        headline = f"{STAND_IN_LABEL} {headline}"
    return {"headline": headline, "better": better, "worse": worse, "same": same, "gates_passed": not failed}


def deltas(now: dict[str, Any], then: dict[str, Any]) -> dict[str, Any]:
    """variant -> check -> {then, now, delta} for the variants and checks both summaries have."""
    out: dict[str, Any] = {}
    for variant, checks in now.items():
        for name, cell in checks.items():
            old = (then.get(variant) or {}).get(name)
            if old is None:
                continue
            delta = None if cell["rate"] is None or old.get("rate") is None else round(cell["rate"] - old["rate"], 4)
            out.setdefault(variant, {})[name] = {"then": old.get("rate"), "now": cell["rate"], "delta": delta}
    return out


@dataclass(frozen=True)
class Inputs:
    """What :func:`build` needs besides the rows."""

    run_id: str
    plan: Plan
    provenance: dict[str, Any]
    gates: tuple[Gate, ...] = ()
    prices: tuple[Price, ...] = ()
    against: dict[str, Any] | None = None  # {"run_id" or "path", "summary"}


def build(rows: list[dict[str, Any]], inputs: Inputs) -> dict[str, Any]:
    plan = inputs.plan
    names = [v.name for v in plan.variants]
    checks = plan.check_names()
    stand_in = any(r.get("stand_in") for r in rows) or any(str(r.get("answer") or "").startswith(STAND_IN_LABEL)
                                                             for r in rows)
    models = {v.name: next((r["model"] for r in rows if r["variant"] == v.name and r.get("model")), None)
              for v in plan.variants}
    summary = stats.summary(rows, names, checks)
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "run_id": inputs.run_id,
        "title": question(plan, models),
        "stand_in": stand_in,
        "stand_in_note": STAND_IN_NOTE if stand_in else None,
        "provenance": inputs.provenance,
        "variants": [{"name": v.name, "deployment": v.deployment, "model": models[v.name],
                      "retires": deployment_retirement(models[v.name]),
                      "system_sha256": v.system_sha256, "system_source": v.system_source} for v in plan.variants],
        "checks": {n: describe_check(n) for n in checks},
        "cases": [{"id": c.id, "suite": s.name, "turns": list(c.turns), "tags": list(c.tags),
                   "system_replaced": c.system is not None} for s, c in plan.cases()],
        "rows": rows,
        "summary": summary,
        "pair": {"baseline": plan.baseline, "candidate": plan.candidate},
        "paired": stats.paired(rows, plan.baseline, plan.candidate, checks),
        "stability": stats.stability(rows, names, checks, plan.repeat),
        "usage": usage_table(rows, plan, inputs.prices),
        "gates": gate_results(summary, plan.candidate, inputs.gates),
        "against": None,
    }
    if inputs.against is not None:
        report["against"] = {**{k: v for k, v in inputs.against.items() if k != "summary"},
                             "deltas": deltas(summary, inputs.against["summary"])}
    report["verdict"] = verdict(report)
    return report


# --------------------------------------------------------------------------- reading a report back


def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return data


def validate(report: Any, *, source: str) -> dict[str, Any]:
    """``report`` if it is a report.json of this schema, else a UsageError naming the first problem."""
    import jsonschema

    try:
        jsonschema.validate(report, schema())
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "the top level"
        raise UsageError(f"{source} is not a compare report (schema version {SCHEMA_VERSION}): at {where}: "
                         f"{exc.message[:200]}", hint="pass a report.json written by `python -m jobs compare`") from None
    data: dict[str, Any] = report
    return data


def load(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"report {p} does not exist", hint="pass a report.json path or a run id") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read report {p}: {exc}", hint="pass a report.json written by compare") from None
    return validate(data, source=str(p))


# --------------------------------------------------------------------------- writing


def write(report: dict[str, Any], folder: Path) -> dict[str, str]:
    """report.json, report.md and report.html in ``folder``, each written atomically (``jobs/atomic.py``);
    returns their paths."""
    from jobs.compare.html import render_html

    paths = {"json": folder / "report.json", "md": folder / "report.md", "html": folder / "report.html"}
    texts = {"json": json.dumps(report, indent=2, ensure_ascii=False) + "\n", "md": render_markdown(report),
             "html": render_html(report)}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for kind, path in paths.items():  # each whole or not at all: a full disk leaves the old file
            write_atomic(path, texts[kind].encode("utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot write the report into {folder}: {exc.strerror or exc}; the rows are kept in the "
                         "history", hint="free some space or pass --out to a writable folder") from None
    return {k: str(v) for k, v in paths.items()}


def _deltas_text(checks: dict[str, Any]) -> str:
    return ", ".join(f"{c} " + ("n/a" if d["delta"] is None else f"{d['delta'] * 100:+.0f} pts")
                     for c, d in checks.items())


def _cell(cell: dict[str, Any]) -> str:
    if cell["rate"] is None:
        return "n/a"
    low, high = cell["ci95"]
    return f"{pct(cell['rate'])} ({cell['passed']}/{cell['total']}, {low * 100:.0f}-{high * 100:.0f}%)"


_MD_SPECIAL = re.compile(r"([\\`*\[\]|#~!])|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")


def md(value: Any) -> str:
    """Text for Markdown: HTML's special characters as entities (a name cannot open a tag), Markdown's
    punctuation escaped (it cannot start a link, code, emphasis or a table cell), on one line."""
    text = html.escape(" ".join(str(value).split()), quote=False)
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), text)


def _ms(spread: dict[str, Any]) -> str:
    return "n/a" if spread.get("p50") is None else f"p50 {spread['p50']:g} ms, p95 {spread['p95']:g} ms"


def render_markdown(report: dict[str, Any]) -> str:
    """report.md; every text that came from a file, an option or a service goes through :func:`md`."""
    names = [v["name"] for v in report["variants"]]
    title = report.get("title") or FINE_TUNING_QUESTION
    lines = [f"## Compare: {md(title[:1].lower() + title[1:])}", ""]
    if report["stand_in"]:
        lines += [f"> **{STAND_IN_LABEL}** {md(report['stand_in_note'])}.", ""]
    lines += [f"**Verdict:** {md(report['verdict']['headline'])}", ""]
    lines += ["| check | " + " | ".join(md(n) for n in names) + " | wins / ties / losses | p (McNemar) |",
              "|---|" + "---|" * len(names) + "---|---|"]
    for check, paired in report["paired"].items():
        cells = [_cell(report["summary"][n][check]) for n in names]
        lines.append(f"| {md(check)} | " + " | ".join(cells) + f" | {paired['wins']} / {paired['ties']} / "
                     f"{paired['losses']} | {p_text(paired['p_value'])} |")
    pair = report["pair"]
    lines += ["", f"Rates with 95% Wilson intervals, per turn; wins/ties/losses: {md(pair['candidate'])} against "
              f"{md(pair['baseline'])}, case by case (a case passes when each of its turns passes on most repeats)."]
    if report["gates"]:
        lines += ["", "| gate | rate | threshold | |", "|---|---|---|---|"]
        lines += [f"| {md(g['check'])} ({md(g['variant'])}) | {pct(g['rate'])} | {pct(g['threshold'])} | "
                  f"{'pass' if g['passed'] else '**FAIL**'} |" for g in report["gates"]]
    if report.get("against"):
        lines += ["", f"Since {md(report['against'].get('run_id') or report['against'].get('path'))}:"]
        for variant, checks in report["against"]["deltas"].items():
            lines.append(f"- {md(variant)}: " + md(_deltas_text(checks)))
    prov = report["provenance"]
    lines += ["", "<details><summary>Provenance and usage</summary>", "",
              f"- run {md(report['run_id'])}, {md(prov.get('date'))}, endpoint {md(prov.get('endpoint'))}",
              *(f"- {md(v['name'])}: deployment {md(v['deployment'])}, model {md(v['model'])}"
                f"{', retires ' + md(v['retires']) if v.get('retires') else ''}, system message "
                f"{md(v.get('system_source'))} (sha256 {str(v['system_sha256'])[:12] if v['system_sha256'] else 'none'})"
                for v in report["variants"]),
              *(f"- suite {md(s['name'])} ({md(s['format'])}, {s['cases']} cases, sha256 {md(s['sha256'][:12])})"
                for s in prov.get("suites", [])),
              f"- repeats {md(prov.get('parameters', {}).get('repeat'))}, judge {md(_judge_name(prov.get('judge')))}",
              *(f"- {md(n)}: {u['calls']} calls, {u['prompt_tokens']} + {u['completion_tokens']} tokens, "
                f"service time {_ms(u['latency_ms'])}, queued {_ms(u.get('queued_ms') or {})}"
                + (f", ${u['cost_usd']:.4f}" if u['cost_usd'] is not None else "")
                for n, u in report["usage"].items()),
              "", "</details>", ""]
    return "\n".join(lines)


def _judge_name(judge: Any) -> str:
    if isinstance(judge, dict):
        return str(judge.get("deployment"))
    return str(judge) if judge else "none"


def render_text(report: dict[str, Any], *, rich: bool = False, paths: dict[str, str] | None = None) -> str:
    """What ``compare`` prints: the verdict, the per-check table (a rich table on a terminal) and the paths."""
    names = [v["name"] for v in report["variants"]]
    head = []
    if report["stand_in"]:
        head.append(f"note: {report['stand_in_note']}")
    head.append(f"compare {report['run_id']}: " + ", ".join(
        f"{v['name']} = {v['deployment']} ({v['system_source']})" for v in report["variants"]))
    head += [f"note: {len(s['system_replaced'])} cases of suite {s['name']} carried their own system message; each "
             "variant's system message replaced it" for s in report["provenance"].get("suites", []) if s["system_replaced"]]
    rows = [[check, *[_cell(report["summary"][n][check]) for n in names],
             f"{p['wins']}/{p['ties']}/{p['losses']}", p_text(p["p_value"])] for check, p in report["paired"].items()]
    header = ["check", *names, "win/tie/loss", "p (McNemar)"]
    table = _rich_table(header, rows) if rich else _plain_table(header, rows)
    tail = [f"verdict: {report['verdict']['headline']}"]
    for g in report["gates"]:
        tail.append(f"gate {g['check']} >= {pct(g['threshold'])}: {pct(g['rate'])} "
                    f"{'passed' if g['passed'] else 'FAILED (exit 4)'}")
    if report.get("against"):
        for variant, checks in report["against"]["deltas"].items():
            tail.append(f"since {report['against'].get('run_id') or report['against'].get('path')}, {variant}: "
                        + _deltas_text(checks))
    for n, u in report["usage"].items():
        cost = f", ${u['cost_usd']:.4f}" if u["cost_usd"] is not None else ""
        tail.append(f"{n}: {u['calls']} calls ({u['failed']} failed), {u['prompt_tokens']:,} prompt + "
                    f"{u['completion_tokens']:,} completion tokens, service time {_ms(u['latency_ms'])}, queued "
                    f"{_ms(u.get('queued_ms') or {})}{cost}")
    if paths:
        tail.append(f"report: {paths['html']} (also {Path(paths['json']).name}, {Path(paths['md']).name})")
    return "\n".join([*head, table, *tail])


def _plain_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows])


def _rich_table(header: list[str], rows: list[list[str]]) -> str:
    import sys

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(show_lines=False)
    for h in header:
        table.add_column(Text(h))
    for r in rows:
        table.add_row(*[Text(str(c)) for c in r])
    console = Console(file=sys.stdout)
    with console.capture() as cap:
        console.print(table)
    return cap.get().rstrip("\n")
