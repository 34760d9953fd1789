"""The job lifecycle shared by ``upload``, ``train``, ``watch`` and ``run``.

Every step that creates something on the server records it in the stack's run
state (``jobs/state.py``) the moment the server answers, and marks the attempt
*before* sending it, so that a crash at any point resumes instead of repeating:

- upload: ``pending_uploads[sha256]`` before the POST; ``files[sha256]`` after.
  A restart that finds a pending upload looks for the file on the server (same
  name and size, created after the attempt started) before uploading again.
- train: ``pending[run key]`` before the POST; ``jobs[run key]`` after. A
  restart that finds a pending create adopts the job on the server whose
  training file, suffix and creation time match; it never creates a second one.
- no record at all (state wiped, or another folder/machine): before uploading
  and creating, :func:`find_duplicate` looks for a live job with the same model,
  suffix and training file (id, or name and size) on the server and refuses
  (exit 3) unless ``--new``.

Test hook: env ``FTJOBS_TEST_CRASH_AT`` (comma-separated checkpoint names,
``name`` or ``name#N`` for the N-th time it is reached) makes the process
SIGKILL itself at that checkpoint. Checkpoints: ``after_validate``,
``before_upload``, ``after_upload_pending``, ``after_upload`` (server has the
file, state does not), ``after_upload_recorded``, ``after_processed``,
``after_pending`` (pending written, job not created), ``after_create`` (server
has the job, state does not), ``after_job_recorded``, ``watch_poll``,
``before_promote``, ``after_promote``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from jobs.errors import JobFailedError, JobsError, RefusedError, UsageError
from jobs.status import FileStatus, JobStatus, normalise, normalise_file

CRASH_ENV = "FTJOBS_TEST_CRASH_AT"
PRICE_ENV = "FTJOBS_PRICE_PER_1M"
ADOPT_SLACK_SECONDS = 60

# CLI value -> the value Azure's create body takes as "trainingType" (an extra
# field the SDK does not know; sent with extra_body). Values as in Microsoft's
# fine-tuning docs: "standard", "globalstandard", "developerTier".
TRAINING_TYPES = {"Standard": "standard", "GlobalStandard": "globalstandard", "Developer": "developerTier"}

_hits: dict[str, int] = {}


def checkpoint(name: str) -> None:
    """Crash-test hook: SIGKILL this process when env FTJOBS_TEST_CRASH_AT names ``name``."""
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    _hits[name] = _hits.get(name, 0) + 1
    for item in spec.split(","):
        target, _, nth = item.strip().partition("#")
        if target == name and (not nth or (nth.isdigit() and int(nth) == _hits[name])):
            sys.stdout.flush()
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)


def now() -> int:
    return int(time.time())


def get(obj: Any, name: str, default: Any = None) -> Any:
    """Attribute or key access for SDK objects (extra fields included) and dicts."""
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    value = getattr(obj, name, None)
    if value is None:
        extra = getattr(obj, "model_extra", None) or {}
        value = extra.get(name)
    return default if value is None else value


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- validation


@dataclass
class DataCheck:
    path: Path
    sha256: str
    examples: int
    billed_tokens_per_epoch: int | None
    epochs: int | None
    report: Any = None


def _num(obj: Any, *names: str) -> Any:
    for n in names:
        v = get(obj, n)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return v
    return None


def validate_data(path: str | Path, *, model: str | None = None, what: str = "training file") -> DataCheck:
    """Run the project's validator; refuse an invalid file (exit 1) with its ``PATH:LINE: RULE: message`` lines."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{what} {p} does not exist (or is not a file)", hint="pass the path of a chat JSONL file")
    from jobs.dataset import validate_file

    try:
        report = validate_file(p, model=model)
    except TypeError:
        report = validate_file(str(p), model=model)
    errors = list(get(report, "errors", []) or [])
    valid = get(report, "valid", not errors)
    if not valid:
        lines = [f"{p}:{get(e, 'line', '?')}: {get(e, 'rule', 'invalid')}: {get(e, 'message', '')}" for e in errors]
        shown = lines[:20] + ([f"... and {len(lines) - 20} more"] if len(lines) > 20 else [])
        raise JobFailedError(
            f"{what} {p} is not valid training data; nothing was uploaded:\n" + "\n".join(shown),
            hint=f"fix the lines above (`python -m jobs validate {p}` shows the full report), then run again",
        )
    est = get(report, "estimate")
    stats = get(report, "stats")
    tokens = _num(est, "billed_tokens_per_epoch", "tokens_per_epoch", "trained_tokens_per_epoch")
    epochs = _num(est, "epochs", "n_epochs")
    if tokens is None:
        total = _num(est, "billed_tokens", "trained_tokens", "total_billed_tokens")
        if total is not None and epochs:
            tokens = int(total / epochs)
    if tokens is None:
        tokens = _num(stats, "billed_tokens_per_epoch", "billed_tokens", "total_tokens", "tokens")
    examples = _num(report, "examples") or _num(stats, "examples", "n_examples") or 0
    if isinstance(get(report, "examples"), list):
        examples = len(get(report, "examples"))
    sha = get(report, "sha256") or sha256_file(p)
    return DataCheck(path=p, sha256=str(sha), examples=int(examples),
                     billed_tokens_per_epoch=int(tokens) if tokens is not None else None,
                     epochs=int(epochs) if epochs else None, report=report)


# --------------------------------------------------------------------------- upload


def _file_record(f: Any, path: Path, sha: str, check: DataCheck | None = None) -> dict[str, Any]:
    rec = {"file_id": get(f, "id"), "filename": path.name, "bytes": path.stat().st_size, "purpose": "fine-tune",
           "sha256": sha, "uploaded_at": get(f, "created_at") or now(), "status": str(normalise_file(get(f, "status")))}
    if check is not None:  # lets `train --file-id` estimate the cost later
        rec.update(examples=check.examples, billed_tokens_per_epoch=check.billed_tokens_per_epoch,
                   auto_epochs=check.epochs)
    return rec


def file_facts(state: dict[str, Any], file_id: str) -> dict[str, Any] | None:
    """What the run state knows about an uploaded file id (tokens per epoch, default epochs)."""
    for rec in state.get("files", {}).values():
        if rec.get("file_id") == file_id:
            return dict(rec)
    return None


def _find_uploaded(conn: Any, filename: str, size: int, since: int) -> Any:
    page = conn.call(conn.client.files.list, what="list files")
    best = None
    for f in getattr(page, "data", None) or []:
        if get(f, "filename") != filename or get(f, "purpose") not in (None, "fine-tune"):
            continue
        if get(f, "bytes") not in (None, size):
            continue
        if normalise_file(get(f, "status")) is FileStatus.DELETED:
            continue
        if int(get(f, "created_at") or 0) < since - ADOPT_SLACK_SECONDS:
            continue
        if best is None or int(get(f, "created_at") or 0) < int(get(best, "created_at") or 0):
            best = f  # the earliest: the one the lost request created
    return best


@dataclass
class UploadOutcome:
    file_id: str
    filename: str
    sha256: str
    status: str
    reused: bool
    adopted: bool = False
    status_details: str | None = None


def ensure_uploaded(conn: Any, rs: Any, path: Path, sha: str, *, say: Callable[[str], None],
                    wait: bool = True, check: DataCheck | None = None) -> UploadOutcome:
    """Upload ``path`` once per content hash; reuse what state and server already have."""
    size = path.stat().st_size
    state = rs.load()
    rec = state["files"].get(sha)
    if rec and rec.get("file_id"):
        try:
            f = conn.call(conn.client.files.retrieve, rec["file_id"], what="get file")
        except JobsError as exc:
            if "404" not in exc.message:
                raise
            f = None
        if f is not None and normalise_file(get(f, "status")) not in (FileStatus.DELETED, FileStatus.ERROR):
            say(f"upload: {path.name} already uploaded as {rec['file_id']} (same sha256); reusing it")
            return _after_upload(conn, rs, f, path, sha, say=say, wait=wait, reused=True)
        say(f"upload: {rec['file_id']} is gone from the server; uploading {path.name} again")

    pending = state.get("pending_uploads", {}).get(sha)
    if pending:
        found = _find_uploaded(conn, path.name, size, int(pending.get("started_at", 0)))
        if found is not None:
            say(f"upload: found {get(found, 'id')} on the server from an interrupted upload; adopting it")
            _record_file(rs, sha, _file_record(found, path, sha, check))
            return _after_upload(conn, rs, found, path, sha, say=say, wait=wait, reused=True, adopted=True)

    checkpoint("before_upload")
    started = now()

    def mark(s: dict[str, Any]) -> None:
        s.setdefault("pending_uploads", {})[sha] = {"started_at": started, "filename": path.name, "bytes": size}

    rs.update(mark)
    checkpoint("after_upload_pending")
    say(f"upload: sending {path.name} ({size} bytes)")
    content = path.read_bytes()
    f = conn.call(conn.client.files.create, file=(path.name, content), purpose="fine-tune", what="upload file",
                  idempotent=False, reconcile=lambda: _find_uploaded(conn, path.name, size, started))
    checkpoint("after_upload")
    _record_file(rs, sha, _file_record(f, path, sha, check))
    checkpoint("after_upload_recorded")
    say(f"upload: {path.name} -> {get(f, 'id')}")
    return _after_upload(conn, rs, f, path, sha, say=say, wait=wait, reused=False)


def _record_file(rs: Any, sha: str, record: dict[str, Any]) -> None:
    def change(s: dict[str, Any]) -> None:
        s["files"][sha] = record
        s.setdefault("pending_uploads", {}).pop(sha, None)

    rs.update(change)


def _after_upload(conn: Any, rs: Any, f: Any, path: Path, sha: str, *, say: Callable[[str], None], wait: bool,
                  reused: bool, adopted: bool = False) -> UploadOutcome:
    file_id = str(get(f, "id"))
    status = normalise_file(get(f, "status"))
    if wait and status is not FileStatus.PROCESSED:
        f = wait_processed(conn, file_id, say=say)
        status = normalise_file(get(f, "status"))
    details = get(f, "status_details")

    def change(s: dict[str, Any]) -> None:
        if sha in s["files"]:
            s["files"][sha]["status"] = str(status)

    rs.update(change)
    if status is FileStatus.ERROR:
        raise JobFailedError(
            f"file {file_id} ({path.name}) failed processing on the server: {details or 'no reason given'}",
            hint="fix the data file as the reason says (`python -m jobs validate` checks it locally) and upload again",
        )
    checkpoint("after_processed")
    return UploadOutcome(file_id=file_id, filename=path.name, sha256=sha, status=str(status), reused=reused,
                         adopted=adopted, status_details=details)


POLL_INTERVAL_ENV = "FTJOBS_POLL_INTERVAL"
POLL_MAX_ENV = "FTJOBS_POLL_MAX"
POLL_RUNNING_MIN_ENV = "FTJOBS_POLL_RUNNING_MIN"


def poll_settings() -> tuple[float, float, float]:
    """(first interval, max interval, factor) from env FTJOBS_POLL_INTERVAL / FTJOBS_POLL_MAX."""
    from jobs.retry import env_float

    first = env_float(POLL_INTERVAL_ENV, 2.0, above=0, unit="seconds (more than 0)", example="2")
    if os.environ.get(POLL_MAX_ENV, "").strip():
        cap = env_float(POLL_MAX_ENV, 30.0, above=0, unit="seconds (more than 0)", example="30")
        if cap < first:
            raise UsageError(f"env {POLL_MAX_ENV}={cap:g} is below {POLL_INTERVAL_ENV}={first:g}",
                             hint=f"set {POLL_MAX_ENV} to at least {POLL_INTERVAL_ENV} (defaults: 30 and 2 seconds)")
    else:
        cap = max(30.0, first)
    return first, cap, 1.5


def running_poll_floor(cap: float) -> float:
    """The shortest wait between polls while a job runs (env FTJOBS_POLL_RUNNING_MIN, default 10 s),
    never above the cap FTJOBS_POLL_MAX."""
    from jobs.retry import env_float

    return min(cap, env_float(POLL_RUNNING_MIN_ENV, 10.0, minimum=0, unit="seconds (0 or more)", example="10"))


def wait_processed(conn: Any, file_id: str, *, say: Callable[[str], None], timeout: float = 3600) -> Any:
    first, cap, factor = poll_settings()
    interval = first
    started = time.monotonic()
    last = None
    while True:
        f = conn.call(conn.client.files.retrieve, file_id, what="get file")
        status = normalise_file(get(f, "status"))
        if status != last:
            say(f"upload: {file_id} is {get(f, 'status')}")
            last = status
            interval = first
        if status.terminal:
            return f
        if time.monotonic() - started > timeout:
            raise JobsError(f"file {file_id} is still {get(f, 'status')} after {timeout:.0f} s",
                            hint="run the same command again later: it reuses the uploaded file")
        time.sleep(interval)
        interval = min(cap, interval * factor)


# --------------------------------------------------------------------------- train


def run_key(*, training: str, validation: str | None, model: str, suffix: str, hyperparameters: dict[str, Any],
            training_type: str | None, seed: int | None) -> str:
    """Stable hash of what makes two training requests "the same job"."""
    payload = {"training": training, "validation": validation, "model": model, "suffix": suffix,
               "hyperparameters": {k: v for k, v in sorted(hyperparameters.items()) if v is not None},
               "training_type": training_type, "seed": seed}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


@dataclass
class CostEstimate:
    billed_tokens_per_epoch: int | None
    epochs: int | None
    price_per_1m: float | None
    epochs_source: str = "option"

    @property
    def billed_tokens(self) -> int | None:
        if self.billed_tokens_per_epoch is None or self.epochs is None:
            return None
        return self.billed_tokens_per_epoch * self.epochs

    @property
    def cost(self) -> float | None:
        if self.billed_tokens is None or self.price_per_1m is None:
            return None
        return self.billed_tokens * self.price_per_1m / 1_000_000

    def text(self) -> str:
        tokens = "unknown tokens" if self.billed_tokens_per_epoch is None else f"{self.billed_tokens_per_epoch:,} billed tokens per epoch"
        epochs = "unknown epochs" if self.epochs is None else f"{self.epochs} epoch{'s' if self.epochs != 1 else ''}" + (
            f" ({self.epochs_source})" if self.epochs_source != "option" else "")
        price = ("unknown price (pass --price-per-1m or set FTJOBS_PRICE_PER_1M)" if self.price_per_1m is None
                 else f"${self.price_per_1m:g} per 1M tokens")
        total = f"= ${self.cost:,.2f}" if self.cost is not None else "= cost unknown"
        return f"cost estimate: {tokens} x {epochs} x {price} {total}"

    def to_json(self) -> dict[str, Any]:
        return {"billed_tokens_per_epoch": self.billed_tokens_per_epoch, "epochs": self.epochs,
                "billed_tokens": self.billed_tokens, "price_per_1m": self.price_per_1m, "cost": self.cost}


def resolve_price(price_per_1m: float | None) -> float | None:
    if price_per_1m is not None:
        if price_per_1m < 0:
            raise UsageError("--price-per-1m must not be negative", hint="pass the USD price per 1M training tokens")
        return price_per_1m
    raw = os.environ.get(PRICE_ENV)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"env {PRICE_ENV}={raw!r} is not a number",
                         hint=f"set {PRICE_ENV} to the USD price per 1M training tokens, e.g. 25") from None
    if value < 0:
        raise UsageError(f"env {PRICE_ENV}={raw!r} is negative", hint=f"set {PRICE_ENV} to a price >= 0")
    return value


def check_max_cost(max_cost: float | None) -> float | None:
    if max_cost is not None and not (max_cost >= 0):  # also refuses NaN
        raise UsageError(f"--max-cost {max_cost:g} must not be negative",
                         hint="pass the most you accept to spend, in USD, e.g. --max-cost 5")
    return max_cost


def guard_cost(est: CostEstimate, *, max_cost: float | None, yes: bool, say: Callable[[str], None],
               confirm: Callable[[str], bool] | None = None) -> None:
    """Show the estimate; refuse above --max-cost; ask unless --yes."""
    say(est.text())
    if max_cost is not None:
        if est.cost is None:
            raise RefusedError(
                f"cannot check --max-cost {max_cost:g}: the cost is unknown ({est.text()})",
                hint="give the price (--price-per-1m or FTJOBS_PRICE_PER_1M) and the data file (not --file-id), "
                "or drop --max-cost",
            )
        if est.cost > max_cost:
            raise RefusedError(
                f"estimated cost ${est.cost:,.2f} is above --max-cost ${max_cost:,.2f}; no job was created",
                hint="raise --max-cost, or lower --epochs / use a smaller file",
            )
    if yes:
        return
    if confirm is None:
        confirm = _tty_confirm
    if not confirm("Create the fine-tuning job? Training is billed. [y/N] "):
        raise RefusedError("not confirmed; no job was created",
                           hint="pass --yes to create the job without asking (needed when not on a terminal)")


def _tty_confirm(prompt: str) -> bool:
    if not (sys.stdin and sys.stdin.isatty()):
        raise RefusedError("not on a terminal, so cannot ask for confirmation; no job was created",
                           hint="pass --yes to confirm creating a billed fine-tuning job")
    sys.stderr.write(prompt)
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def job_record(job: Any, *, key: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"job_id": get(job, "id"), "training_file": get(job, "training_file") or params.get("training_file"),
            "validation_file": get(job, "validation_file") or params.get("validation_file"),
            "model": get(job, "model") or params.get("model"), "suffix": params.get("suffix"),
            "params": params, "created_at": get(job, "created_at") or now(),
            "status": str(normalise(get(job, "status"))), "fine_tuned_model": get(job, "fine_tuned_model"),
            "run_key": key}


def _suffix_matches(job: Any, suffix: str) -> bool:
    job_suffix = get(job, "suffix")
    if job_suffix is not None:
        return str(job_suffix) == suffix
    ftm = get(job, "fine_tuned_model")
    if ftm:
        return suffix in str(ftm)
    return True  # the server tells neither: training file and time decide


def _params_match(job: Any, model: str | None, n_epochs: Any) -> bool:
    """Where the server tells them, the base model and epochs must agree too."""
    job_model = str(get(job, "model") or "").lower()
    if model and job_model and not (job_model == model.lower() or job_model.startswith(model.lower())
                                    or model.lower().startswith(job_model)):
        return False
    job_epochs = get(get(job, "hyperparameters"), "n_epochs")
    if isinstance(n_epochs, int) and isinstance(job_epochs, int) and job_epochs > 0 and job_epochs != n_epochs:
        return False
    return True


def find_adoptable(conn: Any, *, training_file: str, suffix: str, since: int, model: str | None = None,
                   n_epochs: Any = None) -> Any:
    """A job on the server that a lost create call may have made."""
    page = conn.call(conn.client.fine_tuning.jobs.list, limit=100, what="list jobs")
    matches = [j for j in (getattr(page, "data", None) or [])
               if get(j, "training_file") == training_file and _suffix_matches(j, suffix)
               and int(get(j, "created_at") or 0) >= since - ADOPT_SLACK_SECONDS
               and _params_match(j, model, n_epochs)]
    if not matches:
        return None
    return min(matches, key=lambda j: int(get(j, "created_at") or 0))


def find_duplicate(conn: Any, *, model: str, suffix: str, training_file: str | None = None,
                   filename: str | None = None, size: int | None = None, n_epochs: Any = None,
                   exclude: set[str] | None = None) -> Any:
    """A job on the server that this run would duplicate although the run state does not know it.

    Looks at the most recent jobs (one page of 100): same base model and suffix
    (and epochs, where both are known), not failed or cancelled, not tracked in
    the state (``exclude``), trained on ``training_file`` or on a file with the
    same name and size as the local data file (a wiped state re-uploads under a
    new id). Returns the newest such job, or None.
    """
    page = conn.call(conn.client.fine_tuning.jobs.list, limit=100, what="list jobs")
    candidates = [j for j in (getattr(page, "data", None) or [])
                  if str(get(j, "id")) not in (exclude or set())
                  and normalise(get(j, "status")) not in (JobStatus.FAILED, JobStatus.CANCELLED)
                  and get(j, "model") and _suffix_matches(j, suffix) and _params_match(j, model, n_epochs)]
    if not candidates:
        return None
    matches = [j for j in candidates if training_file and get(j, "training_file") == training_file]
    if not matches and filename:
        files = conn.call(conn.client.files.list, what="list files")
        same = {str(get(f, "id")) for f in (getattr(files, "data", None) or [])
                if get(f, "filename") == filename and (size is None or get(f, "bytes") in (None, size))}
        matches = [j for j in candidates if str(get(j, "training_file")) in same]
    if not matches:
        return None
    return max(matches, key=lambda j: int(get(j, "created_at") or 0))


def refuse_duplicate(job: Any, *, what: str) -> RefusedError:
    job_id = get(job, "id")
    return RefusedError(
        f"job {job_id} ({get(job, 'status')}, model {get(job, 'model')}, suffix {get(job, 'suffix') or '-'}) "
        f"already exists on the server for {what}, but this stack's run state does not know it "
        "(state folder wiped, or another folder/machine started it); no job was created",
        hint=f"follow it with `python -m jobs watch {job_id}` (then `python -m jobs promote {job_id}`), "
        "or pass --new to start another, billed, job",
    )


@dataclass
class TrainOutcome:
    job: Any
    key: str
    created: bool
    adopted: bool = False
    reused: bool = False
    estimate: CostEstimate | None = None


def ensure_job(conn: Any, rs: Any, *, training_file: str, training_identity: str, validation_file: str | None,
               validation_identity: str | None, model: str, suffix: str, hyperparameters: dict[str, Any],
               seed: int | None, training_type: str | None, new: bool, yes: bool, max_cost: float | None,
               estimate: CostEstimate, say: Callable[[str], None],
               confirm: Callable[[str], bool] | None = None, guarded: bool = False) -> TrainOutcome:
    """Reuse, adopt or (guarded) create the job for this run key."""
    key = run_key(training=training_identity, validation=validation_identity, model=model, suffix=suffix,
                  hyperparameters=hyperparameters, training_type=training_type, seed=seed)
    params = {"training_file": training_file, "validation_file": validation_file, "model": model, "suffix": suffix,
              "hyperparameters": {k: v for k, v in hyperparameters.items() if v is not None}, "seed": seed,
              "training_type": training_type}
    state = rs.load()
    rec = state["jobs"].get(key)
    job = None
    if rec and not new:
        try:
            job = conn.call(conn.client.fine_tuning.jobs.retrieve, rec["job_id"], what="get job")
        except JobsError as exc:
            if "HTTP 404" not in exc.message:
                raise
            say(f"train: job {rec['job_id']} from the run state no longer exists on the server; creating a new one")
    if rec and not new and job is not None:
        say(f"train: reusing job {rec['job_id']} ({get(job, 'status')}) for the same file and parameters "
            "(pass --new to start another, billed, job)")
        _record_job(rs, key, job, params)
        return TrainOutcome(job=job, key=key, created=False, reused=True)

    pending = state["pending"].get(key)
    if pending:
        found = find_adoptable(conn, training_file=training_file, suffix=suffix,
                               since=int(pending.get("started_at", 0)), model=model,
                               n_epochs=hyperparameters.get("n_epochs"))
        if found is not None:
            say(f"train: found job {get(found, 'id')} created by an interrupted run; adopting it (no new job)")
            _record_job(rs, key, found, params, replace_previous=bool(pending.get("replaces")))
            return TrainOutcome(job=found, key=key, created=False, adopted=True)

    if not guarded:  # the caller may have shown the estimate and asked already (before uploading)
        guard_cost(estimate, max_cost=max_cost, yes=yes, say=say, confirm=confirm)

    started = now()
    replaces = rec["job_id"] if (rec and new) else None

    def mark(s: dict[str, Any]) -> None:
        s["pending"][key] = {"started_at": started, "training_file": training_file, "suffix": suffix,
                             "model": model, "replaces": replaces}

    rs.update(mark)
    checkpoint("after_pending")
    body: dict[str, Any] = {"model": model, "training_file": training_file, "suffix": suffix}
    if validation_file:
        body["validation_file"] = validation_file
    hp = {k: v for k, v in hyperparameters.items() if v is not None}
    body["method"] = {"type": "supervised", "supervised": {"hyperparameters": hp}} if hp else {"type": "supervised"}
    if seed is not None:
        body["seed"] = seed
    extra = {"trainingType": TRAINING_TYPES[training_type]} if training_type else None
    job = conn.call(conn.client.fine_tuning.jobs.create, **body, extra_body=extra, what="create fine-tuning job",
                    idempotent=False,
                    reconcile=lambda: find_adoptable(conn, training_file=training_file, suffix=suffix, since=started,
                                                     model=model, n_epochs=hyperparameters.get("n_epochs")))
    checkpoint("after_create")
    _record_job(rs, key, job, params, replace_previous=bool(replaces))
    checkpoint("after_job_recorded")
    say(f"train: created job {get(job, 'id')} ({get(job, 'status')})")
    return TrainOutcome(job=job, key=key, created=True, estimate=estimate)


def _record_job(rs: Any, key: str, job: Any, params: dict[str, Any], *, replace_previous: bool = False) -> None:
    def change(s: dict[str, Any]) -> None:
        old = s["jobs"].get(key)
        if old and old.get("job_id") != get(job, "id"):
            # --new: keep the earlier job tracked (list / clean) under a derived key
            s["jobs"][f"{key}@{old['job_id']}"] = old
        s["jobs"][key] = job_record(job, key=key, params=params)
        s["pending"].pop(key, None)
        s["latest_job"] = get(job, "id")

    rs.update(change)


def record_status(rs: Any, job: Any) -> None:
    """Refresh a tracked job's status / fine_tuned_model in state (no-op for untracked jobs)."""
    job_id = get(job, "id")

    def change(s: dict[str, Any]) -> None:
        for rec in s["jobs"].values():
            if rec.get("job_id") == job_id:
                rec["status"] = str(normalise(get(job, "status")))
                rec["fine_tuned_model"] = get(job, "fine_tuned_model")

    rs.update(change)


def latest_job_id(rs: Any) -> str:
    state = rs.load()
    if state.get("latest_job"):
        return str(state["latest_job"])
    recs = [r for r in state["jobs"].values() if r.get("job_id")]
    if not recs:
        raise UsageError(
            f"no JOB_ID given and stack {rs.stack!r} has no job in its run state ({rs.path})",
            hint="pass a job id (`python -m jobs list` shows recent jobs) or start one with `python -m jobs train`",
        )
    return str(max(recs, key=lambda r: int(r.get("created_at") or 0))["job_id"])


def tracked_job_ids(state: dict[str, Any]) -> set[str]:
    return {str(r["job_id"]) for r in state["jobs"].values() if r.get("job_id")}


# --------------------------------------------------------------------------- watch

_LOSS_RE = re.compile(r"(?:train(?:ing)?[ _]loss)\s*[=:]\s*([0-9.eE+-]+)", re.I)
_STEP_RE = re.compile(r"step\s*([0-9]+)", re.I)


def event_key(e: Any) -> tuple[Any, Any, Any]:
    return (get(e, "created_at"), get(e, "message"), get(e, "level"))


def train_loss(e: Any) -> tuple[int | None, float] | None:
    """(step, train loss) from a metrics event's data, or its message."""
    data = get(e, "data")
    if isinstance(data, dict):
        for k in ("train_loss", "training_loss", "loss"):
            if isinstance(data.get(k), (int, float)):
                step = data.get("step")
                return (int(step) if isinstance(step, (int, float)) else None, float(data[k]))
    m = _LOSS_RE.search(str(get(e, "message") or ""))
    if m:
        try:
            value = float(m.group(1).rstrip("."))
        except ValueError:
            return None
        s = _STEP_RE.search(str(get(e, "message")))
        return (int(s.group(1)) if s else None, value)
    return None


def event_line(e: Any) -> str:
    ts = get(e, "created_at")
    clock = time.strftime("%H:%M:%S", time.gmtime(int(ts))) if ts else "--:--:--"
    level = str(get(e, "level") or "info")
    return f"  [{clock}] {level:<7} {get(e, 'message')}"


@dataclass
class WatchOutcome:
    job: Any
    status: JobStatus
    events: list[Any] = field(default_factory=list)
    last_loss: tuple[int | None, float] | None = None
    polls: int = 0


EVENT_PAGE = 50
EVENT_PAGES_MAX = 20  # per poll: up to 1,000 new events


def new_events(conn: Any, job_id: str, seen: set[tuple[Any, Any, Any]]) -> list[Any]:
    """The events not in ``seen``, oldest first.

    The service lists events newest first, ``limit`` at a time; pages are
    followed (``after`` = the last id of a page) until a page reaches an event
    already seen, the list ends, or ``EVENT_PAGES_MAX`` pages were read, so a
    burst of more than one page between two polls loses nothing.
    """
    fresh: list[Any] = []
    after: str | None = None
    for _ in range(EVENT_PAGES_MAX):
        kwargs: dict[str, Any] = {"limit": EVENT_PAGE}
        if after:
            kwargs["after"] = after
        page = conn.call(conn.client.fine_tuning.jobs.list_events, job_id, what="list events", **kwargs)
        data = list(getattr(page, "data", None) or [])
        reached_seen = False
        for e in data:  # newest first
            if event_key(e) in seen:
                reached_seen = True
                break
            fresh.append(e)
        last_id = get(data[-1], "id") if data else None
        if reached_seen or not data or not getattr(page, "has_more", False) or not last_id or last_id == after:
            break
        after = str(last_id)
    fresh.reverse()
    fresh.sort(key=lambda e: int(get(e, "created_at") or 0))  # stable: keeps the service's order within a second
    return fresh


def watch_job(conn: Any, job_id: str, *, rs: Any | None, display: Any, timeout: float | None = None,
              sleep: Callable[[float], None] = time.sleep) -> WatchOutcome:
    """Poll until the job is terminal: status, elapsed, ETA, new events, latest train loss.

    Polling: the first interval after a status change, then x1.5 per poll up to
    the cap (new events do not reset it: Azure sends metrics all the time); while
    the job runs, never more often than the running floor.
    """
    from jobs.display import eta_text

    first, cap, factor = poll_settings()
    floor = running_poll_floor(cap)
    interval = first
    seen: set[tuple[Any, Any, Any]] = set()
    shown: list[Any] = []
    last_loss: tuple[int | None, float] | None = None
    last_status: JobStatus | None = None
    started_mono = time.monotonic()
    polls = 0
    while True:
        job = conn.call(conn.client.fine_tuning.jobs.retrieve, job_id, what="get job")
        polls += 1
        status = normalise(get(job, "status"))
        fresh = new_events(conn, job_id, seen)
        for e in fresh:
            seen.add(event_key(e))
            shown.append(e)
            loss = train_loss(e)
            if loss is not None:
                last_loss = loss
            elif str(get(e, "type") or "message") != "metrics":
                display.line(event_line(e))
        changed = status != last_status
        if changed and rs is not None:
            record_status(rs, job)
        last_status = status
        created = get(job, "created_at")
        elapsed = (time.time() - int(created)) if created else (time.monotonic() - started_mono)
        note = None
        if status is JobStatus.PAUSED:
            note = f"paused: resume with `python -m jobs resume {job_id}`"
        qpos = get(job, "queue_position")
        if qpos is not None and status is JobStatus.QUEUED:
            note = f"queue position {qpos}"
        loss_txt = None
        if last_loss is not None:
            loss_txt = f"{last_loss[1]:.4f}" + (f" (step {last_loss[0]})" if last_loss[0] is not None else "")
        display.update(job_id=job_id, status=str(status), elapsed=elapsed, eta=eta_text(get(job, "estimated_finish")),
                       loss=loss_txt, note=note)
        if status.terminal:
            if rs is not None:
                record_status(rs, job)
            return WatchOutcome(job=job, status=status, events=shown, last_loss=last_loss, polls=polls)
        checkpoint("watch_poll")
        if timeout is not None and time.monotonic() - started_mono > timeout:
            return WatchOutcome(job=job, status=status, events=shown, last_loss=last_loss, polls=polls)
        interval = first if changed else min(cap, interval * factor)
        if status is JobStatus.RUNNING:
            interval = max(interval, floor)
        sleep(interval)


def failure_error(job: Any, status: JobStatus) -> JobFailedError:
    job_id = get(job, "id")
    if status is JobStatus.CANCELLED:
        return JobFailedError(f"job {job_id} was cancelled; nothing was promoted",
                              hint="start it again with `python -m jobs run DATA.jsonl --new` (billed again)")
    err = get(job, "error")
    code = get(err, "code") or "unknown"
    message = get(err, "message") or "no message from the service"
    param = get(err, "param")
    return JobFailedError(
        f"job {job_id} failed: {code}: {message}" + (f" (param: {param})" if param else ""),
        hint="fix what the error names (the data file, quota, or the parameters), then run with --new",
    )


# --------------------------------------------------------------------------- presentation


def job_summary(job: Any) -> dict[str, Any]:
    err = get(job, "error")
    hp = get(job, "hyperparameters")
    return {
        "id": get(job, "id"),
        "status": str(normalise(get(job, "status"))),
        "raw_status": get(job, "status"),
        "model": get(job, "model"),
        "fine_tuned_model": get(job, "fine_tuned_model"),
        "training_file": get(job, "training_file"),
        "validation_file": get(job, "validation_file"),
        "suffix": get(job, "suffix"),
        "created_at": get(job, "created_at"),
        "finished_at": get(job, "finished_at"),
        "estimated_finish": get(job, "estimated_finish"),
        "trained_tokens": get(job, "trained_tokens"),
        "hyperparameters": hp.model_dump() if hasattr(hp, "model_dump") else hp,
        "error": ({"code": get(err, "code"), "message": get(err, "message"), "param": get(err, "param")}
                  if err and (get(err, "code") or get(err, "message")) else None),
    }


def event_summary(e: Any) -> dict[str, Any]:
    return {"created_at": get(e, "created_at"), "level": get(e, "level"), "type": get(e, "type"),
            "message": get(e, "message"), "data": get(e, "data")}


def open_connection(*, stack: str | None, endpoint: str | None, api: str | None, api_version: str | None) -> Any:
    from jobs.client import connect

    return connect(endpoint=endpoint, stack=stack, api=api, api_version=api_version)


def run_state(conn: Any) -> Any:
    from jobs.state import RunState

    return RunState(conn.stack)


def ts_text(ts: Any) -> str:
    if not ts:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(ts)))
