"""``clean [--models] [--yes]``: delete what this project created on the data plane.

- Deletes the files this project uploaded (the run state's ``files``) and the
  result files (``results.csv``) of its jobs.
- With ``--models``, deletes the fine-tuned models of its jobs. Azure's dated
  authoring API (2025-04-01-preview) has no ``DELETE /models/{id}``: a
  fine-tuned model goes with its job, ``DELETE /openai/fine_tuning/jobs/{id}``
  (``FineTuning_Delete``). The v1 API has ``DELETE /openai/v1/models/{model}``.
  Azure refuses while a deployment still uses the model, so ``fineTunedModel``
  is unset first and the refusal is reported with the fix (``pulumi up``).
- Unsets ``fineTunedModel`` in the stack (``pulumi config rm --stack S
  fineTunedModel``; printed instead when ``pulumi`` is missing). Without
  pulumi, clean still exits 0 (the data-plane clean-up worked), but when the
  model is still set (``Pulumi.<stack>.yaml`` has ``fineTunedModel``, or
  promote applied it) it warns that the tuned deployment still exists and is
  billed (per its SKU) until ``pulumi config rm ... && pulumi up`` or
  ``pulumi destroy`` runs, with the exact commands.
- Asks for confirmation unless ``--yes`` (refuses, exit 3, when it cannot ask).
- Against the local emulator only, removes the tuned deployment that promote
  registered there (the stand-in for the ``pulumi up`` that removes it on Azure).
- Tells the user to run ``pulumi destroy --stack S`` for the rest.

Something already gone (404) counts as deleted. Other failures are listed and
make the command exit 1; what was deleted is removed from the run state.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from jobs.errors import ExitCode, JobsError, RefusedError

MODEL_KEY = "fineTunedModel"


@dataclass
class CleanResult:
    stack: str
    deleted_files: list[str] = field(default_factory=list)
    deleted_models: list[str] = field(default_factory=list)
    deleted_jobs: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    unset_model: bool = False
    emulator_deployment_removed: str | None = None
    manual_commands: list[str] = field(default_factory=list)
    still_deployed: str | None = None  # pulumi missing and fineTunedModel still set: why it is still billed
    next_command: str = ""
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
            lines.append(f"stack {self.stack}: {MODEL_KEY} unset")
        if self.emulator_deployment_removed:
            lines.append(f"emulator: deployment {self.emulator_deployment_removed!r} removed "
                         "(stand-in for the `pulumi up` that removes it on Azure)")
        if self.still_deployed:
            lines.append(f"warning: `pulumi` is not on PATH, so {MODEL_KEY} is still set in stack {self.stack}: "
                         f"{self.still_deployed}")
            lines.append("  remove the tuned deployment yourself (install Pulumi: https://www.pulumi.com/docs/install/):")
            lines.append(f"    {' && '.join(self.manual_commands)}")
            lines.append(f"  or remove everything: {self.next_command}")
        elif self.manual_commands:
            lines.append("warning: `pulumi` is not on PATH; run this yourself:")
            lines += [f"  {c}" for c in self.manual_commands]
        for fail in self.failures:
            lines.append(f"failed: {fail}")
        lines.append(f"next: {self.next_command}   (removes the AI Services account, project and deployments)")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _status_code(exc: BaseException) -> int | None:
    for obj in (exc, getattr(exc, "__cause__", None), getattr(exc, "__context__", None)):
        code = getattr(obj, "status_code", None)
        if isinstance(code, int):
            return code
    text = getattr(exc, "message", "") or str(exc)
    return 404 if ("404" in text or "not found" in text.lower() or "NotFound" in text) else None


def plan(conn: Any, state: dict[str, Any], *, models: bool) -> tuple[list[str], list[tuple[str, str, str | None]]]:
    """(file ids, [(job id, model id, None)]) this project created, according to the state and the server."""
    files: list[str] = []
    for entry in (state.get("files") or {}).values():
        fid = entry.get("file_id") if isinstance(entry, dict) else None
        if fid and fid not in files:
            files.append(str(fid))
    jobs: list[tuple[str, str, str | None]] = []
    for entry in (state.get("jobs") or {}).values():
        if not isinstance(entry, dict) or not entry.get("job_id"):
            continue
        job_id = str(entry["job_id"])
        model = entry.get("fine_tuned_model")
        result_files = list(entry.get("result_files") or [])
        if not entry.get("model_deleted"):
            try:
                job = conn.call(conn.client.fine_tuning.jobs.retrieve, job_id, what=f"get job {job_id}")
            except JobsError as exc:
                if _status_code(exc) != 404:
                    raise
                job = None
            if job is not None:
                result_files += [str(r) for r in (_get(job, "result_files") or [])]
                model = _get(job, "fine_tuned_model") or model
        for rf in result_files:
            if rf not in files:
                files.append(rf)
        if models and model and not entry.get("model_deleted"):
            jobs.append((job_id, str(model), None))
    return files, jobs


def _delete_model(conn: Any, job_id: str, model: str) -> None:
    if getattr(conn, "api", "dated") == "v1":
        conn.call(conn.client.models.delete, model, what=f"delete model {model}")
    else:
        # FineTuning_Delete: the job and the model it produced.
        conn.call(conn.client.delete, f"/fine_tuning/jobs/{job_id}", cast_to=object, what=f"delete job {job_id}")


def _still_deployed(conn: Any, stack: str, promoted: Any) -> str | None:
    """Without pulumi: why the tuned deployment is still billed, or None when the stack does not set the model."""
    from jobs import pulumi_cli
    from jobs.commands.promote import stack_sku

    path, model = pulumi_cli.read_stack_file_config(stack, MODEL_KEY)
    applied = isinstance(promoted, dict) and promoted.get("applied") is True
    if not model and not applied:
        return None
    where = f"{path.name} sets {model}" if model else "promote set it"
    sku, _ = stack_sku(conn, stack)
    low = (sku or "").lower()
    if low in ("developer", "developertier"):
        bill = ("as a Developer deployment it is billed per token while it is used (no hourly fee) until Azure "
                "deletes it 24 hours after it was created, or until you remove it")
    elif sku:
        bill = f"as a {sku} deployment it is billed per hour, even when idle, until you remove it"
    else:
        bill = ("it may be billed per hour (Standard/GlobalStandard), even when idle, until you remove it")
    return f"{where}; the tuned deployment still exists and {bill}"


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    sys.stderr.write(question + " [y/N] ")
    sys.stderr.flush()
    try:
        answer = sys.stdin.readline()
    except (EOFError, OSError):
        return False
    return answer.strip().lower() in ("y", "yes")


def clean(*, models: bool = False, yes: bool = False, stack: str | None = None, endpoint: str | None = None,
          api: str | None = None, api_version: str | None = None,
          confirm: Callable[[str], bool] | None = None) -> CleanResult:
    """The ``clean`` command."""
    from jobs import pulumi_cli
    from jobs.client import connect
    from jobs.state import RunState, resolve_stack

    stack = resolve_stack(stack)
    result = CleanResult(stack=stack, next_command=pulumi_cli.format_command(pulumi_cli.destroy_argv(stack)))
    run_state = RunState(stack)
    with run_state.locked():
        state = run_state.load()
        promoted = state.get("promoted") or None
        if not state.get("files") and not state.get("jobs") and not promoted:
            result.nothing_to_do = True  # a fresh machine: no endpoint needed to say so
            return result
        conn = connect(endpoint=endpoint, stack=stack, api=api, api_version=api_version)
        files, jobs = plan(conn, state, models=models)
        if not files and not jobs and not promoted:
            result.nothing_to_do = True
        if not result.nothing_to_do and not yes:
            what = [f"{len(files)} file(s)"] + ([f"{len(jobs)} fine-tuned model(s) and their jobs"] if models else [])
            question = (f"delete {' and '.join(what)} from {conn.endpoint} and unset {MODEL_KEY} in stack {stack}?")
            if not (confirm or _confirm)(question):
                raise RefusedError(f"not confirmed: {question}",
                                   hint="answer y on a terminal, or pass --yes to delete without asking")

        # 1. the stack no longer asks for the model, so its deployment can go
        if promoted or jobs:
            try:
                pulumi_cli.config_rm(stack, MODEL_KEY)
                result.unset_model = True
            except pulumi_cli.PulumiMissing:
                result.manual_commands.append(pulumi_cli.format_command(pulumi_cli.config_rm_argv(stack, MODEL_KEY)))
                result.manual_commands.append(pulumi_cli.format_command(pulumi_cli.up_argv(stack, yes=False)))
                result.still_deployed = _still_deployed(conn, stack, promoted)
            except JobsError as exc:
                result.failures.append(f"unset {MODEL_KEY}: {exc.message.splitlines()[0]}")
        elif not pulumi_cli.available():  # not ours to unset, but still billed if the stack file sets it
            result.still_deployed = _still_deployed(conn, stack, None)
            if result.still_deployed:
                result.manual_commands.append(pulumi_cli.format_command(pulumi_cli.config_rm_argv(stack, MODEL_KEY)))
                result.manual_commands.append(pulumi_cli.format_command(pulumi_cli.up_argv(stack, yes=False)))

        # 1b. the local emulator only: drop the tuned deployment (stand-in for that `pulumi up`)
        ft_deployment = (promoted or {}).get("deployment_name") if isinstance(promoted, dict) else None
        if ft_deployment and (result.unset_model or result.manual_commands):
            from jobs.commands.promote import is_emulator

            if is_emulator(conn):
                import httpx

                try:
                    resp = httpx.delete(f"{str(conn.endpoint).rstrip('/')}/++/deployments/{ft_deployment}",
                                        timeout=10.0)
                    if resp.status_code in (200, 204, 404):
                        result.emulator_deployment_removed = ft_deployment
                except httpx.HTTPError:
                    pass

        # 2. files
        deleted_files: set[str] = set()
        for fid in files:
            try:
                conn.call(conn.client.files.delete, fid, what=f"delete file {fid}")
            except JobsError as exc:
                if _status_code(exc) != 404:
                    result.failures.append(f"file {fid}: {exc.message.splitlines()[0]}")
                    continue
            deleted_files.add(fid)
            result.deleted_files.append(fid)

        # 3. models
        deleted_jobs: set[str] = set()
        for job_id, model, _ in jobs:
            try:
                _delete_model(conn, job_id, model)
            except JobsError as exc:
                if _status_code(exc) != 404:
                    hint = ("delete its deployment first: `pulumi up` after the config change, or `pulumi destroy`"
                            if _status_code(exc) in (400, 409) else (exc.hint or ""))
                    result.failures.append(f"model {model}: {exc.message.splitlines()[0]} ({hint})".rstrip(" ()"))
                    continue
            deleted_jobs.add(job_id)
            result.deleted_models.append(model)
            result.deleted_jobs.append(job_id)

        def change(data: dict[str, Any]) -> None:
            data["files"] = {k: v for k, v in (data.get("files") or {}).items()
                             if not (isinstance(v, dict) and v.get("file_id") in deleted_files)}
            for entry in (data.get("jobs") or {}).values():
                if isinstance(entry, dict) and entry.get("job_id") in deleted_jobs:
                    entry["model_deleted"] = True
            if result.unset_model or (data.get("promoted") or {}).get("job_id") in deleted_jobs:
                data["promoted"] = None

        run_state.update(change)
    if result.failures:
        result.exit_code = int(ExitCode.FAILED)
    return result
