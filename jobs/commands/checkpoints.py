"""``checkpoints [JOB_ID]`` (default: the stack's latest job): the job's checkpoints, each a deployable model.

Azure keeps the last checkpoints of a job (one per epoch) and each can be deployed like the final model under
its ``fine_tuned_model_checkpoint`` name, ``<model>:ckpt-step-N`` (Learn, "Customize a model with fine-tuning",
"List checkpoints" and "Deploy a checkpoint"; REST "Fine Tuning - Get Checkpoints" and the spec's example
``authoring/preview/2025-04-01-preview/examples/get_finetuning_job_checkpoints.json``; read 2026-12).

The data comes from :func:`jobs.flow.metrics.collect`, the same reading code as ``metrics``; a metric the
checkpoint object lacks is taken from results.csv's row at that step. ``--json`` prints a JSON list of objects
with Azure's field names (``id``, ``step_number``, ``fine_tuned_model_checkpoint``, ``metrics``) plus
``created_at`` and ``final`` (true for the job's final model).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jobs import metrics as m
from jobs.errors import UsageError
from jobs.flow.metrics import collect
from jobs.flow.train import latest_job_id
from jobs.session import Session

_COLUMNS = (m.TRAIN_LOSS, m.VALID_LOSS, m.TRAIN_ACC, m.VALID_ACC)


@dataclass
class CheckpointsResult:
    job_id: str
    status: str
    fine_tuned_model: str | None
    checkpoints: list[m.Checkpoint] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def is_final(self, cp: m.Checkpoint) -> bool:
        return bool(self.fine_tuned_model) and cp.model == self.fine_tuned_model

    def to_json(self) -> list[dict[str, Any]]:
        return [{**cp.to_azure(), "final": self.is_final(cp)} for cp in self.checkpoints]

    def to_text(self) -> str:
        lines = [f"job {self.job_id}: {self.status}"]
        if not self.checkpoints:
            lines.append("no checkpoints yet (Azure lists them as epochs finish)")
        else:
            cols = [c for c in _COLUMNS if any(cp.metrics.get(c) is not None for cp in self.checkpoints)]
            headers = ["step", "id"] + [m.SHORT[c] for c in cols] + ["model id (deployable)"]
            body = [[str(cp.step) if cp.step is not None else "-", cp.id or "-"]
                    + [m.fmt(cp.metrics.get(c), c) for c in cols]
                    + [(cp.model or "-") + ("  (final)" if self.is_final(cp) else "")]
                    for cp in self.checkpoints]
            lines += ["", f"checkpoints ({len(self.checkpoints)}):",
                      m.plain_table(headers, body, left=frozenset({1, len(headers) - 1}))]
            lines += ["", f"deploy one: `python -m jobs promote {self.job_id} --checkpoint STEP`; "
                      f"judge them all: `python -m jobs compare --checkpoints {self.job_id}`"]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def checkpoints(session: Session, *, job_id: str | None = None) -> CheckpointsResult:
    """The ``checkpoints`` command."""
    if job_id is not None and not job_id.strip():
        raise UsageError("JOB_ID is empty", hint="pass a job id, e.g. `python -m jobs checkpoints ftjob-...`, or "
                         "omit it for this stack's latest job")
    job_id = job_id.strip() if job_id is not None else latest_job_id(session)
    got = collect(session, job_id)
    for cp in got.checkpoints:
        cp.fill_from(got.table)
    return CheckpointsResult(job_id=got.job.id, status=got.job.state.value, fine_tuned_model=got.job.fine_tuned_model,
                             checkpoints=got.checkpoints, notes=[n for n in got.notes if "checkpoints" in n])
