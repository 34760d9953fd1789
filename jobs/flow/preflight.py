"""The pipeline's preflight: everything checked before anything is created or spent.

Each check returns a :class:`Problem` (what is missing, and the exact command that fixes it) or nothing;
the pipeline shows every problem at once and stops (exit 2) before its first step. The stack's own checks
(the ``pulumi`` CLI, its login, the stack, its config) come from the deployer; the rehearsal's stand-in has
none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from jobs import pulumi_cli
from jobs.az_cli import identity
from jobs.errors import JobFailedError, JobsError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from jobs.session import Session

PULUMI_INSTALL = "curl -fsSL https://get.pulumi.com | sh   (or see https://www.pulumi.com/docs/install/)"


@dataclass(frozen=True)
class Problem:
    what: str
    fix: str
    data: bool = False  # the data file is invalid (exit 1, as `validate`), not a setting (exit 2)

    def text(self) -> str:
        return f"- {self.what}\n    fix: {self.fix}"


def pulumi_problems(session: "Session", *, yes: bool) -> list[Problem]:
    """The real stack: the CLI is there and logged in, the stack exists (offered to be created), its config
    validates against the program's own rules (``infra/config.py``, no Azure call)."""
    stack = session.stack
    if not pulumi_cli.available():
        return [Problem("the `pulumi` CLI is not on PATH", PULUMI_INSTALL)]
    try:
        session.say(pulumi_cli.announce(pulumi_cli.whoami_argv()))
        pulumi_cli.whoami()
    except JobsError:
        return [Problem("`pulumi` is not logged in to a backend",
                        "pulumi login   (or `pulumi login --local` to keep the state on this machine)")]
    session.say(pulumi_cli.announce(pulumi_cli.stack_ls_argv()))
    if not pulumi_cli.has_stack(stack):
        create = pulumi_cli.format_command(pulumi_cli.stack_init_argv(stack))
        if yes or session.ui.ask(f"stack {stack} does not exist; create it now with `{create}`? [y/N] "):
            session.say(pulumi_cli.announce(pulumi_cli.stack_init_argv(stack)))
            pulumi_cli.stack_init(stack)
        else:
            return [Problem(f"the project has no stack {stack!r}", create)]
    problem = config_problem(session)
    return [problem] if problem else []


def config_problem(session: "Session") -> Problem | None:
    """The stack's config, validated by the Pulumi program's own parser (the same message ``pulumi up`` gives)."""
    from infra.config import ConfigError, parse  # here: it imports pulumi (about a second), needed by this check only

    session.say(pulumi_cli.announce(pulumi_cli.config_all_argv(session.stack)))
    values, secret = pulumi_cli.config_values(session.stack)
    project = pulumi_cli.DEFAULT_PROJECT
    bare = {k.split(":", 1)[1]: v for k, v in values.items() if k.startswith(f"{project}:")}
    try:
        parse(bare, project=project, stack=session.stack.rsplit("/", 1)[-1],
              secret_keys=frozenset(k.split(":", 1)[1] for k in secret if k.startswith(f"{project}:")))
    except ConfigError as exc:
        return Problem(f"stack {session.stack}: config {project}:{exc.key} {exc.problem}", exc.fix)
    return None


def identity_problem(session: "Session") -> Problem | None:
    found = identity(session.env)
    if found.ok:
        session.say(f"preflight: Azure identity from {found.source}")
        return None
    return Problem(f"no Azure identity: {found.source}",
                   "az login   (then `az account set --subscription <id>`), or set ARM_CLIENT_ID/ARM_CLIENT_SECRET/"
                   "ARM_TENANT_ID/ARM_SUBSCRIPTION_ID for a service principal")


def refuse(problems: list[Problem]) -> JobsError:
    """One error listing every problem: exit 1 when only the data is invalid (as ``validate``), else 2."""
    lines = "\n".join(p.text() for p in problems)
    message = f"preflight: {len(problems)} problem(s); nothing was created or spent:\n{lines}"
    hint = "fix each problem as shown, then run the same command again"
    if all(p.data for p in problems):
        return JobFailedError(message, hint=hint)
    return UsageError(message, hint=hint)
