"""The CLI edge: click definitions, and the one place errors become exit codes.

Each command is a thin click function that names one core function by its
dotted path (``"jobs.commands.validate:validate"``). The core module is
imported only when the command runs, so ``python -m jobs --help`` imports
click and nothing else of weight (plus :mod:`jobs.contract`, standard library
only, for the default suffix and the training types the options offer).

The runner's commands get a :class:`jobs.session.Session`, built here once from
``--stack``/``--endpoint``/``--api``/``--api-version`` and one snapshot of the
environment, as their first argument; training options travel as one frozen
:class:`jobs.flow.train.TrainingOptions` and the money guards as one
:class:`jobs.flow.cost.Guards`. Core functions return a result object (see
``jobs/output.py``) and raise :class:`jobs.errors.JobsError` for anything the
user can fix. A result may carry ``exit_code`` (e.g. ``validate`` on an invalid
file exits 1 after printing its report).
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import shlex
import sys
from typing import Any, Callable

import click
from click.core import ParameterSource

from jobs import contract
from jobs.errors import ExitCode, JobsError, UsageError

_SUFFIX = contract.SUFFIX
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class _PathRefused(click.ClickException):
    """A path option click refused (a folder given as a file, ...), shown as the project's ``error:``/``fix:``
    lines with exit 2 instead of click's usage text. click prints it through :meth:`show`."""

    exit_code = int(ExitCode.USAGE)

    def __init__(self, error: UsageError):
        super().__init__(error.message)
        self.error = error

    def show(self, file: Any = None) -> None:
        _print_error(self.error, json_mode=False)


class _Path(click.Path):
    """``click.Path`` for a file (``dir_okay=False``) or a folder (``file_okay=False``) whose refusals name the
    option, the path and the fix."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        name = _option_name(param)
        if self.file_okay and not self.dir_okay and os.path.isdir(value):
            raise _PathRefused(UsageError(f"{name}: {value} is a folder, not a file",
                                          hint=f"pass the path of a file as {name}"))
        if self.dir_okay and not self.file_okay and os.path.exists(value) and not os.path.isdir(value):
            raise _PathRefused(UsageError(f"{name}: {value} is a file, not a folder",
                                          hint=f"pass a folder as {name} (it is created if missing), or move "
                                          "the file aside"))
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter as exc:
            raise _PathRefused(UsageError(f"{name}: {exc.message}", hint=f"check the path given as {name}")) from None


def _option_name(param: click.Parameter | None) -> str:
    if param is None:
        return "the path"
    if isinstance(param, click.Option) and param.opts:
        return max(param.opts, key=len)
    return (param.name or "path").upper()


FILE = _Path(dir_okay=False, path_type=str)
FOLDER = _Path(file_okay=False, path_type=str)


def _load(target: str) -> Callable[..., Any]:
    module_name, _, attr = target.partition(":")
    func: Callable[..., Any] = getattr(importlib.import_module(module_name), attr)
    return func


def invoke(target: str, *, json_mode: bool = False, conn: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """Run one core function and map its outcome to output and an exit code.

    With ``conn`` (the connection options), the function's first argument is the session built from them.
    """
    # The runner's modules are imported in the functions that run a command, never at the top: `--help`
    # loads only click, jobs.contract and jobs.errors (tests/test_code_shape.py checks it).
    from jobs.output import emit

    try:
        func = _load(target)
        if "json_mode" in inspect.signature(func).parameters:
            kwargs["json_mode"] = json_mode
        if conn is not None:
            from jobs.client import Target
            from jobs.session import Session

            session = Session.for_stack(conn["stack"], json_mode=json_mode, target=Target(
                endpoint=conn["endpoint"], api=conn["api"], api_version=conn["api_version"]))
            result = func(session, **kwargs)
        else:
            result = func(**kwargs)
    except JobsError as exc:
        _print_error(exc, json_mode=json_mode)
        sys.exit(int(exc.exit_code))
    except KeyboardInterrupt:
        click.echo("interrupted: nothing was lost; run the same command again to resume.", err=True)
        sys.exit(130)
    except _PROGRAMMING_OS_ERRORS:
        raise  # network errors are the retry policy's job; one escaping here is a bug and should show
    except OSError as exc:  # last resort: a permissions/disk problem the core did not name is never a traceback
        err = UsageError(_os_error_text(exc), hint="check the path's permissions and free disk space, then run the "
                         "same command again (it resumes)")
        _print_error(err, json_mode=json_mode)
        sys.exit(int(err.exit_code))
    emit(result, json_mode=json_mode)
    code = int(getattr(result, "exit_code", ExitCode.OK) or 0)
    if code:
        sys.exit(code)


# OSError subclasses that mean a bug or a network failure, not the user's disk or permissions.
_PROGRAMMING_OS_ERRORS = (ConnectionError, BlockingIOError, ChildProcessError, InterruptedError)


def _os_error_text(exc: OSError) -> str:
    """One line: what failed and on which path (OSError's own str() can span lines or be empty)."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    where = f": {' -> '.join(paths)}" if paths else ""
    return " ".join(f"{reason}{where} ({type(exc).__name__})".split())


def _print_error(exc: JobsError, *, json_mode: bool) -> None:
    if json_mode:
        payload = {"error": {"message": exc.message, "hint": exc.hint, "exit_code": int(exc.exit_code)}}
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    click.echo(f"error: {exc.message}", err=True)
    if exc.hint:
        click.echo(f"  fix: {exc.hint}", err=True)


json_option = click.option("--json", "json_mode", is_flag=True, help="Print one JSON object instead of text.")


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name=None, version=__import__("jobs").__version__, prog_name="jobs")
def cli() -> None:
    """foundry-finetune job runner: validate, upload, fine-tune, watch and promote.

    Exit codes: 0 success, 1 job failed/cancelled or data invalid, 2 usage error,
    3 refused by a guard (cost limit, confirmation, lock), 4 a compare --fail-under gate failed.
    """


# --------------------------------------------------------------------------- data


@cli.command()
@click.argument("path", type=FILE)
@click.option("--model", default=None, help="Base model to check against (default: gpt-4.1-2025-04-14).")
@click.option("--method", type=click.Choice(["supervised", "dpo"]), default="supervised", show_default=True,
              help="Training method the file is for: supervised (chat messages) or dpo (preference pairs).")
@click.option("--validation", "validation_file", is_flag=True,
              help="The file is a validation file (Azure sets no minimum number of examples for those).")
@click.option("--price-per-1m", type=float, default=None, help="Training price in USD per 1M billed tokens.")
@json_option
def validate(path: str, model: str | None, method: str, validation_file: bool, price_per_1m: float | None,
             json_mode: bool) -> None:
    """Check a JSONL training file (chat, or DPO preference pairs) and estimate what training on it costs."""
    invoke("jobs.commands.validate:validate", json_mode=json_mode, path=path, model=model, method=method,
           validation_file=validation_file, price_per_1m=price_per_1m)


# --------------------------------------------------------------------------- emulator


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback unless you ask).")
@click.option("--port", type=int, default=8089, show_default=True, help="Port to listen on (0 picks a free one).")
@click.option("--state-dir", type=FOLDER, default=".emulator", show_default=True,
              help="Where files and jobs persist across restarts.")
@click.option("--config", "config_file", type=FILE, default=None,
              help="JSON config: deployments, limits, latency, faults, stage durations.")
@click.option("--backend", type=click.Choice(["stand-in", "local"]), default=None,
              help="Where answers and training come from: stand-in (canned, the default) or local (a small model "
                   "on this machine, after `make install-local`). Overrides the config file's \"backend\".")
def emulator(host: str, port: int, state_dir: str, config_file: str | None, backend: str | None) -> None:
    """Serve a local Azure OpenAI data-plane emulator (rehearsal and tests only)."""
    invoke("emulator.serve:serve", host=host, port=port, state_dir=state_dir, config_file=config_file,
           backend=backend)


# --------------------------------------------------------------------------- runner: the job lifecycle
# upload, train, watch, status, events, cancel, pause, resume, list, run


def connection_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options every runner command shares: --stack, --endpoint, --api, --api-version, --json.

    The wrapped function receives ``stack``, ``endpoint``, ``api``, ``api_version`` and ``json_mode``.
    """
    func = json_option(func)
    func = click.option("--api-version", default=None,
                        help="Dated API version (env OPENAI_API_VERSION; default 2025-04-01-preview).")(func)
    func = click.option("--api", type=click.Choice(["dated", "v1"]), default=None,
                        help="API shape: v1 (/openai/v1/, the default) or dated (api-version) (env FTJOBS_API).")(func)
    func = click.option("--endpoint", default=None,
                        help="Azure OpenAI endpoint (default: AZURE_OPENAI_ENDPOINT, then the stack's outputs).")(func)
    func = click.option("--stack", default="dev", envvar="FTJOBS_STACK", show_default=True,
                        help="Pulumi stack whose run state (and outputs) to use (env FTJOBS_STACK).")(func)
    return func


_TRAINING_TYPES = click.Choice(list(contract.TRAINING_TYPE_NAMES), case_sensitive=False)
_method_option = click.option("--method", type=click.Choice(["supervised", "dpo"]), default="supervised",
                              show_default=True,
                              help="Training method: supervised (chat examples, the lab) or dpo (preference pairs).")
_CONN_KEYS = ("stack", "endpoint", "api", "api_version")


def _conn(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Take the connection options out of a command's keyword arguments."""
    return {k: kwargs.pop(k) for k in _CONN_KEYS}


def _training(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Take the training options and the guards out of a command's keyword arguments, as two frozen values."""
    from jobs.flow.cost import Guards
    from jobs.flow.train import TrainingOptions
    from jobs.models import DEFAULT_MODEL

    tt = kwargs.pop("training_type")
    options = TrainingOptions(
        model=kwargs.pop("model") or DEFAULT_MODEL, suffix=kwargs.pop("suffix"),
        validation_file=kwargs.pop("validation_file"), epochs=kwargs.pop("epochs"),
        batch_size=kwargs.pop("batch_size"), learning_rate_multiplier=kwargs.pop("learning_rate_multiplier"),
        seed=kwargs.pop("seed"), training_type=_canon_training_type(tt), method=kwargs.pop("method"),
        beta=kwargs.pop("beta"))
    guards = Guards(price_per_1m=kwargs.pop("price_per_1m"), max_cost=kwargs.pop("max_cost"),
                    yes=kwargs.pop("yes"), new=kwargs.pop("new"))
    return {"options": options, "guards": guards}


def _training_options(func: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option("--model", default=None, help="Base model (default gpt-4.1-2025-04-14)."),
        click.option("--suffix", default=_SUFFIX, show_default=True, help="Suffix of the fine-tuned model name."),
        click.option("--validation-file", default=None, help="Validation JSONL (path, or an uploaded file id)."),
        click.option("--epochs", type=int, default=None, help="n_epochs (default: the service's auto)."),
        click.option("--batch-size", type=int, default=None, help="batch_size (default: auto)."),
        click.option("--learning-rate-multiplier", type=float, default=None, help="learning_rate_multiplier."),
        click.option("--seed", type=int, default=None, help="Seed for reproducible training."),
        click.option("--training-type", type=_TRAINING_TYPES, default=None,
                     help="Standard, GlobalStandard or Developer (sent as Azure's trainingType)."),
        _method_option,
        click.option("--beta", type=float, default=None, help="DPO's beta (--method dpo only; default: the service's)."),
        click.option("--price-per-1m", type=float, default=None,
                     help="Training price, USD per 1M billed tokens (env FTJOBS_PRICE_PER_1M)."),
        click.option("--max-cost", type=float, default=None, help="Refuse (exit 3) if the estimate is above this (USD)."),
        click.option("--yes", "-y", is_flag=True, help="Create the billed job without asking."),
        click.option("--new", is_flag=True,
                     help="Start a new job even if one exists for this file and parameters (pipeline: the whole lab "
                     "over)."),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def _canon_training_type(value: str | None) -> str | None:
    if value is None:
        return None
    return contract.training_type_name(value)


@cli.command()
@click.argument("path", type=FILE)
@click.option("--model", default=None, help="Base model to validate against (default gpt-4.1-2025-04-14).")
@click.option("--no-wait", is_flag=True, help="Do not wait for the file to be processed.")
@_method_option
@connection_options
def upload(path: str, model: str | None, no_wait: bool, method: str, json_mode: bool, **conn: Any) -> None:
    """Validate DATA.jsonl, upload it once (deduplicated by content), wait for `processed`."""
    invoke("jobs.commands.upload:upload", json_mode=json_mode, conn=conn, path=path, model=model, wait=not no_wait,
           method=method)


@cli.command()
@click.argument("data", required=False, type=FILE)
@click.option("--file-id", default=None, help="Train on an already uploaded file instead of DATA.jsonl.")
@_training_options
@click.option("--wait", is_flag=True, help="Watch the job until it ends (exit 1 if it fails).")
@connection_options
def train(json_mode: bool, **kwargs: Any) -> None:
    """Show the cost estimate, then create the fine-tuning job (once per file and parameters)."""
    conn = _conn(kwargs)
    invoke("jobs.commands.train:train", json_mode=json_mode, conn=conn, **_training(kwargs), **kwargs)


@cli.command()
@click.argument("job_id", required=False)
@click.option("--timeout", type=float, default=None, help="Stop watching after this many seconds (job keeps running).")
@connection_options
def watch(job_id: str | None, timeout: float | None, json_mode: bool, **conn: Any) -> None:
    """Follow a job until it ends: status, elapsed, ETA, new events, train loss (default: latest job)."""
    invoke("jobs.commands.watch:watch", json_mode=json_mode, conn=conn, job_id=job_id, timeout=timeout)


@cli.command()
@click.argument("job_id", required=False)
@connection_options
def status(job_id: str | None, json_mode: bool, **conn: Any) -> None:
    """Show a job's status (default: this stack's latest job)."""
    invoke("jobs.commands.status:status", json_mode=json_mode, conn=conn, job_id=job_id)


@cli.command()
@click.argument("job_id", required=False)
@click.option("--limit", type=int, default=20, show_default=True, help="How many of the newest events.")
@connection_options
def events(job_id: str | None, limit: int, json_mode: bool, **conn: Any) -> None:
    """List a job's events, oldest first (default: this stack's latest job)."""
    invoke("jobs.commands.events:events", json_mode=json_mode, conn=conn, job_id=job_id, limit=limit)


@cli.command()
@click.argument("job_id", required=False)
@connection_options
def cancel(job_id: str | None, json_mode: bool, **conn: Any) -> None:
    """Cancel a job (default: this stack's latest job)."""
    invoke("jobs.commands.cancel:cancel", json_mode=json_mode, conn=conn, job_id=job_id)


@cli.command()
@click.argument("job_id", required=False)
@connection_options
def pause(job_id: str | None, json_mode: bool, **conn: Any) -> None:
    """Pause a running job (default: this stack's latest job)."""
    invoke("jobs.commands.pause:pause", json_mode=json_mode, conn=conn, job_id=job_id)


@cli.command()
@click.argument("job_id", required=False)
@connection_options
def resume(job_id: str | None, json_mode: bool, **conn: Any) -> None:
    """Resume a paused job (default: this stack's latest job)."""
    invoke("jobs.commands.resume:resume", json_mode=json_mode, conn=conn, job_id=job_id)


@cli.command("list")
@click.option("--limit", type=int, default=20, show_default=True, help="How many recent jobs.")
@connection_options
def list_(limit: int, json_mode: bool, **conn: Any) -> None:
    """Recent jobs on the resource; `*` marks those in this stack's run state."""
    invoke("jobs.commands.list:list_jobs", json_mode=json_mode, conn=conn, limit=limit)


_holdout_option = click.option(
    "--holdout", type=int, default=None, metavar="N",
    help="Set N training examples aside before upload (reproducibly, by --seed) as the suite that "
    "`compare --checkpoints` judges on.")


@cli.command()
@click.argument("data", required=False, type=FILE)
@_training_options
@click.option("--up", is_flag=True, help="After promoting, also run `pulumi up --yes` (hourly fees!).")
@_holdout_option
@connection_options
def run(json_mode: bool, **kwargs: Any) -> None:
    """Validate, upload, train, watch and promote in one go; rerun to resume after any interruption.

    DATA defaults to data/travel-train.jsonl.
    """
    conn = _conn(kwargs)
    invoke("jobs.commands.run:run", json_mode=json_mode, conn=conn, **_training(kwargs), **kwargs)


@cli.command()
@click.argument("data", required=False, type=FILE)
@_training_options
@click.option("--suite", "suites", multiple=True, type=FILE,
              help="Compare on this suite (repeatable; default: the project's suite in data/).")
@click.option("--repeat", type=int, default=3, show_default=True, help="Compare: each conversation N times per variant.")
@click.option("--destroy-after", is_flag=True, help="Finally delete files, models and the whole stack.")
@click.option("--resume", is_flag=True, help="Continue a pipeline that stopped (the same command again does too).")
@_holdout_option
@click.option("--select-checkpoint", is_flag=True,
              help="After watch: judge every checkpoint on the suite (compare --checkpoints) and promote the chosen "
              "one instead of the final model.")
@connection_options
def pipeline(json_mode: bool, suites: tuple[str, ...], repeat: int, destroy_after: bool, resume: bool,
             holdout: int | None, select_checkpoint: bool, **kwargs: Any) -> None:
    """The whole lab in order: preflight, pulumi up, fine-tune, compare, promote, pulumi up, wait, compare.

    DATA defaults to data/travel-train.jsonl. Every step is a checkpoint: after any interruption, run the same
    command again (or with --resume); no paid step runs twice.
    """
    from jobs.commands.pipeline import PipelineRequest

    conn = _conn(kwargs)
    training = _training(kwargs)
    request = PipelineRequest(data=kwargs.pop("data"), suites=suites, repeat=repeat, destroy_after=destroy_after,
                              resume=resume, holdout=holdout, select_checkpoint=select_checkpoint, command=command_line(click.get_current_context(),
                                                                  drop=("resume", "json_mode")))
    invoke("jobs.commands.pipeline:pipeline", json_mode=json_mode, conn=conn, **training, request=request)


def command_line(ctx: click.Context, *, drop: tuple[str, ...] = ()) -> str:
    """The command as the user gave it, rebuilt from what click parsed (every option not left at its default,
    and ``--stack``), ready to paste: the "continue with ..." hints repeat it whole, guards included."""
    words = ["python", "-m", "jobs", str(ctx.info_name)]
    options: list[str] = []
    for param in ctx.command.params:
        name = param.name or ""
        value = ctx.params.get(name)
        if name in drop or value is None or value == () or value is False:
            continue
        if ctx.get_parameter_source(name) == ParameterSource.DEFAULT and name != "stack":
            continue
        if isinstance(param, click.Argument):
            words += [str(v) for v in value] if isinstance(value, tuple) else [str(value)]
            continue
        flag = max(param.opts, key=len)  # the long spelling
        if getattr(param, "is_flag", False):
            options.append(flag)
        else:
            for v in value if isinstance(value, tuple) else (value,):
                options += [flag, format(v, "g") if isinstance(v, float) else str(v)]
    return shlex.join(words + options)


# --------------------------------------------------------------------------- runner: the stack and the rehearsal
# promote, metrics, clean, rehearse


@cli.command()
@click.argument("job_id", required=False)
@click.option("--up", "run_up", is_flag=True, help="Also run `pulumi up --yes` (deploys the model: hourly fees!).")
@click.option("--deployment-name", default=None, help="Also set fineTunedDeploymentName in the stack.")
@click.option("--checkpoint", default=None, metavar="STEP|ID|best",
              help="Promote this checkpoint instead of the final model (best: the latest compare --checkpoints "
              "choice).")
@connection_options
def promote(job_id: str | None, run_up: bool, deployment_name: str | None, checkpoint: str | None, json_mode: bool,
            **conn: Any) -> None:
    """Set a succeeded job's fine-tuned model in the stack (fineTunedModel).

    JOB_ID defaults to the latest succeeded job of the stack's run state.
    Without the pulumi executable it prints the commands to run by hand (exit 0).
    """
    invoke("jobs.commands.promote:promote", json_mode=json_mode, conn=conn, job_id=job_id, up=run_up,
           deployment_name=deployment_name, checkpoint=checkpoint)


@cli.command()
@click.argument("job_id", required=False)
@click.option("--plot", "plot_path", type=FILE, default=None,
              help="Write a PNG chart of loss and token accuracy by step.")
@click.option("--rows", type=int, default=20, show_default=True, help="Rows of results.csv to show (0: all).")
@connection_options
def metrics(job_id: str | None, plot_path: str | None, rows: int, json_mode: bool, **conn: Any) -> None:
    """Checkpoints and results.csv of a job as a table, and optionally a chart (default: latest job)."""
    invoke("jobs.commands.metrics:metrics", json_mode=json_mode, conn=conn, job_id=job_id, plot=plot_path, rows=rows)


@cli.command()
@click.argument("job_id", required=False)
@connection_options
def checkpoints(job_id: str | None, json_mode: bool, **conn: Any) -> None:
    """A job's checkpoints: step, id, deployable model id, and the training metrics at that step (default: latest
    job). --json prints a list with Azure's field names."""
    invoke("jobs.commands.checkpoints:checkpoints", json_mode=json_mode, conn=conn, job_id=job_id)


@cli.command()
@click.option("--models", is_flag=True, help="Also delete the fine-tuned models of this project's jobs.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@connection_options
def clean(models: bool, yes: bool, json_mode: bool, **conn: Any) -> None:
    """Delete the files this project uploaded (and, with --models, its fine-tuned models); unset fineTunedModel."""
    invoke("jobs.commands.clean:clean", json_mode=json_mode, conn=conn, models=models, yes=yes)


_rehearsal_backend = click.option(
    "--backend", type=click.Choice(["local", "stand-in"]), default="local", show_default=True,
    help="The offline emulator's backend: local (SmolLM2 trained and served on this machine, standing in for "
    "gpt-4.1; needs `make install-local`) or stand-in (canned answers, a simulated run; seconds).")


@cli.command()
@click.argument("data", required=False, type=FILE)
@click.option("--keep", "keep_dir", type=FOLDER, default=None,
              help="Keep the rehearsal's emulator and run state in this folder (default: a temp folder, removed).")
@_rehearsal_backend
@json_option
def rehearse(data: str | None, keep_dir: str | None, backend: str, json_mode: bool) -> None:
    """Offline rehearsal of the whole flow against a local emulator (no Azure, no cost).

    DATA defaults to data/travel-train.jsonl. --backend local (the default, after `make install-local`) trains
    and serves SmolLM2-135M-Instruct on this machine, standing in for gpt-4.1 (about 10 minutes on 2 cores);
    --backend stand-in: canned answers and a simulated run (the plumbing, about a minute).
    """
    invoke("jobs.commands.rehearse:rehearse", json_mode=json_mode, data=data, keep_dir=keep_dir, backend=backend)


# --------------------------------------------------------------------------- runner: evidence
# compare, grade, chat (docs/compare.md)


@cli.command()
@click.option("--suite", "suites", multiple=True, type=FILE,
              help="Suite file: chat JSONL, query JSONL, or a YAML/JSON suite (repeatable; default "
              "data/compare-suite.yaml).")
@click.option("--base-deployment", default=None, help="Base deployment (default: the stack's base_deployment).")
@click.option("--tuned-deployment", default=None,
              help="Fine-tuned deployment (default: the stack's fine_tuned_deployment).")
@click.option("--system-prompt", type=FILE, default=None,
              help="System message file for base and tuned (default: the lab's).")
@click.option("--variant", "variants", multiple=True, metavar="NAME[=DEPLOYMENT[:SYSTEM]]",
              help="A variant (repeatable; replaces the default pair base, tuned): base, tuned, base-no-system, "
              "base-short, or NAME=DEPLOYMENT[:SYSTEM_FILE|:lab|:short|:none].")
@click.option("--repeat", type=int, default=3, show_default=True, help="Times each conversation is sent.")
@click.option("--concurrency", type=int, default=None, metavar="N",
              help="Cap on requests in flight (default: adaptive up to 64, set from the deployment's limits).")
@click.option("--judge", default=None, metavar="DEPLOYMENT",
              help="A third deployment that grades each answer against a rubric (temperature 0, JSON).")
@click.option("--out", type=FOLDER, default=None,
              help="Folder for report.json/.html/.md (default: <run state>/compare/<run id>/).")
@click.option("--fail-under", "fail_under", multiple=True, metavar="CHECK=RATE",
              help="Exit 4 when the tuned variant's pass rate of CHECK is below RATE (0-1 or 0%-100%; repeatable).")
@click.option("--against", default=None, metavar="RUN_ID|REPORT.json", help="Show per-check deltas since that run.")
@click.option("--resume", is_flag=False, flag_value="latest", default=None, metavar="[RUN_ID]",
              help="Finish an interrupted run (default: the latest): only missing or failed rows are sent.")
@click.option("--list", "list_runs", is_flag=True, help="List earlier runs and exit.")
@click.option("--temperature", type=float, default=None, help="Sampling temperature sent with every request.")
@click.option("--max-tokens", type=int, default=None, help="max_tokens sent with every request.")
@click.option("--seed", type=int, default=None, help="Seed: repeat r sends SEED + r.")
@click.option("--rate-limit", "rate_limits", multiple=True, metavar="DEPLOYMENT=TPM[/RPM]",
              help="Pace a deployment to these limits (default: learned from x-ratelimit-* headers).")
@click.option("--price", "prices", multiple=True, metavar="DEPLOYMENT=IN/OUT",
              help="USD per 1M input/output tokens, for the report's cost column.")
@click.option("--style-from", type=FILE, default=None,
              help="Training file the style check measures against (default data/travel-train.jsonl).")
@click.option("--checkpoints", default=None, is_flag=False, flag_value="latest", metavar="[JOB_ID]",
              help="Judge every checkpoint of the job (default: the stack's latest) on the suite, choose one by "
              "--primary, and delete the temporary deployments (docs/compare.md, 'Choosing a checkpoint').")
@click.option("--primary", default=None, metavar="CHECK",
              help="With --checkpoints: the check that decides (default no_recommendations).")
@click.option("--yes", "-y", is_flag=True, help="With --checkpoints: accept hourly-billed temporary deployments.")
@connection_options
def compare(json_mode: bool, list_runs: bool, checkpoints: str | None, primary: str | None, yes: bool,
            **kwargs: Any) -> None:
    """Does fine-tuning beat prompting? The same conversations to each variant, every answer checked.

    Writes report.json, report.html and report.md; exit 4 when a --fail-under gate fails.
    """
    conn = _conn(kwargs)
    if list_runs:
        invoke("jobs.commands.compare:list_runs", json_mode=json_mode, conn=conn)
        return
    from jobs.commands.compare import CompareRequest

    request = CompareRequest(**kwargs)
    if checkpoints is not None:
        invoke("jobs.commands.compare:compare_checkpoints", json_mode=json_mode, conn=conn, request=request,
               job_id=None if checkpoints == "latest" else checkpoints, primary=primary, yes=yes)
        return
    if primary is not None or yes:
        raise click.UsageError("--primary and --yes belong to --checkpoints")
    invoke("jobs.commands.compare:compare", json_mode=json_mode, conn=conn, request=request)


@cli.command()
@click.argument("path", type=FILE)
@click.option("--system-prompt", type=FILE, default=None,
              help="The system message the answers were written under (default: each line's own, else the lab's).")
@click.option("--style-from", type=FILE, default=None,
              help="Training file the style check measures against (default data/travel-train.jsonl).")
@json_option
def grade(path: str, system_prompt: str | None, style_from: str | None, json_mode: bool) -> None:
    """Check recorded answers without calling a model: chat JSONL, query/response JSONL, or a report.json."""
    invoke("jobs.commands.grade:grade", json_mode=json_mode, path=path, system_prompt=system_prompt,
           style_from=style_from)


@cli.command()
@click.option("--base", "side", flag_value="base", default=None, help="Chat with the stack's base deployment.")
@click.option("--tuned", "side", flag_value="tuned", help="Chat with the fine-tuned deployment (the default).")
@click.option("--deployment", default=None, help="Chat with this deployment instead.")
@click.option("--system", type=click.Choice(["lab", "short", "none"]), default="lab", show_default=True,
              help="The lab's system message, its short one, or none.")
@click.option("--system-prompt", type=FILE, default=None,
              help="A system message file (overrides --system).")
@click.option("--prompt", default=None, help="Ask once, print the answer and its checks, and exit.")
@click.option("--style-from", type=FILE, default=None,
              help="Training file the style check measures against (default data/travel-train.jsonl).")
@click.option("--rehearsal", is_flag=True,
              help="No Azure: start the emulator (--backend), fine-tune a model there on data/travel-train.jsonl "
              "(not for --base) and chat with it.")
@_rehearsal_backend
@connection_options
def chat(json_mode: bool, rehearsal: bool, backend: str, **kwargs: Any) -> None:
    """The lab's playground in the terminal: streamed answers, the checks under each one.

    Commands: /system lab|short|none|TEXT, /clear, /switch [base|tuned|NAME], /save FILE, /help, /quit.
    """
    conn = _conn(kwargs)
    from jobs.commands.chat import ChatRequest

    request = ChatRequest(**kwargs)
    if rehearsal:
        invoke("jobs.commands.chat:rehearsal", json_mode=json_mode, request=request, backend=backend,
               endpoint=conn["endpoint"])
    else:
        invoke("jobs.commands.chat:chat", json_mode=json_mode, conn=conn, request=request)


@cli.command()
@click.option("--base-deployment", default=None, help="Base deployment (default: the stack's base_deployment).")
@click.option("--tuned-deployment", default=None,
              help="Fine-tuned deployment (default: the stack's fine_tuned_deployment).")
@click.option("--variant", "variants", multiple=True, metavar="NAME[=DEPLOYMENT[:SYSTEM]]",
              help="A variant a column can show, as for compare (repeatable; the first two given replace the "
              "default pair base, tuned; one given replaces tuned).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to serve on: loopback unless you ask (another address prints a warning).")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Another host name the page may be opened by (repeatable; the Host check refuses any other "
              "name but loopback's and the --host address).")
@click.option("--port", type=int, default=8090, show_default=True,  # jobs/commands/playground.py:DEFAULT_PORT
              help="Port to serve on (0 picks a free one).")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the default browser.")
@click.option("--rehearsal", is_flag=True,
              help="No Azure: start the emulator (--backend), fine-tune a model there on data/travel-train.jsonl "
              "(the local model: minutes; the stand-in: seconds) and serve the playground on its base and "
              "fine-tuned deployments.")
@_rehearsal_backend
@click.option("--style-from", type=FILE, default=None,
              help="Training file the style check measures against (default data/travel-train.jsonl).")
@connection_options
def playground(json_mode: bool, rehearsal: bool, backend: str, **kwargs: Any) -> None:
    """The lab's chat playground as a local web page: base and fine-tuned side by side, checks live.

    One question goes to both columns; the answers stream in with latency, tokens and compare's checks (a
    no_recommendations violation is marked in the text); the session exports as a compare report.json.
    Prints the URL and serves until Ctrl-C. docs/playground.md.
    """
    conn = _conn(kwargs)
    from jobs.commands.playground import PlaygroundRequest

    request = PlaygroundRequest(**kwargs)
    if rehearsal:
        invoke("jobs.commands.playground:rehearsal", json_mode=json_mode, request=request, endpoint=conn["endpoint"],
               backend=backend)
    else:
        invoke("jobs.commands.playground:serve", json_mode=json_mode, conn=conn, request=request)


# --------------------------------------------------------------------------- end of commands


def main() -> None:
    cli(prog_name="python -m jobs")
