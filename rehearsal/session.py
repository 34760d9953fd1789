"""The session of an offline rehearsal: the runner pointed at an emulator, never at a real stack or credential.

Used by the offline lab (``rehearsal/lab.py``) and the tests that need a rehearsal's session: the emulator's
deployer stands in for the stack (``rehearsal/deployer.py``), a placeholder token is sent (no Azure credential is
read), the run state lives in the rehearsal's own folder (``.ftjobs/`` is never touched), and the crash hook of
the environment is ignored. The API surface (dated or v1) is the runner's default, as for a real run.
"""

from __future__ import annotations

from pathlib import Path

from jobs import settings
from jobs.client import Credential
from jobs.retry import RetryPolicy
from jobs.client import Target
from jobs.session import Session
from jobs.settings import Env, PollSettings
from jobs.state import RunState
from jobs.ui import Ui
from rehearsal.deployer import EmulatorDeployer

PLACEHOLDER_TOKEN = "rehearsal-placeholder-token"  # a stand-in Entra token: never a real credential, even to loopback
POLL = PollSettings(first=0.5, cap=1.0, running_floor=1.0)  # the emulator's stages take seconds, not minutes


def rehearsal_session(url: str, root: Path, *, stack: str, json_mode: bool, poll: PollSettings = POLL,
                      capacity: float | None = None) -> Session:
    """A session on the emulator at ``url`` whose stack, run state and stand-in stack file live under ``root``;
    ``capacity``: of the deployments its stand-in ``pulumi up`` registers (None: the emulator's default)."""
    env = Env.current().with_changes(**{settings.CRASH_AT: None})
    return Session(stack=stack, env=env, state=RunState(stack, root / "ftjobs", env=env),
                   deployer=EmulatorDeployer(url, stack, root / f"Pulumi.{stack}.stand-in.json", capacity=capacity),
                   ui=Ui(env=env, json_mode=json_mode),
                   target=Target(endpoint=url, credential=Credential("ad-token", PLACEHOLDER_TOKEN)),
                   poll=poll, retry=RetryPolicy.from_env(env))
