"""``python -m jobs compare``: the same conversations to each variant, several times, every answer checked,
the difference with its uncertainty, a report in three forms, and a CI gate (exit 4). docs/compare.md.

A thin shell over the flow step ``jobs/flow/compare.py``: it turns the options into a plan, runs it, and
renders the outcome. ``--list`` lists earlier runs instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobs.session import Session


@dataclass(frozen=True)
class CompareRequest:
    """The command's options, as given (``jobs/cli.py`` builds it)."""

    suites: tuple[str, ...] = ()
    base_deployment: str | None = None
    tuned_deployment: str | None = None
    system_prompt: str | None = None
    variants: tuple[str, ...] = ()
    repeat: int = 3
    concurrency: int | None = None  # a cap; None: adaptive up to jobs.compare.plan.MAX_CONCURRENCY
    judge: str | None = None
    out: str | None = None
    fail_under: tuple[str, ...] = ()
    against: str | None = None
    resume: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    rate_limits: tuple[str, ...] = ()
    prices: tuple[str, ...] = ()
    style_from: str | None = None

    def chat_params(self) -> Any:
        """``--temperature``, ``--max-tokens`` and ``--seed`` as the plan's ``jobs.compare.plan.ChatParams``."""
        from jobs.compare.plan import ChatParams

        return ChatParams(temperature=self.temperature, max_tokens=self.max_tokens, seed=self.seed)


@dataclass
class CompareResult:
    outcome: Any  # jobs.flow.compare.CompareOutcome
    rich: bool = False

    @property
    def exit_code(self) -> int:
        return int(self.outcome.exit_code)

    def to_text(self) -> str:
        from jobs.compare.report import render_text

        o = self.outcome
        text = render_text(o.report, rich=self.rich, paths=o.paths)
        if o.reused:
            text += f"\nresumed: {o.reused} rows kept from the interrupted run, {o.sent} calls sent now"
        return text

    def to_json(self) -> dict[str, Any]:
        o = self.outcome
        keys = ("run_id", "stand_in", "stand_in_note", "variants", "summary", "pair", "paired", "stability", "usage",
                "gates", "verdict", "against")
        return {**{k: o.report.get(k) for k in keys}, "paths": o.paths, "sent": o.sent, "reused": o.reused}


@dataclass
class RunList:
    runs: list[dict[str, Any]] = field(default_factory=list)
    path: str = ""

    def to_text(self) -> str:
        if not self.runs:
            return f"no comparison runs yet ({self.path})"
        lines = [f"comparison runs in {self.path}, newest first:"]
        for r in self.runs:
            when = r["started_at"]
            stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime(when)) if when else "-"
            verdict = ((r.get("summary") or {}).get("verdict") or {}).get("headline") or r["status"]
            plan = r.get("plan") or {}
            variants = ", ".join(f"{v['name']}={v['deployment']}" for v in plan.get("variants", []))
            lines.append(f"  {r['run_id']}  {stamp} UTC  {r['ok_rows']}/{r['rows']} rows ok  {variants}")
            lines.append(f"      {verdict}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "runs": [{"run_id": r["run_id"], "started_at": r["started_at"],
                                             "finished_at": r["finished_at"], "status": r["status"],
                                             "stand_in": r["stand_in"], "rows": r["rows"], "ok_rows": r["ok_rows"],
                                             "report_dir": r["report_dir"],
                                             "verdict": ((r.get("summary") or {}).get("verdict") or {}).get("headline")}
                                            for r in self.runs]}


def list_runs(session: Session) -> RunList:
    from jobs.flow.compare import HISTORY_FOLDER, list_runs as runs

    return RunList(runs=runs(session), path=str(session.state.directory / HISTORY_FOLDER))


def _plan(session: Session, req: CompareRequest) -> Any:
    from jobs.checks import StyleProfile
    from jobs.compare.plan import BASELINE, CANDIDATE, Plan, SystemPrompt
    from jobs.compare.suite import default_style_path, default_suite_path, load_suite
    from jobs.flow.compare import stack_variants

    variants = stack_variants(session, req.variants or (BASELINE, CANDIDATE), base=req.base_deployment,
                              tuned=req.tuned_deployment, prompt=SystemPrompt.from_file(req.system_prompt))
    suites = tuple(load_suite(p) for p in (req.suites or (str(default_suite_path()),)))
    style_path = req.style_from or str(default_style_path())
    _warn_contamination(session, suites, Path(style_path))
    return Plan(suites=suites, variants=variants, repeat=req.repeat, judge=req.judge,
                params=req.chat_params(), style=StyleProfile.from_file(style_path))


def _warn_contamination(session: Session, suites: Any, training: Path) -> None:
    """Say so when a suite prompt is also a prompt of the training file (the style file is the training file)."""
    from jobs.compare.contamination import contaminated, warning

    text = warning(contaminated(suites, training), training)
    if text:
        session.say(text)


def compare(session: Session, *, request: CompareRequest) -> CompareResult:
    from jobs.compare.plan import Gate, Price, RateLimit, RunOptions
    from jobs.flow import compare as flow

    options = RunOptions(concurrency=request.concurrency,
                         rate_limits=tuple(RateLimit.parse(s) for s in request.rate_limits),
                         prices=tuple(Price.parse(s) for s in request.prices),
                         gates=tuple(Gate.parse(s) for s in request.fail_under),
                         out=Path(request.out) if request.out else None, against=request.against)
    if request.resume:
        outcome = flow.resume(session, request.resume, options)
    else:
        outcome = flow.compare(session, _plan(session, request), options)
    return CompareResult(outcome, rich=session.ui.rich_output())


_NOT_WITH_CHECKPOINTS = ("base_deployment", "tuned_deployment", "system_prompt", "variants", "judge", "fail_under",
                         "against")


def compare_checkpoints(session: Session, *, request: CompareRequest, job_id: str | None, primary: str | None,
                        yes: bool) -> Any:
    """``compare --checkpoints [JOB]``: a thin shell over ``jobs/flow/select_checkpoint.py``."""
    from jobs.compare.plan import Price, RateLimit, RunOptions
    from jobs.compare.select import DEFAULT_PRIMARY
    from jobs.errors import UsageError
    from jobs.flow.select_checkpoint import SelectRequest, select_checkpoint

    for name in _NOT_WITH_CHECKPOINTS:
        if getattr(request, name) not in (None, (), ""):
            flag = "--" + name.replace("_", "-").rstrip("s") if name == "variants" else "--" + name.replace("_", "-")
            raise UsageError(f"{flag} does not go with --checkpoints: the variants are the job's checkpoints",
                             hint="leave it out; --suite, --repeat, --out, --concurrency, --temperature, "
                             "--max-tokens, --seed, --primary and --yes apply")
    if job_id is not None and not job_id.strip():
        raise UsageError("--checkpoints: the job id is empty", hint="pass a job id, or nothing for the latest job")
    options = RunOptions(concurrency=request.concurrency,
                         rate_limits=tuple(RateLimit.parse(s) for s in request.rate_limits),
                         prices=tuple(Price.parse(s) for s in request.prices),
                         out=Path(request.out) if request.out else None)
    req = SelectRequest(job_id=job_id.strip() if job_id else None, suites=request.suites, repeat=request.repeat,
                        primary=primary or DEFAULT_PRIMARY, yes=yes, style_from=request.style_from,
                        params=request.chat_params())
    return select_checkpoint(session, req, options)
