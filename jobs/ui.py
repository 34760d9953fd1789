"""What the user sees and answers: the one place that decides "is this a terminal?".

A terminal (and no ``CI``, ``NO_COLOR`` or ``TERM=dumb``) gets rich tables and a live progress panel;
everything else gets plain lines. Progress and questions go to stderr; stdout carries only the command's
result (text or ``--json``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from jobs import settings
from jobs.display import Display, PlainDisplay, RichDisplay
from jobs.settings import Env


def is_interactive(stream: Any, env: Env) -> bool:
    """A person is watching ``stream``: it is a terminal, and neither CI, NO_COLOR nor TERM=dumb says otherwise."""
    if env.is_set("CI") or env.is_set("NO_COLOR") or (env.text("TERM") or "") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):  # a closed stream
        return False


@dataclass
class Ui:
    env: Env = field(default_factory=Env)
    json_mode: bool = False
    stdin: TextIO | None = None
    stdout: TextIO | None = None
    stderr: TextIO | None = None

    @property
    def err(self) -> TextIO:
        return self.stderr or sys.stderr

    def rich_output(self) -> bool:
        """Rich tables on stdout (never with --json)."""
        return not self.json_mode and is_interactive(self.stdout or sys.stdout, self.env)

    def display(self) -> Display:
        """A live panel on a terminal, plain lines otherwise (always plain with --json)."""
        if not self.json_mode and self.stderr is None and is_interactive(sys.stderr, self.env):  # pragma: no cover
            try:
                return RichDisplay()
            except Exception:
                pass
        return PlainDisplay(self.err, every=settings.status_every(self.env))

    def say(self, text: str) -> None:
        self.err.write(text.rstrip("\n") + "\n")
        self.err.flush()

    @property
    def out(self) -> TextIO:
        return self.stdout or sys.stdout

    def read_line(self, prompt: str) -> str | None:
        """One line typed by the user after ``prompt`` (on stderr); None at the end of input."""
        stdin = self.stdin or sys.stdin
        self.err.write(prompt)
        self.err.flush()
        try:
            line = stdin.readline()
        except (EOFError, OSError, KeyboardInterrupt):
            return None
        return line.rstrip("\n") if line else None

    def ask(self, question: str) -> bool | None:
        """A yes/no question on the terminal; None when there is no terminal to ask on."""
        stdin = self.stdin or sys.stdin
        if not (stdin and getattr(stdin, "isatty", lambda: False)()):
            return None
        self.err.write(question)
        self.err.flush()
        try:
            answer = stdin.readline()
        except (EOFError, OSError):
            return False
        return answer.strip().lower() in ("y", "yes")
