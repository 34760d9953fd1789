"""``compare``: the flow step that measures whether fine-tuning beats prompting.

:func:`compare` sends a :class:`~jobs.compare.plan.Plan` (the engine: ``jobs/compare/engine.py``), records
every row in the history (``jobs/compare/history.py``), builds the report (``jobs/compare/report.py``) and
writes ``report.json``, ``report.md`` and ``report.html``. The ``compare`` command, ``rehearse`` and the
coming ``pipeline`` and playground call it the same way::

    plan = Plan(suites=(load_suite(default_suite_path()),),
                variants=stack_variants(session, ("base", "tuned")), repeat=3,
                style=StyleProfile.from_file("data/travel-train.jsonl"))
    outcome = compare(session, plan, RunOptions())  # concurrency: adaptive (RunOptions(concurrency=8): a cap)
    outcome.report["verdict"]["headline"], outcome.paths["html"], outcome.exit_code

It uses the session's connection (endpoint and auth exactly as every command's) and its one retry policy.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from jobs import __version__
from jobs.compare import report as reports
from jobs.compare.engine import Engine, row_key
from jobs.compare.history import History, HistoryError
from jobs.compare.judge import RUBRIC_SHA256
from jobs.compare.pacing import Pacer
from jobs.compare.plan import CANDIDATE, Plan, RunOptions, SystemPrompt, Variant, parse_variant
from jobs.errors import ExitCode, JobsError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from jobs.session import Session

HISTORY_FOLDER = "compare"


@dataclass
class CompareOutcome:
    """What :func:`compare` returns: the report (report.json's content), where it was written, the rows sent
    by this run, and the exit code (4 when a ``--fail-under`` gate failed)."""

    report: dict[str, Any]
    paths: dict[str, str]
    sent: int
    reused: int
    pacing: list[dict[str, Any]]

    @property
    def exit_code(self) -> int:
        return int(ExitCode.OK if self.report["verdict"]["gates_passed"] else ExitCode.GATE)


def history(session: "Session") -> History:
    """The comparison history of the session's run-state folder."""
    return History(session.state.directory / HISTORY_FOLDER)


def new_run_id() -> str:
    return time.strftime("cmp-%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def stack_variants(session: "Session", specs: Iterable[str], *, base: str | None = None, tuned: str | None = None,
                   prompt: SystemPrompt = SystemPrompt()) -> tuple[Variant, ...]:
    """Variants from ``--variant`` specs: ready-made names (``base``, ``tuned``, ``base-no-system``, ``base-short``)
    or ``NAME=DEPLOYMENT[:SYSTEM]``; the ready-made ones' deployments default to the stack's outputs (read only
    when needed)."""
    specs = tuple(specs)
    ready = [s for s in specs if "=" not in s]
    base, tuned = stack_deployments(session, base=base, tuned=tuned,
                                    need_base=any(n != CANDIDATE for n in ready), need_tuned=CANDIDATE in ready)
    return tuple(parse_variant(s, base=base, tuned=tuned, prompt=prompt) for s in specs)


COMPARE_OPTIONS = "pass --base-deployment and --tuned-deployment (or --variant NAME=DEPLOYMENT)"


def stack_deployments(session: "Session", *, base: str | None, tuned: str | None, need_base: bool = True,
                      need_tuned: bool = True, purpose: str = "to compare",
                      options: str = COMPARE_OPTIONS) -> tuple[str | None, str | None]:
    """(base, tuned) deployment names: the options, else the stack's outputs. When the outputs cannot be read,
    the error says why in full (with the command to run by hand when ``pulumi`` is missing) and names
    ``options``, the caller's own way to name the deployments (``chat`` and ``playground`` pass theirs)."""
    if (base or not need_base) and (tuned or not need_tuned):
        return base, tuned
    try:
        outputs = session.deployer.outputs()
    except JobsError as exc:
        raise UsageError(f"the deployments {purpose} are not known: {exc.message}",
                         hint=f"{options}, or " + (exc.hint or "deploy the stack so that its outputs name them")) from None
    return base or outputs.base_deployment, tuned or outputs.fine_tuned_deployment


def provenance(session: "Session", plan: Plan, options: RunOptions) -> dict[str, Any]:
    state = session.state.load()
    promoted = state.get("promoted") or {}
    conn = session.connection
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "tool": f"foundry-finetune {__version__}",
        "stack": session.stack,
        "endpoint": conn.endpoint, "api": conn.api, "api_version": conn.api_version, "auth": conn.auth,
        "fine_tuning_job": promoted.get("job_id") or state.get("latest_job"),
        "fine_tuned_model": promoted.get("fine_tuned_model"),
        "suites": [s.summary() for s in plan.suites],
        "parameters": {"repeat": plan.repeat, **plan.params.to_json(), "concurrency": options.concurrency or "auto"},
        "judge": ({"deployment": plan.judge, "rubric_sha256": RUBRIC_SHA256} if plan.judge else None),
        "style": plan.style.to_json() if plan.style else None,
    }


def _against(store: History, ref: str) -> dict[str, Any]:
    """An earlier run's summary: a run id in the history, or a report.json path (the playground's export)."""
    if ref.endswith(".json") or Path(ref).is_file():
        data = reports.load(ref)
        return {"run_id": data["run_id"], "path": ref, "summary": data["summary"]}
    run = store.run(ref)
    if run is None or not run.get("summary"):
        known = ", ".join(r["run_id"] for r in store.runs(5)) or "none yet"
        raise UsageError(f"--against {ref}: no finished run with that id in {store.path}",
                         hint=f"`python -m jobs compare --list` lists them (latest: {known}), or pass a report.json")
    return {"run_id": ref, "path": None, "summary": run["summary"]["summary"]}


def compare(session: "Session", plan: Plan, options: RunOptions = RunOptions()) -> CompareOutcome:
    """Run a comparison and write its report (see the module docstring)."""
    options = options.checked()
    plan = plan.checked()
    _check_gates(plan, options)
    store = history(session)
    try:
        against = _against(store, options.against) if options.against else None
        meta = provenance(session, plan, options)
        run_id = new_run_id()
        with store.lock_run(run_id):
            store.start_run(run_id, plan=plan.to_json(), meta=meta)
            session.say(f"compare: run {run_id}: {_size(plan)}")
            return _run(session, store, run_id, plan, {}, options, meta, against)
    finally:
        store.close()


def resume(session: "Session", ref: str = "latest", options: RunOptions = RunOptions()) -> CompareOutcome:
    """Finish an interrupted run (``ref``: its id, or ``latest``): only its missing or failed rows are sent,
    with the run's own plan."""
    options = options.checked()
    store = history(session)
    try:
        run = store.resumable_run() if ref == "latest" else store.run(ref)
        if run is None:
            raise UsageError("--resume: no interrupted run to resume" if ref == "latest" else
                             f"--resume {ref}: no such run in {store.path}",
                             hint="`python -m jobs compare --list` lists the runs")
        run_id, plan = run["run_id"], Plan.from_json(run["plan"]).checked()
        _check_gates(plan, options)
        with store.lock_run(run_id):  # a second resume of the same run is refused, not sent twice
            reuse = {row_key(r): r for r in store.rows(run_id)}  # read under the lock: another run may have ended
            kept = sum(1 for r in reuse.values() if r.get("error") is None)
            session.say(f"compare: resuming {run_id} with its own plan ({kept} of its rows answered; {_size(plan)})")
            store.reopen_run(run_id)
            against = _against(store, options.against) if options.against else None
            meta = {**(run.get("meta") or {}), "resumed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            return _run(session, store, run_id, plan, reuse, options, meta, against)
    finally:
        store.close()


def _size(plan: Plan) -> str:
    turns = sum(len(c.turns) for _, c in plan.cases())
    return (f"{turns} turns x {len(plan.variants)} variants x {plan.repeat} repeat{'s' if plan.repeat != 1 else ''} = "
            f"{turns * len(plan.variants) * plan.repeat} rows" + (" (each judged)" if plan.judge else ""))


def _run(session: "Session", store: History, run_id: str, plan: Plan, reuse: dict[Any, dict[str, Any]],
         options: RunOptions, meta: dict[str, Any], against: dict[str, Any] | None) -> CompareOutcome:
    pacer = Pacer(options.rate_limits, cap=options.cap)
    engine = Engine(session, plan, history=store, run_id=run_id, pacer=pacer, reuse=reuse)
    engine.progress_every = options.progress_every
    rows = engine.run(options.cap)
    meta = {**meta, "pacing": pacer.describe()}
    report = reports.build(rows, reports.Inputs(run_id=run_id, plan=plan, provenance=meta, gates=options.gates,
                                                prices=options.prices, against=against))
    folder = Path(options.out) if options.out else store.path.parent / run_id
    paths = reports.write(report, folder)
    _finish(store, run_id, report, folder, paths)
    if engine.missing:  # the other variants finished and the report is written; the run still failed
        _missing_error(run_id, rows, engine.missing, paths)
    return CompareOutcome(report=report, paths=paths, sent=engine.sent, reused=engine.reused, pacing=meta["pacing"])


def _finish(store: History, run_id: str, report: dict[str, Any], folder: Path, paths: dict[str, str]) -> None:
    """Mark the run finished in the history; when the history could not be written (now or for a row during the
    run), the report is written all the same and the error says so."""
    failure = store.write_failure
    if failure is None:
        try:
            store.finish_run(run_id, summary={k: report[k] for k in ("summary", "paired", "verdict", "pair")},
                             report_dir=str(folder), stand_in=report["stand_in"])
        except HistoryError as exc:
            failure = exc
    if failure is not None:
        raise HistoryError(f"{failure.message}; the report is written ({paths['html']}), but the history was not "
                           f"updated: `compare --list`, `--against {run_id}` and `--resume` miss this run's last rows",
                           hint=failure.hint)


def _missing_error(run_id: str, rows: list[dict[str, Any]], missing: dict[str, Any], paths: dict[str, str]) -> None:
    deployment, first = next(iter(missing.items()))
    failed = {d: sum(1 for r in rows if r["deployment"] == d and r["error"] is not None) for d in missing}
    also = f" (also missing: {', '.join(d for d in missing if d != deployment)})" if len(missing) > 1 else ""
    raise UsageError(
        f"{first.message.splitlines()[0]}{also}: its {failed[deployment]} rows are recorded as failed, the other "
        f"variants' rows were sent and the report is written ({paths['html']})",
        hint=(first.hint + "; then " if first.hint else "") +
        f"`python -m jobs compare --resume {run_id}` sends only the failed rows", status=404)


def _check_gates(plan: Plan, options: RunOptions) -> None:
    names = plan.check_names()
    for g in options.gates:
        if g.check not in names:
            raise UsageError(f"--fail-under {g.check}={g.rate:g}: this run has no check {g.check!r}",
                             hint=f"checks of this run: {', '.join(names)}")


def list_runs(session: "Session", limit: int = 20) -> list[dict[str, Any]]:
    """The newest runs of the history (``compare --list``)."""
    store = history(session)
    try:
        return store.runs(limit)
    finally:
        store.close()
