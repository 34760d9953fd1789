"""Which checkpoint of a job: ``promote --checkpoint STEP|ID|best`` and the selections ``compare --checkpoints``
records in the run state (``selections[job_id]``).

A checkpoint's deployable model name is its ``fine_tuned_model_checkpoint`` (``<model>:ckpt-step-N``; Learn,
"Customize a model with fine-tuning", "Deploy a checkpoint", and the spec's ``FineTuningJobCheckpoint``, read
2026-12). The final checkpoint's name is the job's ``fine_tuned_model`` itself.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from jobs import metrics as m
from jobs.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from jobs.session import Session

BEST = "best"


@dataclass(frozen=True)
class ChosenCheckpoint:
    step: int | None
    checkpoint_id: str | None
    model: str  # the deployable name, fine_tuned_model_checkpoint
    final_model: str | None  # the job's fine_tuned_model
    reason: str
    via: str  # "step", "id", "model" or "best"

    @property
    def final(self) -> bool:
        return self.model == self.final_model

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "final": self.final}

    def text(self) -> str:
        what = "the final model" if self.final else f"checkpoint step {self.step}"
        return f"{what} ({self.checkpoint_id or 'no id'}): {self.reason}"


def compare_hint(job_id: str) -> str:
    return f"run `python -m jobs compare --checkpoints {job_id}` first (it deploys, judges and records the choice)"


def record_selection(session: "Session", job_id: str, chosen: dict[str, Any], *, run_id: str | None,
                     report: str | None) -> None:
    """Remember the latest selection for ``job_id`` (``promote --checkpoint best`` reads it)."""
    entry = {"at": int(time.time()), "run_id": run_id, "report": report, "chosen": chosen}

    def change(data: dict[str, Any]) -> None:
        data.setdefault("selections", {})[job_id] = entry

    session.state.update(change)


def _from_selection(session: "Session", job_id: str, final_model: str | None) -> ChosenCheckpoint:
    found = (session.state.load().get("selections") or {}).get(job_id)
    entry: dict[str, Any] = found if isinstance(found, dict) else {}
    chosen = entry.get("chosen")
    if not isinstance(chosen, dict) or not isinstance(chosen.get("model"), str):
        raise UsageError(f"--checkpoint best: no checkpoint selection recorded for job {job_id} in stack "
                         f"{session.stack!r}", hint=compare_hint(job_id))
    step = chosen.get("step")
    return ChosenCheckpoint(step=step if isinstance(step, int) else None, checkpoint_id=chosen.get("checkpoint_id"),
                            model=chosen["model"], final_model=final_model, via=BEST,
                            reason=str(chosen.get("reason") or "the latest selection's choice")
                            + (f" (compare run {entry['run_id']})" if entry.get("run_id") else ""))


def resolve(session: "Session", job_id: str, spec: str, final_model: str | None) -> ChosenCheckpoint:
    """``--checkpoint SPEC`` of a job: a step number, a checkpoint id, a checkpoint model name, or ``best``."""
    spec = spec.strip()
    if not spec:
        raise UsageError("--checkpoint is empty", hint="pass a step, a checkpoint id or `best` "
                         f"(`python -m jobs checkpoints {job_id}` lists them)")
    if spec.lower() == BEST:
        return _from_selection(session, job_id, final_model)
    cps = m.parse_checkpoints(session.api.list_checkpoints(job_id))
    for cp in cps:
        via = ("step" if spec.isdigit() and cp.step == int(spec) else "id" if cp.id == spec
               else "model" if cp.model == spec else None)
        if via and cp.model:
            return ChosenCheckpoint(step=cp.step, checkpoint_id=cp.id, model=cp.model, final_model=final_model,
                                    via=via, reason=f"chosen by hand (--checkpoint {spec})")
    steps = ", ".join(str(cp.step) for cp in cps if cp.step is not None) or "none yet"
    raise UsageError(f"--checkpoint {spec}: job {job_id} has no such checkpoint (its steps: {steps})",
                     hint=f"`python -m jobs checkpoints {job_id}` lists the steps, ids and model names")
