"""The last step, clean: delete what this project created on the data plane, and take the model out of the stack.

- Deletes the files this project uploaded (the run state's ``files``) and the result files (``results.csv``)
  of its jobs.
- With ``models``, deletes the fine-tuned models of its jobs (``Api.delete_model``). Azure refuses while a
  deployment still uses the model, so ``fineTunedModel`` is taken out of the stack first and the refusal is
  reported with the fix (``pulumi up``).
- Takes ``fineTunedModel`` out of the stack through the session's deployer (printed instead when ``pulumi`` is
  missing). Without pulumi, clean still succeeds (the data-plane clean-up worked), but when the model is still
  set (``Pulumi.<stack>.yaml`` has ``fineTunedModel``, or promote applied it) it warns that the tuned deployment
  still exists and is billed (per its SKU) until the exact commands it prints are run.
- Asks for confirmation unless ``yes`` (refuses, exit 3, when it cannot ask).
- Moves the run state's latest-job pointer off the jobs whose models it deleted, so ``status`` and ``metrics``
  no longer default to a deleted job.

Something already gone (404) counts as deleted. Other failures are listed and make the command exit 1; what
was deleted is removed from the run state.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from jobs import contract
from jobs.api import is_not_found
from jobs.errors import ExitCode, JobsError, RefusedError
from jobs.softdelete import SoftDeleted, purge_commands, purge_text

if TYPE_CHECKING:  # pragma: no cover
    from jobs.session import Session

MODEL_KEY = contract.FINE_TUNED_MODEL


@dataclass
class CleanOutcome:
    stack: str
    deleted_files: list[str] = field(default_factory=list)
    deleted_models: list[str] = field(default_factory=list)
    deleted_jobs: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    unset_model: bool = False
    stand_in: str | None = None  # the rehearsal: what stood in for pulumi
    emulator_deployment_removed: str | None = None
    manual_commands: list[str] = field(default_factory=list)
    still_deployed: str | None = None  # pulumi missing and fineTunedModel still set: why it is still billed
    next_command: str = ""
    purge: list[str] = field(default_factory=list)  # what `pulumi destroy` leaves soft-deleted, and its commands
    nothing_to_do: bool = False
    exit_code: int = 0

    def to_text(self) -> str:
        lines: list[str] = []
        if self.nothing_to_do:
            lines.append(f"nothing to delete: the run state of stack {self.stack} lists no files or models")
        for f in self.deleted_files:
            lines.append(f"deleted file {f}")
        for mdl, job in zip(self.deleted_models, self.deleted_jobs):
            lines.append(f"deleted model {mdl} (job {job})")
        if self.unset_model:
            where = f" in the {self.stand_in}" if self.stand_in else ""
            lines.append(f"stack {self.stack}: {MODEL_KEY} unset{where}")
        if self.emulator_deployment_removed:
            lines.append(f"emulator: deployment {self.emulator_deployment_removed!r} removed "
                         "(stand-in for the `pulumi up` that removes it on Azure)")
        if self.still_deployed:
            lines.append(f"warning: `pulumi` is not on PATH, so {MODEL_KEY} is still set in stack {self.stack}: "
                         f"{self.still_deployed}")
            lines.append("  remove the tuned deployment yourself (install Pulumi: "
                         "https://www.pulumi.com/docs/install/):")
            lines.append(f"    {' && '.join(self.manual_commands)}")
            lines.append(f"  or remove everything: {self.next_command}")
        elif self.manual_commands:
            lines.append("warning: `pulumi` is not on PATH; run this yourself:")
            lines += [f"  {c}" for c in self.manual_commands]
        for fail in self.failures:
            lines.append(f"failed: {fail}")
        lines.append(f"next: {self.next_command}   (removes the AI Services account, project and deployments)")
        lines += self.purge
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def plan(session: "Session", state: dict[str, Any], *, models: bool) -> tuple[list[str], list[tuple[str, str]]]:
    """(file ids, [(job id, model id)]) this project created, according to the state and the server."""
    files: list[str] = []
    for entry in (state.get("files") or {}).values():
        fid = entry.get("file_id") if isinstance(entry, dict) else None
        if fid and fid not in files:
            files.append(str(fid))
    jobs: list[tuple[str, str]] = []
    for entry in (state.get("jobs") or {}).values():
        if not isinstance(entry, dict) or not entry.get("job_id"):
            continue
        job_id = str(entry["job_id"])
        model = entry.get("fine_tuned_model")
        result_files = list(entry.get("result_files") or [])
        if not entry.get("model_deleted"):
            try:
                job = session.api.get_job(job_id)
            except JobsError as exc:
                if not is_not_found(exc):
                    raise
            else:
                result_files += list(job.result_files)
                model = job.fine_tuned_model or model
        for rf in result_files:
            if rf not in files:
                files.append(str(rf))
        if models and model and not entry.get("model_deleted"):
            jobs.append((job_id, str(model)))
    return files, jobs


def _still_deployed(session: "Session", promoted: Any) -> str | None:
    """Without pulumi: why the tuned deployment is still billed, or None when the stack does not set the model."""
    where_file, model = session.deployer.model_in_stack_file()
    applied = isinstance(promoted, dict) and promoted.get("applied") is True
    if not model and not applied:
        return None
    where = f"{where_file} sets {model}" if model else "promote set it"
    sku, _ = session.deployer.fine_tuned_sku()
    low = (sku or "").lower()
    if low in contract.DEVELOPER_SKUS:
        bill = ("as a Developer deployment it is billed per token while it is used (no hourly fee) until Azure "
                "deletes it 24 hours after it was created, or until you remove it")
    elif sku:
        bill = f"as a {sku} deployment it is billed per hour, even when idle, until you remove it"
    else:
        bill = "it may be billed per hour (Standard/GlobalStandard), even when idle, until you remove it"
    return f"{where}; the tuned deployment still exists and {bill}"


def soft_deleted(session: "Session") -> list[str]:
    """What ``pulumi destroy`` leaves soft-deleted for this stack, with the exact purge commands (the stack's
    outputs name the resources; none when they cannot be read)."""
    return purge_text(soft_deleted_items(session))


def soft_deleted_items(session: "Session") -> list[SoftDeleted]:
    """:func:`soft_deleted`'s resources, each with its command and when it can run."""
    if session.deployer.stand_in is not None or not session.deployer.available:
        return []
    try:
        outputs = session.deployer.outputs()
    except JobsError:
        return []
    return purge_commands(outputs)


def clean(session: "Session", *, models: bool = False, yes: bool = False) -> CleanOutcome:
    """See the module docstring. Holds the stack's lock."""
    deployer = session.deployer
    result = CleanOutcome(stack=session.stack, next_command=deployer.destroy_command(), stand_in=deployer.stand_in)
    with session.state.locked():
        state = session.state.load()
        promoted = state.get("promoted") or None
        if not state.get("files") and not state.get("jobs") and not promoted:
            result.nothing_to_do = True  # a fresh machine: no endpoint needed to say so
            return result
        files, jobs = plan(session, state, models=models)
        if not files and not jobs and not promoted:
            result.nothing_to_do = True
        if not result.nothing_to_do and not yes:
            _confirm(session, files, jobs, models=models)
        _unset_model(session, result, promoted, has_jobs=bool(jobs))  # 1. so the model's deployment can go
        deleted_files = _delete_files(session, result, files)  # 2.
        deleted_jobs = _delete_models(session, result, jobs)  # 3.
        session.state.update(lambda data: _forget(data, deleted_files, deleted_jobs, unset=result.unset_model))
    result.purge = soft_deleted(session)
    if result.failures:
        result.exit_code = int(ExitCode.FAILED)
    return result


def _confirm(session: "Session", files: list[str], jobs: list[tuple[str, str]], *, models: bool) -> None:
    """Ask before deleting; refuse (exit 3) unless the answer is yes."""
    what = [f"{len(files)} file(s)"] + ([f"{len(jobs)} fine-tuned model(s) and their jobs"] if models else [])
    question = (f"delete {' and '.join(what)} from {session.connection.endpoint} and unset {MODEL_KEY} "
                f"in stack {session.stack}?")
    if not session.ui.ask(question + " [y/N] "):
        raise RefusedError(f"not confirmed: {question}",
                           hint="answer y on a terminal, or pass --yes to delete without asking")


def _unset_model(session: "Session", result: CleanOutcome, promoted: Any, *, has_jobs: bool) -> None:
    """Take the model out of the stack (the deployer), or say what to run when pulumi is missing."""
    deployer = session.deployer
    manual_up = [deployer.apply_command()]
    if promoted or has_jobs:
        try:
            changes = deployer.remove()
        except JobsError as exc:
            result.failures.append(f"unset {MODEL_KEY}: {exc.message.splitlines()[0]}")
            return
        if all(c.done for c in changes):
            result.unset_model = True
            if deployer.stand_in:
                result.emulator_deployment_removed = (promoted or {}).get("deployment_name") or None
        else:
            result.manual_commands = [c.command for c in changes] + manual_up
            result.still_deployed = _still_deployed(session, promoted)
    elif not deployer.available:  # not ours to unset, but still billed if the stack file sets it
        result.still_deployed = _still_deployed(session, None)
        if result.still_deployed:
            result.manual_commands = [deployer.remove_command()] + manual_up


def _delete_files(session: "Session", result: CleanOutcome, files: list[str]) -> set[str]:
    """Delete the files (already gone counts as deleted); the ids deleted."""
    deleted: set[str] = set()
    for fid in files:
        try:
            session.api.delete_file(fid)
        except JobsError as exc:
            if not is_not_found(exc):
                result.failures.append(f"file {fid}: {exc.message.splitlines()[0]}")
                continue
        deleted.add(fid)
        result.deleted_files.append(fid)
    return deleted


def _delete_models(session: "Session", result: CleanOutcome, jobs: list[tuple[str, str]]) -> set[str]:
    """Delete the fine-tuned models (already gone counts as deleted); the ids of the jobs whose model went."""
    deleted: set[str] = set()
    for job_id, model in jobs:
        try:
            session.api.delete_model(job_id, model)
        except JobsError as exc:
            if not is_not_found(exc):
                hint = ("delete its deployment first: `pulumi up` after the config change, or `pulumi destroy`"
                        if exc.status in (400, 409) else (exc.hint or ""))
                result.failures.append(f"model {model}: {exc.message.splitlines()[0]} ({hint})".rstrip(" ()"))
                continue
        deleted.add(job_id)
        result.deleted_models.append(model)
        result.deleted_jobs.append(job_id)
    return deleted


def _forget(data: dict[str, Any], files: set[str], jobs: set[str], *, unset: bool) -> None:
    """The run state's change: drop the deleted files, mark the deleted models, clear ``promoted`` when the model
    left the stack, and move the latest-job pointer off a deleted job."""
    data["files"] = {k: v for k, v in (data.get("files") or {}).items()
                     if not (isinstance(v, dict) and v.get("file_id") in files)}
    for entry in (data.get("jobs") or {}).values():
        if isinstance(entry, dict) and entry.get("job_id") in jobs:
            entry["model_deleted"] = True
    if unset or (data.get("promoted") or {}).get("job_id") in jobs:
        data["promoted"] = None
    if data.get("latest_job") in jobs:
        alive = [r for r in (data.get("jobs") or {}).values()
                 if isinstance(r, dict) and r.get("job_id") and not r.get("model_deleted")]
        data["latest_job"] = max(alive, key=lambda r: int(r.get("created_at") or 0))["job_id"] if alive else None
