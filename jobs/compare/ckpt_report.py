"""The checkpoint part of a ``compare --checkpoints`` report: a table, a chart, and the choice with its reason.

Additive: :func:`extend` adds ``checkpoints`` and ``chosen`` to report.json's content (the schema allows more
fields); :func:`markdown` and :func:`html` render a section the caller appends to report.md and report.html;
:func:`chart` writes ``checkpoints.png``: each check's pass rate (with its 95% interval) and the validation loss
against the step.
"""

from __future__ import annotations

import html as _html
from pathlib import Path
from typing import Any

from jobs.compare.select import Selection
from jobs.compare.stats import pct


def extend(report: dict[str, Any], selection: Selection, rows: list[dict[str, Any]]) -> None:
    """``rows``: one per candidate, by step: {variant, step, checkpoint_id, model, final, deployment, metrics}."""
    summary = report.get("summary") or {}
    report["checkpoints"] = [{**r, "rates": summary.get(r["variant"], {})} for r in rows]
    report["chosen"] = selection.to_json()


def _cell(cell: dict[str, Any] | None) -> str:
    if not cell or cell.get("rate") is None:
        return "n/a"
    low, high = cell["ci95"]
    return f"{pct(cell['rate'])} ({low * 100:.0f}-{high * 100:.0f}%)"


def _loss(value: Any) -> str:
    return "-" if value is None else f"{float(value):.4f}"


def table(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    checks = list(report.get("checks") or {})
    head = ["step", "model", "valid loss", *checks]
    body = [[str(r["step"]) + (" (final)" if r["final"] else ""), str(r["model"]),
             _loss((r.get("metrics") or {}).get("valid_loss")), *(_cell(r["rates"].get(c)) for c in checks)]
            for r in report["checkpoints"]]
    return head, body


def text(report: dict[str, Any]) -> str:
    head, body = table(report)
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in body]
    chosen = report["chosen"]
    lines += ["", f"chosen: {'the final model' if chosen['final'] else 'step ' + str(chosen['step'])} "
              f"({chosen['model']})", f"why: {chosen['reason']}", f"rule: {chosen['rule']}"]
    return "\n".join(lines)


def markdown(report: dict[str, Any], chart_name: str | None) -> str:
    head, body = table(report)
    chosen = report["chosen"]
    out = ["", "## Checkpoints: which one to deploy", "",
           f"Primary check: `{chosen['primary']}`. Pass rates with 95% Wilson intervals.", "",
           "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in body]
    out += ["", f"**Chosen:** {'the final model' if chosen['final'] else 'step ' + str(chosen['step'])} "
            f"(`{chosen['model']}`).", "", f"Why: {chosen['reason']}.", "", f"Rule: {chosen['rule']}."]
    if chart_name:
        out += ["", f"![pass rate and validation loss by step]({chart_name})"]
    return "\n".join(out) + "\n"


def html(report: dict[str, Any], chart_png: bytes | None) -> str:
    """The section; the chart is inlined as a data: URI, so the page stays one self-contained file."""
    import base64

    esc = _html.escape
    head, body = table(report)
    chosen = report["chosen"]
    rows = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in body)
    img = (f'<p><img src="data:image/png;base64,{base64.b64encode(chart_png).decode()}" '
           'alt="pass rate and validation loss by step" width="900"></p>' if chart_png else "")
    which = "the final model" if chosen["final"] else f"step {chosen['step']}"
    return (f'<section id="checkpoints"><h2>Checkpoints: which one to deploy</h2>'
            f"<p>Primary check: <code>{esc(chosen['primary'])}</code>. Pass rates with 95% Wilson intervals.</p>"
            f"<table><thead><tr>{''.join(f'<th>{esc(h)}</th>' for h in head)}</tr></thead><tbody>{rows}</tbody>"
            f"</table><p><strong>Chosen:</strong> {esc(which)} (<code>{esc(chosen['model'])}</code>).</p>"
            f"<p>Why: {esc(chosen['reason'])}.</p><p>Rule: {esc(chosen['rule'])}.</p>{img}</section>")


def chart(report: dict[str, Any], path: Path) -> Path | None:
    """Each check's pass rate (with its interval) and the validation loss against the step; None without steps."""
    points = [r for r in report["checkpoints"] if r.get("step") is not None]
    if not points:
        return None
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5), dpi=100)
    try:
        steps = [r["step"] for r in points]
        for check in report.get("checks") or {}:
            cells = [r["rates"].get(check) or {} for r in points]
            if not any(c.get("rate") is not None for c in cells):
                continue
            rates = [float(c["rate"]) if c.get("rate") is not None else float("nan") for c in cells]
            low = [r - c["ci95"][0] if c.get("rate") is not None else 0.0 for r, c in zip(rates, cells)]
            high = [c["ci95"][1] - r if c.get("rate") is not None else 0.0 for r, c in zip(rates, cells)]
            ax.errorbar(steps, rates, yerr=[low, high], marker="o", capsize=3, label=check)
        ax.set_xlabel("step")
        ax.set_ylabel("pass rate (95% interval)")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(True, alpha=0.3)
        losses = [(float(r["step"]), float(r["metrics"]["valid_loss"])) for r in points
                  if (r.get("metrics") or {}).get("valid_loss") is not None]
        if losses:
            ax2 = ax.twinx()
            ax2.plot([s for s, _ in losses], [v for _, v in losses], color="black", linestyle="--", marker="x",
                     label="validation loss")
            ax2.set_ylabel("validation loss")
            ax2.legend(loc="upper right", fontsize=8)
        ax.legend(loc="lower left", fontsize=8)
        title = "checkpoints: pass rate and validation loss by step"
        if report.get("stand_in"):
            title = "[emulator stand-in] " + title
        fig.suptitle(title, fontsize=11)
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path


def write(report: dict[str, Any], folder: Path) -> dict[str, str]:
    """Rewrite report.json/md/html with the checkpoint section, and the chart; the paths written."""
    from jobs.compare import report as reports

    png = chart(report, folder / "checkpoints.png")
    paths = reports.write(report, folder)
    name = png.name if png else None
    md = Path(paths["md"])
    md.write_text(md.read_text(encoding="utf-8") + markdown(report, name), encoding="utf-8")
    page = Path(paths["html"])
    content = page.read_text(encoding="utf-8")
    section = html(report, png.read_bytes() if png else None)
    content = content.replace("</body>", section + "</body>", 1) if "</body>" in content else content + section
    page.write_text(content, encoding="utf-8")
    if png:
        paths["chart"] = str(png)
    return paths
