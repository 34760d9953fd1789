"""Training metrics of a fine-tuning job: ``results.csv``, checkpoints, and a chart.

Pure functions (no network): the ``metrics`` command fetches the result file
and the checkpoints, this module makes sense of them.

``results.csv`` as Azure and OpenAI write it has one row per step. Column
names differ between services and API versions, so every known variant maps
to one canonical name (the names of the checkpoint metrics in the API):

=================================  ===========================================================
canonical                          also accepted
=================================  ===========================================================
``step``                           ``steps``, ``iteration``
``train_loss``                     ``training_loss``, ``loss``
``train_mean_token_accuracy``      ``train_accuracy``, ``train_token_accuracy``, ``training_accuracy``
``valid_loss``                     ``validation_loss``, ``val_loss``
``valid_mean_token_accuracy``      ``validation_mean_token_accuracy``, ``valid_accuracy``,
                                   ``validation_accuracy``, ``valid_token_accuracy``
``full_valid_loss``                ``full_validation_loss``
``full_valid_mean_token_accuracy`` ``full_validation_mean_token_accuracy``, ``full_valid_accuracy``
=================================  ===========================================================

Header matching ignores case, surrounding spaces and ``-``/space vs ``_``.
Empty cells (and ``nan``/``null``/``none``) are missing values, not errors.
Some API versions return the file base64-encoded (sometimes as a JSON
string); :func:`decode_content` undoes that.

The chart (:func:`plot`) imports matplotlib lazily with the Agg backend. When the metrics are not Azure's
(a stand-in's, see :func:`stand_in_label`), the chart says so in a banner and in the PNG's ``Description``.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from jobs.errors import JobsError, UsageError
from jobs.stand_in import LOCAL_MODEL, STAND_IN_LABEL, local_model_label


STEP = "step"
TRAIN_LOSS = "train_loss"
TRAIN_ACC = "train_mean_token_accuracy"
VALID_LOSS = "valid_loss"
VALID_ACC = "valid_mean_token_accuracy"
FULL_VALID_LOSS = "full_valid_loss"
FULL_VALID_ACC = "full_valid_mean_token_accuracy"

CANONICAL: tuple[str, ...] = (STEP, TRAIN_LOSS, TRAIN_ACC, VALID_LOSS, VALID_ACC, FULL_VALID_LOSS, FULL_VALID_ACC)

_ALIASES: dict[str, tuple[str, ...]] = {
    STEP: ("steps", "iteration"),
    TRAIN_LOSS: ("training_loss", "loss"),
    TRAIN_ACC: ("train_accuracy", "train_token_accuracy", "training_accuracy", "training_mean_token_accuracy"),
    VALID_LOSS: ("validation_loss", "val_loss"),
    VALID_ACC: ("validation_mean_token_accuracy", "valid_accuracy", "validation_accuracy", "valid_token_accuracy",
                "val_mean_token_accuracy", "val_accuracy"),
    FULL_VALID_LOSS: ("full_validation_loss", "full_val_loss"),
    FULL_VALID_ACC: ("full_validation_mean_token_accuracy", "full_valid_accuracy", "full_validation_accuracy"),
}

SHORT = {
    STEP: "step",
    TRAIN_LOSS: "train loss",
    TRAIN_ACC: "train acc",
    VALID_LOSS: "valid loss",
    VALID_ACC: "valid acc",
    FULL_VALID_LOSS: "full valid loss",
    FULL_VALID_ACC: "full valid acc",
}

_MISSING = {"", "nan", "null", "none", "n/a", "na", "-"}


def _norm(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().strip('"').lower())


_LOOKUP: dict[str, str] = {}
for _canon, _alts in _ALIASES.items():
    _LOOKUP[_canon] = _canon
    for _alt in _alts:
        _LOOKUP[_alt] = _canon


def canonical_column(name: str) -> str | None:
    """The canonical name of a results.csv header, or ``None`` when unknown."""
    return _LOOKUP.get(_norm(name))


class MetricsError(JobsError):
    """The result file could not be read as a results CSV."""


# ----------------------------------------------------------------- decoding


def _looks_like_csv(text: str) -> bool:
    first = text.lstrip("\ufeff").strip().splitlines()[0] if text.strip() else ""
    if "," not in first:
        return False
    return any(canonical_column(cell) == STEP for cell in first.split(","))


def decode_content(raw: bytes | str) -> str:
    """The CSV text of a result file, undoing base64 (and a JSON string wrapper) if present."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise MetricsError("the result file is neither UTF-8 text nor base64",
                               hint="download it with `az`/the portal and check it is results.csv") from None
    else:
        text = raw.lstrip("\ufeff")
    if _looks_like_csv(text):
        return text
    candidate = text.strip()
    if candidate.startswith('"') and candidate.endswith('"'):
        try:
            inner = json.loads(candidate)
        except json.JSONDecodeError:
            inner = None
        if isinstance(inner, str):
            candidate = inner.strip()
            if _looks_like_csv(candidate):
                return candidate
    compact = re.sub(r"\s+", "", candidate)
    if compact and re.fullmatch(r"[A-Za-z0-9+/_-]+=*", compact):
        try:
            padded = compact + "=" * (-len(compact) % 4)
            decoded = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
            text2 = decoded.decode("utf-8-sig")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            text2 = ""
        if _looks_like_csv(text2):
            return text2
    raise MetricsError(
        "the result file is not a results CSV (no header with a `step` column, also after base64 decoding)",
        hint="check the job's result_files; results.csv appears only after a job has succeeded",
    )


# ----------------------------------------------------------------- results.csv


@dataclass
class MetricsTable:
    """Rows of canonical metrics, one per step, sorted by step."""

    columns: list[str]  # canonical names present in the file, in canonical order
    rows: list[dict[str, float | None]]
    extra_columns: list[str] = field(default_factory=list)  # headers we kept but do not know

    def series(self, column: str) -> tuple[list[float], list[float]]:
        """(steps, values) of one column, skipping missing cells."""
        xs: list[float] = []
        ys: list[float] = []
        for row in self.rows:
            step, value = row.get(STEP), row.get(column)
            if step is not None and value is not None:
                xs.append(step)
                ys.append(value)
        return xs, ys

    def last(self, column: str) -> float | None:
        for row in reversed(self.rows):
            value = row.get(column)
            if value is not None:
                return value
        return None

    def summary(self) -> dict[str, float | None]:
        return {c: self.last(c) for c in self.columns if c != STEP}

    def to_json(self) -> dict[str, Any]:
        return {"columns": self.columns, "extra_columns": self.extra_columns, "rows": self.rows,
                "last": self.summary()}


def _number(cell: str, *, line: int, column: str, source: str) -> float | None:
    value = cell.strip()
    if value.lower() in _MISSING:
        return None
    try:
        number = float(value)
    except ValueError:
        raise MetricsError(
            f"{source} line {line}, column {column!r}: {value[:40]!r} is not a number",
            hint="the file looks damaged; download it again with `python -m jobs metrics JOB_ID --json`",
        ) from None
    if math.isnan(number):
        return None
    return number


def parse_results_csv(text: str, *, source: str = "results.csv") -> MetricsTable:
    """Parse results.csv text (already decoded) into a :class:`MetricsTable`."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header: list[str] | None = None
    header_line = 0
    rows: list[dict[str, float | None]] = []
    mapping: list[str | None] = []
    extras: list[str] = []
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header, header_line = row, line
            seen: set[str] = set()
            for cell in row:
                canon = canonical_column(cell)
                if canon in seen:
                    canon = None  # a duplicate variant: keep the first one
                if canon:
                    seen.add(canon)
                else:
                    extras.append(cell.strip())
                mapping.append(canon)
            if STEP not in seen:
                raise MetricsError(f"{source} line {line}: no `step` column in the header {row!r}",
                                   hint="is this a fine-tuning results file? it should start with `step,`")
            continue
        if len(row) > len(header):
            raise MetricsError(
                f"{source} line {line}: {len(row)} cells but the header (line {header_line}) has {len(header)}",
                hint="the file looks damaged; download it again",
            )
        values: dict[str, float | None] = {}
        for cell, canon in zip(row, mapping):
            if canon:
                values[canon] = _number(cell, line=line, column=canon, source=source)
        if values.get(STEP) is None:
            continue  # a row without a step cannot be placed on the chart
        rows.append(values)
    if header is None:
        raise MetricsError(f"{source} is empty", hint="results.csv appears only after a job has succeeded")
    present = [c for c in CANONICAL if c in mapping and any(r.get(c) is not None for r in rows) or c == STEP]
    rows.sort(key=lambda r: r.get(STEP) or 0.0)
    for r in rows:
        for c in present:
            r.setdefault(c, None)
    return MetricsTable(columns=present, rows=rows, extra_columns=extras)


def load_results(raw: bytes | str, *, source: str = "results.csv") -> MetricsTable:
    return parse_results_csv(decode_content(raw), source=source)


# ----------------------------------------------------------------- checkpoints


@dataclass
class Checkpoint:
    """One ``fine_tuning.job.checkpoint``. Field names as Azure sends them (spec 2025-04-01-preview,
    ``FineTuningJobCheckpoint`` and its example get_finetuning_job_checkpoints.json; Learn REST "Fine Tuning - Get
    Checkpoints", read 2026-12): ``id``, ``step_number``, ``fine_tuned_model_checkpoint`` (the deployable model
    name, ``<model>:ckpt-step-N``) and ``metrics`` (``train_loss``, ``train_mean_token_accuracy``, ``valid_loss``,
    ...)."""

    step: int | None
    model: str | None  # fine_tuned_model_checkpoint
    created_at: int | None
    metrics: dict[str, float | None]
    id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "step": self.step, "fine_tuned_model_checkpoint": self.model,
                "created_at": self.created_at, "metrics": self.metrics}

    def to_azure(self) -> dict[str, Any]:
        """The checkpoint under Azure's own field names (``checkpoints --json``)."""
        return {"id": self.id, "step_number": self.step, "fine_tuned_model_checkpoint": self.model,
                "created_at": self.created_at, "metrics": self.metrics}

    def fill_from(self, table: "MetricsTable | None") -> None:
        """Take the metrics the checkpoint object lacks from results.csv's row at the same step."""
        if table is None or self.step is None:
            return
        row = next((r for r in table.rows if r.get(STEP) == float(self.step)), None)
        for column in (row and table.columns) or ():
            if column != STEP and self.metrics.get(column) is None and row and row.get(column) is not None:
                self.metrics[column] = row[column]


def _as_mapping(obj: Any) -> Mapping[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, Mapping):
        return obj
    if hasattr(obj, "model_dump"):
        dumped = obj.model_dump()
        return dumped if isinstance(dumped, Mapping) else {}
    return {k: v for k, v in vars(obj).items() if not k.startswith("_")} if hasattr(obj, "__dict__") else {}


def _maybe_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def parse_checkpoints(items: Iterable[Any]) -> list[Checkpoint]:
    """Checkpoints (SDK objects or dicts) sorted by step, metrics under canonical names."""
    out: list[Checkpoint] = []
    for item in items:
        data = _as_mapping(item)
        metrics: dict[str, float | None] = {}
        for key, value in _as_mapping(data.get("metrics")).items():
            canon = canonical_column(str(key))
            if canon and canon != STEP:
                metrics[canon] = _maybe_float(value)
        step = data.get("step_number", _as_mapping(data.get("metrics")).get("step"))
        step_f = _maybe_float(step)
        created = data.get("created_at")
        ident = data.get("id")
        out.append(Checkpoint(
            id=ident if isinstance(ident, str) else None,
            step=int(step_f) if step_f is not None else None,
            model=data.get("fine_tuned_model_checkpoint"),
            created_at=int(created) if isinstance(created, (int, float)) else None,
            metrics=metrics,
        ))
    out.sort(key=lambda c: c.step if c.step is not None else -1)
    return out


# ----------------------------------------------------------------- text rendering


def fmt(value: float | None, column: str) -> str:
    if value is None:
        return "-"
    if column == STEP:
        return str(int(value)) if float(value).is_integer() else f"{value:g}"
    if "accuracy" in column:
        return f"{value:.3f}"
    return f"{value:.4f}"


def sample_rows(rows: list[dict[str, float | None]], limit: int) -> list[dict[str, float | None]]:
    """At most ``limit`` rows spread over the run, always with the first and last."""
    if limit <= 0 or len(rows) <= limit:
        return list(rows)
    if limit == 1:
        return [rows[-1]]
    idx = sorted({round(i * (len(rows) - 1) / (limit - 1)) for i in range(limit)})
    return [rows[i] for i in idx]


def plain_table(headers: list[str], body: list[list[str]], *, left: frozenset[int] = frozenset()) -> str:
    """Fixed-width columns, numbers right-aligned; columns in ``left`` left-aligned."""
    widths = [len(h) for h in headers]
    for r in body:
        widths = [max(w, len(c)) for w, c in zip(widths, r)]

    def cell(i: int, text: str, width: int) -> str:
        return text.ljust(width) if i in left else text.rjust(width)

    lines = ["  ".join(cell(i, h, w) for i, (h, w) in enumerate(zip(headers, widths))).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(cell(i, c, w) for i, (c, w) in enumerate(zip(r, widths))).rstrip() for r in body]
    return "\n".join(lines)


# ----------------------------------------------------------------- chart


def stand_in_label(kind: str | None, *, model: str | None, local_model: str | None = None) -> str | None:
    """What the chart must say when its data is not a real fine-tuning run: ``kind`` is the backend as the
    ``x-emulator`` header names it (``stand-in``: the emulator's simulated run; ``local-model``: a small model
    really trained on this machine, ``local_model`` its name); None (Azure): nothing."""
    if not kind:
        return None
    if kind == LOCAL_MODEL:
        return f"{local_model_label(local_model, [model])}: its real training run, not Azure's"
    target = model or "the requested model"
    return f"{STAND_IN_LABEL} the emulator's simulated training run standing in for {target}: not real metrics"


def plot(table: MetricsTable, path: str | Path, *, title: str = "", stand_in: str | None = None) -> Path:
    """Write a PNG: loss (top) and token accuracy (bottom) by step, train and validation; ``stand_in`` (from
    :func:`stand_in_label`) goes in a banner over the chart and in the PNG's ``Description``."""
    out = Path(path)
    if out.suffix.lower() != ".png":
        raise UsageError(f"--plot {out}: the chart is written as PNG", hint="use a file name ending in .png")
    if out.parent and not out.parent.exists():
        raise UsageError(f"--plot {out}: folder {out.parent} does not exist", hint="create it or choose another path")

    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(2, 1, figsize=(9, 7), sharex=True, dpi=100)
    try:
        panels = (
            (ax_loss, "loss", ((TRAIN_LOSS, "train"), (VALID_LOSS, "validation"), (FULL_VALID_LOSS, "full validation"))),
            (ax_acc, "token accuracy",
             ((TRAIN_ACC, "train"), (VALID_ACC, "validation"), (FULL_VALID_ACC, "full validation"))),
        )
        styles = {"train": dict(color="#1f77b4", linewidth=1.4),
                  "validation": dict(color="#ff7f0e", linewidth=1.4),
                  "full validation": dict(color="#2ca02c", linewidth=0, marker="o", markersize=6)}
        for ax, label, series in panels:
            drawn = False
            for column, name in series:
                xs, ys = table.series(column)
                if xs:
                    ax.plot(xs, ys, label=name, **styles[name])
                    drawn = True
            ax.set_ylabel(label)
            ax.grid(True, alpha=0.3)
            if drawn:
                ax.legend(loc="best", fontsize=9)
            else:
                ax.text(0.5, 0.5, f"no {label} in results.csv", ha="center", va="center", transform=ax.transAxes)
        ax_acc.set_xlabel("step")
        fig.suptitle(title or "fine-tuning metrics", fontsize=11)
        fig.tight_layout(rect=(0, 0, 1, 0.93) if stand_in else (0, 0, 1, 1))
        if stand_in:
            fig.text(0.5, 0.995, stand_in, ha="center", va="top", fontsize=10, fontweight="bold", wrap=True,
                     bbox={"boxstyle": "round", "facecolor": "#fff4d6", "edgecolor": "#e0b84f"})
        fig.savefig(out, format="png", metadata={"Title": title or "fine-tuning metrics",
                                                 **({"Description": stand_in} if stand_in else {})})
    finally:
        plt.close(fig)
    return out
