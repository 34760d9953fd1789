"""``python -m jobs train [DATA.jsonl | --file-id ID]``: guarded, idempotent job creation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobs import lifecycle as lc
from jobs.errors import UsageError
from jobs.models import DEFAULT_MODEL


@dataclass
class TrainResult:
    job: dict[str, Any]
    run_key: str
    created: bool
    adopted: bool
    reused: bool
    estimate: dict[str, Any] | None
    stack: str
    watched: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)
    exit_code: int = 0

    def to_text(self) -> str:
        j = self.job
        how = "created" if self.created else ("adopted (found on the server)" if self.adopted else "reused")
        lines = [f"job {j['id']}: {how}, status {j['status']}",
                 f"  model {j['model']}, training file {j['training_file']}, suffix {j.get('suffix') or '-'}"]
        if j.get("fine_tuned_model"):
            lines.append(f"  fine-tuned model: {j['fine_tuned_model']}")
        if not self.watched:
            lines.append(f"next: python -m jobs watch {j['id']} --stack {self.stack}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"job": self.job, "run_key": self.run_key, "created": self.created, "adopted": self.adopted,
                "reused": self.reused, "estimate": self.estimate, "stack": self.stack}


# Ranges the fine-tuning API documents (OpenAI's create-job reference, which Azure OpenAI follows):
# n_epochs "any number between 1 and 50"; seed an int32 from 0 to 2147483647; batch_size and
# learning_rate_multiplier positive (the batch-size maximum is per base model, so the service checks it).
EPOCHS_MIN, EPOCHS_MAX = 1, 50
SEED_MIN, SEED_MAX = 0, 2_147_483_647


def hyperparameters(epochs: int | None, batch_size: int | None, lrm: float | None,
                    seed: int | None = None) -> dict[str, Any]:
    import math

    if epochs is not None and not EPOCHS_MIN <= epochs <= EPOCHS_MAX:
        raise UsageError(f"--epochs {epochs} is outside the range the fine-tuning API accepts "
                         f"({EPOCHS_MIN}..{EPOCHS_MAX})",
                         hint=f"pass --epochs {EPOCHS_MIN}..{EPOCHS_MAX}, or omit it for auto")
    if batch_size is not None and batch_size < 1:
        raise UsageError(f"--batch-size {batch_size} must be at least 1",
                         hint="pass a positive whole number (the maximum depends on the base model), "
                         "or omit it to let the service choose")
    if lrm is not None and not (math.isfinite(lrm) and lrm > 0):
        raise UsageError(f"--learning-rate-multiplier {lrm} must be a number greater than 0",
                         hint="try 0.02..2, or omit it for auto")
    if seed is not None and not SEED_MIN <= seed <= SEED_MAX:
        raise UsageError(f"--seed {seed} is outside the range the fine-tuning API accepts ({SEED_MIN}..{SEED_MAX})",
                         hint=f"pass --seed {SEED_MIN}..{SEED_MAX}, or omit it to let the service pick one")
    return {"n_epochs": epochs, "batch_size": batch_size, "learning_rate_multiplier": lrm}


def check_model(model: str | None) -> str:
    from jobs.models import NotFineTunable, UnknownModel, alternatives_text, resolve

    model = model or DEFAULT_MODEL
    try:
        m = resolve(model)
    except NotFineTunable as exc:
        raise UsageError(f"--model {model}: {exc.model.note}; it cannot be fine-tuned",
                         hint=f"use one of: {alternatives_text()}") from None
    except UnknownModel:
        raise UsageError(f"--model {model} is not a fine-tunable model we know",
                         hint=f"use one of: {alternatives_text()}") from None
    return m.model_id


def check_suffix(suffix: str) -> str:
    import re

    if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", suffix or ""):
        raise UsageError(f"--suffix {suffix!r} is invalid: up to 40 characters a-z, A-Z, 0-9, - and _",
                         hint="e.g. --suffix ft-travel")
    return suffix


def _processed_file(conn: Any, file_id: str, *, say: Any) -> Any:
    """``--file-id``: the file must exist on the server and be processed (waits while it is processing)."""
    from jobs.errors import JobsError
    from jobs.status import FileStatus, normalise_file

    try:
        f = conn.call(conn.client.files.retrieve, file_id, what="get file")
    except JobsError as exc:
        if "HTTP 404" not in exc.message:
            raise
        where = getattr(conn, "endpoint", None)
        raise UsageError(f"--file-id {file_id}: no such file on {where or 'the endpoint'}; nothing was created",
                         hint="check the id (`python -m jobs upload DATA.jsonl --json` prints it; files belong to "
                         "one AI Services resource), or pass the data file instead of --file-id") from None
    st = normalise_file(lc.get(f, "status"))
    if st is FileStatus.PROCESSING:
        f = lc.wait_processed(conn, file_id, say=say)
        st = normalise_file(lc.get(f, "status"))
    if st is not FileStatus.PROCESSED:
        raise UsageError(f"--file-id {file_id} is {lc.get(f, 'status')}, not processed: "
                         f"{lc.get(f, 'status_details') or 'no reason given'}",
                         hint="upload the file again with `python -m jobs upload DATA.jsonl`")
    return f


def prepare_and_create(conn: Any, rs: Any, *, data: str | None, file_id: str | None, model: str | None,
                       suffix: str, validation_file: str | None, epochs: int | None, batch_size: int | None,
                       learning_rate_multiplier: float | None, seed: int | None, training_type: str | None,
                       price_per_1m: float | None, max_cost: float | None, yes: bool, new: bool,
                       say: Any, check: lc.DataCheck | None = None) -> lc.TrainOutcome:
    """Upload what is needed, then reuse/adopt/create the job (caller holds the lock)."""
    model_id = check_model(model)
    check_suffix(suffix)
    hp = hyperparameters(epochs, batch_size, learning_rate_multiplier, seed)
    price = lc.resolve_price(price_per_1m)
    lc.check_max_cost(max_cost)
    if data and file_id:
        raise UsageError("pass either DATA.jsonl or --file-id, not both", hint="drop one of them")
    check = check if data else None
    tokens: int | None = None
    auto_epochs: int | None = None
    if data:
        check = check or lc.validate_data(Path(data), model=model_id)
        training_identity = f"sha256:{check.sha256}"
        tokens, auto_epochs = check.billed_tokens_per_epoch, check.epochs
    elif file_id:
        training_identity = f"file:{file_id}"
        _processed_file(conn, file_id, say=say)  # before any estimate: a wrong id fails here, clearly
        facts = lc.file_facts(rs.load(), file_id)  # uploaded by this project: the validator's counts
        if facts:
            tokens, auto_epochs = facts.get("billed_tokens_per_epoch"), facts.get("auto_epochs")
    else:
        raise UsageError("nothing to train on: pass DATA.jsonl or --file-id ID",
                         hint="e.g. python -m jobs train data/travel-train.jsonl")
    vcheck: lc.DataCheck | None = None
    val_identity: str | None = None
    if validation_file:
        if validation_file.startswith("file-") and not Path(validation_file).exists():
            val_identity = f"file:{validation_file}"
        else:
            vcheck = lc.validate_data(Path(validation_file), model=model_id, what="validation file")
            val_identity = f"sha256:{vcheck.sha256}"
    est = lc.CostEstimate(billed_tokens_per_epoch=tokens, epochs=epochs or auto_epochs, price_per_1m=price,
                          epochs_source="option" if epochs else "auto, as the service would pick")

    # Guard before uploading anything when this is certainly a new job (nothing to reuse or adopt).
    key = lc.run_key(training=training_identity, validation=val_identity, model=model_id, suffix=suffix,
                     hyperparameters=hp, training_type=training_type, seed=seed)
    state = rs.load()
    guarded = False
    if (new or key not in state["jobs"]) and key not in state["pending"]:
        if not new:  # defence in depth: a job the state lost (wiped folder, other machine) is not started twice
            known = (state["files"].get(check.sha256) or {}).get("file_id") if check is not None else file_id
            dup = lc.find_duplicate(conn, model=model_id, suffix=suffix, training_file=known,
                                    filename=check.path.name if check is not None else None,
                                    size=check.path.stat().st_size if check is not None else None,
                                    n_epochs=hp.get("n_epochs"), exclude=lc.tracked_job_ids(state))
            if dup is not None:
                raise lc.refuse_duplicate(dup, what=f"{check.path.name} (same name and size)" if check is not None
                                          else f"file {file_id}")
        lc.guard_cost(est, max_cost=max_cost, yes=yes, say=say)
        guarded = True

    if check is not None:
        up = lc.ensure_uploaded(conn, rs, check.path, check.sha256, say=say, check=check)
        training_id = up.file_id
    else:
        training_id = str(file_id)
    val_id: str | None = None
    if vcheck is not None:
        val_id = lc.ensure_uploaded(conn, rs, vcheck.path, vcheck.sha256, say=say, check=vcheck).file_id
    elif validation_file:
        val_id = validation_file
    return lc.ensure_job(conn, rs, training_file=training_id, training_identity=training_identity,
                         validation_file=val_id, validation_identity=val_identity, model=model_id, suffix=suffix,
                         hyperparameters=hp, seed=seed, training_type=training_type, new=new, yes=yes,
                         max_cost=max_cost, estimate=est, say=say, guarded=guarded)


def train(*, data: str | None = None, file_id: str | None = None, model: str | None = None,
          suffix: str = "ft-travel", validation_file: str | None = None, epochs: int | None = None,
          batch_size: int | None = None, learning_rate_multiplier: float | None = None, seed: int | None = None,
          training_type: str | None = None, price_per_1m: float | None = None, max_cost: float | None = None,
          yes: bool = False, new: bool = False, wait: bool = False, stack: str | None = None,
          endpoint: str | None = None, api: str | None = None, api_version: str | None = None,
          json_mode: bool = False) -> TrainResult:
    from jobs.display import make_display

    if data is None and file_id is None:
        raise UsageError("nothing to train on: pass DATA.jsonl or --file-id ID",
                         hint="e.g. python -m jobs train data/travel-train.jsonl")
    lc.check_max_cost(max_cost)
    hyperparameters(epochs, batch_size, learning_rate_multiplier, seed)  # bad options fail before any request
    conn = lc.open_connection(stack=stack, endpoint=endpoint, api=api, api_version=api_version)
    rs = lc.run_state(conn)
    display = make_display(json_mode=json_mode)
    try:
        with rs.locked():
            out = prepare_and_create(conn, rs, data=data, file_id=file_id, model=model, suffix=suffix,
                                     validation_file=validation_file, epochs=epochs, batch_size=batch_size,
                                     learning_rate_multiplier=learning_rate_multiplier, seed=seed,
                                     training_type=training_type, price_per_1m=price_per_1m, max_cost=max_cost,
                                     yes=yes, new=new, say=display.line)
            job = out.job
            if wait:
                w = lc.watch_job(conn, str(lc.get(job, "id")), rs=rs, display=display)
                job = w.job
                if not w.status.ok:
                    raise lc.failure_error(job, w.status)
    finally:
        display.close()
    return TrainResult(job=lc.job_summary(job), run_key=out.key, created=out.created, adopted=out.adopted,
                       reused=out.reused, estimate=out.estimate.to_json() if out.estimate else None,
                       stack=conn.stack, watched=wait)
