"""``rehearse [DATA.jsonl]``: the whole product, offline, in well under a minute.

1. Starts the Azure OpenAI emulator in-process on a free loopback port, with a temporary state folder, short
   but visible stage durations and the lab's base deployment ``gpt-4.1``.
2. Builds a session for stack ``rehearsal`` whose deployer is the emulator's (``emulator/deployer.py``): a
   throwaway stack file in the temporary folder, never a real Pulumi stack; the emulator stands in for the
   second ``pulumi up``. The connection uses a placeholder token (no Azure credential is read or sent) and a
   temporary run-state folder (``.ftjobs/`` is never touched). Nothing changes the process's environment.
3. Runs the same flow as ``python -m jobs run`` (``jobs/flow/run.py``): validate, price, upload, train,
   watch, promote.
4. Compares the base and the fine-tuned deployment with ``compare``'s flow step (``jobs/flow/compare.py``): the
   default suite (the lab's questions, the five Rome questions as one conversation, the project's own), the
   lab's system prompt, every answer checked; prints the Rome conversation side by side with its checks, the
   verdict and the report's path. Every answer is an emulator stand-in and is labelled so, the report too.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobs import contract, lab
from jobs.api import STAND_IN_LABEL
from jobs.checks import strip_label
from jobs.errors import JobsError, UsageError

LABEL = STAND_IN_LABEL
STACK = "rehearsal"
BASE_DEPLOYMENT = contract.DEFAULT_BASE_DEPLOYMENT
DEFAULT_DATA = Path("data") / "travel-train.jsonl"
PLACEHOLDER_TOKEN = "rehearsal-placeholder-token"
QUESTIONS = lab.QUESTIONS
SYSTEM_PROMPT = lab.SYSTEM_PROMPT
ROME_CASE = "lab-rome"  # the default suite's case with the lab's five questions, in one conversation
REPEAT = 1
CONCURRENCY = 8

# Emulator timings: fast, but every stage is visible in the progress lines.
EMULATOR_CONFIG: dict[str, Any] = {
    "file_processing_seconds": 1.0,
    "queue_seconds": 2.0,
    "training_seconds": 6.0,
}


@dataclass
class Answer:
    deployment: str
    text: str  # without the label; the label is added wherever it is shown
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)  # compare's checks of this answer

    @classmethod
    def of_row(cls, row: dict[str, Any]) -> "Answer":
        if row.get("error") is not None:
            return cls(deployment=row["deployment"], text=f"(no answer: {row['error']['message']})")
        return cls(deployment=row["deployment"], text=strip_label(str(row["answer"])), checks=dict(row["checks"]))

    def checks_text(self) -> str:
        return "; ".join(f"{name}: {'pass' if c['passed'] else 'FAIL'}" for name, c in self.checks.items()) or "-"

    def to_json(self) -> dict[str, Any]:
        return {"deployment": self.deployment, "label": LABEL, "text": f"{LABEL} {self.text}", "checks": self.checks}


@dataclass
class Comparison:
    question: str
    base: Answer
    fine_tuned: Answer


@dataclass
class RehearseResult:
    data: str
    endpoint: str
    job_id: str
    fine_tuned_model: str
    base_deployment: str
    fine_tuned_deployment: str
    seconds: float
    run_text: str
    run_json: dict[str, Any]
    comparisons: list[Comparison] = field(default_factory=list)
    kept_dir: str | None = None
    rich: bool = False  # render the side-by-side answers as a rich table (a terminal)
    report_path: str = ""  # compare's report.html
    verdict: str = ""
    compare_text: str = ""  # compare's summary table

    def to_json(self) -> dict[str, Any]:
        return {
            "data": self.data, "endpoint": self.endpoint, "job_id": self.job_id,
            "fine_tuned_model": self.fine_tuned_model, "base_deployment": self.base_deployment,
            "fine_tuned_deployment": self.fine_tuned_deployment, "seconds": round(self.seconds, 1),
            "system_prompt": SYSTEM_PROMPT, "note": f"all answers are {LABEL} text, not model output",
            "run": self.run_json,
            "comparisons": [{"question": c.question, "base": c.base.to_json(), "fine_tuned": c.fine_tuned.to_json()}
                            for c in self.comparisons],
            "compare": {"report": self.report_path, "verdict": self.verdict},
            "kept_dir": self.kept_dir,
        }

    def to_text(self) -> str:
        lines = [
            f"rehearsal against the local emulator at {self.endpoint} (no Azure, no cost)",
            f"data: {self.data}",
            "",
            self.run_text,
            "note: a rehearsal never runs `pulumi` (it must not change a real stack): its stack is a throwaway "
            "stand-in file, the pulumi commands above are what promote stands in for, and the emulator stood in "
            "for the second `pulumi up`.",
            "",
            "compare: the default suite (the lab's questions and the project's own), system prompt = the lab's "
            "instructions; below, the lab's five Rome questions, asked in one conversation",
            f"  base:       deployment {self.base_deployment}",
            f"  fine-tuned: deployment {self.fine_tuned_deployment} -> {self.fine_tuned_model}",
            f"  every answer below is an {LABEL} answer, not model output",
            "",
        ]
        if self.rich:
            lines.append(self._rich_table())
        else:
            for i, c in enumerate(self.comparisons, 1):
                lines.append(f"Q{i}: {c.question}")
                lines.append(f"  base ({c.base.deployment}) {LABEL}:")
                lines.append(f"    {LABEL} {c.base.text}")
                lines.append(f"    -> {c.base.checks_text()}")
                lines.append(f"  fine-tuned ({c.fine_tuned.deployment}) {LABEL}:")
                lines.append(f"    {LABEL} {c.fine_tuned.text}")
                lines.append(f"    -> {c.fine_tuned.checks_text()}")
                lines.append("")
        lines.append(lab.LOOK_FOR)
        lines.append("")
        lines.append(self.compare_text)
        lines.append(f"rehearsal finished in {self.seconds:.1f} s"
                     + (f"; emulator and run state kept in {self.kept_dir}" if self.kept_dir else ""))
        lines.append("with a real subscription: `pulumi up`, then `python -m jobs run data/travel-train.jsonl`, "
                     "then `pulumi up` again, then `python -m jobs compare` (see the README)")
        return "\n".join(lines)

    def _rich_table(self) -> str:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        def cell(a: Answer) -> Text:  # Text, not markup: "[emulator stand-in]" must print as is
            t = Text(f"{LABEL} {a.text}\n")
            t.append(a.checks_text(), style="dim")
            return t

        console = Console(file=sys.stdout)
        table = Table(show_lines=True, title=Text(f"answers {LABEL}"))
        table.add_column("question", ratio=1)
        table.add_column(f"base: {self.base_deployment}", ratio=2)
        table.add_column(f"fine-tuned: {self.fine_tuned_deployment}", ratio=2)
        for c in self.comparisons:
            table.add_row(Text(c.question), cell(c.base), cell(c.fine_tuned))
        with console.capture() as cap:
            console.print(table)
        return cap.get().rstrip("\n")


def resolve_data(data: str | None) -> Path:
    if data:
        p = Path(data)
        if not p.is_file():
            raise UsageError(f"training file {p} does not exist",
                             hint="pass a chat JSONL file, e.g. `python -m jobs rehearse data/travel-train.jsonl`")
        return p
    repo = Path(__file__).resolve().parent.parent.parent
    for candidate in (DEFAULT_DATA, repo / DEFAULT_DATA):
        if candidate.is_file():
            return candidate
    raise UsageError(
        f"the default training file {DEFAULT_DATA} is missing (looked in {Path.cwd()} and {repo})",
        hint="pass one: `python -m jobs rehearse ../shared/mslearn-data/travel-finetune-hotel.jsonl`",
    )


def _workspace(keep_dir: str | None) -> tuple[Path, bool]:
    """(the rehearsal's folder, whether it is temporary and removed at the end)."""
    if keep_dir:
        root = Path(keep_dir)
        if root.exists() and any(root.iterdir()):
            raise UsageError(f"--keep {root}: folder exists and is not empty",
                             hint="pass a new or empty folder, so an old rehearsal's state is not reused")
        root.mkdir(parents=True, exist_ok=True)
        return root, False
    return Path(tempfile.mkdtemp(prefix="ftjobs-rehearsal-")), True


def rehearsal_session(url: str, root: Path, *, json_mode: bool) -> Any:
    """The rehearsal's session: the emulator's deployer, a placeholder token, a private run state, fast polls."""
    from emulator.deployer import EmulatorDeployer
    from jobs import settings
    from jobs.client import DEFAULT_API_VERSION, Credential
    from jobs.retry import RetryPolicy
    from jobs.session import Session, Target
    from jobs.settings import Env, PollSettings
    from jobs.state import RunState
    from jobs.ui import Ui

    env = Env.current().with_changes(**{settings.CRASH_AT: None})
    return Session(stack=STACK, env=env, state=RunState(STACK, root / "ftjobs", env=env),
                   deployer=EmulatorDeployer(url, STACK, root / f"Pulumi.{STACK}.stand-in.json"),
                   ui=Ui(env=env, json_mode=json_mode),
                   # a placeholder token: never a real credential, even to loopback
                   target=Target(endpoint=url, api="dated", api_version=DEFAULT_API_VERSION,
                                 credential=Credential("ad-token", PLACEHOLDER_TOKEN)),
                   poll=PollSettings(first=0.5, cap=1.0, running_floor=1.0), retry=RetryPolicy.from_env(env))


def rehearse(*, data: str | None = None, keep_dir: str | None = None, json_mode: bool = False) -> RehearseResult:
    """The ``rehearse`` command."""
    from emulator.serve import require_server_packages

    require_server_packages()
    from emulator.server import EmulatorServer
    from jobs.flow.cost import Guards
    from jobs.flow.run import run
    from jobs.flow.train import TrainingOptions

    started = time.monotonic()
    path = resolve_data(data)
    root, temporary = _workspace(keep_dir)
    server = None
    try:
        emulator_dir = root / "emulator"
        emulator_dir.mkdir()
        server = EmulatorServer(str(emulator_dir), config=dict(EMULATOR_CONFIG), host="127.0.0.1", port=0).start()
        session = rehearsal_session(server.url, root, json_mode=json_mode)
        session.say(f"rehearse: emulator at {server.url}; run state in {session.state.directory} (temporary)")
        outcome = run(session, path, TrainingOptions().checked(), Guards(yes=True), up=True)
        model = outcome.job.fine_tuned_model or ""
        if not model or outcome.promote is None:
            raise JobsError(f"the rehearsal's job {outcome.job.id} finished without a fine-tuned model",
                            hint="this is a bug in the emulator or runner; rerun with --keep DIR and report it")
        ft_deployment = outcome.promote.emulator_deployment or contract.DEFAULT_FINE_TUNED_DEPLOYMENT
        compared = _compare(session, path, ft_deployment, report_dir=(root / "report") if not temporary else None)
        rome = [r for r in compared.report["rows"] if r["case_id"] == ROME_CASE and r["repeat"] == 0]
        by_turn = {(r["turn"], r["variant"]): r for r in rome}
        comparisons = [Comparison(question=q, base=Answer.of_row(by_turn[(i, "base")]),
                                  fine_tuned=Answer.of_row(by_turn[(i, "tuned")]))
                       for i, q in enumerate(QUESTIONS, 1)]
        from jobs.compare.report import render_text

        return RehearseResult(
            data=str(path), endpoint=server.url, job_id=outcome.job.id, fine_tuned_model=model,
            base_deployment=BASE_DEPLOYMENT, fine_tuned_deployment=ft_deployment,
            seconds=time.monotonic() - started, run_text=outcome.to_text(), run_json=outcome.to_json(),
            comparisons=comparisons, kept_dir=None if temporary else str(root), rich=session.ui.rich_output(),
            report_path=compared.paths["html"], verdict=compared.report["verdict"]["headline"],
            compare_text=render_text(compared.report, rich=session.ui.rich_output(), paths=compared.paths),
        )
    finally:
        if server is not None:
            server.stop()
        if temporary:
            shutil.rmtree(root, ignore_errors=True)


def _compare(session: Any, data: Path, tuned: str, *, report_dir: Path | None) -> Any:
    """The base against the fine-tuned deployment on the default suite, as ``python -m jobs compare`` runs it.

    The report goes to ``report_dir`` (``--keep DIR``: ``DIR/report``), else to a new temporary folder that
    is kept (the rehearsal's own folder is removed) and printed.
    """
    from jobs.checks import StyleProfile
    from jobs.compare.plan import Plan, RunOptions
    from jobs.compare.suite import default_suite_path, load_suite
    from jobs.flow.compare import compare, stack_variants

    out = report_dir or Path(tempfile.mkdtemp(prefix="ftjobs-rehearsal-report-"))
    plan = Plan(suites=(load_suite(default_suite_path()),),
                variants=stack_variants(session, ("base", "tuned"), base=BASE_DEPLOYMENT, tuned=tuned),
                repeat=REPEAT, style=StyleProfile.from_file(data))
    return compare(session, plan, RunOptions(concurrency=CONCURRENCY, out=out))
