"""``promote [JOB_ID] [--checkpoint STEP|ID|best]``: hand a succeeded job's fine-tuned model (or one of its
checkpoints, ``jobs/flow/checkpoints.py``) to the stack (``jobs/flow/promote.py``)."""

from __future__ import annotations

from jobs.errors import UsageError
from jobs.flow.promote import PromoteOutcome, latest_succeeded_job_id
from jobs.flow.promote import promote as promote_step
from jobs.session import Session


def promote(session: Session, *, job_id: str | None = None, up: bool = False,
            deployment_name: str | None = None, checkpoint: str | None = None) -> PromoteOutcome:
    if deployment_name is not None and not deployment_name.strip():
        raise UsageError("--deployment-name is empty", hint="pass a deployment name, or leave the option out")
    job_id = job_id or latest_succeeded_job_id(session)
    job = session.api.get_job(job_id)
    chosen = None
    if checkpoint is not None:
        from jobs.flow.checkpoints import resolve

        chosen = resolve(session, job.id, checkpoint, job.fine_tuned_model)
    with session.state.locked():
        return promote_step(session, job, deployment_name=deployment_name, up=up, checkpoint=chosen)
