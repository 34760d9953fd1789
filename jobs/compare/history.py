"""The comparison history: every run and every row, in a local SQLite database beside the run state
(``<run-state folder>/compare/history.sqlite3``, i.e. ``.ftjobs/compare/`` by default).

Each row is written (and committed) the moment its answer arrives, so a run killed midway keeps what it
finished and ``compare --resume`` sends only what is missing or failed. ``compare --list`` lists the runs,
``compare --against RUN_ID`` reads an earlier run's summary.

The schema evolves by **ordered migrations** (:data:`MIGRATIONS`): the database's ``PRAGMA user_version``
is the number applied; opening applies the rest in order, each in one transaction. A database from a newer
version of this project (a higher ``user_version``) is refused rather than guessed at.

Every SQLite failure (a read-only folder, a file that is not a database or is truncated, a full disk) is a
:class:`HistoryError` naming the file and the fix, never a traceback. A row that cannot be written mid-run does
not stop the run: :meth:`History.record_row` remembers the first failure (:attr:`History.write_failure`) and the
flow writes the report before it reports that the history was not updated.

One comparison run is sent by one process at a time: :meth:`History.lock_run` holds a lock file per run
(``compare/locks/<run id>.lock``) while its rows are sent, so a second ``compare --resume`` of the same run is
refused (exit 3) instead of sending the missing rows twice.

No secret is ever written: endpoint URLs, deployment names, answers and numbers only.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from jobs import settings
from jobs.errors import RefusedError, UsageError

FILENAME = "history.sqlite3"
LOCKS = "locks"


class HistoryError(UsageError):
    """The comparison history cannot be read or written (SQLite's reason in the message, the fix as the hint)."""


def _failure(path: Path, doing: str, exc: BaseException) -> HistoryError:
    """A clear error for an SQLite (or OS) failure on the history file: what broke, and what to do."""
    reason = str(exc) or type(exc).__name__
    low = reason.lower()
    aside = f"move it aside (`mv {path} {path}.broken`; the next compare starts a fresh history)"
    if "not a database" in low or "malformed" in low or "corrupt" in low:
        what, fix = f"the comparison history {path} is damaged ({reason})", aside
    elif "full" in low:
        what, fix = (f"cannot {doing} the comparison history {path}: the disk is full ({reason})",
                     f"free disk space, or point {settings.STATE_DIR} at a folder on a disk with room")
    elif "readonly" in low or "read-only" in low or "unable to open" in low or "permission" in low:
        what, fix = (f"cannot {doing} the comparison history {path} ({reason}): its folder is not writable",
                     f"make {path.parent} writable, or point {settings.STATE_DIR} at a writable folder")
    else:
        what, fix = f"cannot {doing} the comparison history {path} ({reason})", f"check the disk, or {aside}"
    return HistoryError(what, hint=fix)

# (what it does, the SQL). Append only: never edit or reorder an applied migration.
MIGRATIONS: tuple[tuple[str, str], ...] = (
    ("runs and their rows", """
        CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            started_at REAL NOT NULL,
            finished_at REAL,
            status TEXT NOT NULL,           -- running | finished
            stack TEXT,
            endpoint TEXT,
            stand_in INTEGER NOT NULL DEFAULT 0,
            plan_json TEXT NOT NULL,        -- jobs.compare.plan.Plan.to_json(): --resume reads it back
            meta_json TEXT NOT NULL,        -- provenance
            summary_json TEXT,              -- report.json's summary, paired and verdict
            report_dir TEXT
        );
        CREATE TABLE rows (
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            case_id TEXT NOT NULL,
            turn INTEGER NOT NULL,
            variant TEXT NOT NULL,
            repeat INTEGER NOT NULL,
            cache_key TEXT NOT NULL,
            ok INTEGER NOT NULL,            -- answered (and judged, when there is a judge)
            row_json TEXT NOT NULL,         -- the report row
            recorded_at REAL NOT NULL,
            PRIMARY KEY (run_id, case_id, turn, variant, repeat)
        );
    """),
    ("list runs newest first without a scan", """
        CREATE INDEX runs_by_start ON runs (started_at);
    """),
)
SCHEMA_VERSION = len(MIGRATIONS)


class History:
    """The database of one run-state folder. Thread-safe (one connection, one lock)."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / FILENAME
        self.write_failure: HistoryError | None = None  # the first row that could not be recorded (record_row)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise _failure(self.path, "open", exc) from None
        try:
            with self._sql("open"):
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self.migrate()
        except HistoryError:
            self._db.close()
            raise

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def _sql(self, doing: str) -> Iterator[None]:
        """Turn an SQLite failure inside the block into a :class:`HistoryError` (``doing``: "read", "write")."""
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            raise _failure(self.path, doing, exc) from None

    @contextlib.contextmanager
    def lock_run(self, run_id: str) -> Iterator[None]:
        """Hold the lock of one run while its rows are sent; refuse (exit 3) when another process holds it."""
        from filelock import FileLock, Timeout

        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", run_id).lstrip(".")  # ids are ours, but the file could be edited
        path = self.path.parent / LOCKS / f"{safe or '_'}.lock"
        try:
            path.parent.mkdir(exist_ok=True)
            lock = FileLock(str(path))
            lock.acquire(timeout=0)
        except Timeout:
            raise RefusedError(
                f"another `python -m jobs compare` is sending the rows of run {run_id} (it holds {path})",
                hint=f"wait for it to finish; then `python -m jobs compare --resume {run_id}` sends whatever is "
                "still missing") from None
        except OSError as exc:
            raise _failure(self.path, "lock a run in", exc) from None
        try:
            yield
        finally:
            lock.release()

    # ------------------------------------------------------------------ schema
    @property
    def version(self) -> int:
        with self._sql("read"):
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self, upto: int = SCHEMA_VERSION) -> None:
        """Apply the migrations after the database's version, in order, up to ``upto``."""
        with self._lock:
            current = self.version
            if current > SCHEMA_VERSION:
                raise HistoryError(
                    f"the comparison history {self.path} has schema version {current}, newer than this "
                    f"project's {SCHEMA_VERSION}", hint="update foundry-finetune, or move the file aside")
            for number in range(current + 1, upto + 1):
                _, sql = MIGRATIONS[number - 1]
                try:
                    self._db.execute("BEGIN")
                    for statement in (s for s in sql.split(";") if s.strip()):
                        self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {number}")
                    self._db.execute("COMMIT")
                except sqlite3.Error as exc:
                    # SQLite may have rolled back already (a full disk does): a second ROLLBACK would fail
                    with contextlib.suppress(sqlite3.Error):
                        if self._db.in_transaction:
                            self._db.execute("ROLLBACK")
                    raise _failure(self.path, f"update (to schema {number})", exc) from None

    # ------------------------------------------------------------------ runs
    def start_run(self, run_id: str, *, plan: dict[str, Any], meta: dict[str, Any]) -> None:
        with self._lock, self._sql("write"):
            self._db.execute(
                "INSERT INTO runs (run_id, started_at, status, stack, endpoint, stand_in, plan_json, meta_json) "
                "VALUES (?, ?, 'running', ?, ?, ?, ?, ?)",
                (run_id, time.time(), meta.get("stack"), meta.get("endpoint"), int(bool(meta.get("stand_in"))),
                 json.dumps(plan), json.dumps(meta)))

    def finish_run(self, run_id: str, *, summary: dict[str, Any], report_dir: str, stand_in: bool) -> None:
        with self._lock, self._sql("write"):
            self._db.execute("UPDATE runs SET finished_at = ?, status = 'finished', summary_json = ?, report_dir = ?, "
                             "stand_in = ? WHERE run_id = ?",
                             (time.time(), json.dumps(summary), report_dir, int(stand_in), run_id))

    def reopen_run(self, run_id: str) -> None:
        with self._lock, self._sql("write"):
            self._db.execute("UPDATE runs SET status = 'running' WHERE run_id = ?", (run_id,))

    def run(self, run_id: str) -> dict[str, Any] | None:
        with self._lock, self._sql("read"):
            cur = self._db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,))
            row = cur.fetchone()
            return _run_dict(cur, row) if row else None

    def resumable_run(self) -> dict[str, Any] | None:
        """The newest unfinished run or, when every run finished, the newest one with failed rows."""
        with self._lock, self._sql("read"):
            cur = self._db.execute("SELECT * FROM runs WHERE status = 'running' ORDER BY started_at DESC LIMIT 1")
            row = cur.fetchone()
            if row is None:
                cur = self._db.execute(
                    "SELECT * FROM runs WHERE run_id IN (SELECT run_id FROM rows WHERE ok = 0) "
                    "ORDER BY started_at DESC LIMIT 1")
                row = cur.fetchone()
            return _run_dict(cur, row) if row else None

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        with self._lock, self._sql("read"):
            cur = self._db.execute("SELECT * FROM runs ORDER BY started_at DESC LIMIT ?", (limit,))
            found = [_run_dict(cur, r) for r in cur.fetchall()]
            for run in found:
                counts = self._db.execute("SELECT COUNT(*), SUM(ok) FROM rows WHERE run_id = ?",
                                          (run["run_id"],)).fetchone()
                run["rows"], run["ok_rows"] = int(counts[0] or 0), int(counts[1] or 0)
            return found

    # ------------------------------------------------------------------ rows
    def record_row(self, run_id: str, row: dict[str, Any], *, ok: bool) -> None:
        """Record one row. A failure (a full disk) does not stop the run: the first one is kept in
        :attr:`write_failure`, and later rows are not attempted (the flow reports it after writing the report)."""
        with self._lock:
            if self.write_failure is not None:
                return
            try:
                with self._sql("write"):
                    self._db.execute(
                        "INSERT OR REPLACE INTO rows (run_id, case_id, turn, variant, repeat, cache_key, ok, "
                        "row_json, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (run_id, row["case_id"], row["turn"], row["variant"], row["repeat"], row["cache_key"],
                         int(ok), json.dumps(row), time.time()))
            except HistoryError as exc:
                self.write_failure = exc

    def rows(self, run_id: str) -> list[dict[str, Any]]:
        with self._lock, self._sql("read"):
            cur = self._db.execute("SELECT row_json FROM rows WHERE run_id = ? ORDER BY rowid", (run_id,))
            return [json.loads(r[0]) for r in cur.fetchall()]


def _run_dict(cur: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    names = [d[0] for d in cur.description]
    out = dict(zip(names, row))
    for key in ("plan_json", "meta_json", "summary_json"):
        value = out.pop(key)
        out[key[:-5]] = json.loads(value) if value else None
    out["stand_in"] = bool(out.get("stand_in"))
    return out
