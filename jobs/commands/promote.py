"""``promote [JOB_ID]``: hand a succeeded job's fine-tuned model to the Pulumi stack.

:func:`promote_job` is the core (also called at the end of ``run``):

1. takes ``fine_tuned_model`` from a succeeded job (anything else is refused);
2. sets it in the stack: ``pulumi config set --stack S fineTunedModel MODEL``
   (and ``fineTunedDeploymentName`` only when the user passes ``--deployment-name``);
3. runs ``pulumi up --yes --stack S`` only with ``--up`` (its output streams to
   stderr); otherwise prints the next command, ``pulumi up --stack S``;
4. warns about money: a Standard / GlobalStandard fine-tuned deployment is
   billed per hour while it exists, a Developer deployment has no hosting fee
   and is deleted after 24 hours (SKU from the stack outputs, else the stack
   config ``fineTunedDeploymentSku`` through ``pulumi config get``, or, without
   pulumi, from ``<project root>/Pulumi.<stack>.yaml``; when the key is not
   set, the infra default Developer: one warning, the one that applies);
5. records ``promoted`` in the run state.

Without the ``pulumi`` executable the model is *not* set in the stack: the
result says so, prints the exact commands to run by hand, records
``promoted.applied = false`` and exits 0. (A finished, paid-for job is a
success; failing ``run`` at its last step because a local tool is missing
would only make the user rerun it. ``make rehearse`` relies on this.)

Against the local emulator only (a loopback endpoint whose ``/++/health``
answers, or stack outputs with ``emulator: true``), the fine-tuned deployment
is also registered through ``POST /++/deployments``: it stands in for the
second ``pulumi up``. Azure endpoints are never probed.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlparse

from jobs.errors import JobFailedError, JobsError, UsageError

MODEL_KEY = "fineTunedModel"
DEPLOYMENT_NAME_KEY = "fineTunedDeploymentName"
SKU_KEY = "fineTunedDeploymentSku"
DEFAULT_FT_DEPLOYMENT = "gpt-4.1-ft-travel"
# What infra/config.py deploys when fineTunedDeploymentSku is not set in the stack (infra/config.py imports
# pulumi, too heavy for the runner; tests/test_promote.py checks that the two agree).
STACK_DEFAULT_SKU = "Developer"

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

_SKU_OUTPUT_KEYS = ("fine_tuned_deployment_sku", "fineTunedDeploymentSku", "ft_deployment_sku")
_NAME_OUTPUT_KEYS = ("fine_tuned_deployment_name", "fineTunedDeploymentName", "fine_tuned_deployment")


def money_warnings(sku: str | None) -> list[str]:
    """The hosting-cost warnings for a fine-tuned deployment SKU (both when unknown)."""
    low = (sku or "").strip().lower()
    if low in ("developer", "developertier"):
        return [DEVELOPER_WARNING]
    if low in ("standard", "globalstandard", "datazonestandard", "provisionedmanaged"):
        return [HOURLY_WARNING.format(sku=sku)]
    return [HOURLY_WARNING.format(sku="Standard or GlobalStandard"), DEVELOPER_WARNING]


@dataclass
class PromoteResult:
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
    emulator_deployment: str | None = None  # registered in the local emulator
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_text(self) -> str:
        lines = [f"fine-tuned model: {self.fine_tuned_model}  (job {self.job_id})"]
        if self.applied:
            lines.append(f"stack {self.stack}: {MODEL_KEY} set")
            lines += [f"  ran: {c}" for c in self.commands_run]
        else:
            lines.append(f"warning: the model was NOT set in stack {self.stack}: the `pulumi` executable is not on PATH.")
            lines.append("  run these yourself (install Pulumi: https://www.pulumi.com/docs/install/):")
            lines += [f"    {c}" for c in self.manual_commands]
        if self.emulator_deployment:
            lines.append(f"emulator: deployment {self.emulator_deployment!r} now serves {self.fine_tuned_model} "
                         "(stand-in for the second `pulumi up`)")
        if self.up_ran:
            lines.append(f"pulumi up finished for stack {self.stack}")
        elif self.next_command:
            lines.append(f"next: {self.next_command}")
        lines += [f"note: {n}" for n in self.notes]
        lines += [f"cost: {w}" for w in self.warnings]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _get(obj: Any, name: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _first(outputs: dict[str, Any] | None, keys: tuple[str, ...]) -> str | None:
    for k in keys:
        v = (outputs or {}).get(k)
        if isinstance(v, str) and v:
            return v
    return None


def is_emulator(conn: Any) -> bool:
    """True only for the local emulator: never sends a request to a non-loopback host."""
    outputs = getattr(conn, "outputs", None) or {}
    if outputs.get("emulator") is True:
        return True
    endpoint = str(getattr(conn, "endpoint", "") or "")
    host = (urlparse(endpoint).hostname or "").lower()
    if host not in ("127.0.0.1", "localhost", "::1"):
        return False
    import httpx

    try:
        resp = httpx.get(f"{endpoint.rstrip('/')}/++/health", timeout=3.0)
    except httpx.HTTPError:
        return False
    return resp.status_code == 200


def register_emulator_deployment(endpoint: str, name: str, model: str) -> None:
    import httpx

    url = f"{endpoint.rstrip('/')}/++/deployments"
    last: Exception | None = None
    for attempt in range(4):
        try:
            resp = httpx.post(url, json={"name": name, "model": model}, timeout=10.0)
        except httpx.HTTPError as exc:
            last = exc
            time.sleep(0.2 * (attempt + 1))
            continue
        if resp.status_code < 300:
            return
        if resp.status_code < 500:
            raise JobsError(f"the emulator refused deployment {name!r} -> {model}: HTTP {resp.status_code} "
                            f"{resp.text[:200]}", hint="check the emulator's log; is the model id right?")
        last = JobsError(f"HTTP {resp.status_code}")
        time.sleep(0.2 * (attempt + 1))
    raise JobsError(f"could not register deployment {name!r} in the emulator at {endpoint}: {last}",
                    hint="is the emulator still running? restart it and run `python -m jobs promote` again")


def stack_sku(conn: Any, stack: str) -> tuple[str | None, str]:
    """(the fine-tuned deployment's SKU, where it came from); the SKU is ``None`` only when it cannot be told."""
    sku = _first(getattr(conn, "outputs", None), _SKU_OUTPUT_KEYS)
    if sku:
        return sku, "the stack outputs"
    from jobs import pulumi_cli

    if pulumi_cli.available():
        try:
            value = pulumi_cli.config_get(stack, SKU_KEY)
        except pulumi_cli.PulumiMissing:
            pass  # removed from PATH meanwhile: read the file below
        except JobsError:
            return None, f"`pulumi config get {SKU_KEY}` failed"  # cannot tell: both warnings
        else:
            return (value, "the stack config") if value else (STACK_DEFAULT_SKU, f"the infra default ({SKU_KEY} "
                                                                                 "not set)")
    path, value = pulumi_cli.read_stack_file_config(stack, SKU_KEY)
    if value:
        return value, str(path)
    return STACK_DEFAULT_SKU, f"the infra default ({SKU_KEY} not set in {path})"


def _stack_sku(conn: Any, stack: str) -> str | None:
    return stack_sku(conn, stack)[0]


def promote_job(conn: Any, job: Any, *, stack: str, up: bool = False,
                deployment_name: str | None = None, state: Any | None = None) -> PromoteResult:
    """Set a succeeded job's model in the stack (see the module docstring). Records ``promoted``."""
    from jobs import pulumi_cli
    from jobs.state import RunState
    from jobs.status import JobStatus, normalise

    job_id = str(_get(job, "id") or "")
    status = normalise(_get(job, "status"))
    model = _get(job, "fine_tuned_model")
    if status is not JobStatus.SUCCEEDED:
        raise JobFailedError(
            f"job {job_id} is {status.value}: only a succeeded job has a fine-tuned model to promote",
            hint=f"wait for it with `python -m jobs watch {job_id}`, or pick another job from `python -m jobs list`",
        )
    if not model:
        raise JobsError(f"job {job_id} succeeded but reports no fine_tuned_model yet",
                        hint=f"try again in a minute: `python -m jobs promote {job_id}`")
    model = str(model)

    result = PromoteResult(job_id=job_id, fine_tuned_model=model, stack=stack, applied=False,
                           deployment_name=deployment_name)
    set_model = pulumi_cli.config_set_argv(stack, MODEL_KEY, model)
    set_name = pulumi_cli.config_set_argv(stack, DEPLOYMENT_NAME_KEY, deployment_name) if deployment_name else None
    up_cmd = pulumi_cli.up_argv(stack, yes=False)

    result.sku, sku_source = stack_sku(conn, stack)
    if pulumi_cli.available():
        try:
            result.commands_run.append(pulumi_cli.format_command(pulumi_cli.config_set(stack, MODEL_KEY, model)))
            if deployment_name:
                result.commands_run.append(pulumi_cli.format_command(
                    pulumi_cli.config_set(stack, DEPLOYMENT_NAME_KEY, deployment_name)))
            result.applied = True
        except pulumi_cli.PulumiMissing:
            result.applied = False  # removed from PATH between the check and the call
        except JobsError as exc:
            _record(state or RunState(stack), result)
            raise JobsError(exc.message, hint=(exc.hint or "") +
                            f"; the job is kept: run `python -m jobs promote {job_id}` once fixed") from None
    if not result.applied:
        if result.sku:
            result.notes.append(f"deployment SKU {result.sku}, from {sku_source}")
        manual = [set_model] + ([set_name] if set_name else []) + [up_cmd]
        result.manual_commands = [pulumi_cli.format_command(c) for c in manual]
    result.warnings = money_warnings(result.sku)

    if is_emulator(conn):
        outputs = getattr(conn, "outputs", None)
        base = _first(outputs, ("base_deployment", "base_deployment_name"))
        name = (deployment_name or _first(outputs, _NAME_OUTPUT_KEYS)
                or (f"{base}-ft-travel" if base else DEFAULT_FT_DEPLOYMENT))
        register_emulator_deployment(str(conn.endpoint), name, model)
        result.emulator_deployment = name
        result.deployment_name = name

    if up and result.applied:
        result.commands_run.append(pulumi_cli.format_command(pulumi_cli.up_argv(stack, yes=True)))
        _record(state or RunState(stack), result)  # the model is set even if `up` fails below
        pulumi_cli.up(stack, yes=True)
        result.up_ran = True
    else:
        if up and not result.applied:
            result.notes.append("--up skipped: pulumi is not available")
        result.next_command = pulumi_cli.format_command(up_cmd)
    _record(state or RunState(stack), result)
    return result


def _record(state: Any, result: PromoteResult) -> None:
    entry = {
        "job_id": result.job_id,
        "fine_tuned_model": result.fine_tuned_model,
        "at": int(time.time()),
        "applied": result.applied,
        "deployment_name": result.deployment_name,
        "sku": result.sku,
        "up": result.up_ran,
    }

    def change(data: dict[str, Any]) -> None:
        data["promoted"] = entry
        for job in (data.get("jobs") or {}).values():
            if isinstance(job, dict) and job.get("job_id") == result.job_id:
                job["fine_tuned_model"] = result.fine_tuned_model
                job.setdefault("status", "succeeded")

    state.update(change)


def latest_succeeded_job_id(stack: str) -> str:
    """The most recent job in the stack's run state that succeeded (or at least has a model)."""
    from jobs.state import RunState
    from jobs.status import JobStatus, normalise

    jobs = list((RunState(stack).load().get("jobs") or {}).values())
    done = [j for j in jobs if isinstance(j, dict) and j.get("job_id")
            and (normalise(j.get("status")) is JobStatus.SUCCEEDED or j.get("fine_tuned_model"))]
    if not done:
        raise UsageError(
            f"no succeeded job in the run state of stack {stack!r} (nothing to promote)",
            hint="pass the job id: `python -m jobs promote ftjob-...` (see `python -m jobs list`)",
        )
    done.sort(key=lambda j: (j.get("finished_at") or j.get("created_at") or 0))
    return str(done[-1]["job_id"])


def promote(*, job_id: str | None = None, stack: str | None = None, endpoint: str | None = None,
            api: str | None = None, api_version: str | None = None, up: bool = False,
            deployment_name: str | None = None) -> PromoteResult:
    """The ``promote`` command."""
    from jobs.client import connect
    from jobs.state import RunState, resolve_stack

    stack = resolve_stack(stack)
    if deployment_name is not None and not deployment_name.strip():
        raise UsageError("--deployment-name is empty", hint="pass a deployment name, or leave the option out")
    job_id = job_id or latest_succeeded_job_id(stack)
    conn = connect(endpoint=endpoint, stack=stack, api=api, api_version=api_version)
    job = conn.call(conn.client.fine_tuning.jobs.retrieve, job_id, what=f"get job {job_id}")
    with RunState(stack).locked() as state:
        return promote_job(conn, job, stack=stack, up=up, deployment_name=deployment_name, state=state)
