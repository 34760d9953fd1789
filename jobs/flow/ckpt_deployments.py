"""The temporary deployments of ``compare --checkpoints``: one per checkpoint, created, judged, deleted.

They live outside the Pulumi stack on purpose (docs/runner.md, "Choosing a checkpoint"): they exist for
minutes, a ``pulumi up`` in between must neither delete nor adopt them, and the stack keeps describing only what
stays deployed. Each is written to the run state (``checkpoint_deployments[name]``) *before* it is created, so
a rerun after Ctrl-C, a crash or ``kill -9`` finds it and deletes it (:func:`sweep`).

Names carry the prefix :data:`PREFIX` (``ckpt-eval-<job id tail>-s<step>``), so a person can tell them apart in
the portal. The session's deployer makes them (:meth:`jobs.deploy.Deployer.temporary_deployments`): on Azure
``az cognitiveservices account deployment create/delete`` on the stack outputs' account, in a rehearsal the
emulator. Each record carries the backend's own description, so the sweep deletes a leftover where it was made,
whatever the stack's outputs say now.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # pragma: no cover
    from jobs.deploy import TemporaryDeployments
    from jobs.session import Session

PREFIX = "ckpt-eval-"


def deployment_name(job_id: str, step: int | None) -> str:
    """``ckpt-eval-<last 8 of the job id>-s<step>`` (Azure allows 2-64 letters, digits, ``-``, ``_``, ``.``)."""
    tail = "".join(ch for ch in job_id.lower() if ch.isalnum())[-8:]
    return f"{PREFIX}{tail}-s{step if step is not None else 'final'}"


def backend_for(session: "Session") -> "TemporaryDeployments":
    """Where the session's deployer makes deployments outside the stack (a UsageError when it cannot tell)."""
    return session.deployer.temporary_deployments()


def create(session: "Session", backend: "TemporaryDeployments", name: str, *, job_id: str, step: int | None,
           model: str, sku: str) -> None:
    """Record, then create (the order matters: a kill between the two leaves a record, never a stray)."""
    entry = {"job_id": job_id, "step": step, "model": model, "sku": sku, "recorded_at": int(time.time()),
             **backend.describe()}
    session.state.update(lambda d: d.setdefault("checkpoint_deployments", {}).__setitem__(name, entry))
    session.checkpoint("ckpt_recorded")
    backend.create(name, model, sku)
    session.checkpoint("ckpt_deployed")


def sweep(session: "Session", *, only: set[str] | None = None) -> list[str]:
    """Delete every recorded temporary deployment (or those in ``only``) and drop its record; the names deleted.

    A record whose backend the session's deployer cannot act on (made by another kind of session) is kept and
    named; one that is not a record at all is dropped."""
    recorded = session.state.load().get("checkpoint_deployments") or {}
    gone: list[str] = []
    for name, entry in sorted(recorded.items()):
        if only is not None and name not in only:
            continue
        if isinstance(entry, dict):
            backend = session.deployer.temporary_deployments_from(entry)
            if backend is None:
                session.say(f"checkpoints: {name} was made by {entry.get('kind') or 'an unknown backend'} "
                            f"({_where(entry)}), which this session cannot reach: its record is kept; delete it "
                            "there, or rerun from the session that made it")
                continue
            backend.delete(name)
        session.state.update(_forget(name))
        gone.append(name)
    return gone


def _where(entry: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(entry.items())
                     if k in ("resource_group", "account", "url") and v) or "nothing recorded"


def _forget(name: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        (data.get("checkpoint_deployments") or {}).pop(name, None)

    return change
