"""Run state: what this project created, one JSON file per stack under ``<project root>/.ftjobs/``.

The folder is env ``FTJOBS_STATE_DIR`` or ``.ftjobs`` in the project root
(``jobs/project.py``: the nearest folder at or above the current one holding
``Pulumi.yaml``), so a run started from a subfolder finds the same state.

The file is the runner's memory across Ctrl-C, crashes and ``kill -9``:

.. code-block:: json

    {
      "version": 1,
      "stack": "dev",
      "files": {"<sha256 of content>": {"file_id": "file-...", "filename": "travel-train.jsonl",
                                       "purpose": "fine-tune", "uploaded_at": 1732400000,
                                       "status": "processed"}},
      "jobs": {"<run key>": {"job_id": "ftjob-...", "training_file": "file-...",
                             "validation_file": null, "model": "gpt-4.1-2025-04-14",
                             "suffix": "ft-travel", "params": {...}, "created_at": 1732400000,
                             "status": "running", "fine_tuned_model": null}},
      "pending": {"<run key>": {"started_at": 1732400000, "training_file": "file-..."}},
      "promoted": {"job_id": "ftjob-...", "fine_tuned_model": "...", "at": 1732400000}
    }

Added by the job runner (``jobs/flow/``), all optional for readers:
``pending_uploads`` (``{"<sha256>": {"started_at", "filename", "bytes"}}``: an
upload sent but not yet recorded), ``latest_job`` (the job id ``watch``/``status``
default to), ``files[*]`` gains ``sha256``, ``bytes``, ``examples``,
``billed_tokens_per_epoch``, ``auto_epochs``; ``jobs[*]`` gains ``run_key``;
``pending[*]`` gains ``suffix``, ``model``, ``replaces``. With ``--new`` the
earlier job of a run key stays tracked under ``"<run key>@<job id>"``.

``flows`` records the steps a flow finished: ``flows["run"]["train"] = {"at": ..., "job_id": ...}``
(``RunState.mark``), so a longer flow (``pipeline``) knows where to continue.

``pending`` marks a create call that was sent but whose answer was not yet
recorded: after a crash the runner looks the job up on the server (by training
file, suffix and creation time) instead of creating a second one.

``promoted`` (written by ``promote``) also holds ``applied`` (false when
``pulumi`` was missing and the commands were printed instead),
``deployment_name``, ``sku`` and ``up`` (``pulumi up`` ran). ``clean`` sets
``model_deleted: true`` on a job whose model it deleted, drops deleted files
from ``files`` and resets ``promoted`` to null once ``fineTunedModel`` is unset.

``version`` is :data:`SCHEMA_VERSION`; a state with a higher version (written by a newer version of this
project) is refused, naming the file and the fix, rather than read with this version's meaning of its keys.

Writes are atomic (temp file in the same folder, fsync, ``os.replace``); a
``filelock`` lock file guards concurrent runs on the same stack. No secret is
ever written here: only ids, names, parameters and hashes.
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any, Callable, Iterator

from jobs import settings
from jobs.errors import RefusedError, UsageError
from jobs.settings import Env

STATE_DIR_ENV = settings.STATE_DIR
DEFAULT_STATE_DIR = ".ftjobs"
SCHEMA_VERSION = 2
# Version 2 (issue 23, choosing a checkpoint) adds ``selections`` (job id -> the latest ``compare --checkpoints``
# choice), ``checkpoint_deployments`` (deployment name -> a temporary checkpoint deployment, recorded before it is
# created), ``holdouts`` (sha256 of a training copy -> its held-out suite, jobs/flow/holdout.py) and
# ``promoted.checkpoint`` (which checkpoint was promoted and why; null for the final model).
# :func:`migrate` brings an older file up to date when it is read.


def state_dir(env: Env | None = None) -> Path:
    """Env ``FTJOBS_STATE_DIR``, else ``<project root>/.ftjobs`` (the same folder from any current directory)."""
    configured = (env or Env.current()).text(STATE_DIR_ENV)
    if configured:
        return Path(configured)
    from jobs.project import project_root

    return project_root() / DEFAULT_STATE_DIR


_FIX_HINT = ("fix the file or move it aside (the runner then starts a fresh state; `python -m jobs list` shows "
             "the jobs on the server, and `run` refuses to start a duplicate of one)")


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


STACK_ENV = settings.STACK
DEFAULT_STACK = "dev"
# Pulumi's rule (pkg/backend: validateStackName, stackNameAndProjectRegexp `^[A-Za-z0-9_.-]{1,100}$`): each part
# of a stack name is 1-100 letters, digits, `-`, `_` and `.`; a name may be qualified as `org/stack` or
# `org/project/stack`.
STACK_PART_MAX = 100
_STACK_PART = rf"[A-Za-z0-9._-]{{1,{STACK_PART_MAX}}}"
_STACK_RE = re.compile(rf"{_STACK_PART}(?:/{_STACK_PART}){{0,2}}")


def resolve_stack(stack: str | None, env: Env | None = None) -> str:
    """The stack every command uses: ``--stack`` (click fills it from env ``FTJOBS_STACK``), else the env,
    else ``dev``; a name Pulumi would refuse is a UsageError naming where it came from."""
    from_env = (env or Env.current()).raw(STACK_ENV)
    if stack is None:
        stack = from_env or DEFAULT_STACK
    if not _STACK_RE.fullmatch(stack) or stack.startswith("-"):
        source = f"env {STACK_ENV}" if from_env == stack else "--stack"
        shown = stack if len(stack) <= 60 else f"{stack[:40]}... ({len(stack)} characters)"
        too_long = any(len(part) > STACK_PART_MAX for part in stack.split("/"))
        problem = (f"is longer than Pulumi allows ({STACK_PART_MAX} characters per part)" if too_long
                   else "is not a Pulumi stack name (letters, digits, '-', '_' and '.', optionally qualified as "
                   "org/stack or org/project/stack)")
        raise UsageError(
            f"{source}={shown!r} {problem}",
            hint=f"pass --stack NAME or set {STACK_ENV} (default: {DEFAULT_STACK}); `pulumi stack ls` lists them",
        )
    return stack


def _safe_stack(stack: str) -> str:
    # Valid names use only [A-Za-z0-9._-] and '/', so mapping '/' to '+' (never in a name) is collision-free.
    return stack.replace("/", "+")


def empty_state(stack: str) -> dict[str, Any]:
    return {"version": SCHEMA_VERSION, "stack": stack, "files": {}, "jobs": {}, "pending": {}, "promoted": None,
            "pending_uploads": {}, "latest_job": None, "selections": {}, "checkpoint_deployments": {},
            "holdouts": {}}


def _migrate_1_to_2(data: dict[str, Any]) -> None:
    data.setdefault("selections", {})
    data.setdefault("checkpoint_deployments", {})
    data.setdefault("holdouts", {})
    promoted = data.get("promoted")
    if isinstance(promoted, dict):
        promoted.setdefault("checkpoint", None)  # version 1 always promoted the job's final model


_MIGRATIONS: dict[int, Callable[[dict[str, Any]], None]] = {1: _migrate_1_to_2}


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring a state file written by an older runner up to :data:`SCHEMA_VERSION`, in place (no version: 1)."""
    raw = data.get("version")
    version = raw if isinstance(raw, int) else 1
    while version in _MIGRATIONS and version < SCHEMA_VERSION:
        _MIGRATIONS[version](data)
        version += 1
    if version <= SCHEMA_VERSION:
        data["version"] = SCHEMA_VERSION
    return data


class RunState:
    """The state file of one stack. Read with :meth:`load`, change with :meth:`update`."""

    def __init__(self, stack: str, directory: Path | None = None, *, env: Env | None = None):
        env = env or Env.current()
        self.stack = resolve_stack(stack, env)
        self.from_env = directory is None and env.is_set(STATE_DIR_ENV)
        self.directory = directory or state_dir(env)
        self._held = False
        self.path = self.directory / f"{_safe_stack(self.stack)}.json"
        self.lock_path = self.directory / f"{_safe_stack(self.stack)}.lock"

    def _not_a_folder(self) -> UsageError:
        where = f"env {STATE_DIR_ENV}={str(self.directory)!r}" if self.from_env else f"run-state folder {self.directory}"
        return UsageError(
            f"{where} is not a folder (a file is in the way)",
            hint=f"point {STATE_DIR_ENV} at a folder (it is created if missing), or move that file aside",
        )

    def _unwritable(self, target: Path, exc: OSError) -> UsageError:
        """A disk/permission problem creating or writing the state, naming the path and the setting."""
        reason = exc.strerror or type(exc).__name__
        where = f"env {STATE_DIR_ENV}={str(self.directory)!r}" if self.from_env else f"run-state folder {self.directory}"
        return UsageError(
            f"cannot write the run state {target} ({reason}; {where})",
            hint=f"free disk space or fix the folder's permissions, or point {STATE_DIR_ENV} at a writable folder "
            "(it is created if missing)",
        )

    def _ensure_dir(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise self._not_a_folder() from None
        except OSError as exc:  # no such parent (/proc/...), read-only file system, permission denied, ...
            raise self._unwritable(self.directory, exc) from None
        if not self.directory.is_dir():
            raise self._not_a_folder()

    def load(self) -> dict[str, Any]:
        if self.directory.exists() and not self.directory.is_dir():
            raise self._not_a_folder()
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return empty_state(self.stack)
        except NotADirectoryError:
            raise self._not_a_folder() from None
        except IsADirectoryError:
            raise UsageError(f"run state {self.path} is a folder, not a file",
                             hint="move that folder aside; the runner writes its state file there") from None
        except UnicodeDecodeError:
            raise UsageError(f"run state {self.path} is not UTF-8 text", hint=_FIX_HINT) from None
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"run state {self.path} is not valid JSON (line {exc.lineno}): {exc.msg}",
                hint=_FIX_HINT,
            ) from None
        self._check_shape(data)
        migrate(data)
        base = empty_state(self.stack)
        base.update(data)
        for key in ("files", "jobs", "pending", "pending_uploads", "selections", "checkpoint_deployments",
                    "holdouts"):
            if base.get(key) is None:
                base[key] = {}
        return base

    def _check_shape(self, data: Any) -> None:
        """Refuse a state file whose top level is not what the runner writes (no AttributeError later)."""
        def bad(what: str) -> UsageError:
            return UsageError(f"run state {self.path} has the wrong shape: {what}", hint=_FIX_HINT)

        if not isinstance(data, dict):
            raise bad(f"the top level is a JSON {_json_type(data)}, expected an object")
        self._check_version(data.get("version"))
        for key in ("files", "jobs", "pending", "pending_uploads", "flows", "selections", "checkpoint_deployments",
                    "holdouts"):
            value = data.get(key)
            if value is None:
                continue
            if not isinstance(value, dict):
                raise bad(f'"{key}" is a JSON {_json_type(value)}, expected an object')
            for name, entry in value.items():
                if not isinstance(entry, dict):
                    raise bad(f'"{key}"["{name}"] is a JSON {_json_type(entry)}, expected an object')
        promoted = data.get("promoted")
        if promoted is not None and not isinstance(promoted, dict):
            raise bad(f'"promoted" is a JSON {_json_type(promoted)}, expected an object or null')
        latest = data.get("latest_job")
        if latest is not None and not isinstance(latest, str):
            raise bad(f'"latest_job" is a JSON {_json_type(latest)}, expected a string or null')

    def _check_version(self, version: Any) -> None:
        """Refuse a state written by a newer version of this project (its keys may mean something else here)."""
        if version is None:
            return
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise UsageError(f'run state {self.path} has the wrong shape: "version" is {json.dumps(version)}, '
                             f"expected a whole number from 1 to {SCHEMA_VERSION}", hint=_FIX_HINT)
        if version > SCHEMA_VERSION:
            raise UsageError(
                f"run state {self.path} has version {version}, newer than this project's {SCHEMA_VERSION}: it was "
                "written by a newer foundry-finetune",
                hint="update this checkout (`git pull`, then `make install`) and run the command again; or move "
                "the file aside to start a fresh state (`python -m jobs list` shows the jobs on the server)")

    def save(self, data: dict[str, Any]) -> None:
        from jobs.atomic import write_atomic

        self._ensure_dir()
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
        try:
            write_atomic(self.path, text.encode("utf-8"))
        except OSError as exc:  # disk full (ENOSPC), quota, I/O error: the old state file is intact
            raise self._unwritable(self.path, exc) from None

    def update(self, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Load, apply ``change`` in place, and write back atomically."""
        data = self.load()
        change(data)
        self.save(data)
        return data

    def mark(self, flow: str, step: str, **info: Any) -> None:
        """Record that ``step`` of ``flow`` finished (``flows[flow][step] = {"at": ..., **info}``)."""
        import time

        def change(data: dict[str, Any]) -> None:
            flows = data.setdefault("flows", {})
            flows.setdefault(flow, {})[step] = {"at": int(time.time()), **info}

        self.update(change)

    def restart(self, flow: str) -> None:
        """Start ``flow`` over: its marks move to ``flows[flow + ":previous"]`` (the one before is dropped)."""
        def change(data: dict[str, Any]) -> None:
            flows = data.setdefault("flows", {})
            old = flows.pop(flow, None)
            if old:
                flows[f"{flow}:previous"] = old

        self.update(change)

    def marks(self, flow: str) -> dict[str, Any]:
        """The finished steps of ``flow`` (see :meth:`mark`)."""
        value = (self.load().get("flows") or {}).get(flow)
        return dict(value) if isinstance(value, dict) else {}

    @contextlib.contextmanager
    def locked(self, timeout: float = 0) -> Iterator["RunState"]:
        """Hold the stack's lock for a whole command; refuse when another run holds it.

        Re-entrant for this object: a step that takes the lock inside a flow that holds it (``clean`` inside
        ``pipeline``) just goes on.
        """
        from filelock import FileLock, Timeout

        if self._held:
            yield self
            return
        self._ensure_dir()
        lock = FileLock(str(self.lock_path))
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise RefusedError(
                f"another `python -m jobs` run holds the lock on stack {self.stack!r} ({self.lock_path})",
                hint="wait for it to finish (or stop it); a crashed run releases the lock automatically",
            ) from None
        except OSError as exc:  # a read-only folder (the lock file cannot be created)
            raise self._unwritable(self.lock_path, exc) from None
        self._held = True
        try:
            yield self
        finally:
            self._held = False
            lock.release()
