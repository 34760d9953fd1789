"""Step 5, promote: hand a succeeded job's fine-tuned model to the stack (``fineTunedModel``).

1. Takes ``fine_tuned_model`` from a succeeded job (anything else is refused).
2. Sets it in the stack through the session's deployer (``pulumi config set --stack S fineTunedModel MODEL``,
   and ``fineTunedDeploymentName`` only when asked).
3. Applies (``pulumi up --yes``) only when asked (``--up``: the deployment may be billed per hour);
   otherwise says what to run next.
4. Warns about money: a Standard / GlobalStandard fine-tuned deployment is billed per hour while it exists;
   a Developer deployment has no hosting fee and Azure deletes it after 24 hours (the SKU from the stack; the
   one warning that applies, both when the SKU cannot be told).
5. Records ``promoted`` in the run state.

Without the ``pulumi`` executable the model is *not* set: the outcome says so, lists the exact commands to
run by hand, records ``promoted.applied = false`` and the command still succeeds (a finished, paid-for job is
a success; failing at the last step because a local tool is missing would only make the user rerun it).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from jobs import contract
from jobs.api import JobInfo
from jobs.errors import JobFailedError, JobsError, UsageError
from jobs.flow.lifecycle import check_deployment
from jobs.models import LifecycleCheck
from jobs.status import JobStatus, normalise

if TYPE_CHECKING:  # pragma: no cover
    from jobs.flow.checkpoints import ChosenCheckpoint
    from jobs.session import Session

PRICING_URL = "https://azure.microsoft.com/pricing/details/cognitive-services/openai-service/"
HOURLY_WARNING = (
    "a {sku} fine-tuned deployment is billed per hour for as long as it exists, even when idle "
    "(on the order of $1.7/hour, about $1,200/month, for the gpt-4.1 family at the time of writing; "
    f"check current pricing: {PRICING_URL}). Remove it with `python -m jobs clean` + `pulumi up`, "
    "or `pulumi destroy`, when you are done."
)
DEVELOPER_WARNING = (
    "a Developer fine-tuned deployment has no hourly hosting fee (you pay per token) but no SLA, "
    "and Azure deletes it 24 hours after it is created; run `pulumi up` again to redeploy."
)


def money_warnings(sku: str | None) -> list[str]:
    """The hosting-cost warnings for a fine-tuned deployment SKU (both when unknown)."""
    low = (sku or "").strip().lower()
    if low in contract.DEVELOPER_SKUS:
        return [DEVELOPER_WARNING]
    if low in contract.HOURLY_SKUS:
        return [HOURLY_WARNING.format(sku=sku)]
    return [HOURLY_WARNING.format(sku="Standard or GlobalStandard"), DEVELOPER_WARNING]


@dataclass
class PromoteOutcome:
    job_id: str
    fine_tuned_model: str
    stack: str
    applied: bool  # fineTunedModel is set in the stack
    sku: str | None = None
    deployment_name: str | None = None
    commands_run: list[str] = field(default_factory=list)
    manual_commands: list[str] = field(default_factory=list)  # to run by hand (pulumi missing)
    next_command: str | None = None
    up_ran: bool = False
    stand_in: str | None = None  # the rehearsal: what stood in for pulumi
    emulator_deployment: str | None = None  # the rehearsal: the emulator's deployment now serving the model
    replaced_model: str | None = None  # the model the stack's tuned deployment served before
    checkpoint: dict[str, Any] | None = None  # --checkpoint: which one and why (jobs/flow/checkpoints.py)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_text(self) -> str:
        lines = [f"fine-tuned model: {self.fine_tuned_model}  (job {self.job_id})"]
        if self.checkpoint:
            lines.append(f"checkpoint: {self.checkpoint['text']}")
        if self.applied and self.stand_in:
            lines.append(f"stack {self.stack}: {contract.FINE_TUNED_MODEL} set in the {self.stand_in}")
            lines += [f"  stands in for: {c}" for c in self.commands_run]
        elif self.applied:
            lines.append(f"stack {self.stack}: {contract.FINE_TUNED_MODEL} set")
            lines += [f"  ran: {c}" for c in self.commands_run]
        else:
            lines.append(f"warning: the model was NOT set in stack {self.stack}: the `pulumi` executable is not "
                         "on PATH.")
            lines.append("  run these yourself (install Pulumi: https://www.pulumi.com/docs/install/):")
            lines += [f"    {c}" for c in self.manual_commands]
        if self.emulator_deployment:
            lines.append(f"emulator: deployment {self.emulator_deployment!r} now serves {self.fine_tuned_model} "
                         "(stand-in for the second `pulumi up`)")
        if self.up_ran and not self.stand_in:
            lines.append(f"pulumi up finished for stack {self.stack}")
        elif self.next_command:
            lines.append(f"next: {self.next_command}")
        lines += [f"note: {n}" for n in self.notes]
        lines += [f"cost: {w}" for w in self.warnings]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _record(session: "Session", result: PromoteOutcome) -> None:
    entry = {"job_id": result.job_id, "fine_tuned_model": result.fine_tuned_model, "at": int(time.time()),
             "applied": result.applied, "deployment_name": result.deployment_name, "sku": result.sku,
             "up": result.up_ran, "checkpoint": result.checkpoint}
    job_model = (result.checkpoint or {}).get("final_model") or result.fine_tuned_model

    def change(data: dict[str, Any]) -> None:
        data["promoted"] = entry
        for job in (data.get("jobs") or {}).values():
            if isinstance(job, dict) and job.get("job_id") == result.job_id:
                job["fine_tuned_model"] = job_model
                job.setdefault("status", "succeeded")

    session.state.update(change)


def _deployable(job_id: str, model: str) -> LifecycleCheck:
    """The lifecycle table's word on deploying ``model`` (jobs/models.py): refused once retired, else its warning."""
    verdict = check_deployment(model)
    if verdict.refusal:
        raise UsageError(f"cannot promote job {job_id}: {verdict.refusal}; the stack was not changed",
                         hint="fine-tune a current model (`python -m jobs run DATA --model ...`), then promote that job")
    return verdict


def promote(session: "Session", job: JobInfo, *, deployment_name: str | None = None,
            up: bool = False, checkpoint: "ChosenCheckpoint | None" = None) -> PromoteOutcome:
    """Set a succeeded job's model in the stack (see the module docstring). The caller holds the lock."""
    if job.state is not JobStatus.SUCCEEDED:
        raise JobFailedError(
            f"job {job.id} is {job.state.value}: only a succeeded job has a fine-tuned model to promote",
            hint=f"wait for it with `python -m jobs watch {job.id}`, or pick another job from `python -m jobs list`",
        )
    if not job.fine_tuned_model:
        raise JobsError(f"job {job.id} succeeded but reports no fine_tuned_model yet",
                        hint=f"try again in a minute: `python -m jobs promote {job.id}`")
    model = checkpoint.model if checkpoint else job.fine_tuned_model  # a checkpoint deploys under its own name
    verdict = _deployable(job.id, model)
    session.checkpoint("before_promote")
    deployer = session.deployer
    result = PromoteOutcome(job_id=job.id, fine_tuned_model=model, stack=session.stack, applied=False,
                            deployment_name=deployment_name, stand_in=deployer.stand_in,
                            checkpoint={**checkpoint.to_json(), "text": checkpoint.text()} if checkpoint else None)
    before = session.state.load().get("promoted") or {}
    old = _model_before(deployer, before)  # what the stack deploys now, if anything
    result.sku, sku_source = deployer.fine_tuned_sku()
    try:
        changes = deployer.set_model(model, deployment_name)
    except JobsError as exc:
        _record(session, result)
        raise JobsError(exc.message, hint=(exc.hint or "") +
                        f"; the job is kept: run `python -m jobs promote {job.id}` once fixed") from None
    result.applied = all(c.done for c in changes)
    if old and old != model:  # the next apply replaces the deployment: said whether it runs here or by hand
        loaded = deployer.loaded_outputs()
        name = (deployment_name or before.get("deployment_name") or (loaded and loaded.fine_tuned_deployment)
                or contract.DEFAULT_FINE_TUNED_DEPLOYMENT)
        result.replaced_model = old
        result.notes.append(contract.replace_note(str(name), old, model))
    if result.applied:
        result.commands_run = [c.command for c in changes]
    else:
        if result.sku:
            result.notes.append(f"deployment SKU {result.sku}, from {sku_source}")
        result.manual_commands = [c.command for c in changes] + [deployer.apply_command()]
    result.warnings = money_warnings(result.sku) + ([verdict.warning] if verdict.warning else [])

    if up and result.applied:
        _record(session, result)  # the model is set even if the apply fails below
        applied = deployer.apply()
        result.commands_run.append(applied.command)
        result.up_ran = True
        if deployer.stand_in:
            result.emulator_deployment = (deployment_name or deployer.outputs().fine_tuned_deployment
                                          or contract.DEFAULT_FINE_TUNED_DEPLOYMENT)
            result.deployment_name = result.emulator_deployment
    else:
        if up and not result.applied:
            result.notes.append("--up skipped: pulumi is not available")
        result.next_command = deployer.apply_command()
    _record(session, result)
    session.checkpoint("after_promote")
    return result


def _model_before(deployer: Any, before: dict[str, Any]) -> str | None:
    """The fine-tuned model the stack is set to before this promote: the stack's own setting (so a model set
    from another machine counts), else what this machine's run state last applied."""
    model = deployer.fine_tuned_model()
    if not model and before.get("applied"):
        model = before.get("fine_tuned_model")
    return str(model) if model else None


def latest_succeeded_job_id(session: "Session") -> str:
    """The most recent job in the stack's run state that succeeded (or at least has a model)."""
    jobs = list((session.state.load().get("jobs") or {}).values())
    done = [j for j in jobs if isinstance(j, dict) and j.get("job_id") and not j.get("model_deleted")
            and (normalise(j.get("status")) is JobStatus.SUCCEEDED or j.get("fine_tuned_model"))]
    if not done:
        raise UsageError(
            f"no succeeded job in the run state of stack {session.stack!r} (nothing to promote)",
            hint="pass the job id: `python -m jobs promote ftjob-...` (see `python -m jobs list`)",
        )
    done.sort(key=lambda j: (j.get("finished_at") or j.get("created_at") or 0))
    return str(done[-1]["job_id"])
