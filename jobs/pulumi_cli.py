"""The Pulumi CLI bridge: the only module that runs the ``pulumi`` executable.

The runner talks to the stack in four ways, each one ``pulumi`` command:

===============================  ==========================================================
:func:`stack_outputs`            ``pulumi stack output --json --show-secrets=false --stack S``
:func:`config_get`               ``pulumi config get --stack S KEY``
:func:`config_set`               ``pulumi config set --stack S KEY VALUE``
:func:`config_rm`                ``pulumi config rm --stack S KEY``
:func:`up`                       ``pulumi up --yes --stack S`` (output streamed)
:func:`destroy`                  ``pulumi destroy --yes --stack S`` (output streamed)
:func:`whoami`                   ``pulumi whoami`` (preflight: logged in to a backend)
:func:`stack_names`              ``pulumi stack ls --json`` (preflight: the stack exists)
:func:`stack_init`               ``pulumi stack init S``
:func:`config_values`            ``pulumi config --json --show-secrets=false --stack S``
===============================  ==========================================================

Every command ends with ``--cwd ROOT`` (Pulumi's global flag, short ``-C``: "run
pulumi as if it had been started in another directory"), ROOT being the project
root of ``jobs/project.py``, so ``python -m jobs`` works the same from any folder
and the printed commands can be pasted anywhere.

``pulumi`` is found on ``PATH`` (``shutil.which``); there is no override, so
tests put a stand-in executable first on ``PATH``. When it is missing, every
function raises :class:`PulumiMissing`, whose message holds the exact command
the user would run by hand; callers that can carry on without the stack (for
example ``promote``) catch it and print those commands.

Nothing here logs values: outputs are read without secrets, and
config values written are model ids and deployment names, never keys.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence, TextIO

from jobs.errors import ExitCode, JobsError, UsageError
from jobs.project import project_root
from jobs.settings import SECRETS
from jobs.state import resolve_stack

EXECUTABLE = "pulumi"
INSTALL_HINT = "install the Pulumi CLI (https://www.pulumi.com/docs/install/) or run the commands above by hand"
# Generous: ``pulumi config``/``stack output`` can log in to a backend first.
QUICK_TIMEOUT = 120.0


class PulumiMissing(UsageError):
    """``pulumi`` is not on PATH. ``commands`` are what the user would run by hand."""

    def __init__(self, commands: Sequence[Sequence[str]], purpose: str = ""):
        self.commands = [list(c) for c in commands]
        lines = "\n".join(f"  {format_command(c)}" for c in self.commands)
        what = f" to {purpose}" if purpose else ""
        super().__init__(
            f"the `pulumi` executable is not on PATH; run this yourself{what}:\n{lines}",
            hint=INSTALL_HINT,
        )


class PulumiFailed(JobsError):
    """``pulumi`` ran and exited non-zero."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str):
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr
        tail = _tail(stderr)
        detail = f":\n{tail}" if tail else ""
        super().__init__(
            f"`{format_command(argv)}` exited with code {returncode}{detail}",
            hint=_hint_for(stderr),
            exit_code=ExitCode.FAILED,
        )


def _tail(text: str, lines: int = 8) -> str:
    kept = [ln.rstrip() for ln in (text or "").strip().splitlines() if ln.strip()]
    return "\n".join("  " + ln for ln in kept[-lines:])


def _hint_for(stderr: str) -> str:
    low = (stderr or "").lower()
    if "no stack named" in low or "stack not found" in low or "no stack" in low and "select" in low:
        return "create or select the stack first: `pulumi stack init <name>` / `pulumi stack ls`, or pass --stack"
    if "not logged in" in low or "pulumi login" in low:
        return "log in to a Pulumi backend first: `pulumi login` (or `pulumi login --local`)"
    if "no pulumi.yaml" in low or "no project found" in low:
        return ("the --cwd folder holds no Pulumi.yaml: run from the project folder (or a folder below it), "
                "the one holding Pulumi.yaml")
    return "run the command above yourself to see the full error"


def format_command(argv: Sequence[str]) -> str:
    """The shell form of a command, quoted so it can be pasted here.

    ``--cwd ROOT`` is left out when ROOT is the current folder: it changes nothing there.
    """
    args = list(argv)
    if len(args) >= 2 and args[-2] == "--cwd" and Path(args[-1]).resolve() == Path.cwd().resolve():
        args = args[:-2]
    return shlex.join(args)


def announce(argv: Sequence[str]) -> str:
    """The line shown just before a pulumi command runs (every one is shown: docs/runner.md)."""
    return f"running `{format_command(argv)}`"


def available() -> bool:
    return shutil.which(EXECUTABLE) is not None


# ----------------------------------------------------------------- argv builders (pure)


def _check_stack(stack: str) -> str:
    return resolve_stack(stack)


# Data-plane credentials the runner reads; `pulumi` never needs them, so its subprocesses do not get them.
_SECRET_ENV = SECRETS


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SECRET_ENV}
    env.setdefault("PULUMI_SKIP_UPDATE_CHECK", "true")
    return env


def _root(cwd: str | Path | None) -> str:
    if cwd is not None:
        return str(cwd)
    return str(project_root())


def stack_output_argv(stack: str, *, cwd: str | Path | None = None) -> list[str]:
    return [EXECUTABLE, "stack", "output", "--json", "--show-secrets=false", "--stack", _check_stack(stack),
            "--cwd", _root(cwd)]


def config_get_argv(stack: str, key: str, *, cwd: str | Path | None = None) -> list[str]:
    return [EXECUTABLE, "config", "get", "--stack", _check_stack(stack), key, "--cwd", _root(cwd)]


def config_set_argv(stack: str, key: str, value: str, *, cwd: str | Path | None = None) -> list[str]:
    # `pulumi config set <key> [value]`: a value starting with "-" would be read
    # as a flag. Model ids and deployment names never start with one; refuse
    # rather than guess.
    if not value or value.startswith("-"):
        raise UsageError(f"refusing to set {key} to {value!r}: not a model id or deployment name",
                         hint="pass the fine-tuned model id, e.g. gpt-4.1-2025-04-14.ft-<id>-ft-travel")
    return [EXECUTABLE, "config", "set", "--stack", _check_stack(stack), key, value, "--cwd", _root(cwd)]


def config_rm_argv(stack: str, key: str, *, cwd: str | Path | None = None) -> list[str]:
    return [EXECUTABLE, "config", "rm", "--stack", _check_stack(stack), key, "--cwd", _root(cwd)]


def up_argv(stack: str, yes: bool = True, *, cwd: str | Path | None = None) -> list[str]:
    argv = [EXECUTABLE, "up"]
    if yes:
        argv.append("--yes")
    return argv + ["--stack", _check_stack(stack), "--cwd", _root(cwd)]


def destroy_argv(stack: str, *, yes: bool = False, cwd: str | Path | None = None) -> list[str]:
    return [EXECUTABLE, "destroy", *(["--yes"] if yes else []), "--stack", _check_stack(stack), "--cwd", _root(cwd)]


# ----------------------------------------------------------------- running


def _require(argv: Sequence[str], purpose: str) -> str:
    path = shutil.which(EXECUTABLE)
    if path is None:
        raise PulumiMissing([argv], purpose)
    return path


def _run(argv: Sequence[str], purpose: str, *, timeout: float = QUICK_TIMEOUT) -> subprocess.CompletedProcess[str]:
    exe = _require(argv, purpose)
    env = _child_env()
    try:
        return subprocess.run(
            [exe, *argv[1:]], capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise JobsError(
            f"`{format_command(argv)}` did not finish within {timeout:.0f} s",
            hint="check your Pulumi backend login and network, then run the command yourself",
        ) from None
    except OSError as exc:
        raise JobsError(f"could not run `{format_command(argv)}`: {exc.strerror or exc}",
                        hint="check that the pulumi executable on PATH works: `pulumi version`") from None


DEFAULT_PROJECT = "foundry-finetune"


def stack_config_file(stack: str, *, cwd: str | Path | None = None) -> Path:
    """``<project root>/Pulumi.<stack>.yaml`` (the last part of an ``org/project/stack`` name)."""
    return Path(_root(cwd)) / f"Pulumi.{_check_stack(stack).rsplit('/', 1)[-1]}.yaml"


def read_stack_file_config(stack: str, key: str, *, cwd: str | Path | None = None) -> tuple[Path, str | None]:
    """One plain config value straight from the stack's settings file, for when ``pulumi`` is missing.

    Returns (the file, the value), the value ``None`` when the file or the key is missing, the file is not
    readable YAML, or the value is not plain text (e.g. ``secure:``). Never runs pulumi; PyYAML (a pulumi
    dependency) is imported only here.
    """
    path = stack_config_file(stack, cwd=cwd)
    try:
        import yaml  # PyYAML (requirements.txt; also installed with pulumi); types-PyYAML for mypy
    except ImportError:  # pragma: no cover - installed with pulumi
        return path, None
    project = DEFAULT_PROJECT
    with contextlib.suppress(OSError, UnicodeDecodeError, yaml.YAMLError):
        meta = yaml.safe_load((path.parent / "Pulumi.yaml").read_text(encoding="utf-8"))
        if isinstance(meta, dict) and isinstance(meta.get("name"), str):
            project = meta["name"]
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):  # missing or broken: unknown (pulumi would report it)
        return path, None
    config = data.get("config") if isinstance(data, dict) else None
    if not isinstance(config, dict):
        return path, None
    value = config.get(f"{project}:{key}", config.get(key))
    if isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value).strip():
        return path, str(value).strip()
    return path, None


def _json(argv: list[str], purpose: str, expected: type, empty: Any) -> Any:
    """Run a ``--json`` command; its output parsed and of the ``expected`` JSON type (``empty`` for no output)."""
    proc = _run(argv, purpose)
    if proc.returncode != 0:
        raise PulumiFailed(argv, proc.returncode, proc.stderr)
    text = proc.stdout.strip()
    if not text:
        return empty
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JobsError(
            f"`{format_command(argv)}` printed something that is not JSON (line {exc.lineno}): {exc.msg}",
            hint="run the command yourself to see what it prints; upgrade the Pulumi CLI if it is old",
        ) from None
    if not isinstance(data, expected):
        kind = "an object" if expected is dict else "an array"
        raise JobsError(f"`{format_command(argv)}` printed a JSON {type(data).__name__}, expected {kind}",
                        hint="run the command yourself to see what it prints")
    return data


def stack_outputs(stack: str) -> dict[str, Any]:
    """The stack's outputs (secrets stay hidden); ``{}`` for a stack with none."""
    data: dict[str, Any] = _json(stack_output_argv(stack), "read the stack outputs", dict, {})
    return data


def config_get(stack: str, key: str) -> str | None:
    """One config value of the stack, or ``None`` when the key is not set."""
    argv = config_get_argv(stack, key)
    proc = _run(argv, f"read {key}")
    if proc.returncode != 0:
        low = (proc.stderr or "").lower()
        if "not found" in low or "no value" in low:
            return None
        raise PulumiFailed(argv, proc.returncode, proc.stderr)
    return proc.stdout.rstrip("\n")


def config_set(stack: str, key: str, value: str) -> list[str]:
    """Set ``key`` (plain text) in the stack's config; returns the argv that ran."""
    argv = config_set_argv(stack, key, value)
    proc = _run(argv, f"set {key}")
    if proc.returncode != 0:
        raise PulumiFailed(argv, proc.returncode, proc.stderr)
    return argv


def config_rm(stack: str, key: str) -> list[str]:
    """Remove ``key`` from the stack's config (a key that is not set is fine)."""
    argv = config_rm_argv(stack, key)
    proc = _run(argv, f"unset {key}")
    if proc.returncode != 0 and "not found" not in (proc.stderr or "").lower():
        raise PulumiFailed(argv, proc.returncode, proc.stderr)
    return argv


def up(stack: str, yes: bool = True, *, stream: TextIO | None = None) -> list[str]:
    """Run ``pulumi up``, streaming its output line by line to ``stream`` (default stderr).

    Streams to stderr by default so ``--json`` output on stdout stays one object.
    """
    return _stream(up_argv(stack, yes), "deploy", yes=yes, stream=stream)


def destroy(stack: str, *, stream: TextIO | None = None) -> list[str]:
    """Run ``pulumi destroy --yes``, streaming its output (default stderr)."""
    return _stream(destroy_argv(stack, yes=True), "delete the stack's resources", yes=True, stream=stream)


def _stream(argv: list[str], purpose: str, *, yes: bool, stream: TextIO | None) -> list[str]:
    exe = _require(argv, purpose)
    out = stream or sys.stderr
    env = _child_env()
    try:
        proc = subprocess.Popen([exe, *argv[1:]], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=env, stdin=subprocess.DEVNULL if yes else None, bufsize=1)
    except OSError as exc:
        raise JobsError(f"could not run `{format_command(argv)}`: {exc.strerror or exc}",
                        hint="check that the pulumi executable on PATH works: `pulumi version`") from None
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        out.write(line)
        out.flush()
        tail = (tail + [line])[-20:]
    code = proc.wait()
    if code != 0:
        raise PulumiFailed(argv, code, "".join(tail))
    return argv


# ----------------------------------------------------------------- preflight: login, stacks, the whole config


def whoami_argv(*, cwd: str | Path | None = None) -> list[str]:
    return [EXECUTABLE, "whoami", "--cwd", _root(cwd)]


def whoami() -> str:
    """The backend user ``pulumi`` is logged in as (PulumiFailed, with the login hint, when it is not)."""
    argv = whoami_argv()
    proc = _run(argv, "check the Pulumi login")
    if proc.returncode != 0:
        raise PulumiFailed(argv, proc.returncode, proc.stderr or "not logged in: run `pulumi login`")
    return proc.stdout.strip()


def stack_ls_argv(*, cwd: str | Path | None = None) -> list[str]:
    return [EXECUTABLE, "stack", "ls", "--json", "--cwd", _root(cwd)]


def stack_names() -> list[str]:
    """The project's stacks, as ``pulumi stack ls --json`` names them."""
    data = _json(stack_ls_argv(), "list the stacks", list, [])
    return [str(s.get("name")) for s in data if isinstance(s, dict) and s.get("name")]


def has_stack(stack: str) -> bool:
    """Whether the project has ``stack`` (a qualified name matches on its last part, as Pulumi shows it)."""
    want = _check_stack(stack)
    last = want.rsplit("/", 1)[-1]
    return any(name == want or name.rsplit("/", 1)[-1] == last for name in stack_names())


def stack_init_argv(stack: str, *, cwd: str | Path | None = None) -> list[str]:
    return [EXECUTABLE, "stack", "init", _check_stack(stack), "--cwd", _root(cwd)]


def stack_init(stack: str) -> list[str]:
    argv = stack_init_argv(stack)
    proc = _run(argv, "create the stack")
    if proc.returncode != 0:
        raise PulumiFailed(argv, proc.returncode, proc.stderr)
    return argv


def config_all_argv(stack: str, *, cwd: str | Path | None = None) -> list[str]:
    return [EXECUTABLE, "config", "--json", "--show-secrets=false", "--stack", _check_stack(stack), "--cwd",
            _root(cwd)]


def config_values(stack: str) -> tuple[dict[str, Any], frozenset[str]]:
    """The stack's config values (``project:key`` -> value) and which keys are secret; secrets never shown."""
    data = _json(config_all_argv(stack), "read the stack's config", dict, {})
    values: dict[str, Any] = {}
    secret: set[str] = set()
    for key, entry in data.items():
        if not isinstance(entry, dict):
            continue
        if entry.get("secret"):
            secret.add(key)
        values[key] = entry.get("objectValue", entry.get("value"))
    return values, frozenset(secret)
