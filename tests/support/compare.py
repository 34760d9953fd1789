"""An emulator ready for ``compare``: the base deployment, a fine-tuned deployment trained on the project's
data, and a judge deployment; and the pieces of a compare run the tests read (report, HTML, history)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.server import EmulatorServer
from tests.support.cli import CliOutcome, invoke_cli
from tests.support.clients import run_job_on
from tests.support.emulators import fast_config
from tests.support.paths import REPO

TUNED = "gpt-4.1-ft-travel"
JUDGE = "judge-gpt-4.1"
# Large capacities: these tests are about comparing, not about rate limits (tests/test_compare_pacing.py is).
CAPACITY = 5000


def compare_config(**overrides: Any) -> dict[str, Any]:
    return fast_config(deployments={"gpt-4.1": {"model": "gpt-4.1", "capacity": CAPACITY},
                                    JUDGE: {"model": "gpt-4.1", "capacity": CAPACITY}}, **overrides)


@dataclass
class CompareEmulator:
    server: EmulatorServer
    tuned_model: str

    @property
    def url(self) -> str:
        return self.server.url

    def configure(self, **changes: Any) -> None:
        """``PATCH /++/config`` (faults, content filter, latency, limits)."""
        assert httpx.patch(f"{self.url}/++/config", json=changes, timeout=10).status_code == 200


def start_compare_emulator(state_dir: Path, **config: Any) -> CompareEmulator:
    """Start the emulator, fine-tune on data/travel-train.jsonl, register the tuned deployment."""
    server = EmulatorServer(state_dir, compare_config(**config)).start()
    job = run_job_on(server.url, REPO / "data" / "travel-train.jsonl")
    resp = httpx.post(f"{server.url}/++/deployments",
                      json={"name": TUNED, "model": job.fine_tuned_model, "capacity": CAPACITY}, timeout=10)
    assert resp.status_code == 201, resp.text
    return CompareEmulator(server=server, tuned_model=job.fine_tuned_model)


def pair_args(em: CompareEmulator, *extra: str) -> list[str]:
    """``compare`` against the emulator with the default pair named explicitly."""
    return ["compare", "--endpoint", em.url, "--base-deployment", "gpt-4.1", "--tuned-deployment", TUNED, *extra]


def run_compare(state_dir: Path, *args: str) -> CliOutcome:
    """``python -m jobs ARGS`` in process with its own run state, for a run a whole test module reads (a
    module-scoped fixture cannot use the per-test ``runner_env``)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("FTJOBS_STATE_DIR", str(state_dir))
    mp.setenv("AZURE_OPENAI_API_KEY", "test-key-not-secret")
    mp.setenv("CI", "1")
    try:
        return invoke_cli(*args)
    finally:
        mp.undo()


def report_of(out_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out_dir / "report.json").read_text(encoding="utf-8"))
    return data


def history_rows(state_dir: Path) -> list[dict[str, Any]]:
    """Every row the history holds (all runs), straight from SQLite."""
    with sqlite3.connect(state_dir / "compare" / "history.sqlite3") as db:
        return [json.loads(r[0]) for r in db.execute("SELECT row_json FROM rows")]


class HtmlReport(HTMLParser):
    """What a person sees in report.html: element ids, table rows, marked words, external references."""

    def __init__(self, text: str):
        super().__init__()
        self.ids: set[str] = set()
        self.marks: list[str] = []
        self.external: list[str] = []
        self.tags: list[str] = []
        self.matrix_rows: list[dict[str, str]] = []
        self.scripts = 0
        self._in_mark = False
        self._in_matrix = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append(tag)
        if "id" in a:
            self.ids.add(a["id"])
        if a.get("id") == "matrix":
            self._in_matrix = True
        for key in ("src", "href"):
            if key in a:
                self.external.append(a[key])
        if tag == "link":
            self.external.append(str(a))
        if tag == "script":
            self.scripts += 1
        if tag == "mark":
            self._in_mark = True
            self.marks.append("")
        if tag == "tr" and self._in_matrix and "data-differs" in a:
            self.matrix_rows.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "mark":
            self._in_mark = False
        if tag == "table":
            self._in_matrix = False

    def handle_data(self, data: str) -> None:
        if self._in_mark:
            self.marks[-1] += data
