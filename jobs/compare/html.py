"""``report.html``: one self-contained file (inline CSS and a few lines of inline script, no fonts, images or
scripts from the network): the stand-in banner when the answers are the emulator's, the verdict banner,
provenance, the per-check table with 95% intervals, repeat stability, latency/tokens/cost per variant, and
the side-by-side matrix of answers with the offending words highlighted (and the failed check named after them,
not colour alone) and a "differences only" filter.
Every text is escaped (``html.escape``): an answer cannot inject markup. And should anything slip through, a
Content-Security-Policy (a ``<meta>`` tag: the file is opened locally, without headers) lets the page run
only its own script and style (by their sha256) and load nothing at all.
The page fits a phone's 390 px: the wide tables scroll inside their own box, long words wrap.
"""

from __future__ import annotations

import base64
import hashlib
import html
from typing import Any

from jobs.stand_in import STAND_IN_LABEL
from jobs.compare.stats import p_text, pct

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem;color:#1b1b1b;max-width:1400px;
overflow-wrap:break-word}
.scroll{overflow-x:auto;max-width:100%}dd,.answer,.banner p{overflow-wrap:anywhere}th{white-space:nowrap}
#matrix td{min-width:12rem}#matrix td:first-child{min-width:8rem}
@media (max-width:600px){body{margin:.6rem}th,td{padding:.25rem .3rem}dl{grid-template-columns:1fr}dd{margin-left:0}}
h1{font-size:1.3rem;margin:.2rem 0}h2{font-size:1.1rem;margin-top:1.6rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ddd;padding:.35rem .5rem;vertical-align:top;text-align:left}
th{background:#f4f4f4}.num{text-align:right;white-space:nowrap}
.banner{padding:.8rem 1rem;border-radius:6px;margin:.6rem 0}.pass{background:#e6f4ea;border:1px solid #8bc79b}
.fail{background:#fde8e8;border:1px solid #e39a9a}.stand-in{background:#fff4d6;border:1px solid #e0b84f;font-weight:600}
mark{background:#ffd24d;padding:0 .1rem;text-decoration:underline wavy #a30000}
.violation{font-size:.75rem;font-weight:700;color:#a30000;margin-left:.2rem;white-space:nowrap}
.badge{display:inline-block;font-size:.75rem;border-radius:3px;padding:0 .3rem;margin:.1rem}
.badge.ok{background:#e6f4ea}.badge.bad{background:#fde8e8}.answer{white-space:pre-wrap}.error{color:#a30000}
dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.2rem 1rem}dt{font-weight:600}small{color:#555}
"""
_SCRIPT = """
(function () {
  var box = document.getElementById('diff-only');
  function filter() {
    document.querySelectorAll('#matrix tbody tr').forEach(function (tr) {
      tr.hidden = box.checked && tr.getAttribute('data-differs') !== 'true';
    });
  }
  box.addEventListener('change', filter);
  window.addEventListener('pageshow', filter);  // a browser that restores the ticked box restores the filter
  filter();
})();
"""


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


# Nothing but this file's own style and script (by hash): no network, no other inline code, no plugins, no
# form posts, no <base>. frame-ancestors and sandbox are not honoured in a <meta> policy, so not listed.
CSP = (f"default-src 'none'; script-src {_sha256(_SCRIPT)}; style-src {_sha256(_CSS)}; img-src 'none'; "
       "connect-src 'none'; base-uri 'none'; form-action 'none'; object-src 'none'")
WIN_TIE_LOSS = ("The rates count turns (each turn of each repeat); wins, ties and losses count cases: a case "
                "passes a check when each of its turns passes on most repeats, and a win is a case the candidate "
                "passes and the baseline fails.")


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def highlight(text: str, spans: list[tuple[str, str]]) -> str:
    """``text`` escaped, with each ``(check, span)`` of ``spans`` (where found) wrapped in ``<mark>`` and followed
    by the check's name in words (never colour alone); a span two checks found is marked once, naming both."""
    marks: list[tuple[int, int, list[str]]] = []
    for check, span in spans:
        start = text.find(span) if span else -1
        if start < 0:
            continue
        same = [m for m in marks if (m[0], m[1]) == (start, start + len(span))]
        if same:
            same[0][2].append(check)
        elif not any(a < start + len(span) and start < b for a, b, _ in marks):
            marks.append((start, start + len(span), [check]))
    out, at = [], 0
    for a, b, checks in sorted(marks):
        names = ", ".join(checks)
        out += [_e(text[at:a]), f'<mark data-check="{_e(names)}">', _e(text[a:b]),
                f'</mark><span class="violation">&#9888; {_e(names)}</span>']
        at = b
    out.append(_e(text[at:]))
    return "".join(out)


def shown_answer(row: dict[str, Any], stand_in: bool) -> str:
    """The answer as a person sees it: in a stand-in report, always with the label in front."""
    text = str(row.get("answer") or "")
    if stand_in and not text.lstrip().startswith(STAND_IN_LABEL):
        text = f"{STAND_IN_LABEL} {text}"
    return text


def _answer_cell(row: dict[str, Any] | None, stand_in: bool) -> str:
    if row is None:
        return "<td><small>not asked</small></td>"
    if row.get("error") is not None:
        err = row["error"]
        return f'<td class="error">{_e(err.get("kind"))}: {_e(err.get("message"))}</td>'
    text = shown_answer(row, stand_in)
    checks = row.get("checks") or {}
    spans = [(str(name), c["evidence"]) for name, c in checks.items()
             if not c.get("passed") and isinstance(c.get("evidence"), str)]
    badges = "".join(f'<span class="badge {"ok" if c.get("passed") else "bad"}" title="{_e(c.get("evidence"))}">'
                     f'{_e(name)} {"&#10003;" if c.get("passed") else "&#10007;"}</span>' for name, c in checks.items())
    return f'<td><div class="answer">{highlight(text, spans)}</div><div>{badges}</div></td>'


def _matrix(report: dict[str, Any]) -> str:
    names = [v["name"] for v in report["variants"]]
    by_key: dict[tuple[str, int, int], dict[str, dict[str, Any]]] = {}
    for r in report["rows"]:
        by_key.setdefault((r["case_id"], r["turn"], r["repeat"]), {})[r["variant"]] = r
    head = "".join(f"<th>{_e(n)}</th>" for n in names)
    body = []
    for (case_id, turn, repeat), cells in by_key.items():
        results = [tuple(sorted((k, bool(c.get("passed"))) for k, c in (cells[n].get("checks") or {}).items()))
                   if n in cells and cells[n].get("error") is None else ("error",) for n in names]
        differs = len(set(results)) > 1
        prompt = next(iter(cells.values()))["prompt"]
        body.append(f'<tr data-differs="{"true" if differs else "false"}"><td><b>{_e(case_id)}</b> '
                    f'<small>turn {turn}, repeat {repeat + 1}</small><br>{_e(prompt)}</td>'
                    + "".join(_answer_cell(cells.get(n), report["stand_in"]) for n in names) + "</tr>")
    return (f'<label><input type="checkbox" id="diff-only"> differences only</label>'
            f'<div class="scroll"><table id="matrix"><thead><tr><th>case</th>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def _checks_table(report: dict[str, Any]) -> str:
    names = [v["name"] for v in report["variants"]]
    head = "".join(f"<th>{_e(n)}</th>" for n in names)
    rows = []
    for check, p in report["paired"].items():
        cells = []
        for n in names:
            c = report["summary"][n][check]
            low, high = c["ci95"]
            cells.append(f'<td class="num">{pct(c["rate"])} <small>({c["passed"]}/{c["total"]}; '
                         f'95% {low * 100:.0f}-{high * 100:.0f}%)</small></td>')
        rows.append(f'<tr><td title="{_e(report["checks"].get(check))}">{_e(check)}</td>{"".join(cells)}'
                    f'<td class="num">{p["wins"]} / {p["ties"]} / {p["losses"]}</td>'
                    f'<td class="num">{p_text(p["p_value"])}</td></tr>')
    pair = report["pair"]
    return (f'<div class="scroll"><table id="check-table"><thead><tr><th>check</th>{head}<th>wins / ties / losses'
            f'<br><small>{_e(pair["candidate"])} vs {_e(pair["baseline"])}</small></th><th>p (McNemar exact)</th>'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table></div><p id="units">{_e(WIN_TIE_LOSS)}</p>')


def _stability(report: dict[str, Any]) -> str:
    checks = list(report["paired"])
    head = "".join(f"<th>pass^k {_e(c)}</th>" for c in checks)
    rows = []
    for name, s in report["stability"].items():
        cells = "".join(f'<td class="num">{pct(s["pass_k"].get(c))}</td>' for c in checks)
        distinct = "n/a" if s["distinct_answers"] is None else f'{s["distinct_answers"]:.2f}'
        rows.append(f'<tr><td>{_e(name)}</td><td class="num">{s["k"]}</td>{cells}<td class="num">{distinct}</td></tr>')
    return (f'<div class="scroll"><table id="stability"><thead><tr><th>variant</th><th>k</th>{head}'
            f'<th>distinct answers per case</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def _usage(report: dict[str, Any]) -> str:
    rows = []
    for name, u in report["usage"].items():
        cost = "n/a (no --price)" if u["cost_usd"] is None else f'${u["cost_usd"]:.4f}'
        lat, queued = u["latency_ms"], u.get("queued_ms") or {}
        rows.append(f'<tr><td>{_e(name)}</td><td class="num">{u["calls"]}</td><td class="num">{u["failed"]}</td>'
                    f'<td class="num">{u["prompt_tokens"]:,}</td><td class="num">{u["completion_tokens"]:,}</td>'
                    f'<td class="num">{_num(lat.get("p50"))} / {_num(lat.get("p95"))}</td>'
                    f'<td class="num">{_num(queued.get("p50"))} / {_num(queued.get("p95"))}</td>'
                    f'<td class="num">{cost}</td></tr>')
    return ('<div class="scroll"><table id="usage"><thead><tr><th>variant</th><th>calls</th><th>failed</th>'
            '<th>prompt tokens</th><th>completion tokens</th><th>service time ms p50 / p95</th>'
            '<th>queued ms p50 / p95</th><th>cost</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div><p><small>Service time: from sending a request to its '
            'answer, the model\'s time. Queued: the time the request waited first, for the deployment\'s rate '
            'limits (this run\'s own pacing), a 429\'s pause or a retry\'s back-off.</small></p>')


def _num(value: Any) -> str:
    return "n/a" if value is None else _e(f"{value:g}" if isinstance(value, float) else value)


def _param(value: Any) -> str:
    """A parameter as a person reads it: not set is "the service's default", never Python's None."""
    return "the service's default" if value is None else str(value)


def _provenance(report: dict[str, Any]) -> str:
    prov = report["provenance"]
    items = [("run", report["run_id"]), ("date", prov.get("date")), ("endpoint", prov.get("endpoint")),
             ("stack", prov.get("stack")), ("fine-tuning job", prov.get("fine_tuning_job")),
             ("fine-tuned model", prov.get("fine_tuned_model"))]
    items += [(f"variant {v['name']}", f"{v['deployment']} (model {v['model']}); system message {v['system_source']}, "
                                       f"sha256 {v['system_sha256'] or 'none'}") for v in report["variants"]]
    items += [(f"suite {s['name']}", f"{s['path']} ({s['format']}, {s['cases']} cases, sha256 {s['sha256']})"
               + (f"; its own system message replaced in {len(s['system_replaced'])} cases"
                  if s["system_replaced"] else "")) for s in prov.get("suites", [])]
    judge = prov.get("judge")
    items += [("parameters", ", ".join(f"{k.replace('_', ' ')}: {_param(v)}"
                                       for k, v in (prov.get("parameters") or {}).items())),
              ("judge", (judge.get("deployment") if isinstance(judge, dict) else judge) or "none")]
    return "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items if v is not None) + "</dl>"


def render_html(report: dict[str, Any]) -> str:
    verdict = report["verdict"]
    ok = verdict["gates_passed"] and not verdict["worse"]
    stand_in = (f'<div class="banner stand-in" id="stand-in">{_e(STAND_IN_LABEL)} {_e(report["stand_in_note"])}</div>'
                if report["stand_in"] else "")
    if report.get("local_model"):
        stand_in = (f'<div class="banner stand-in" id="local-model"><b>{_e(report["local_model"])}</b>: '
                    f'{_e(report["local_model_note"])}</div>')
    title = f"compare {report['run_id']}" + (f" {STAND_IN_LABEL}" if report["stand_in"] else
                                             f" [{report['local_model']}]" if report.get("local_model") else "")
    question = report.get("title") or "Does fine-tuning beat prompting?"
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}"><title>{_e(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head><body>'
        f'{stand_in}<div class="banner {"pass" if ok else "fail"}" id="verdict"><h1>{_e(question)}'
        f'</h1><p>{_e(verdict["headline"])}</p></div>'
        f'<h2>Checks</h2>{_checks_table(report)}'
        f'<h2>Repeat stability</h2>{_stability(report)}'
        f'<h2>Latency, tokens, cost</h2>{_usage(report)}'
        f'<h2>Provenance</h2>{_provenance(report)}'
        f'<h2>Answers side by side</h2>{_matrix(report)}'
        f'<script>{_SCRIPT}</script></body></html>\n'
    )
