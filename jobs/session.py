"""The session: built once at the CLI edge (or by the rehearsal) and handed to every command and flow step.

It holds what a command needs and nothing reads twice:

- ``stack`` and its run state (``state``: ``jobs/state.py``);
- the connection to the data plane, built on first use (``connection``; ``api`` reads the answers);
- the deployer (``jobs/deploy.py``): the real stack through Pulumi, or the rehearsal's stand-in;
- the environment snapshot (``env``), the polling settings, the display and questions (``ui``), and the
  crash-test hook (``checkpoint``).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Callable, Iterator

from jobs import settings
from jobs.api import Api
from jobs.client import Connection, Target, connect
from jobs.crash import CrashHook
from jobs.deploy import Deployer, PulumiDeployer
from jobs.display import Display
from jobs.retry import RetryPolicy
from jobs.settings import Env, PollSettings
from jobs.state import RunState, resolve_stack
from jobs.ui import Ui


class Session:
    def __init__(self, *, stack: str, env: Env, state: RunState, deployer: Deployer, ui: Ui,
                 target: Target = Target(), poll: PollSettings | None = None, retry: RetryPolicy | None = None):
        self.stack = stack
        self.env = env
        self.state = state
        self.deployer = deployer
        self.ui = ui
        self.target = target
        self._poll = poll
        self._retry = retry
        self.checkpoint = CrashHook(env.raw(settings.CRASH_AT))
        self.sleep: Callable[[float], None] = time.sleep
        self._connection: Connection | None = None
        self._api: Api | None = None
        self._display: Display | None = None

    # ------------------------------------------------------------------ building
    @classmethod
    def for_stack(cls, stack: str | None, *, target: Target = Target(), json_mode: bool = False,
                  env: Env | None = None) -> "Session":
        """The CLI's session: the real stack (through Pulumi), settings from the environment.

        Every setting is checked here, before any request: a bad ``FTJOBS_*`` number stops the command at once.
        """
        env = env or Env.current()
        name = resolve_stack(stack, env)
        settings.status_every(env)
        settings.http_timeout(env)
        deployer = PulumiDeployer(name)
        session = cls(stack=name, env=env, state=RunState(name, env=env), deployer=deployer,
                      ui=Ui(env=env, json_mode=json_mode), target=target, poll=PollSettings.from_env(env),
                      retry=RetryPolicy.from_env(env))
        deployer.echo = session.say  # every pulumi command is shown before it runs
        return session

    # ------------------------------------------------------------------ the data plane
    @property
    def connection(self) -> Connection:
        if self._connection is None:
            self._connection = connect(self.target, env=self.env, stack=self.stack, outputs=self.deployer.outputs,
                                       policy=self._retry)
        return self._connection

    @property
    def api(self) -> Api:
        if self._api is None:
            self._api = Api(self.connection)
        return self._api

    @property
    def poll(self) -> PollSettings:
        if self._poll is None:
            self._poll = PollSettings.from_env(self.env)
        return self._poll

    # ------------------------------------------------------------------ output
    def say(self, text: str) -> None:
        """A progress line (stderr; above the live panel while one is shown)."""
        if self._display is not None:
            self._display.line(text)
        else:
            self.ui.say(text)

    @contextlib.contextmanager
    def progress(self) -> Iterator[Display]:
        """The live display of a long step; ``say`` writes above it meanwhile."""
        if self._display is not None:  # nested: reuse
            yield self._display
            return
        display = self.ui.display()
        self._display = display
        try:
            yield display
        finally:
            self._display = None
            display.close()

    def describe(self) -> dict[str, Any]:
        return {"stack": self.stack, "state": str(self.state.path), "stand_in": self.deployer.stand_in}

