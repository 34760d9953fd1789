"""Step 3, train: create the fine-tuning job once per file and parameters, guarded by the cost check.

Crash safety, in the run state:

- ``pending[run key]`` is written *before* the create call; ``jobs[run key]`` as soon as the service answers.
  A restart that finds a pending create adopts the job on the server whose training file, suffix and creation
  time match; it never creates a second one.
- A job the state knows for the same run key is reused (unless ``--new``).
- No record at all (state wiped, another folder or machine): before uploading and creating,
  :func:`find_duplicate` looks for a live job with the same model, suffix and training file (id, or name and
  size) on the server and refuses (exit 3) unless ``--new``.

The run key (:func:`run_key`) is a hash of what makes two requests "the same job": the training and
validation data (by content hash, or file id), the model, the suffix, the hyperparameters, the training type
and the seed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs import contract
from jobs.api import JobInfo, is_not_found
from jobs.errors import JobsError, RefusedError, UsageError
from jobs.flow.cost import CostEstimate, Guards, confirm_or_refuse, guard_cost
from jobs.flow.data import VALIDATION, DataCheck, check_data
from jobs.flow.lifecycle import check_training
from jobs.flow.limits import check_job_size, check_resource_files
from jobs.flow.upload import ADOPT_SLACK_SECONDS, ensure_uploaded, file_facts, now, wait_processed
from jobs.models import DEFAULT_MODEL
from jobs.settings import check_number
from jobs.status import FileStatus, JobStatus

if TYPE_CHECKING:  # pragma: no cover
    from jobs.session import Session

# Ranges the fine-tuning API documents (OpenAI's create-job reference, which Azure OpenAI follows):
# n_epochs "any number between 1 and 50"; seed an int32 from 0 to 2147483647; batch_size and
# learning_rate_multiplier positive (the batch-size maximum is per base model, so the service checks it).
EPOCHS_MIN, EPOCHS_MAX = 1, 50
SEED_MIN, SEED_MAX = 0, 2_147_483_647
BATCH_MAX = 2_048  # a sanity bound; the service checks the model's own maximum
BETA_MAX = 100.0
METHODS = ("supervised", "dpo")
LRM_MAX = 100.0
_SUFFIX_RE = re.compile(r"[A-Za-z0-9_-]{1,40}")


def check_model(model: str | None) -> str:
    """The fine-tuning id of a model we know can be fine-tuned (``gpt-4.1`` -> ``gpt-4.1-2025-04-14``)."""
    from jobs.models import NotFineTunable, UnknownModel, alternatives_text, resolve

    model = model or DEFAULT_MODEL
    try:
        m = resolve(model)
    except NotFineTunable as exc:
        raise UsageError(f"--model {model}: {exc.model.refusal()}; it cannot be fine-tuned",
                         hint=f"use {exc.model.replacement}, or one of: {alternatives_text()}") from None
    except UnknownModel:
        raise UsageError(f"--model {model} is not a fine-tunable model we know",
                         hint=f"use one of: {alternatives_text()}") from None
    return m.model_id


@dataclass(frozen=True)
class TrainingOptions:
    """What the job is asked to do, checked once (:meth:`checked`) before any request."""

    model: str = DEFAULT_MODEL
    suffix: str = contract.SUFFIX
    validation_file: str | None = None  # a path, or an uploaded file id (file-...)
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate_multiplier: float | None = None
    seed: int | None = None
    training_type: str | None = None  # contract.TRAINING_TYPES key
    method: str = "supervised"  # or "dpo" (preference pairs; beta is its own hyperparameter)
    beta: float | None = None

    def checked(self) -> "TrainingOptions":
        """The same options with the model resolved; a bad option is a UsageError naming it."""
        if self.epochs is not None and not EPOCHS_MIN <= self.epochs <= EPOCHS_MAX:
            raise UsageError(f"--epochs {self.epochs} is outside the range the fine-tuning API accepts "
                             f"({EPOCHS_MIN}..{EPOCHS_MAX})",
                             hint=f"pass --epochs {EPOCHS_MIN}..{EPOCHS_MAX}, or omit it for auto")
        if self.batch_size is not None and not 1 <= self.batch_size <= BATCH_MAX:
            bound = "at least 1" if self.batch_size < 1 else f"at most {BATCH_MAX}"
            raise UsageError(f"--batch-size {self.batch_size} must be {bound}",
                             hint="pass a positive whole number (the maximum depends on the base model), "
                             "or omit it to let the service choose")
        if self.learning_rate_multiplier is not None:
            check_number(self.learning_rate_multiplier, name="--learning-rate-multiplier", above=0, maximum=LRM_MAX,
                         unit=f"a number greater than 0, at most {LRM_MAX:g}; try 0.02..2, or omit it for auto",
                         example="0.1")
        if self.seed is not None and not SEED_MIN <= self.seed <= SEED_MAX:
            raise UsageError(f"--seed {self.seed} is outside the range the fine-tuning API accepts "
                             f"({SEED_MIN}..{SEED_MAX})",
                             hint=f"pass --seed {SEED_MIN}..{SEED_MAX}, or omit it to let the service pick one")
        if not _SUFFIX_RE.fullmatch(self.suffix or ""):
            raise UsageError(f"--suffix {self.suffix!r} is invalid: up to 40 characters a-z, A-Z, 0-9, - and _",
                             hint=f"e.g. --suffix {contract.SUFFIX}")
        if self.method not in METHODS:
            raise UsageError(f"--method {self.method!r} is not a training method", hint=f"use one of: {', '.join(METHODS)}")
        if self.beta is not None:
            if self.method != "dpo":
                raise UsageError("--beta applies to --method dpo only", hint="drop --beta, or pass --method dpo")
            check_number(self.beta, name="--beta", above=0, maximum=BETA_MAX,
                         unit=f"DPO's beta, greater than 0 and at most {BETA_MAX:g}; omit it for the default",
                         example="0.1")
        if self.training_type is not None and self.training_type not in contract.TRAINING_TYPES:
            raise UsageError(f"--training-type {self.training_type!r} is not a training type",
                             hint=f"use one of: {', '.join(contract.TRAINING_TYPE_NAMES)}")
        checked = replace(self, model=check_model(self.model))
        if self.method == "dpo":
            from jobs.models import FINE_TUNABLE, resolve

            if not resolve(checked.model).dpo:
                able = ", ".join(m.model_id for m in FINE_TUNABLE if m.dpo)
                raise UsageError(f"--model {checked.model} cannot be trained with --method dpo",
                                 hint=f"use one of: {able} (Azure's DPO models), or --method supervised")
        return checked

    @property
    def hyperparameters(self) -> dict[str, Any]:
        hp: dict[str, Any] = {"n_epochs": self.epochs, "batch_size": self.batch_size,
                              "learning_rate_multiplier": self.learning_rate_multiplier}
        if self.method == "dpo":
            hp["beta"] = self.beta
        return hp


def run_key(*, training: str, validation: str | None, options: TrainingOptions) -> str:
    """Stable hash of what makes two training requests "the same job"."""
    payload: dict[str, Any] = {
        "training": training, "validation": validation, "model": options.model, "suffix": options.suffix,
        "hyperparameters": {k: v for k, v in sorted(options.hyperparameters.items()) if v is not None},
        "training_type": options.training_type, "seed": options.seed}
    if options.method != "supervised":  # supervised keys stay as they were: a resumed run finds its job
        payload["method"] = options.method
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class TrainingData:
    """What to train on: a validated local file (:class:`DataCheck`) or an uploaded file id."""

    check: DataCheck | None = None
    file_id: str | None = None

    @property
    def identity(self) -> str:
        return f"sha256:{self.check.sha256}" if self.check is not None else f"file:{self.file_id}"


@dataclass
class TrainOutcome:
    job: JobInfo
    key: str
    created: bool
    adopted: bool = False
    reused: bool = False
    estimate: CostEstimate | None = None
    steps: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- finding jobs on the server


def _suffix_matches(job: JobInfo, suffix: str) -> bool:
    if job.suffix is not None:
        return job.suffix == suffix
    if job.fine_tuned_model:
        return suffix in job.fine_tuned_model
    return True  # the server tells neither: training file and time decide


def _params_match(job: JobInfo, model: str | None, n_epochs: Any, method: str = "supervised") -> bool:
    """Where the server tells them, the base model, the method and the epochs must agree too."""
    if job.method and job.method != method:
        return False
    job_model = (job.model or "").lower()
    if model and job_model and not (job_model == model.lower() or job_model.startswith(model.lower())
                                    or model.lower().startswith(job_model)):
        return False
    job_epochs = job.hyperparameters.get("n_epochs")
    if isinstance(n_epochs, int) and isinstance(job_epochs, int) and job_epochs > 0 and job_epochs != n_epochs:
        return False
    return True


def find_adoptable(session: "Session", *, training_file: str, options: TrainingOptions,
                   since: int) -> JobInfo | None:
    """A job on the server that a lost create call may have made."""
    matches = [j for j in session.api.list_jobs(limit=100)
               if j.training_file == training_file and _suffix_matches(j, options.suffix)
               and (j.created_at or 0) >= since - ADOPT_SLACK_SECONDS
               and _params_match(j, options.model, options.epochs, options.method)]
    return min(matches, key=lambda j: j.created_at or 0) if matches else None


def find_duplicate(session: "Session", options: TrainingOptions, *, training_file: str | None,
                   local: DataCheck | None, exclude: set[str]) -> JobInfo | None:
    """A job on the server that this run would duplicate although the run state does not know it.

    Looks at the most recent jobs (one page of 100): same base model and suffix (and epochs, where both are
    known), not failed or cancelled, not tracked in the state (``exclude``), trained on ``training_file`` or
    on a file with the same name and size as the local data file (a wiped state re-uploads under a new id).
    Returns the newest such job, or None.
    """
    candidates = [j for j in session.api.list_jobs(limit=100)
                  if j.id not in exclude and j.state not in (JobStatus.FAILED, JobStatus.CANCELLED)
                  and j.model and _suffix_matches(j, options.suffix)
                  and _params_match(j, options.model, options.epochs, options.method)]
    if not candidates:
        return None
    matches = [j for j in candidates if training_file and j.training_file == training_file]
    if not matches and local is not None:
        same = {f.id for f in session.api.list_files()
                if f.filename == local.path.name and f.bytes in (None, local.size)}
        matches = [j for j in candidates if j.training_file in same]
    return max(matches, key=lambda j: j.created_at or 0) if matches else None


def refuse_duplicate(job: JobInfo, *, what: str) -> RefusedError:
    return RefusedError(
        f"job {job.id} ({job.status}, model {job.model}, suffix {job.suffix or '-'}) already exists on the "
        f"server for {what}, but this stack's run state does not know it (state folder wiped, or another "
        "folder/machine started it); no job was created",
        hint=f"follow it with `python -m jobs watch {job.id}` (then `python -m jobs promote {job.id}`), "
        "or pass --new to start another, billed, job",
    )


# --------------------------------------------------------------------------- the run state


def job_record(job: JobInfo, *, key: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"job_id": job.id, "training_file": job.training_file or params.get("training_file"),
            "validation_file": job.validation_file or params.get("validation_file"),
            "model": job.model or params.get("model"), "suffix": params.get("suffix"), "params": params,
            "created_at": job.created_at or now(), "status": str(job.state),
            "fine_tuned_model": job.fine_tuned_model, "run_key": key}


def _record_job(session: "Session", key: str, job: JobInfo, params: dict[str, Any]) -> None:
    def change(s: dict[str, Any]) -> None:
        old = s["jobs"].get(key)
        if old and old.get("job_id") != job.id:
            # --new: keep the earlier job tracked (list / clean) under a derived key
            s["jobs"][f"{key}@{old['job_id']}"] = old
        s["jobs"][key] = job_record(job, key=key, params=params)
        s["pending"].pop(key, None)
        s["latest_job"] = job.id

    session.state.update(change)


def record_status(session: "Session", job: JobInfo) -> None:
    """Refresh a tracked job's status / fine_tuned_model in state (no-op for untracked jobs)."""
    def change(s: dict[str, Any]) -> None:
        for rec in s["jobs"].values():
            if rec.get("job_id") == job.id:
                rec["status"] = str(job.state)
                rec["fine_tuned_model"] = job.fine_tuned_model

    session.state.update(change)


def tracked_job_ids(state: dict[str, Any]) -> set[str]:
    return {str(r["job_id"]) for r in state["jobs"].values() if r.get("job_id")}


def latest_job_id(session: "Session") -> str:
    """The job ``watch``/``status``/``metrics`` default to: the state's latest job that still exists."""
    state = session.state.load()
    if state.get("latest_job"):
        return str(state["latest_job"])
    recs = [r for r in state["jobs"].values() if r.get("job_id") and not r.get("model_deleted")]
    if not recs:
        raise UsageError(
            f"no JOB_ID given and stack {session.stack!r} has no job in its run state ({session.state.path})",
            hint="pass a job id (`python -m jobs list` shows recent jobs) or start one with `python -m jobs train`",
        )
    return str(max(recs, key=lambda r: int(r.get("created_at") or 0))["job_id"])


# --------------------------------------------------------------------------- the step


def _processed_file(session: "Session", file_id: str) -> None:
    """``--file-id``: the file must exist on the server and be processed (waits while it is processing)."""
    try:
        f = session.api.get_file(file_id)
    except JobsError as exc:
        if not is_not_found(exc):
            raise
        raise UsageError(f"--file-id {file_id}: no such file on {session.connection.endpoint}; nothing was "
                         "created",
                         hint="check the id (`python -m jobs upload DATA.jsonl --json` prints it; files belong to "
                         "one AI Services resource), or pass the data file instead of --file-id") from None
    if f.state is FileStatus.PROCESSING:
        f = wait_processed(session, file_id)
    if f.state is not FileStatus.PROCESSED:
        raise UsageError(f"--file-id {file_id} is {f.status}, not processed: {f.status_details or 'no reason given'}",
                         hint="upload the file again with `python -m jobs upload DATA.jsonl`")


def start(session: "Session", data: TrainingData, options: TrainingOptions, guards: Guards, *,
          guarded: bool = False) -> TrainOutcome:
    """Upload what is needed, then reuse, adopt or (guarded) create the job. The caller holds the lock;
    ``options`` are :meth:`TrainingOptions.checked`; ``guarded``: the caller already showed the estimate and
    passed the money guard (the pipeline's preflight)."""
    rs = session.state
    check = data.check
    tokens: int | None = None
    auto_epochs: int | None = None
    if check is not None:
        tokens, auto_epochs = check.billed_tokens_per_epoch, check.epochs
    elif data.file_id:
        _processed_file(session, data.file_id)  # before any estimate: a wrong id fails here, clearly
        facts = file_facts(rs.load(), data.file_id)  # uploaded by this project: the validator's counts
        if facts:
            tokens, auto_epochs = facts.get("billed_tokens_per_epoch"), facts.get("auto_epochs")
    else:
        raise UsageError("nothing to train on: pass DATA.jsonl or --file-id ID",
                         hint="e.g. python -m jobs train data/travel-train.jsonl")
    vcheck: DataCheck | None = None
    val_identity: str | None = None
    vf = options.validation_file
    if vf:
        if vf.startswith("file-") and not Path(vf).exists():
            val_identity = f"file:{vf}"
        else:
            vcheck = check_data(vf, model=options.model, say=session.say, what=VALIDATION, method=options.method)
            val_identity = f"sha256:{vcheck.sha256}"
    est = CostEstimate(billed_tokens_per_epoch=tokens, epochs=options.epochs or auto_epochs,
                       price_per_1m=guards.price_per_1m,
                       epochs_source="option" if options.epochs else "auto, as the service would pick")
    key = run_key(training=data.identity, validation=val_identity, options=options)
    check_job_size(tokens, est.epochs)  # Azure's 2-billion-token job size (jobs/flow/limits.py)

    # Guard before uploading anything when this is certainly a new job (nothing to reuse or adopt).
    state = rs.load()
    if not guarded and (guards.new or key not in state["jobs"]) and key not in state["pending"]:
        if not guards.new:  # defence in depth: a job the state lost (wiped folder, other machine) is not started twice
            known = (state["files"].get(check.sha256) or {}).get("file_id") if check is not None else data.file_id
            dup = find_duplicate(session, options, training_file=known, local=check, exclude=tracked_job_ids(state))
            if dup is not None:
                raise refuse_duplicate(dup, what=f"{check.path.name} (same name and size)" if check is not None
                                       else f"file {data.file_id}")
        training_type_for(session, options)  # a training type the model cannot take: refused before any upload
        check_training(session, options.model, yes=guards.yes)
        guard_cost(est, guards, say=session.say,
                   confirm=confirm_or_refuse(session.ui.ask, what="no job was created"))
        guarded = True

    check_resource_files(session, [(c.sha256, c.size) for c in (check, vcheck) if c is not None], state["files"])
    training_id = ensure_uploaded(session, check).file_id if check is not None else str(data.file_id)
    val_id = ensure_uploaded(session, vcheck).file_id if vcheck is not None else vf
    return _ensure_job(session, key, training_id, val_id, options, guards, est, guarded=guarded)


def training_type_for(session: "Session", options: TrainingOptions) -> tuple[str, str]:
    """(the training type this job is sent with, where it came from): ``--training-type``, else the stack's
    ``trainingType`` (its settings file; the real stack only), else the model's default (Standard where it trains
    regionally, GlobalStandard for the open-weight models; jobs/models.py).

    Sent on every job: Microsoft's azure-ai-projects fine-tuning samples set it on each create call ("Omitting
    this field may lead to unsupported behavior", read 2026-12-06), and litellm#24687 reports a misleading "base
    model does not support fine-tuning" answer without it.
    """
    from jobs.deploy import PulumiDeployer
    from jobs.models import resolve

    m = resolve(options.model)
    if options.training_type:
        name, where = options.training_type, "--training-type"
    else:
        name, where = m.default_training_type, f"the default for {m.model_id}"
        if isinstance(session.deployer, PulumiDeployer):
            file, raw = session.deployer.training_type_in_stack_file()
            if raw is not None:
                canon = contract.training_type_name(raw)
                if canon is None:
                    raise UsageError(f"{file}: {contract.TRAINING_TYPE} {raw!r} is not a training type",
                                     hint=f"pulumi config set {contract.TRAINING_TYPE} "
                                     f"{m.default_training_type} (one of: {', '.join(contract.TRAINING_TYPE_NAMES)})")
                if canon in m.training_types:
                    name, where = canon, f"{contract.TRAINING_TYPE} in {file}"
                else:  # the stack's setting is for its fineTuneModel; this --model cannot take it
                    where += f" ({contract.TRAINING_TYPE} {canon} in {file} does not apply to it)"
    if name not in m.training_types:
        raise UsageError(f"{m.model_id} cannot be trained with training type {name} (from {where})",
                         hint=f"use one of: {', '.join(m.training_types)} (--training-type, or "
                         f"`pulumi config set {contract.TRAINING_TYPE} ...`)")
    return name, where


def job_body(options: TrainingOptions, training_file: str, validation_file: str | None,
             training_type: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The create-job request: (the body the openai SDK knows, the extra fields it does not: trainingType)."""
    hp = {k: v for k, v in options.hyperparameters.items() if v is not None}
    body: dict[str, Any] = {"model": options.model, "training_file": training_file, "suffix": options.suffix}
    if validation_file:
        body["validation_file"] = validation_file
    m = options.method
    body["method"] = {"type": m, m: {"hyperparameters": hp}} if hp else {"type": m}
    if options.seed is not None:
        body["seed"] = options.seed
    return body, {contract.TRAINING_TYPE_FIELD: contract.TRAINING_TYPES[training_type]}


def _job_params(options: TrainingOptions, training_file: str, validation_file: str | None,
                training_type: str) -> dict[str, Any]:
    hp = {k: v for k, v in options.hyperparameters.items() if v is not None}
    return {"training_file": training_file, "validation_file": validation_file, "model": options.model,
            "suffix": options.suffix, "hyperparameters": hp, "seed": options.seed,
            "training_type": training_type, "method": options.method}


def _reuse(session: "Session", key: str, rec: dict[str, Any] | None, guards: Guards,
           params: dict[str, Any]) -> TrainOutcome | None:
    """The job the run state knows for this key, if it still exists (and --new was not given)."""
    if not rec or guards.new:
        return None
    try:
        job = session.api.get_job(rec["job_id"])
    except JobsError as exc:
        if not is_not_found(exc):
            raise
        session.say(f"train: job {rec['job_id']} from the run state no longer exists on the server; creating a new one")
        return None
    session.say(f"train: reusing job {rec['job_id']} ({job.status}) for the same file and parameters "
                "(pass --new to start another, billed, job)")
    _record_job(session, key, job, params)
    return TrainOutcome(job=job, key=key, created=False, reused=True)


def _adopt(session: "Session", key: str, pending: dict[str, Any] | None, training_file: str,
           options: TrainingOptions, params: dict[str, Any]) -> TrainOutcome | None:
    """The job an interrupted create call made, found on the server."""
    if not pending:
        return None
    found = find_adoptable(session, training_file=training_file, options=options,
                           since=int(pending.get("started_at", 0)))
    if found is None:
        return None
    session.say(f"train: found job {found.id} created by an interrupted run; adopting it (no new job)")
    _record_job(session, key, found, params)
    return TrainOutcome(job=found, key=key, created=False, adopted=True)


def _ensure_job(session: "Session", key: str, training_file: str, validation_file: str | None,
                options: TrainingOptions, guards: Guards, est: CostEstimate, *, guarded: bool) -> TrainOutcome:
    """Reuse, adopt or (guarded) create the job for this run key."""
    rs, say = session.state, session.say
    training_type, source = training_type_for(session, options)
    params = _job_params(options, training_file, validation_file, training_type)
    state = rs.load()
    rec = state["jobs"].get(key)
    found = (_reuse(session, key, rec, guards, params)
             or _adopt(session, key, state["pending"].get(key), training_file, options, params))
    if found is not None:
        return found
    if not guarded:  # shown and asked before uploading when it was certainly a new job
        check_training(session, options.model, yes=guards.yes)
        guard_cost(est, guards, say=say, confirm=confirm_or_refuse(session.ui.ask, what="no job was created"))

    started = now()
    replaces = rec["job_id"] if (rec and guards.new) else None

    def mark(s: dict[str, Any]) -> None:
        s["pending"][key] = {"started_at": started, "training_file": training_file, "suffix": options.suffix,
                             "model": options.model, "replaces": replaces}

    rs.update(mark)
    session.checkpoint("after_pending")
    body, extra = job_body(options, training_file, validation_file, training_type)
    say(f"train: training type {training_type} (from {source})")
    job = session.api.create_job(body, extra_body=extra,
                                 reconcile=lambda: find_adoptable(session, training_file=training_file,
                                                                  options=options, since=started))
    session.checkpoint("after_create")
    _record_job(session, key, job, params)
    session.checkpoint("after_job_recorded")
    say(f"train: created job {job.id} ({job.status})")
    return TrainOutcome(job=job, key=key, created=True, estimate=est)
