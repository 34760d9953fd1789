"""``rehearse [DATA.jsonl] [--backend local|stand-in]``: the README's first command: the whole lab, offline.

``--backend local`` (the default): SmolLM2-135M-Instruct really trained and served on this machine, standing in
for gpt-4.1 (about ten minutes on 2 cores; the compare step uses the shortened settings of :data:`LOCAL`). ``--backend
stand-in``: canned answers and a simulated training run, the plumbing in about a minute.

1. Prints the infrastructure plan: what the Pulumi program declares for a ``rehearsal`` stack and the key
   settings, from the real program under Pulumi's mocks (``infra/plan.py``): a plan, nothing is deployed.
2. Starts the Azure OpenAI emulator (``rehearsal/lab.py``: in-process for the stand-in, a child process for
   the local model) on a free loopback port (a temporary state folder, short but
   visible stage durations, the lab's base deployment ``gpt-4.1``).
3. Builds a session for stack ``rehearsal`` (``rehearsal/session.py``) whose deployer is the emulator's (``rehearsal/deployer.py``): a
   throwaway stack file, never a Pulumi stack; the emulator stands in for both ``pulumi up``. A placeholder
   token (no Azure credential is read or sent) and a temporary run state (``.ftjobs/`` is never touched).
4. Runs ``pipeline``'s steps (``jobs/flow/pipeline.py``): preflight, the stand-in ``pulumi up``, validate,
   upload, fine-tune, the base variants compared while the job trains, watch, the metrics chart, promote,
   the second stand-in ``pulumi up``, wait until the deployment answers, compare base against fine-tuned.
5. Prints the Rome conversation side by side with its checks, a three-line verdict, and where the HTML
   report and the chart are (a folder that is kept). Every answer is labelled for what it is: an emulator
   stand-in, or the local model standing in for gpt-4.1 (``jobs/stand_in.py``).
6. Stops the emulator and removes its temporary folder whatever happens (an error, Ctrl-C).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs import contract, lab
from jobs.stand_in import STAND_IN_LABEL
from jobs.checks import strip_label
from jobs.errors import JobsError, UsageError
from jobs.project import TRAINING_FILE, default_training_file

if TYPE_CHECKING:
    from jobs.flow.pipeline import PipelineOutcome
    from rehearsal.lab import Lab

LABEL = STAND_IN_LABEL
STACK = "rehearsal"
BASE_DEPLOYMENT = contract.DEFAULT_BASE_DEPLOYMENT
DEFAULT_DATA = TRAINING_FILE
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
# The rehearsal's deployments (base and fine-tuned), in thousands of tokens per minute. The stand-in quota of 50
# only made compare wait for its own pacing (about 40 s of each rehearsal); nothing real is rationed offline.
CAPACITY = 1000
LOCAL_SUITE = Path("data/local-suite.yaml")


@dataclass(frozen=True)
class Settings:
    """How a rehearsal runs on a backend: the emulator's config and what compare and the job are asked."""

    backend: str
    emulator: dict[str, Any]
    capacity: float | None  # every deployment's (None: the emulator's default)
    concurrency: int | None  # compare's cap (None: adaptive, as the server's x-ratelimit headers allow)
    suite: Path | None = None  # None: compare's default suite
    repeat: int = REPEAT
    max_tokens: int | None = None
    temperature: float | None = None  # None: the deployment's default
    epochs: int | None = None  # None: the trainer's default
    base_tags: tuple[str, ...] = ()  # compare-base (the lab's three system messages) on these cases only

    def shortened(self) -> str | None:
        """What the local rehearsal shortened, as its report says (None: nothing)."""
        if self.backend != "local":
            return None
        return (f"shortened to fit about 10 minutes on a small CPU: suite {self.suite} (the lab's questions and ten "
                f"held-out travel cases; the base model's three system messages on the lab's questions only), "
                f"{self.repeat} repeat, max_tokens {self.max_tokens}, temperature {self.temperature} (greedy), "
                f"n_epochs {self.epochs}")


STAND_IN = Settings("stand-in", EMULATOR_CONFIG, CAPACITY, CONCURRENCY)
# The local model: every answer is generated on this CPU, so a short suite, one repeat and a cap on each answer;
# compare paces itself by the local backend's x-ratelimit headers (what this CPU serves). Temperature 0: each
# model's most likely answer (a 135M model sampled at the default temperature 1 often drifts into other
# languages, which says nothing about the data; measured 2026-12-06). n_epochs 3: the training library's
# defaults teach the lab's behaviour in 3 epochs (docs/emulator.md, "Local backend").
LOCAL = Settings("local", {}, None, None, suite=LOCAL_SUITE, repeat=1, max_tokens=120, temperature=0.0, epochs=3,
                 base_tags=("lab",))
SETTINGS = {s.backend: s for s in (STAND_IN, LOCAL)}


@dataclass
class Answer:
    deployment: str
    text: str  # without the label; the label is added wherever it is shown
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)  # compare's checks of this answer
    label: str = LABEL  # what the answer is: the stand-in's label, or the local model's

    @classmethod
    def of_row(cls, row: dict[str, Any], label: str = LABEL) -> "Answer":
        if row.get("error") is not None:
            return cls(deployment=row["deployment"], text=f"(no answer: {row['error']['message']})", label=label)
        return cls(deployment=row["deployment"], text=strip_label(str(row["answer"])), checks=dict(row["checks"]),
                   label=label)

    @property
    def shown(self) -> str:
        """The text as a person sees it: a stand-in's with its label in front; the local model's as generated
        (its label heads the table, the section and the JSON: never the stand-in's)."""
        return f"{LABEL} {self.text}" if self.label == LABEL else self.text

    def checks_text(self) -> str:
        return "; ".join(f"{name}: {'pass' if c['passed'] else 'FAIL'}" for name, c in self.checks.items()) or "-"

    def to_json(self) -> dict[str, Any]:
        return {"deployment": self.deployment, "label": self.label, "text": self.shown, "checks": self.checks}


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
    plan: list[str] = field(default_factory=list)  # the infrastructure plan (Pulumi program under mocks)
    chart: str | None = None  # the metrics chart (PNG)
    reports: dict[str, str] = field(default_factory=dict)  # compare-base and compare: report.html
    verdict_lines: list[str] = field(default_factory=list)  # the three-line verdict
    label: str = LABEL  # what every answer is: the stand-in's label, or the local model's (from the answers' headers)
    settings: Settings = STAND_IN

    @property
    def local(self) -> bool:
        return self.label != LABEL

    def note(self) -> str:
        if self.local:
            return (f"every answer was generated by the {self.label}: real output of that small model, which "
                    "shows what the data teaches it, not what gpt-4.1 will say")
        return f"every answer below is an {LABEL} answer, not model output"

    def to_json(self) -> dict[str, Any]:
        return {
            "data": self.data, "endpoint": self.endpoint, "job_id": self.job_id,
            "fine_tuned_model": self.fine_tuned_model, "base_deployment": self.base_deployment,
            "fine_tuned_deployment": self.fine_tuned_deployment, "seconds": round(self.seconds, 1),
            "system_prompt": SYSTEM_PROMPT, "backend": self.settings.backend, "label": self.label,
            "note": self.note(), "shortened": self.settings.shortened(),
            "run": self.run_json,
            "comparisons": [{"question": c.question, "base": c.base.to_json(), "fine_tuned": c.fine_tuned.to_json()}
                            for c in self.comparisons],
            "compare": {"report": self.report_path, "verdict": self.verdict},
            "plan": self.plan, "chart": self.chart, "reports": self.reports, "verdict_lines": self.verdict_lines,
            "kept_dir": self.kept_dir,
        }

    def to_text(self) -> str:
        lines = [
            f"rehearsal against the local emulator at {self.endpoint} (no Azure, no cost; backend "
            f"{self.settings.backend}: "
            + ("a small model trained and served on this machine" if self.settings.backend == "local"
               else "canned answers and a simulated training run") + ")",
            f"data: {self.data}",
            "",
            f"plan: what the Pulumi program declares for stack {STACK} (run under Pulumi's mocks; a plan, nothing "
            "is deployed):",
            *self.plan,
            "",
            self.run_text,
            "note: a rehearsal never runs `pulumi` (it must not change a real stack): its stack is a throwaway "
            "stand-in file, the pulumi commands above are what promote stands in for, and the emulator stood in "
            "for both `pulumi up`.",
            "",
            f"compare: {self._suite_text()}, system prompt = the lab's instructions; below, the lab's five Rome "
            "questions, asked in one conversation",
            *([f"  {self.settings.shortened()}"] if self.settings.shortened() else []),
            f"  base:       deployment {self.base_deployment}",
            f"  fine-tuned: deployment {self.fine_tuned_deployment} -> {self.fine_tuned_model}",
            f"  {self.note()}",
            "",
        ]
        if self.rich:
            lines.append(self._rich_table())
        else:
            for i, c in enumerate(self.comparisons, 1):
                tag = "[local model]" if self.local else LABEL
                lines.append(f"Q{i}: {c.question}")
                lines.append(f"  base ({c.base.deployment}) {tag}:")
                lines.append(f"    {c.base.shown}")
                lines.append(f"    -> {c.base.checks_text()}")
                lines.append(f"  fine-tuned ({c.fine_tuned.deployment}) {tag}:")
                lines.append(f"    {c.fine_tuned.shown}")
                lines.append(f"    -> {c.fine_tuned.checks_text()}")
                lines.append("")
        lines.append(lab.LOOK_FOR)
        lines.append("")
        lines.append(self.compare_text)
        lines.append("")
        lines += self.verdict_lines
        for name, path in self.reports.items():
            lines.append(f"report ({name}): {path}")
        if self.chart:
            lines.append(f"metrics chart: {self.chart}")
        lines.append(f"rehearsal finished in {self.seconds:.1f} s"
                     + (f"; emulator and run state kept in {self.kept_dir}" if self.kept_dir else ""))
        lines.append("next: chat with base and fine-tuned side by side in your browser, checks live, on an emulator "
                     f"like this one: `python -m jobs playground --rehearsal --backend {self.settings.backend}`")
        lines.append("with a real subscription: `python -m jobs pipeline --stack dev` does the same on Azure "
                     "(see the README)")
        return "\n".join(lines)

    def _suite_text(self) -> str:
        if self.settings.suite is not None:
            return f"suite {self.settings.suite}"
        return "the default suite (the lab's questions and the project's own)"

    def _rich_table(self) -> str:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        def cell(a: Answer) -> Text:  # Text, not markup: "[emulator stand-in]" must print as is
            t = Text(f"{a.shown}\n")
            t.append(a.checks_text(), style="dim")
            return t

        console = Console(file=sys.stdout)
        table = Table(show_lines=True, title=Text(f"answers: {self.label}" if self.local else f"answers {LABEL}"))
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
    try:
        return default_training_file()
    except UsageError as exc:
        raise UsageError(exc.message, hint="pass one: `python -m jobs rehearse "
                                           "../shared/mslearn-data/travel-finetune-hotel.jsonl`") from None


def _kept_folder(keep_dir: str | None) -> Path | None:
    """The folder ``--keep`` names (new or empty), or None: a temporary one, removed at the end."""
    if not keep_dir:
        return None
    root = Path(keep_dir)
    if root.exists() and any(root.iterdir()):
        raise UsageError(f"--keep {root}: folder exists and is not empty",
                         hint="pass a new or empty folder, so an old rehearsal's state is not reused")
    root.mkdir(parents=True, exist_ok=True)
    return root


def three_line_verdict(compared: dict[str, Any], base_compared: dict[str, Any] | None) -> list[str]:
    """The verdict of base against fine-tuned, the lab's main check, and what the base variants showed."""
    check = "no_recommendations"
    lines = [f"verdict: {compared['verdict']['headline']}"]
    s = compared["summary"]
    p = compared["paired"].get(check)
    if p is not None and "base" in s and "tuned" in s:
        lines.append(f"{check}: tuned {s['tuned'][check]['rate']:.0%} of answers pass, base {s['base'][check]['rate']:.0%}"
                     f" (wins/ties/losses {p['wins']}/{p['ties']}/{p['losses']})")
    if base_compared is not None:
        rates = ", ".join(f"{v} {base_compared['summary'][v][check]['rate']:.0%}"
                          for v in base_compared["summary"] if check in base_compared["summary"][v])
        lines.append(f"the base model with the lab's three system messages ({check}): {rates}")
    return lines[:3]


def infrastructure_plan() -> list[str]:
    from infra.plan import plan_estate, plan_lines

    return plan_lines(plan_estate({}, stack=STACK))


def settings_for(backend: str) -> Settings:
    from rehearsal.lab import check_backend

    check_backend(backend)  # an unknown backend, or the local one without its packages: one clear error
    got = SETTINGS[backend]
    if got.suite is not None:
        from jobs.compare.suite import project_file

        got = replace(got, suite=project_file(got.suite, hint="restore it from the repository (git checkout -- "
                                                              f"{got.suite})"))
    return got


def rehearse(*, data: str | None = None, keep_dir: str | None = None, backend: str = "local",
             json_mode: bool = False) -> RehearseResult:
    """The ``rehearse`` command."""
    from jobs.flow.cost import Guards
    from jobs.flow.pipeline import Pipeline, PipelinePlan
    from jobs.flow.train import TrainingOptions
    from rehearsal.lab import offline_lab

    started = time.monotonic()
    path = resolve_data(data)
    settings = settings_for(backend)
    kept = _kept_folder(keep_dir)
    out = kept / "report" if kept is not None else Path(tempfile.mkdtemp(prefix="ftjobs-rehearsal-report-"))
    finished = False
    try:
        plan = infrastructure_plan()
        with offline_lab(stack=STACK, config=settings.emulator, json_mode=json_mode, root=kept,
                         capacity=settings.capacity, backend=backend) as offline:
            session = offline.session
            session.say(f"rehearse: emulator ({backend}) at {offline.url}; run state in {session.state.directory}"
                        + (" (temporary)" if offline.temporary else ""))
            if settings.shortened():
                session.say(f"rehearse: {settings.shortened()}")
            steps = PipelinePlan(data=path, options=TrainingOptions(epochs=settings.epochs).checked(),
                                 guards=Guards(yes=True), suites=(str(settings.suite),) if settings.suite else (),
                                 repeat=settings.repeat, concurrency=settings.concurrency,
                                 max_tokens=settings.max_tokens, temperature=settings.temperature,
                                 base_tags=settings.base_tags, out=out,
                                 command=f"python -m jobs rehearse --backend {backend}")
            outcome = Pipeline(session, steps).run()
        result = _result(path, offline, outcome, started, plan, settings)
        finished = True
        return result
    finally:
        if kept is None and not finished:  # an error or Ctrl-C: no report to point at, nothing left behind
            shutil.rmtree(out, ignore_errors=True)


def _result(path: Path, offline: "Lab", outcome: "PipelineOutcome", started: float, plan: list[str],
            settings: Settings = STAND_IN) -> RehearseResult:
    """What the rehearsal shows: the lab's five questions side by side, the verdict and the reports."""
    from jobs.compare.report import render_text

    session = offline.session
    model = outcome.fine_tuned_model or ""
    compared = outcome.compared.get("compare")
    if not model or compared is None or outcome.tuned_deployment is None:
        raise JobsError(f"the rehearsal's job {outcome.job_id} finished without a fine-tuned deployment",
                        hint="this is a bug in the emulator or runner; rerun with --keep DIR and report it")
    label = LABEL if compared.get("stand_in") or not compared.get("local_model") else str(compared["local_model"])
    rome = [r for r in compared["rows"] if r["case_id"] == ROME_CASE and r["repeat"] == 0]
    by_turn = {(r["turn"], r["variant"]): r for r in rome}
    comparisons = [Comparison(question=q, base=Answer.of_row(by_turn[(i, "base")], label),
                              fine_tuned=Answer.of_row(by_turn[(i, "tuned")], label))
                   for i, q in enumerate(QUESTIONS, 1)]
    return RehearseResult(
        data=str(path), endpoint=offline.url, job_id=str(outcome.job_id), fine_tuned_model=model,
        base_deployment=BASE_DEPLOYMENT, fine_tuned_deployment=outcome.tuned_deployment,
        seconds=time.monotonic() - started, run_text=outcome.to_text(), run_json=outcome.to_json(),
        comparisons=comparisons, kept_dir=None if offline.temporary else str(offline.root), rich=session.ui.rich_output(),
        report_path=outcome.reports["compare"], verdict=compared["verdict"]["headline"],
        compare_text=render_text(compared, rich=session.ui.rich_output()),
        plan=plan, chart=outcome.chart, reports=dict(outcome.reports),
        verdict_lines=three_line_verdict(compared, outcome.compared.get("compare-base")),
        label=label, settings=settings,
    )
