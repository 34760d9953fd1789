"""``pipeline``: the whole lab in order, every step a checkpoint in the run state (``flows["pipeline"]``).

========================  ========================================================================
step                      what it does
========================  ========================================================================
``preflight``             the ``pulumi`` CLI and its login, an Azure identity, the stack (offered to be
                          created), its config, the training file, the cost guard; nothing runs on a problem
``up-base``               ``pulumi up`` for the base estate (the command is printed before it runs)
``train``                 validate, upload, create the fine-tuning job (the runner's resumable steps)
``compare-base``          while the job queues and trains: the base variants the lab tries (no system
                          message, the short one, the full one) on the suite
``watch``                 follow the job to its end
``metrics``               the job's results.csv and checkpoints, and a chart of its loss (PNG)
``select``                with ``--select-checkpoint``: ``compare --checkpoints`` (each checkpoint deployed,
                          judged and deleted; jobs/flow/select_checkpoint.py); ``promote`` then takes its choice
``promote``               ``fineTunedModel`` into the stack
``up-tuned``              ``pulumi up`` again: the fine-tuned deployment
``ready``                 wait until the new deployment actually answers (bounded, shown)
``compare``               base against fine-tuned; the verdict and the report's path
``clean``, ``destroy``    with ``--destroy-after``: delete files and models, ``pulumi destroy``, and say what
                          Azure keeps soft-deleted (with the purge commands)
========================  ========================================================================

A kill at any point, then the same command again (or ``--resume``), continues at the first step not marked
done: no paid step runs twice (the train step itself also reuses or adopts its job, see jobs/flow/train.py).
A failing step says which step, why, and the command that continues (the whole command as given, guards
included).

The pipeline's inputs (the data's sha256, the training options, the suites, ``--repeat``) are recorded with
its marks (``flows["pipeline"]["inputs"]``). The same command again after every step is done reports the
finished pipeline (nothing runs); other inputs on a stack whose pipeline has marks are refused, naming the
command that continues the recorded one; ``--new`` starts over (a new fine-tuning job: billed), the old marks
kept as ``flows["pipeline:previous"]``. ``--destroy-after`` is not an input: added later, it runs the
clean-up steps of a finished pipeline.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from jobs import az_cli, metrics
from jobs.checks import StyleProfile
from jobs.compare.plan import ChatParams, Plan, RunOptions
from jobs.compare.suite import default_suite_path, load_suite
from jobs.errors import JobFailedError, JobsError, RefusedError, UsageError
from jobs.flow import clean as clean_step
from jobs.flow import promote as promote_step
from jobs.flow import train, watch
from jobs.flow.clean import soft_deleted_items
from jobs.flow.compare import compare, stack_variants
from jobs.flow.cost import CostEstimate, Guards, confirm_or_refuse, guard_cost
from jobs.flow.data import DataCheck, check_data
from jobs.flow.lifecycle import check_training
from jobs.flow.limits import check_job_size
from jobs.flow.metrics import collect
from jobs.flow.preflight import Problem, identity_problem, pulumi_problems, refuse
from jobs.flow.ready import wait_until_answers
from jobs.softdelete import BEFORE_DESTROY, purge_text

if TYPE_CHECKING:  # pragma: no cover
    from jobs.session import Session

FLOW = "pipeline"
STEPS = ("preflight", "up-base", "train", "compare-base", "watch", "metrics", "select", "promote", "up-tuned",
         "ready", "compare", "clean", "destroy")
INPUTS = "inputs"  # the mark that records what the pipeline was started with
BASE_VARIANTS = ("base-no-system", "base-short", "base")  # the lab's three tries with the base model
COMPARED = ("base", "tuned")


@dataclass(frozen=True)
class PipelinePlan:
    """What to run: the data, the (checked) training options and guards, the compare suites, the clean-up."""

    data: Path
    options: train.TrainingOptions
    guards: Guards
    suites: tuple[str, ...] = ()
    destroy_after: bool = False
    resume: bool = False
    command: str = "python -m jobs pipeline"  # how the user started it, for "continue with ..." hints
    repeat: int = 3  # compare: each conversation this many times per variant
    concurrency: int | None = 8  # compare's cap on requests in flight (None: adaptive, as the server's headers allow)
    max_tokens: int | None = None  # compare: the cap on each answer (None: the deployment's default)
    temperature: float | None = None  # compare: sent with every question (None: the deployment's default)
    base_tags: tuple[str, ...] = ()  # compare-base asks only the cases with one of these tags (none: every case)
    out: Path | None = None  # reports and the chart: default under the run-state folder
    select_checkpoint: bool = False  # --select-checkpoint: the "select" step, and promote takes its choice

    def chat_params(self) -> ChatParams:
        """What the compare steps and the checkpoint selection send with every question."""
        return ChatParams(max_tokens=self.max_tokens, temperature=self.temperature)

    @property
    def continue_command(self) -> str:
        """The command that continues this pipeline: the one given, without ``--new``, with ``--resume``."""
        return command_with(self.command, "--resume")

    def inputs(self, data_sha256: str) -> dict[str, Any] | None:
        """What makes two pipelines the same one, with its fingerprint (``data_sha256``: the validated data's,
        from the preflight); None when a suite cannot be read (its compare step says why)."""
        try:
            files = {"data": data_sha256, "suites": [[s, _sha256(Path(s))] for s in self.suites]}
        except OSError:
            return None
        what = {**files, "options": asdict(self.options), "repeat": self.repeat,
                **({"max_tokens": self.max_tokens} if self.max_tokens is not None else {}),
                **({"temperature": self.temperature} if self.temperature is not None else {}),
                **({"base_tags": list(self.base_tags)} if self.base_tags else {}),
                **({"select_checkpoint": True} if self.select_checkpoint else {})}
        fingerprint = hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]
        return {"fingerprint": fingerprint, "data": str(self.data), "data_sha256": data_sha256}


def command_with(command: str, flag: str) -> str:
    """``command`` with ``flag`` (``--resume`` or ``--new``) instead of either."""
    return shlex.join([w for w in shlex.split(command) if w not in ("--new", "--resume")] + [flag])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class StepRecord:
    name: str
    status: str  # "done", "skipped: done before", "skipped: not asked"
    detail: str = ""


@dataclass
class PipelineOutcome:
    stack: str
    steps: list[StepRecord] = field(default_factory=list)
    job_id: str | None = None
    fine_tuned_model: str | None = None
    tuned_deployment: str | None = None
    reports: dict[str, str] = field(default_factory=dict)  # compare step -> report path
    chart: str | None = None  # the loss chart (PNG) of the metrics step
    compared: dict[str, Any] = field(default_factory=dict)  # compare step -> its report (this run's steps only)
    promote: promote_step.PromoteOutcome | None = None
    verdict: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stand_in: str | None = None

    def to_text(self) -> str:
        lines = [f"pipeline, stack {self.stack}" + (f" ({self.stand_in})" if self.stand_in else "")]
        for s in self.steps:
            lines.append(f"  {s.name:<13} {s.status}" + (f": {s.detail}" if s.detail else ""))
        if self.promote is not None:
            lines.append(self.promote.to_text())
        elif self.fine_tuned_model:
            lines.append(f"fine-tuned model: {self.fine_tuned_model}" + (f" (job {self.job_id})" if self.job_id else ""))
        if self.chart:
            lines.append(f"metrics chart: {self.chart}")
        for name, path in self.reports.items():
            lines.append(f"report ({name}): {path}")
        lines += self.verdict
        lines += self.notes
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "steps": [s.__dict__ for s in self.steps], "job_id": self.job_id,
                "fine_tuned_model": self.fine_tuned_model, "tuned_deployment": self.tuned_deployment,
                "reports": self.reports, "chart": self.chart, "verdict": self.verdict, "notes": self.notes,
                "stand_in": self.stand_in, "promote": self.promote.to_json() if self.promote else None}


class Pipeline:
    """One run of the steps; ``run()`` is the entry point (the caller holds no lock: the pipeline takes it)."""

    def __init__(self, session: "Session", plan: PipelinePlan):
        self.session = session
        self.plan = plan
        self.outcome = PipelineOutcome(stack=session.stack, stand_in=session.deployer.stand_in)
        self.check: DataCheck | None = None
        self.done: dict[str, Any] = {}
        self.inputs: dict[str, Any] | None = None

    # ------------------------------------------------------------------ the frame
    def run(self) -> PipelineOutcome:
        s = self.session
        with s.state.locked():
            self.done = s.state.marks(FLOW)
            self._start()
            finished = self._finished()
            for name in STEPS:
                self._step(name)
        if finished:
            destroyed = " and its estate destroyed" if "destroy" in self.done else ""
            self.outcome.notes.append(
                f"every step of this pipeline was done before{destroyed}: nothing ran. "
                f"`{command_with(self.plan.command, '--new')}` runs the lab again (a new fine-tuning job: billed)")
        return self.outcome

    def _start(self) -> None:
        """``--new`` starts over; ``--resume`` needs a recorded pipeline (see the module docstring)."""
        s, plan = self.session, self.plan
        if plan.guards.new:
            if plan.resume:
                raise UsageError("--new and --resume contradict each other",
                                 hint="--resume continues the recorded pipeline; --new starts another: pass one")
            if self.done:
                s.state.restart(FLOW)
                self.done = {}
                s.say(f"pipeline: --new: starting over (the previous pipeline's marks are kept in {s.state.path} "
                      f"as flows[\"{FLOW}:previous\"])")
        elif plan.resume and not self.done:
            raise UsageError(f"--resume: stack {s.stack} has no pipeline to resume (its run state "
                             f"{s.state.path} records no step)", hint=f"start it: {plan.command}")

    def _same_inputs(self, check: DataCheck) -> None:
        """Refuse other inputs on a stack whose pipeline has marks (see the module docstring); keeps this
        pipeline's inputs for the preflight's mark."""
        s, plan = self.session, self.plan
        inputs = self.inputs = plan.inputs(check.sha256)
        prior = self.done.get(INPUTS)
        if prior and inputs and prior.get("fingerprint") != inputs["fingerprint"]:
            if prior.get("data_sha256") != inputs["data_sha256"]:
                changed = (f"the data was {prior.get('data', '?')} (sha256 {str(prior.get('data_sha256'))[:12]}), now "
                           f"{inputs['data']} (sha256 {inputs['data_sha256'][:12]})")
            else:
                changed = "the training options, suites or --repeat differ"
            recorded = str(prior.get("command") or plan.command)
            raise RefusedError(
                f"stack {s.stack} already has a pipeline started with other inputs ({changed}); its finished "
                "steps would be taken for this one's",
                hint=f"continue that one: `{command_with(recorded, '--resume')}`; or start a new one: "
                     f"`{command_with(plan.command, '--new')}` (a new fine-tuning job: billed)")

    def _finished(self) -> bool:
        wanted = [n for n in STEPS if n != "preflight" and (self.plan.destroy_after or n not in ("clean", "destroy"))
                  and (self.plan.select_checkpoint or n != "select")]
        return bool(self.done) and all(n in self.done for n in wanted)

    def _step(self, name: str) -> None:
        fn: Callable[[], str] = getattr(self, "step_" + name.replace("-", "_"))
        if name == "select" and not self.plan.select_checkpoint:
            return  # not asked: not shown either
        if name in ("clean", "destroy") and not self.plan.destroy_after:
            self.outcome.steps.append(StepRecord(name, "skipped: not asked (--destroy-after)"))
            return
        if name in self.done and name != "preflight":
            self.outcome.steps.append(StepRecord(name, "skipped: done before", str(self.done[name].get("detail", ""))))
            self._restore(name, self.done[name])
            return
        self.session.say(f"pipeline: step {name}")
        try:
            detail = fn()
        except JobsError as exc:
            if name == "preflight":  # nothing ran: the same command again, once fixed
                raise
            raise JobsError(f"pipeline step {name} failed: {exc.message}",
                            hint=((exc.hint + "; then ") if exc.hint else "") +
                            f"continue with `{self.plan.continue_command}`",
                            exit_code=exc.exit_code, status=exc.status) from None
        self.outcome.steps.append(StepRecord(name, "done", detail))
        if name == "preflight" and self.inputs and INPUTS not in self.done:  # what this pipeline is started with
            self.session.state.mark(FLOW, INPUTS, **self.inputs, command=self.plan.command)
            self.done[INPUTS] = self.inputs
        self.session.state.mark(FLOW, name, detail=detail, **self._memo(name))
        self.done[name] = {"detail": detail, **self._memo(name)}
        self.session.checkpoint(f"pipeline:{name}")

    def _memo(self, name: str) -> dict[str, Any]:
        """What a later run needs from a step it skips."""
        o = self.outcome
        if name == "train":
            return {"job_id": o.job_id}
        if name in ("watch", "promote"):
            return {"job_id": o.job_id, "fine_tuned_model": o.fine_tuned_model}
        if name in ("up-tuned", "ready"):
            return {"tuned_deployment": o.tuned_deployment}
        if name.startswith("compare"):
            return {"report": o.reports.get(name), "verdict": o.verdict if name == "compare" else []}
        if name == "metrics":
            return {"chart": o.chart}
        return {}

    def _restore(self, name: str, memo: dict[str, Any]) -> None:
        o = self.outcome
        o.job_id = memo.get("job_id") or o.job_id
        o.fine_tuned_model = memo.get("fine_tuned_model") or o.fine_tuned_model
        o.tuned_deployment = memo.get("tuned_deployment") or o.tuned_deployment
        if memo.get("report"):
            o.reports[name] = memo["report"]
        o.chart = memo.get("chart") or o.chart
        o.verdict = list(memo.get("verdict") or o.verdict)

    def _apply(self) -> str:
        d = self.session.deployer
        if d.stand_in:  # a real stack's deployer shows each pulumi command as it runs it
            self.session.say(f"pipeline: `{d.apply_command(yes=True)}` (stand-in: {d.stand_in})")
        change = d.apply()
        return change.stand_in or change.command

    # ------------------------------------------------------------------ the steps
    def step_preflight(self) -> str:
        s, plan = self.session, self.plan
        problems: list[Problem] = []
        if s.deployer.stand_in is None:
            problems += pulumi_problems(s, yes=plan.guards.yes)
            identity = identity_problem(s)
            if identity:
                problems.append(identity)
        try:
            self.check = check_data(plan.data, model=plan.options.model, say=s.say, method=plan.options.method)
        except JobFailedError as exc:  # the data is invalid
            problems.append(Problem(exc.message, exc.hint or f"python -m jobs validate {plan.data}", data=True))
        except JobsError as exc:  # no such file, an unknown model
            problems.append(Problem(exc.message, exc.hint or f"python -m jobs validate {plan.data}"))
        if problems:
            raise refuse(problems)
        assert self.check is not None
        self._same_inputs(self.check)
        if "train" not in self.done:  # the lifecycle and money guards, once, before anything is created
            train.training_type_for(s, plan.options)
            check_job_size(self.check.billed_tokens_per_epoch, plan.options.epochs or self.check.epochs)
            check_training(s, plan.options.model, yes=plan.guards.yes, what="nothing was created")
            est = CostEstimate(billed_tokens_per_epoch=self.check.billed_tokens_per_epoch,
                               epochs=plan.options.epochs or self.check.epochs, price_per_1m=plan.guards.price_per_1m,
                               epochs_source="option" if plan.options.epochs else "auto, as the service would pick")

            guard_cost(est, plan.guards, say=s.say,
                       confirm=confirm_or_refuse(s.ui.ask, what="nothing was created"))
        return f"{self.check.path.name}: {self.check.examples} examples"

    def step_up_base(self) -> str:
        return self._apply()

    def step_train(self) -> str:
        assert self.check is not None
        with self.session.progress():  # preflight showed the estimate and passed the guard
            out = train.start(self.session, train.TrainingData(check=self.check), self.plan.options,
                              self.plan.guards, guarded=True)
        self.outcome.job_id = out.job.id
        how = "created" if out.created else "adopted" if out.adopted else "reused"
        return f"job {out.job.id} {how}"

    def _compare(self, name: str, specs: tuple[str, ...], *, baseline: str = "", tags: tuple[str, ...] = ()) -> str:
        """One ``compare`` run of the plan's suites (default: the project's) on ``specs``, like the command."""
        variants = stack_variants(self.session, specs, tuned=self.outcome.tuned_deployment)
        plan = Plan(suites=_suites(self.plan.suites, tags), variants=variants, repeat=self.plan.repeat,
                    params=self.plan.chat_params(), style=StyleProfile.from_file(self.plan.data), baseline=baseline,
                    candidate=specs[-1])
        out = self.plan.out / name if self.plan.out else None
        got = compare(self.session, plan, RunOptions(concurrency=self.plan.concurrency, out=out))
        self.outcome.reports[name] = got.paths["html"]
        self.outcome.compared[name] = got.report
        return str(got.report["verdict"]["headline"])

    def step_compare_base(self) -> str:
        # the lab's full system message against none at all (the report has all three)
        return self._compare("compare-base", BASE_VARIANTS, baseline=BASE_VARIANTS[0], tags=self.plan.base_tags)

    def step_metrics(self) -> str:
        assert self.outcome.job_id
        got = collect(self.session, self.outcome.job_id)
        if got.table is None or not got.table.rows:
            return "; ".join(got.notes) or "no results.csv rows"
        folder = self.plan.out or (self.session.state.directory / "pipeline" / self.session.stack.replace("/", "+"))
        folder.mkdir(parents=True, exist_ok=True)
        chart = metrics.plot(got.table, folder / f"{self.outcome.job_id}-loss.png",
                             title=f"{self.outcome.job_id}  {got.job.fine_tuned_model or ''}".strip(),
                             stand_in=got.stand_in_label())
        self.outcome.chart = str(chart)
        last = {k: v for k, v in got.table.summary().items() if v is not None}
        return f"{len(got.table.rows)} steps" + (", last " + ", ".join(f"{k} {v:.4g}" for k, v in last.items())
                                                 if last else "")

    def step_watch(self) -> str:
        assert self.outcome.job_id
        with self.session.progress() as display:
            w = watch.follow(self.session, self.outcome.job_id, display=display)
        if not w.status.ok:
            raise watch.failure_error(w.job)
        self.outcome.fine_tuned_model = w.job.fine_tuned_model
        return f"job {w.job.id} {w.status}"

    def step_promote(self) -> str:
        assert self.outcome.job_id
        promoted = self.session.state.load().get("promoted") or {}
        if promoted.get("job_id") == self.outcome.job_id and promoted.get("applied"):  # a kill after it set the model
            self.outcome.fine_tuned_model = promoted.get("fine_tuned_model")
            return f"{self.outcome.fine_tuned_model} already set in the stack"
        job = self.session.api.get_job(self.outcome.job_id)
        chosen = None
        if self.plan.select_checkpoint:  # the select step's choice (recorded in the run state)
            from jobs.flow.checkpoints import BEST, resolve

            chosen = resolve(self.session, job.id, BEST, job.fine_tuned_model)
        result = promote_step.promote(self.session, job, up=False, checkpoint=chosen)
        if not result.applied:
            raise JobsError(f"the model was not set in stack {self.session.stack}",
                            hint="run: " + " && ".join(result.manual_commands))
        self.outcome.fine_tuned_model = result.fine_tuned_model
        result.next_command = None  # the pipeline's own next step is that `pulumi up`
        self.outcome.promote = result
        return f"{result.fine_tuned_model} set in the stack"

    def step_select(self) -> str:
        from jobs.compare.plan import RunOptions
        from jobs.flow.select_checkpoint import SelectRequest, select_checkpoint

        assert self.outcome.job_id
        req = SelectRequest(job_id=self.outcome.job_id, suites=self.plan.suites, repeat=self.plan.repeat,
                            yes=self.plan.guards.yes, style_from=str(self.plan.data),
                            params=self.plan.chat_params())
        out = self.plan.out / "select" if self.plan.out else None
        got = select_checkpoint(self.session, req, RunOptions(concurrency=self.plan.concurrency, out=out))
        self.outcome.reports["select"] = got.paths["html"]
        chosen = got.selection.chosen.candidate
        return ("the final model" if chosen.final else f"step {chosen.step}") + f": {got.selection.reason}"

    def step_up_tuned(self) -> str:
        detail = self._apply()
        self.outcome.tuned_deployment = self.session.deployer.outputs().fine_tuned_deployment
        if not self.outcome.tuned_deployment:
            raise JobsError("after `pulumi up` the stack has no fine_tuned_deployment output",
                            hint=f"check `pulumi stack output --stack {self.session.stack}`; is fineTunedModel set?")
        return detail

    def step_ready(self) -> str:
        assert self.outcome.tuned_deployment
        waited = wait_until_answers(self.session, self.outcome.tuned_deployment)
        return f"deployment {self.outcome.tuned_deployment} answered after {waited:.0f} s"

    def step_compare(self) -> str:
        headline = self._compare("compare", COMPARED)
        self.outcome.verdict = [f"verdict: {headline}"]
        return headline

    def step_clean(self) -> str:
        # The tuned deployment goes first: on the v1 surface (the default) a model is deleted with
        # DELETE /openai/v1/models/{id}, which Azure refuses (409) while a deployment still serves it.
        deployer = self.session.deployer
        if deployer.available and all(c.done for c in deployer.remove()):
            self._apply()
        result = clean_step.clean(self.session, models=True, yes=True)
        if result.failures:
            raise JobsError("clean-up failed: " + "; ".join(result.failures),
                            hint="fix what it names (a deployment still using a model: `pulumi up` first)")
        return f"{len(result.deleted_files)} file(s), {len(result.deleted_models)} model(s) deleted"

    def step_destroy(self) -> str:
        """The hub's workspaces are deleted for good first (afterwards only the portal can purge them), then
        ``pulumi destroy``; what stays soft-deleted, with its purge commands, goes into the notes."""
        items = soft_deleted_items(self.session)  # the names, while the stack still has its outputs
        notes: list[str] = []
        for item in (i for i in items if i.when == BEFORE_DESTROY):
            self.session.say(f"pipeline: running `{item.command}` ({item.kind} {item.name}: otherwise soft-deleted "
                             f"for {item.retention}, its name reserved)")
            done = az_cli.run(shlex.split(item.command)[1:])
            if done.ok:
                notes.append(f"{item.kind} {item.name}: deleted for good before `pulumi destroy`")
            else:
                self.session.say(f"pipeline: that did not work ({done.detail}); `pulumi destroy` goes on")
                notes.append(f"{item.kind} {item.name}: soft-deleted for {item.retention} (`{item.command}` did not "
                             "work); to free its name sooner: the Azure portal's Azure Machine Learning > Recently "
                             "deleted page")
        purge = notes + purge_text([i for i in items if i.when != BEFORE_DESTROY])
        d = self.session.deployer
        if d.stand_in:
            self.session.say(f"pipeline: `{d.destroy_command()} --yes` (stand-in: {d.stand_in})")
        change = d.destroy()
        self.outcome.notes += purge
        return change.stand_in or change.command


def pipeline(session: "Session", plan: PipelinePlan) -> PipelineOutcome:
    return Pipeline(session, plan).run()


def _suites(paths: tuple[str, ...], tags: tuple[str, ...]) -> tuple[Any, ...]:
    """The plan's suites (default: the project's); with ``tags``, only the cases tagged so (a shorter run: the
    suite's name says so in the report)."""
    suites = tuple(load_suite(Path(p)) for p in paths) or (load_suite(default_suite_path()),)
    if not tags:
        return suites
    return tuple(replace(s, name=f"{s.name} (tags: {', '.join(tags)})",
                         cases=tuple(c for c in s.cases if set(c.tags) & set(tags))) for s in suites)
