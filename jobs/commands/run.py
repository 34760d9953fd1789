"""``python -m jobs run DATA.jsonl``: validate → upload → train → watch → promote, resumable.

The whole run holds the stack's lock. Every step records what it created in the
run state before moving on, so running the same command again after Ctrl-C, a
crash or ``kill -9`` continues where it stopped: the file is not uploaded
twice, a second job is not created (unless ``--new``), and a job whose create
call was in flight is found again on the server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobs import lifecycle as lc


@dataclass
class RunResult:
    stack: str
    training_file: str
    job: dict[str, Any]
    created: bool
    adopted: bool
    reused: bool
    estimate: dict[str, Any] | None = None
    last_train_loss: float | None = None
    promote: Any = None
    steps: list[str] = field(default_factory=list)

    def to_text(self) -> str:
        j = self.job
        how = "created" if self.created else ("adopted from the server" if self.adopted else "reused")
        lines = [f"run: training file {self.training_file}; job {j['id']} ({how}) {j['status']}"]
        if self.last_train_loss is not None:
            lines.append(f"  last train loss: {self.last_train_loss:.4f}")
        if j.get("fine_tuned_model"):
            lines.append(f"  fine-tuned model: {j['fine_tuned_model']}")
        if self.promote is not None:
            lines.append(self.promote.to_text() if hasattr(self.promote, "to_text") else str(self.promote))
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        p = self.promote
        return {"stack": self.stack, "training_file": self.training_file, "job": self.job, "created": self.created,
                "adopted": self.adopted, "reused": self.reused, "estimate": self.estimate,
                "last_train_loss": self.last_train_loss, "steps": self.steps,
                "promote": p.to_json() if hasattr(p, "to_json") else p}


def run(*, data: str, model: str | None = None, suffix: str = "ft-travel", validation_file: str | None = None,
        epochs: int | None = None, batch_size: int | None = None, learning_rate_multiplier: float | None = None,
        seed: int | None = None, training_type: str | None = None, price_per_1m: float | None = None,
        max_cost: float | None = None, yes: bool = False, new: bool = False, up: bool = False,
        stack: str | None = None, endpoint: str | None = None, api: str | None = None,
        api_version: str | None = None, json_mode: bool = False) -> RunResult:
    from jobs.commands.train import check_model, hyperparameters, prepare_and_create
    from jobs.display import make_display

    model_id = check_model(model)
    lc.check_max_cost(max_cost)
    hyperparameters(epochs, batch_size, learning_rate_multiplier, seed)  # bad options fail before any request
    check = lc.validate_data(Path(data), model=model_id)
    lc.checkpoint("after_validate")
    conn = lc.open_connection(stack=stack, endpoint=endpoint, api=api, api_version=api_version)
    rs = lc.run_state(conn)
    display = make_display(json_mode=json_mode)
    steps: list[str] = [f"validated {check.path} ({check.examples} examples)"]
    try:
        with rs.locked():
            out = prepare_and_create(conn, rs, data=str(check.path), file_id=None, model=model_id, suffix=suffix,
                                     validation_file=validation_file, epochs=epochs, batch_size=batch_size,
                                     learning_rate_multiplier=learning_rate_multiplier, seed=seed,
                                     training_type=training_type, price_per_1m=price_per_1m, max_cost=max_cost,
                                     yes=yes, new=new, say=display.line, check=check)
            training_file = str(lc.get(out.job, "training_file") or "")
            job_id = str(lc.get(out.job, "id"))
            steps.append(f"job {job_id} " + ("created" if out.created else "adopted" if out.adopted else "reused"))
            w = lc.watch_job(conn, job_id, rs=rs, display=display)
            steps.append(f"job {job_id} {w.status}")
            if not w.status.ok:
                raise lc.failure_error(w.job, w.status)
            promoted = _promote(conn, rs, w.job, stack=conn.stack, up=up, say=display.line)
            steps.append("promoted" if promoted is not None else "promote skipped")
    finally:
        display.close()
    return RunResult(stack=conn.stack, training_file=training_file, job=lc.job_summary(w.job), created=out.created,
                     adopted=out.adopted, reused=out.reused,
                     estimate=out.estimate.to_json() if out.estimate else None,
                     last_train_loss=w.last_loss[1] if w.last_loss else None, promote=promoted, steps=steps)


def _promote(conn: Any, rs: Any, job: Any, *, stack: str, up: bool, say: Any) -> Any:
    lc.checkpoint("before_promote")
    try:
        from jobs.commands.promote import promote_job
    except ImportError:  # the stack bridge is not installed: say what to run
        say(f"promote: run `python -m jobs promote {lc.get(job, 'id')} --stack {stack}` next")
        return None
    # promote_job reads dict or attribute fields; hand it a plain dict of the job
    data = job.model_dump() if hasattr(job, "model_dump") else dict(job)
    result = promote_job(conn, data, stack=stack, up=up, state=rs)
    lc.checkpoint("after_promote")
    return result
