"""``compare --checkpoints [JOB]``: deploy each kept checkpoint, judge it on the suite, choose, clean up.

1. The job's checkpoints (:func:`jobs.flow.metrics.collect`, as ``checkpoints`` shows them); the final model is
   the last. Each is deployed for the run (:mod:`jobs.flow.ckpt_deployments`): the Developer type where the
   model allows it (:func:`jobs.models.resolve`'s ``fine_tuned_deployment_skus``; no hosting fee), otherwise
   Standard, whose hourly fee is stated and asked for first (``--yes`` where there is no terminal).
2. The compare engine runs the suite on every one (the suite: ``--suite``, else the holdout recorded for the
   job's training file, else the project's suite; a suite prompt that is also a training prompt is warned about).
3. :func:`jobs.compare.select.select` applies the rule; report.json gets ``checkpoints`` and ``chosen``, report.md
   and report.html a section, and ``checkpoints.png`` the chart (:mod:`jobs.compare.ckpt_report`).
4. The choice is recorded in the run state (``selections[job]``) for ``promote --checkpoint best``.
5. The temporary deployments are deleted, also after an error or Ctrl-C; after ``kill -9`` the same command
   deletes the leftovers first. An interrupted comparison with the same plan is resumed: answers already
   recorded are not asked again.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs import metrics as m
from jobs.compare import ckpt_report
from jobs.compare.plan import ChatParams
from jobs.compare.select import DEFAULT_PRIMARY, Candidate, Selection, select
from jobs.errors import JobFailedError, RefusedError, UsageError
from jobs.flow import ckpt_deployments as temp
from jobs.status import JobStatus

if TYPE_CHECKING:  # pragma: no cover
    from jobs.compare.plan import Plan, RunOptions
    from jobs.deploy import TemporaryDeployments
    from jobs.flow.compare import CompareOutcome
    from jobs.flow.metrics import JobMetrics
    from jobs.session import Session

DEVELOPER, STANDARD = "Developer", "Standard"


@dataclass(frozen=True)
class SelectRequest:
    job_id: str | None = None
    suites: tuple[str, ...] = ()
    repeat: int = 3
    primary: str = DEFAULT_PRIMARY
    yes: bool = False
    style_from: str | None = None
    # sent with every request (compare's --temperature, --max-tokens, --seed): e.g. greedy and short on a slow model
    params: ChatParams = ChatParams()


@dataclass
class SelectOutcome:
    job_id: str
    sku: str
    deployments: list[str]
    compare: "CompareOutcome"
    selection: Selection
    paths: dict[str, str]
    swept: list[str] = field(default_factory=list)  # leftovers of an earlier, interrupted run
    notes: list[str] = field(default_factory=list)

    def to_text(self) -> str:
        lines = [f"checkpoints of job {self.job_id}: {len(self.deployments)} deployed ({self.sku}), judged and "
                 "deleted"]
        if self.swept:
            lines.append(f"deleted leftovers of an interrupted run: {', '.join(self.swept)}")
        if self.compare.report.get("stand_in"):
            lines.append(f"{self.compare.report.get('stand_in_note') or 'the answers are emulator stand-ins'}")
        lines += ["", ckpt_report.text(self.compare.report), ""]
        lines += [f"report: {self.paths.get('html')}", f"chart: {self.paths.get('chart', '-')}"]
        if self.compare.reused:
            lines.append(f"resumed: {self.compare.reused} answers kept from the interrupted run, "
                         f"{self.compare.sent} asked now")
        which = self.selection.chosen.candidate
        lines.append(f"next: python -m jobs promote {self.job_id} --checkpoint best   "
                     f"(deploys {'the final model' if which.final else 'step ' + str(which.step)})")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        r = self.compare.report
        return {"job_id": self.job_id, "sku": self.sku, "deployments": self.deployments, "swept": self.swept,
                "run_id": r.get("run_id"), "stand_in": r.get("stand_in"), "checkpoints": r.get("checkpoints"),
                "chosen": r.get("chosen"), "paths": self.paths, "sent": self.compare.sent,
                "reused": self.compare.reused, "notes": self.notes}


def _candidates(got: "JobMetrics") -> list[tuple[Candidate, m.Checkpoint]]:
    final_model = got.job.fine_tuned_model
    out: list[tuple[Candidate, m.Checkpoint]] = []
    for cp in got.checkpoints:
        if not cp.model:
            continue
        cp.fill_from(got.table)
        final = cp.model == final_model
        out.append((Candidate("final" if final else f"step-{cp.step}", cp.step, cp.id, cp.model, final=final), cp))
    if final_model and not any(c.final for c, _ in out):  # a service that does not list the final one
        last = max((c.step for c, _ in out if c.step is not None), default=None)
        cp = m.Checkpoint(step=None, model=final_model, created_at=None, metrics={})
        out.append((Candidate("final", last, None, final_model, final=True), cp))
    return out


def _sku(session: "Session", model: str, count: int, backend: "TemporaryDeployments", yes: bool) -> str:
    """Developer where the model allows it; otherwise Standard after the fee is stated and accepted (asked only
    where the backend bills: not the rehearsal's emulator)."""
    from jobs import models
    from jobs.flow.promote import money_warnings

    try:
        skus = models.resolve(model).fine_tuned_deployment_skus
    except (models.UnknownModel, models.NotFineTunable):
        skus = ()
    if DEVELOPER in skus:
        session.say(f"checkpoints: {count} temporary Developer deployments (no hosting fee; you pay per token)")
        return DEVELOPER
    fee = money_warnings(STANDARD)[0]
    if not backend.billed or yes:
        session.say(f"checkpoints: {count} temporary {STANDARD} deployments, each for the length of the run: {fee}")
        return STANDARD
    answer = session.ui.ask(f"{model} has no Developer deployment type: {count} temporary {STANDARD} deployments "
                            f"are billed per hour while they exist ({fee}). Deploy them? [y/N] ")
    if answer is None:
        raise RefusedError(f"{count} temporary {STANDARD} deployments would be billed per hour, and there is no "
                           "terminal to ask", hint="pass --yes to accept the fee (they are deleted after the run)")
    if not answer:
        raise RefusedError("not deployed: you declined the hourly fee", hint="nothing was created")
    return STANDARD


def _suites(session: "Session", req: SelectRequest, training_file: str | None) -> tuple[str, ...]:
    from jobs.compare.suite import default_suite_path
    from jobs.flow.holdout import suite_for_job

    if req.suites:
        return req.suites
    held = suite_for_job(session.state.load(), training_file)
    if held:
        session.say(f"checkpoints: judging on the held-out suite {held} (set aside before training)")
        return (held,)
    return (str(default_suite_path()),)


def _plan(req: SelectRequest, cands: list[Candidate], names: dict[str, str], suites: tuple[str, ...],
          style: str) -> "Plan":
    from jobs.checks import StyleProfile
    from jobs.compare.plan import Plan, ready_made
    from jobs.compare.suite import load_suite

    variants = tuple(dataclasses.replace(ready_made("tuned", base=None, tuned=names[c.variant]), name=c.variant)
                     for c in cands)
    return Plan(suites=tuple(load_suite(p) for p in suites), variants=variants, repeat=req.repeat,
                params=req.params,
                style=StyleProfile.from_file(style), baseline=cands[0].variant,
                candidate="final")


def _interrupted(session: "Session", plan: "Plan") -> str | None:
    """The id of an unfinished comparison with the same plan (its answers are kept), if any."""
    from jobs.flow.compare import history

    store = history(session)
    try:
        want = json.loads(json.dumps(plan.checked().to_json()))  # as stored: tuples are lists
        return next((r["run_id"] for r in store.runs(50) if r.get("status") == "running" and r.get("plan") == want),
                    None)
    finally:
        store.close()


def _judge(session: "Session", plan: "Plan", options: "RunOptions") -> "CompareOutcome":
    from jobs.flow import compare as flow

    run_id = _interrupted(session, plan)
    return flow.resume(session, run_id, options) if run_id else flow.compare(session, plan, options)


def _warn_contamination(session: "Session", plan: "Plan", training: Path | None) -> None:
    from jobs.compare.contamination import contaminated, warning

    if training is not None:
        text = warning(contaminated(plan.suites, training), training)
        if text:
            session.say(text)


def _training_path(session: "Session", training_file: str | None, style_from: str | None) -> Path | None:
    """The local training file: the holdout's training copy, else --style-from, else the project's file."""
    from jobs.compare.suite import default_style_path

    holdouts = session.state.load().get("holdouts") or {}
    for sha, entry in (session.state.load().get("files") or {}).items():
        if isinstance(entry, dict) and entry.get("file_id") == training_file and sha in holdouts:
            return Path(str(holdouts[sha].get("train")))
    return Path(style_from) if style_from else default_style_path()


def select_checkpoint(session: "Session", req: SelectRequest, options: "RunOptions") -> SelectOutcome:
    """The whole step (see the module docstring). Holds the stack's lock."""
    from jobs.flow.checkpoints import record_selection
    from jobs.flow.metrics import collect
    from jobs.flow.train import latest_job_id

    job_id = req.job_id or latest_job_id(session)
    got = collect(session, job_id)
    if got.job.state is not JobStatus.SUCCEEDED:
        raise JobFailedError(f"job {job_id} is {got.job.state.value}: its checkpoints are judged once it succeeded",
                             hint=f"wait for it: `python -m jobs watch {job_id}`")
    pairs = _candidates(got)
    if len(pairs) < 2:
        raise UsageError(f"job {job_id} lists {len(pairs)} checkpoint(s): nothing to choose between",
                         hint=f"`python -m jobs checkpoints {job_id}` shows them; promote the final model as is")
    cands = [c for c, _ in pairs]
    names = {c.variant: temp.deployment_name(job_id, c.step if not c.final else None) for c in cands}
    training = _training_path(session, got.job.training_file, req.style_from)
    plan = _plan(req, cands, names, _suites(session, req, got.job.training_file),
                 str(training) if training and training.is_file() else req.style_from or str(training))
    plan.checked()  # a bad option (--max-tokens 0, --repeat 0) is refused before anything is deployed
    _warn_contamination(session, plan, training)
    backend = temp.backend_for(session)
    with session.state.locked():
        swept = temp.sweep(session)  # leftovers of an interrupted run (recreated below when still needed)
        sku = _sku(session, got.job.model or "", len(cands), backend, req.yes)
        try:
            for c in cands:
                temp.create(session, backend, names[c.variant], job_id=job_id, step=c.step, model=c.model, sku=sku)
            outcome = _judge(session, plan, options)
        finally:
            temp.sweep(session, only=set(names.values()))
        selection = select(outcome.report["rows"], cands, primary=req.primary)
        rows = [{"variant": c.variant, "step": c.step, "checkpoint_id": c.checkpoint_id, "model": c.model,
                 "final": c.final, "deployment": names[c.variant], "metrics": cp.metrics} for c, cp in pairs]
        ckpt_report.extend(outcome.report, selection, rows)
        paths = ckpt_report.write(outcome.report, Path(outcome.paths["json"]).parent)
        record_selection(session, job_id, selection.to_json(), run_id=outcome.report.get("run_id"),
                         report=paths["json"])
    return SelectOutcome(job_id=job_id, sku=sku, deployments=list(names.values()), compare=outcome,
                         selection=selection, paths=paths, swept=swept)
