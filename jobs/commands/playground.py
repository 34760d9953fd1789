"""``python -m jobs playground``: the lab's chat playground as a local web page, two columns side by side
(``jobs/playground/``; docs/playground.md).

The columns default to the stack's base and fine-tuned deployments (``--base-deployment`` and
``--tuned-deployment`` as for ``compare``; ``--variant`` specs add variants, the first two given replace
the default pair). The Deployment field also suggests every deployment of the account, as the session's
deployer lists them (``Deployer.deployments``: ``az`` for a real stack, the emulator for ``--rehearsal``),
when the page talks to that account. It serves on loopback (127.0.0.1) unless ``--host`` names another
address (then a warning says who can reach it), prints the URL, and runs until Ctrl-C or SIGTERM.

``--rehearsal`` needs no Azure: it starts the emulator (``--backend local``, the default: SmolLM2 trained and
served on this machine, minutes; ``stand-in``: canned answers, seconds), fine-tunes on ``data/travel-train.jsonl``
there with the runner's own flow (``rehearsal/lab.py`` ``tuned_lab``), and serves the playground on its base and
fine-tuned deployments. Every answer carries its label (the page's badge and banner).
"""

from __future__ import annotations

import json
import re
import signal
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit

from jobs.errors import UsageError
from jobs.session import Session

if TYPE_CHECKING:  # pragma: no cover
    from jobs.compare.plan import Variant
    from jobs.playground.server import PlaygroundServer

Pair = tuple["Variant", "Variant"]

DEFAULT_PORT = 8090
HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]+\]")  # a DNS name, IPv4, [IPv6]
STACK = "playground-rehearsal"


@dataclass(frozen=True)
class PlaygroundRequest:
    base_deployment: str | None = None
    tuned_deployment: str | None = None
    variants: tuple[str, ...] = ()  # compare's --variant specs
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    allow_hosts: tuple[str, ...] = ()  # --allow-host: more names requests may be addressed to (Host)
    open_browser: bool = False
    style_from: str | None = None


@dataclass
class PlaygroundStopped:
    url: str
    answers: int

    def to_text(self) -> str:
        return f"playground on {self.url} stopped after {self.answers} answers"

    def to_json(self) -> dict[str, Any]:
        return {"stopped": True, "url": self.url, "answers": self.answers}


def _variants(session: Session, request: PlaygroundRequest) -> tuple[Pair, tuple["Variant", ...], str | None]:
    """(the two columns' variants, every variant a column can show, a note for the terminal)."""
    from jobs.compare.plan import READY_MADE, parse_variant, ready_made
    from jobs.flow.compare import stack_deployments

    base, tuned = stack_deployments(session, base=request.base_deployment, tuned=request.tuned_deployment,
                                    purpose="for the playground",
                                    options="pass --base-deployment and --tuned-deployment")
    if not base:
        raise UsageError("the stack has no base_deployment output, so the playground has no base column",
                         hint="pass --base-deployment NAME, or deploy the stack (`pulumi up`)")
    offered = [ready_made(name, base=base, tuned=tuned) for name in READY_MADE if name != "tuned" or tuned]
    picked = [parse_variant(spec, base=base, tuned=tuned) for spec in request.variants]
    offered += [v for v in picked if v.name not in {o.name for o in offered}]
    by_name = {v.name: v for v in offered}
    note = None
    if len(picked) >= 2:
        columns = (picked[0], picked[1])
    elif picked:
        columns = (by_name["base"], picked[0])
    elif tuned:
        columns = (by_name["base"], by_name["tuned"])
    else:
        columns = (by_name["base"], by_name["base-no-system"])
        note = ("the stack has no fine_tuned_deployment output yet: the right column shows base-no-system (pass "
                "--tuned-deployment NAME, or pick another variant in the page)")
    return columns, tuple(offered), note


def same_account(endpoint: str, other: str | None) -> bool:
    """Whether two endpoints are one account: the same host and port, or, on Azure (``*.azure.com``), the
    same first label (``https://NAME.openai.azure.com`` and ``https://NAME.cognitiveservices.azure.com``)."""
    if not other:
        return False
    try:
        a, b = urlsplit(endpoint.strip()), urlsplit(other.strip())
        ports = a.port, b.port  # a port that is not a number raises
    except ValueError:
        return False
    if not a.hostname or not b.hostname:
        return False
    ha, hb = a.hostname.lower(), b.hostname.lower()
    if ha.endswith(".azure.com") and hb.endswith(".azure.com"):
        return ha.split(".", 1)[0] == hb.split(".", 1)[0]
    return (ha, ports[0]) == (hb, ports[1])


def _account_listing(session: Session) -> Callable[[], list[str] | None]:
    """The deployer's list of the account's deployments, for the board's background thread: only when the
    stack's outputs are known already (read for the endpoint or the columns: never a ``pulumi`` run for the
    suggestions alone) and name the account the page talks to (``--endpoint`` may name another one)."""

    def listing() -> list[str] | None:
        outputs = session.deployer.loaded_outputs()
        if outputs is None or not same_account(session.connection.endpoint, outputs.ai_services_endpoint):
            return None
        return session.deployer.deployments()

    return listing


def _wait_for_stop() -> None:
    """Until Ctrl-C or SIGTERM."""
    stop = threading.Event()
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if main else None
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


def start(session: Session, request: PlaygroundRequest) -> tuple["PlaygroundServer", Pair, str | None]:
    """Build the board, bind and start serving in a background thread: (the running
    :class:`~jobs.playground.server.PlaygroundServer`, the columns' variants, a note for the terminal)."""
    from jobs.checks import StyleProfile
    from jobs.compare.suite import default_style_path
    from jobs.playground.board import Board
    from jobs.playground.server import PlaygroundServer

    if not 0 <= request.port <= 65535:
        raise UsageError(f"--port {request.port} is out of range", hint="use 0 (any free port) or 1-65535")
    for name in request.allow_hosts:
        if not HOST_NAME.fullmatch(name.strip()):
            raise UsageError(f"--allow-host {name!r} is not a host name or address",
                             hint="give the name (or IP address) the browser uses, without scheme, port or path: "
                             "e.g. --allow-host mybox.local")
    columns, offered, note = _variants(session, request)
    style = StyleProfile.from_file(request.style_from or default_style_path())
    session.api  # connect now: a wrong endpoint or credential setting stops here, not in the page
    board = Board(session, columns, offered=offered, style=style, listing=_account_listing(session))
    try:
        server = PlaygroundServer(board, request.host, request.port, allow_hosts=request.allow_hosts)
    except OSError as exc:
        raise UsageError(f"cannot serve on {request.host}:{request.port}: {exc.strerror or exc}",
                         hint="pick another --port (0: any free one), or a --host of this machine") from None
    return server.start(), columns, note


def serve(session: Session, *, request: PlaygroundRequest, json_mode: bool = False) -> PlaygroundStopped | None:
    """The ``playground`` command: serve the page until Ctrl-C or SIGTERM."""
    from jobs.playground.server import is_loopback

    server, columns, note = start(session, request)
    try:
        out = session.ui.out
        if json_mode:
            out.write(json.dumps({"url": server.url, "columns": [v.to_json() for v in columns]}) + "\n")
        else:
            out.write(f"playground: {server.url}\n")
        out.flush()
        if not is_loopback(request.host):
            session.say(f"warning: serving on {request.host}, not loopback: anyone who can reach this machine can "
                        "use the playground, and through it your deployments (your credential never leaves this "
                        "process). Requests must name one of these hosts: " + ", ".join(server.host_names())
                        + " (--allow-host NAME adds one)")
        if note:
            session.say(f"note: {note}")
        session.say("  columns: " + " | ".join(f"{v.name} = {v.deployment}" for v in columns)
                    + ". Open the URL in a browser; Ctrl-C stops the playground (export the session first).")
        if request.open_browser:
            import webbrowser

            webbrowser.open(server.url)
        _wait_for_stop()
    finally:
        server.stop()
    return None if json_mode else PlaygroundStopped(server.url, len(server.board.rows))


# --------------------------------------------------------------------------- --rehearsal


def rehearsal(*, request: PlaygroundRequest, endpoint: str | None = None, backend: str = "local",
              json_mode: bool = False) -> PlaygroundStopped | None:
    """``playground --rehearsal``: an offline lab (``rehearsal/lab.py``) with the lab's data fine-tuned there,
    then :func:`serve` on it."""
    if endpoint or request.base_deployment or request.tuned_deployment:
        raise UsageError("--rehearsal starts its own emulator with its own deployments",
                         hint="drop --endpoint/--base-deployment/--tuned-deployment, or drop --rehearsal")
    from rehearsal.lab import tuned_lab

    with tuned_lab(stack=STACK, backend=backend, json_mode=json_mode, prefix="ftjobs-playground-",
                   command="playground --rehearsal") as lab:
        return serve(lab.session, request=request, json_mode=json_mode)
