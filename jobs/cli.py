"""The CLI edge: click definitions, and the one place errors become exit codes.

Each command is a thin click function that names one core function by its
dotted path (``"jobs.commands.validate:validate"``). The core module is
imported only when the command runs, so ``python -m jobs --help`` imports
click and nothing else of weight.

Core functions take plain keyword arguments and return a result object (see
``jobs/output.py``); they raise :class:`jobs.errors.JobsError` for anything the
user can fix. A result may carry ``exit_code`` (e.g. ``validate`` on an invalid
file exits 1 after printing its report).
"""

from __future__ import annotations

import importlib
import inspect
import sys
from typing import Any, Callable

import click

from jobs.errors import ExitCode, JobsError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _load(target: str) -> Callable[..., Any]:
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def invoke(target: str, *, json_mode: bool = False, **kwargs: Any) -> None:
    """Run one core function and map its outcome to output and an exit code."""
    from jobs.output import emit

    try:
        func = _load(target)
        if "json_mode" in inspect.signature(func).parameters:
            kwargs["json_mode"] = json_mode
        result = func(**kwargs)
    except JobsError as exc:
        _print_error(exc, json_mode=json_mode)
        sys.exit(int(exc.exit_code))
    except KeyboardInterrupt:
        click.echo("interrupted: nothing was lost; run the same command again to resume.", err=True)
        sys.exit(130)
    emit(result, json_mode=json_mode)
    code = int(getattr(result, "exit_code", ExitCode.OK) or 0)
    if code:
        sys.exit(code)


def _print_error(exc: JobsError, *, json_mode: bool) -> None:
    if json_mode:
        import json

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
    3 refused by a guard (cost limit, confirmation, lock).
    """


# --------------------------------------------------------------------------- data


@cli.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=str))
@click.option("--model", default=None, help="Base model to check against (default: gpt-4.1-2025-04-14).")
@click.option("--price-per-1m", type=float, default=None, help="Training price in USD per 1M billed tokens.")
@json_option
def validate(path: str, model: str | None, price_per_1m: float | None, json_mode: bool) -> None:
    """Check a chat JSONL training file and estimate what training on it costs."""
    invoke("jobs.commands.validate:validate", json_mode=json_mode, path=path, model=model, price_per_1m=price_per_1m)


# --------------------------------------------------------------------------- emulator


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback unless you ask).")
@click.option("--port", type=int, default=8089, show_default=True, help="Port to listen on (0 picks a free one).")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=str), default=".emulator", show_default=True,
              help="Where files and jobs persist across restarts.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="JSON config: deployments, limits, latency, faults, stage durations.")
def emulator(host: str, port: int, state_dir: str, config_file: str | None) -> None:
    """Serve a local Azure OpenAI data-plane emulator (rehearsal and tests only)."""
    invoke("jobs.commands.emulator:serve", host=host, port=port, state_dir=state_dir, config_file=config_file)


# --------------------------------------------------------------------------- runner: jobs
# upload, train, watch, status, events, cancel, pause, resume, list, run
# (engineer D1 adds commands between these two markers)

# --------------------------------------------------------------------------- runner: stack
# promote, metrics, clean, rehearse
# (engineer D2 adds commands between these two markers)

# --------------------------------------------------------------------------- end of commands


def main() -> None:
    cli(prog_name="python -m jobs")
