"""The comparison history under hostile conditions (issue 21, items 2 and 3): a second ``compare --resume`` of the
same run is refused while the first sends its rows; a read-only, garbage, truncated or full history gives a clean
``error:``/``fix:`` (never a traceback) and keeps what was written; a compare whose history fills up mid-run still
writes its report and says the history was not updated."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from jobs.compare import history as history_module
from jobs.compare.history import FILENAME, History, HistoryError
from tests.support.cli import CliOutcome
from tests.support.compare import CompareEmulator, history_rows, pair_args, report_of
from tests.support.paths import MSLEARN

pytestmark = pytest.mark.usefixtures("runner_env")

SUITE = ["--suite", str(MSLEARN / "travel-finetune-validation.jsonl")]


def _row(i: int, size: int = 100) -> dict[str, Any]:
    return {"case_id": f"c{i}", "turn": 1, "variant": "base", "repeat": 0, "cache_key": "k", "answer": "x" * size}


def _clean_error(result: CliOutcome, *words: str) -> None:
    assert "Traceback" not in result.stderr and "sqlite3.OperationalError" not in result.stderr, result.stderr
    assert "sqlite3.DatabaseError" not in result.stderr, result.stderr
    error = result.stderr[result.stderr.index("error: "):]  # after the progress lines, if any
    assert result.stderr.startswith("error: ") or "\nerror: " in result.stderr, result.stderr
    assert "\n  fix: " in error, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


# --------------------------------------------------------------------------- item 2: one sender per run


def _interrupted_run(em: CompareEmulator, jobs_cli: Callable[..., CliOutcome], state: Path) -> str:
    """A finished run with some failed rows (an injected 500 on a third of the calls): resumable."""
    em.configure(faults={"rate": 0.3, "kinds": ["500"], "seed": 5, "routes": ["/deployments", "/v1/chat"]})
    try:
        first = jobs_cli(*pair_args(em, *SUITE, "--json"))
    finally:
        em.configure(faults={"rate": 0.0})
    assert first.exit_code == 0, first.stderr
    assert any(r["error"] is not None for r in history_rows(state))
    return str(first.json["run_id"])


def test_a_second_resume_of_the_same_run_is_refused(em: CompareEmulator, jobs_cli: Callable[..., CliOutcome],
                                                    runner_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTJOBS_RETRY_ATTEMPTS", "1")
    run_id = _interrupted_run(em, jobs_cli, runner_env)
    before = history_rows(runner_env)
    holder = History(runner_env / "compare")
    with holder.lock_run(run_id):  # another process is resuming this run right now
        second = jobs_cli("compare", "--endpoint", em.url, "--resume", run_id)
        latest = jobs_cli("compare", "--endpoint", em.url, "--resume")
    holder.close()
    assert second.exit_code == 3 and latest.exit_code == 3
    _clean_error(second, f"sending the rows of run {run_id}", f"compare --resume {run_id}")
    assert history_rows(runner_env) == before  # nothing was sent twice
    after = jobs_cli("compare", "--endpoint", em.url, "--resume", run_id, "--json")  # the lock is free again
    assert after.exit_code == 0, after.stderr
    assert after.json["sent"] == sum(1 for r in before if r["error"] is not None)


def test_a_running_compare_holds_its_runs_lock(em: CompareEmulator, jobs_cli: Callable[..., CliOutcome],
                                               runner_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    record = History.record_row

    def record_and_try_the_lock(self: History, run_id: str, row: dict[str, Any], *, ok: bool) -> None:
        record(self, run_id, row, ok=ok)
        if not seen:
            other = History(self.path.parent)
            try:
                with other.lock_run(run_id):
                    seen.append("free")
            except Exception as exc:  # noqa: BLE001 - the refusal is what is looked for
                seen.append(type(exc).__name__)
            finally:
                other.close()

    monkeypatch.setattr(History, "record_row", record_and_try_the_lock)
    result = jobs_cli(*pair_args(em, *SUITE, "--repeat", "1", "--json"))
    assert result.exit_code == 0, result.stderr
    assert seen == ["RefusedError"]


# --------------------------------------------------------------------------- item 3: a broken history


def test_a_garbage_history_is_a_clean_error_and_stays(jobs_cli: Callable[..., CliOutcome], runner_env: Path) -> None:
    path = runner_env / "compare" / FILENAME
    path.parent.mkdir(parents=True)
    path.write_bytes(b"these are not the rows you are looking for\n" * 200)
    result = jobs_cli("compare", "--list")
    assert result.exit_code == 2
    _clean_error(result, str(path), "is damaged (file is not a database)", f"mv {path} {path}.broken")
    assert path.read_bytes() == b"these are not the rows you are looking for\n" * 200


def test_a_truncated_history_is_a_clean_error(jobs_cli: Callable[..., CliOutcome], runner_env: Path) -> None:
    folder = runner_env / "compare"
    h = History(folder)
    h.start_run("r1", plan={}, meta={})
    for i in range(200):
        h.record_row("r1", _row(i, 800), ok=True)
    h._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    h.close()
    data = (folder / FILENAME).read_bytes()
    (folder / FILENAME).write_bytes(data[:len(data) // 2])
    result = jobs_cli("compare", "--list")
    assert result.exit_code == 2
    _clean_error(result, "is damaged (database disk image is malformed)", "mv ")


def _read_only_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    real = sqlite3.connect

    def connect(path: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        return real(f"file:{path}?mode=ro", *args, uri=True, **kwargs)

    monkeypatch.setattr(history_module.sqlite3, "connect", connect)


def test_a_read_only_history_is_a_clean_error(em: CompareEmulator, jobs_cli: Callable[..., CliOutcome],
                                              runner_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    History(runner_env / "compare").close()  # an existing history, opened read-only (as on a read-only mount)
    for name in ("-wal", "-shm"):
        (runner_env / "compare" / f"{FILENAME}{name}").unlink(missing_ok=True)
    before = (runner_env / "compare" / FILENAME).read_bytes()
    _read_only_connect(monkeypatch)
    assert jobs_cli("compare", "--list").exit_code == 0  # reading it works
    result = jobs_cli(*pair_args(em, *SUITE))
    assert result.exit_code == 2
    _clean_error(result, "readonly database", "its folder is not writable", "FTJOBS_STATE_DIR")
    assert "rows" not in result.stderr  # refused before any call
    assert (runner_env / "compare" / FILENAME).read_bytes() == before


def test_a_history_that_cannot_be_opened_is_a_clean_error(tmp_path: Path) -> None:
    History(tmp_path).close()
    (tmp_path / f"{FILENAME}-wal").unlink(missing_ok=True)
    (tmp_path / f"{FILENAME}-wal").mkdir()  # SQLite: "unable to open database file"
    with pytest.raises(HistoryError, match="unable to open database file") as info:
        History(tmp_path).runs()
    assert "writable" in (info.value.hint or "")


@pytest.fixture()
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody may write into. Root ignores permission bits (CI runs as root), so there the folder is
    made immutable (``chattr +i``), which refuses root's writes too; others get mode 0555."""
    folder = tmp_path / "compare"
    folder.mkdir()
    root = os.geteuid() == 0
    if root:
        made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
        if made.returncode != 0:
            pytest.skip(f"as root, a read-only folder needs chattr +i, which failed here: {made.stderr.strip()}")
    else:
        folder.chmod(0o555)
    try:
        yield folder
    finally:
        if root:
            subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
        else:
            folder.chmod(0o755)


def test_a_read_only_folder_is_a_clean_error(read_only_folder: Path) -> None:
    with pytest.raises(HistoryError, match="not writable"):
        History(read_only_folder)
    assert list(read_only_folder.iterdir()) == []  # nothing was written there


def _small_disk(monkeypatch: pytest.MonkeyPatch, pages: int) -> None:
    """Every connection to the history may grow the file by ``pages`` pages only (SQLITE_FULL after that)."""
    real = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        db = real(*args, **kwargs)
        size = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {size + pages}")
        return db

    monkeypatch.setattr(history_module.sqlite3, "connect", connect)


def test_a_full_disk_during_the_migration_is_a_clean_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _small_disk(monkeypatch, 1)
    with pytest.raises(HistoryError, match="the disk is full") as info:
        History(tmp_path)
    assert "free disk space" in (info.value.hint or "")
    monkeypatch.undo()
    assert History(tmp_path).version == history_module.SCHEMA_VERSION  # nothing half-applied: it migrates now


def test_a_failed_migration_that_sqlite_rolled_back_is_a_clean_error(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite rolls a transaction back by itself on some errors (a full disk does): no "cannot rollback" then."""
    h = History(tmp_path)
    monkeypatch.setattr(history_module, "MIGRATIONS", history_module.MIGRATIONS + (
        ("rolled back by SQLite", "CREATE TABLE t (a); ROLLBACK; SELECT * FROM no_such_table"),))
    monkeypatch.setattr(history_module, "SCHEMA_VERSION", len(history_module.MIGRATIONS))
    with pytest.raises(HistoryError, match="no such table") as info:
        h.migrate(upto=history_module.SCHEMA_VERSION)
    assert "cannot rollback" not in info.value.message
    assert h.version == history_module.SCHEMA_VERSION - 1


def test_a_full_disk_mid_row_keeps_the_rows_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    h = History(tmp_path)
    h.start_run("r1", plan={}, meta={})
    size = h._db.execute("PRAGMA page_count").fetchone()[0]
    h._db.execute(f"PRAGMA max_page_count = {size + 3}")
    for i in range(40):
        h.record_row("r1", _row(i, 3000), ok=True)  # no exception: the run goes on
    assert h.write_failure is not None and "the disk is full" in h.write_failure.message
    kept = h.rows("r1")
    assert 0 < len(kept) < 40 and kept == [_row(i, 3000) for i in range(len(kept))]


def test_a_compare_whose_history_fills_up_writes_its_report(em: CompareEmulator, jobs_cli: Callable[..., CliOutcome],
                                                            runner_env: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    History(runner_env / "compare").close()  # migrated while the disk had room
    _small_disk(monkeypatch, 4)
    out = tmp_path / "report"
    result = jobs_cli(*pair_args(em, *SUITE, "--repeat", "2", "--out", str(out)))
    assert result.exit_code == 2
    _clean_error(result, "the disk is full", "the report is written", "the history was not updated",
                 "free disk space")
    report = report_of(out)
    assert len(report["rows"]) == 5 * 2 * 2 and all(r["answer"] for r in report["rows"])
    assert json.loads((out / "report.json").read_text())["run_id"] == report["run_id"]
    assert 0 < len(history_rows(runner_env)) < 20  # the rows before the disk filled up are kept
