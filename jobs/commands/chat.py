"""``python -m jobs chat``: the lab's playground in the terminal (``jobs/flow/chat.py``).

The base or the fine-tuned deployment (from the stack, or ``--deployment``), streamed answers, the system
message from the lab's prompts (``--system lab|short|none``) or a file (``--system-prompt``), the checks
under each answer. Commands: ``/system lab|short|none|TEXT``, ``/clear``, ``/switch [base|tuned|NAME]``,
``/save FILE``, ``/help``, ``/quit``. ``--prompt TEXT`` asks once and exits (``--json`` prints the answer and
its checks as one object).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jobs import lab
from jobs.errors import JobsError, UsageError
from jobs.session import Session

SYSTEMS = lab.PROMPTS
START_OPTIONS = "pass --deployment NAME"
SWITCH_OPTIONS = "name the deployment: /switch DEPLOYMENT"
HELP = ("commands: /system lab|short|none|TEXT  /clear  /switch [base|tuned|DEPLOYMENT]  /save FILE  /help  /quit "
        "(an empty line does nothing)")


@dataclass(frozen=True)
class ChatRequest:
    side: str | None = None  # "base" | "tuned"; None: tuned when the stack has it, else base
    deployment: str | None = None
    system: str = "lab"  # lab | short | none
    system_prompt: str | None = None  # a file; overrides system
    prompt: str | None = None  # one shot
    style_from: str | None = None


@dataclass
class OneShot:
    deployment: str
    reply: Any  # jobs.flow.chat.Reply
    streamed: bool  # the answer was already printed as it arrived

    def to_text(self) -> str:
        text = "" if self.streamed else self.reply.answer.text + "\n"
        return text + answer_label(self.reply) + checks_line(self.reply.checks)

    def to_json(self) -> dict[str, Any]:
        return {"deployment": self.deployment, **self.reply.to_json(), "label": label_of(self.reply)}


@dataclass
class ChatEnded:
    answers: int
    saved: list[str] = field(default_factory=list)

    def to_text(self) -> str:
        return f"chat ended after {self.answers} answers" + (f"; saved to {', '.join(self.saved)}" if self.saved else "")


def label_of(reply: Any) -> str | None:
    """What the answer is when it is not the deployment's model: the emulator's local model (its text carries no
    label of its own; ``jobs/stand_in.py``), None otherwise (a stand-in's text starts with its own label)."""
    from jobs.stand_in import local_model_label

    a = reply.answer
    return local_model_label(a.local_model, [a.model]) if a.local_model else None


def answer_label(reply: Any) -> str:
    """The line under an answer that says what generated it (empty for Azure and the stand-in)."""
    label = label_of(reply)
    return f"  [{label}]\n" if label else ""


def checks_line(checks: dict[str, Any]) -> str:
    parts = []
    for name, c in checks.items():
        parts.append(f"{name} pass" if c.passed else f"{name} FAIL ({c.evidence})" if c.evidence else f"{name} FAIL")
    return "  checks: " + " | ".join(parts)


class _Deployments:
    """The base and tuned deployment names, read from the stack only when needed."""

    def __init__(self, session: Session, request: ChatRequest):
        self.session, self.request = session, request
        self._known: tuple[str | None, str | None] | None = None
        self.options = START_OPTIONS  # how to name a deployment instead: an option at start, /switch in the chat

    def names(self) -> tuple[str | None, str | None]:
        if self._known is None:
            from jobs.flow.compare import stack_deployments

            self._known = stack_deployments(self.session, base=None, tuned=None, purpose="to chat with",
                                            options=self.options)
        return self._known

    def pick(self, side: str | None) -> str:
        base, tuned = self.names()
        if side is None:
            side = "tuned" if tuned else "base"
        name = tuned if side == "tuned" else base
        if not name:
            which = "fine_tuned_deployment" if side == "tuned" else "base_deployment"
            raise UsageError(f"the stack has no {which} output to chat with",
                             hint=f"{self.options}, or deploy the stack (`pulumi up`)")
        return name


def _system(request: ChatRequest) -> tuple[str | None, str]:
    if request.system_prompt:
        from jobs.compare.plan import read_system_file

        return read_system_file(request.system_prompt), f"file {request.system_prompt}"
    if request.system not in SYSTEMS:
        raise UsageError(f"--system {request.system}: not one of {', '.join(SYSTEMS)}",
                         hint="use --system-prompt FILE for your own message")
    return SYSTEMS[request.system]


def rehearsal(*, request: ChatRequest, backend: str = "local", endpoint: str | None = None,
              json_mode: bool = False) -> OneShot | ChatEnded:
    """``chat --rehearsal``: an offline lab (``rehearsal/lab.py``; no Azure, no credential read), the lab's data
    fine-tuned there unless ``--base``, then :func:`chat` with it."""
    if endpoint:
        raise UsageError("--rehearsal starts its own emulator", hint="drop --endpoint, or drop --rehearsal")
    from rehearsal.lab import tuned_lab

    with tuned_lab(stack="chat-rehearsal", backend=backend, json_mode=json_mode, prefix="ftjobs-chat-",
                   command="chat --rehearsal", train=request.side != "base" and request.deployment is None) as lab:
        return chat(lab.session, request=request, json_mode=json_mode)


def chat(session: Session, *, request: ChatRequest, json_mode: bool = False) -> OneShot | ChatEnded:
    from jobs.checks import StyleProfile
    from jobs.compare.suite import default_style_path
    from jobs.flow.chat import Conversation

    deployments = _Deployments(session, request)
    deployment = request.deployment or deployments.pick(request.side)
    system, source = _system(request)
    style = StyleProfile.from_file(request.style_from or default_style_path())
    convo = Conversation(deployment=deployment, system=system, system_source=source)
    if request.prompt is not None:
        return _one_shot(session, convo, request.prompt, style=style, json_mode=json_mode)
    if json_mode:
        raise UsageError("--json needs --prompt (the interactive chat prints as it goes)",
                         hint='e.g. python -m jobs chat --prompt "What can you do?" --json')
    return _repl(session, convo, deployments, style)


@dataclass
class _Printer:
    """Streams an answer to the terminal as it arrives; a restart voids what was shown."""

    out: Any
    live: bool = True
    restart_note: str = "\n[stream broke off; the answer starts again]\n"

    def text(self, piece: str) -> None:
        if self.live:
            self.out.write(piece)
            self.out.flush()

    def restart(self, note: str) -> None:
        if self.live:
            self.out.write(self.restart_note)


def _one_shot(session: Session, convo: Any, text: str, *, style: Any, json_mode: bool) -> OneShot:
    from jobs.flow.chat import ask

    printer = _Printer(session.ui.out, live=not json_mode)

    def restart(note: str) -> None:
        session.say(f"chat: {note}")
        printer.restart(note)

    reply = ask(session, convo, text, on_text=printer.text, on_restart=restart, style=style)
    if printer.live:
        printer.out.write("\n")
    return OneShot(deployment=convo.deployment, reply=reply, streamed=printer.live)


def _repl(session: Session, convo: Any, deployments: _Deployments, style: Any) -> ChatEnded:
    from jobs.flow.chat import ask, save

    out = session.ui.out
    printer = _Printer(out)
    ended = ChatEnded(answers=0)
    deployments.options = SWITCH_OPTIONS
    session.say(f"chat with {convo.deployment}, system message: {convo.system_source}. {HELP}")
    while True:
        line = session.ui.read_line("you> ")
        if line is None:
            return ended
        text = line.strip()
        if not text:
            continue
        if text.startswith("/"):
            command, _, arg = text[1:].partition(" ")
            if command in ("quit", "exit", "q"):
                return ended
            try:
                if command == "save":
                    ended.saved.append(str(save(convo, arg.strip() or "chat.jsonl")))
                    note = f"saved the conversation to {ended.saved[-1]} (a suite line: compare --suite, grade)"
                else:
                    note = _command(convo, deployments, command, arg.strip())
            except JobsError as exc:
                note = f"error: {exc.message}" + (f"\n  fix: {exc.hint}" if exc.hint else "")
            out.write(note + "\n")
            out.flush()
            continue
        out.write(f"{convo.deployment}> ")
        out.flush()
        try:
            reply = ask(session, convo, text, on_text=printer.text, on_restart=printer.restart, style=style)
        except JobsError as exc:
            out.write(f"\nerror: {exc.message}\n" + (f"  fix: {exc.hint}\n" if exc.hint else ""))
            out.flush()
            continue
        ended.answers += 1
        out.write("\n" + answer_label(reply) + checks_line(reply.checks) + "\n")
        out.flush()


def _command(convo: Any, deployments: _Deployments, command: str, arg: str) -> str:
    if command == "help":
        return HELP
    if command == "clear":
        convo.history.clear()
        return "the conversation is cleared (the system message stays)"
    if command == "system":
        if arg in SYSTEMS:
            convo.system, convo.system_source = SYSTEMS[arg]
        elif arg:
            convo.system, convo.system_source = arg, "typed in the chat"
        else:
            return f"system message ({convo.system_source}): {convo.system or '(none)'}"
        return f"system message is now {convo.system_source}"
    if command == "switch":
        if arg in ("", "base", "tuned"):
            _, tuned = deployments.names()
            side = arg or ("base" if convo.deployment == tuned else "tuned")
            convo.deployment = deployments.pick(side)
        else:
            convo.deployment = arg
        return f"now chatting with {convo.deployment} (the conversation so far is kept)"
    return f"unknown command /{command}; {HELP}"
