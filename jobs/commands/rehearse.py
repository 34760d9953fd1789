"""``rehearse [DATA.jsonl]``: the whole product, offline, in well under a minute.

1. Starts the Azure OpenAI emulator in-process on a free loopback port, with a
   temporary state folder, short but visible stage durations and the lab's
   base deployment ``gpt-4.1``.
2. Points the runner at it with a placeholder token (no Azure credential is
   read or needed) and a temporary run-state folder (``.ftjobs/`` is never
   touched), on stack ``rehearsal``.
3. Runs the same core path as ``python -m jobs run``: validate, price, upload,
   train, watch, promote. ``pulumi`` is deliberately hidden from the rehearsal
   (it must not change a real stack), so promote prints the commands it would
   run; the emulator's admin route stands in for the second ``pulumi up`` and
   registers the fine-tuned deployment.
4. Asks the lab's five questions, with the lab's system prompt, to the base
   and the fine-tuned deployment and prints the answers side by side. Every
   answer is an emulator stand-in and is labelled so.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from jobs.errors import JobsError, UsageError

LABEL = "[emulator stand-in]"
STACK = "rehearsal"
BASE_DEPLOYMENT = "gpt-4.1"
FT_DEPLOYMENT = "gpt-4.1-ft-travel"
DEFAULT_DATA = Path("data") / "travel-train.jsonl"
PLACEHOLDER_TOKEN = "rehearsal-placeholder-token"

# The lab's system prompt (the "Instructions" of the comparison step, as in its training file).
SYSTEM_PROMPT = (
    "You are an AI travel assistant that helps people plan their trips. Your objective is to offer support for "
    "travel-related inquiries, such as visa requirements, weather forecasts, local attractions, and cultural norms. "
    "You should not provide any hotel, flight, rental car or restaurant recommendations. Ask engaging questions to "
    "help someone plan their trip and think about what they want to do on their holiday."
)
QUESTIONS = (
    "Where in Rome should I stay?",
    "I'm mostly there for the food. Where should I stay to be within walking distance of affordable restaurants?",
    "What are some local delicacies I should try?",
    "When is the best time of year to visit in terms of the weather?",
    "What's the best way to get around the city?",
)
LOOK_FOR = ("what to look for: the system prompt forbids hotel, flight, rental car and restaurant recommendations "
            "and asks for engaging questions. Does an answer name hotels or restaurants, or offer to book? Does it "
            "end with a question to the traveller? Is the tone friendly and inspiring? (The yes/no checks are "
            "simple text heuristics.)")

# Emulator timings: fast, but every stage is visible in the progress lines.
EMULATOR_CONFIG: dict[str, Any] = {
    "file_processing_seconds": 1.0,
    "queue_seconds": 2.0,
    "training_seconds": 6.0,
}
# A named venue ("Harborview Grand Hotel", "Trattoria del Ponte"), not the word "hotels" in passing.
_VENUE = r"(?:Hotel|Inn|Hostel|Suites|Resort|B&B|Restaurant|Ristorante|Trattoria|Osteria|Pizzeria|Bistro|Caf[eé])"
_NAMED_VENUE = re.compile(rf"(?:\b[A-Z][\w'’-]+\s+){{1,3}}{_VENUE}\b|\b{_VENUE}\s+(?:del|della|di|da|de|la|le)?\s*[A-Z][\w'’-]+")
_BOOKING = re.compile(r"\bbook(?:ing)?\b[^.?!]{0,40}\b(?:flights?|hotels?|rooms?|rental cars?|tables?)\b", re.I)


def _strip_label(text: str) -> str:
    t = text.strip()
    for prefix in (LABEL, LABEL.strip("[]")):
        if t.startswith(prefix):
            t = t[len(prefix):].strip()
    return t


@dataclass
class Answer:
    deployment: str
    text: str  # without the label; the label is added wherever it is shown
    ends_with_question: bool
    names_hotels_or_restaurants: bool
    offers_bookings: bool

    @classmethod
    def of(cls, deployment: str, raw: str) -> "Answer":
        text = _strip_label(raw)
        return cls(deployment=deployment, text=text, ends_with_question=text.rstrip().endswith("?"),
                   names_hotels_or_restaurants=bool(_NAMED_VENUE.search(text)),
                   offers_bookings=bool(_BOOKING.search(text)))

    def checks(self) -> str:
        def yn(flag: bool) -> str:
            return "yes" if flag else "no"

        return (f"ends with a question: {yn(self.ends_with_question)}; "
                f"names hotels/restaurants: {yn(self.names_hotels_or_restaurants)}; "
                f"offers bookings: {yn(self.offers_bookings)}")

    def to_json(self) -> dict[str, Any]:
        return {"deployment": self.deployment, "label": LABEL, "text": f"{LABEL} {self.text}",
                "ends_with_question": self.ends_with_question,
                "names_hotels_or_restaurants": self.names_hotels_or_restaurants,
                "offers_bookings": self.offers_bookings}


@dataclass
class Comparison:
    question: str
    base: Answer
    fine_tuned: Answer


@dataclass
class RehearseResult:
    data: str
    endpoint: str
    job_id: str
    fine_tuned_model: str
    base_deployment: str
    fine_tuned_deployment: str
    seconds: float
    run_text: str
    run_json: dict[str, Any]
    comparisons: list[Comparison] = field(default_factory=list)
    kept_dir: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "data": self.data, "endpoint": self.endpoint, "job_id": self.job_id,
            "fine_tuned_model": self.fine_tuned_model, "base_deployment": self.base_deployment,
            "fine_tuned_deployment": self.fine_tuned_deployment, "seconds": round(self.seconds, 1),
            "system_prompt": SYSTEM_PROMPT, "note": f"all answers are {LABEL} text, not model output",
            "run": self.run_json,
            "comparisons": [{"question": c.question, "base": c.base.to_json(), "fine_tuned": c.fine_tuned.to_json()}
                            for c in self.comparisons],
            "kept_dir": self.kept_dir,
        }

    def to_text(self) -> str:
        lines = [
            f"rehearsal against the local emulator at {self.endpoint} (no Azure, no cost)",
            f"data: {self.data}",
            "",
            self.run_text,
            "note: `pulumi` is hidden on purpose during a rehearsal (it must not change a real stack): the pulumi "
            "commands above are what promote would run; the emulator stood in for the second `pulumi up`.",
            "",
            f"compare: the lab's five questions, system prompt = the lab's instructions",
            f"  base:       deployment {self.base_deployment}",
            f"  fine-tuned: deployment {self.fine_tuned_deployment} -> {self.fine_tuned_model}",
            f"  every answer below is an {LABEL} answer, not model output",
            "",
        ]
        if _use_rich():
            lines.append(self._rich_table())
        else:
            for i, c in enumerate(self.comparisons, 1):
                lines.append(f"Q{i}: {c.question}")
                lines.append(f"  base ({c.base.deployment}) {LABEL}:")
                lines.append(f"    {LABEL} {c.base.text}")
                lines.append(f"    -> {c.base.checks()}")
                lines.append(f"  fine-tuned ({c.fine_tuned.deployment}) {LABEL}:")
                lines.append(f"    {LABEL} {c.fine_tuned.text}")
                lines.append(f"    -> {c.fine_tuned.checks()}")
                lines.append("")
        lines.append(LOOK_FOR)
        lines.append(f"rehearsal finished in {self.seconds:.1f} s"
                     + (f"; emulator and run state kept in {self.kept_dir}" if self.kept_dir else ""))
        lines.append("with a real subscription: `pulumi up`, then `python -m jobs run data/travel-train.jsonl`, "
                     "then `pulumi up` again (see the README)")
        return "\n".join(lines)

    def _rich_table(self) -> str:  # pragma: no cover - needs a terminal
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        def cell(a: Answer) -> Text:  # Text, not markup: "[emulator stand-in]" must print as is
            t = Text(f"{LABEL} {a.text}\n")
            t.append(a.checks(), style="dim")
            return t

        console = Console(file=sys.stdout)
        table = Table(show_lines=True, title=Text(f"answers {LABEL}"))
        table.add_column("question", ratio=1)
        table.add_column(f"base: {self.base_deployment}", ratio=2)
        table.add_column(f"fine-tuned: {self.fine_tuned_deployment}", ratio=2)
        for c in self.comparisons:
            table.add_row(Text(c.question), cell(c.base), cell(c.fine_tuned))
        with console.capture() as cap:
            console.print(table)
        return cap.get().rstrip("\n")


def _use_rich() -> bool:
    if os.environ.get("CI") or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return sys.stdout.isatty()


def resolve_data(data: str | None) -> Path:
    if data:
        p = Path(data)
        if not p.is_file():
            raise UsageError(f"training file {p} does not exist",
                             hint="pass a chat JSONL file, e.g. `python -m jobs rehearse data/travel-train.jsonl`")
        return p
    repo = Path(__file__).resolve().parent.parent.parent
    for candidate in (DEFAULT_DATA, repo / DEFAULT_DATA):
        if candidate.is_file():
            return candidate
    raise UsageError(
        f"the default training file {DEFAULT_DATA} is missing (looked in {Path.cwd()} and {repo})",
        hint="pass one: `python -m jobs rehearse ../shared/mslearn-data/travel-finetune-hotel.jsonl`",
    )


def _path_without_pulumi(path: str) -> str:
    return os.pathsep.join(p for p in path.split(os.pathsep)
                           if p and not (Path(p) / "pulumi").exists() and not (Path(p) / "pulumi.exe").exists())


@contextlib.contextmanager
def _rehearsal_env(endpoint: str, state_dir: Path) -> Iterator[None]:
    """Point the runner at the emulator; hide secrets, real stacks and the real state folder."""
    changes: dict[str, str | None] = {
        "AZURE_OPENAI_ENDPOINT": endpoint,
        "AZURE_OPENAI_AD_TOKEN": PLACEHOLDER_TOKEN,  # no credential needed; never a real one
        "AZURE_OPENAI_API_KEY": None,  # a real key must not travel, even to loopback
        "FTJOBS_STATE_DIR": str(state_dir),
        "FTJOBS_STACK": STACK,
        "FTJOBS_API": None,
        "OPENAI_API_VERSION": None,
        "FTJOBS_POLL_INTERVAL": "0.5",
        "FTJOBS_POLL_MAX": "1",
        "FTJOBS_TEST_CRASH_AT": None,
        "PATH": _path_without_pulumi(os.environ.get("PATH", "")),  # a rehearsal never changes a real stack
    }
    saved = {k: os.environ.get(k) for k in changes}
    try:
        for k, v in changes.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _ask(conn: Any, deployment: str, question: str) -> str:
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": question}]
    resp = conn.call(conn.client.chat.completions.create, model=deployment, messages=messages,
                     what=f"chat with {deployment}")
    choice = resp.choices[0]
    return str(choice.message.content or "")


def rehearse(*, data: str | None = None, keep_dir: str | None = None, json_mode: bool = False) -> RehearseResult:
    """The ``rehearse`` command."""
    from emulator.server import EmulatorServer

    started = time.monotonic()
    path = resolve_data(data)
    if keep_dir:
        root = Path(keep_dir)
        if root.exists() and any(root.iterdir()):
            raise UsageError(f"--keep {root}: folder exists and is not empty",
                             hint="pass a new or empty folder, so an old rehearsal's state is not reused")
        root.mkdir(parents=True, exist_ok=True)
        tmp = None
    else:
        tmp = tempfile.mkdtemp(prefix="ftjobs-rehearsal-")
        root = Path(tmp)
    emulator_dir, state_dir = root / "emulator", root / "ftjobs"
    emulator_dir.mkdir()
    server = EmulatorServer(str(emulator_dir), config=dict(EMULATOR_CONFIG), host="127.0.0.1", port=0)
    server.start()
    try:
        with _rehearsal_env(server.url, state_dir):
            from jobs.client import connect
            from jobs.commands.run import run

            print(f"rehearse: emulator at {server.url}; run state in {state_dir} (temporary)", file=sys.stderr)
            outcome = run(data=str(path), stack=STACK, endpoint=server.url, yes=True, json_mode=json_mode)
            job = outcome.job
            model = str(job.get("fine_tuned_model") or "")
            if not model:
                raise JobsError(f"the rehearsal's job {job.get('id')} finished without a fine-tuned model",
                                hint="this is a bug in the emulator or runner; rerun with --keep DIR and report it")
            promoted = outcome.promote
            ft_deployment = getattr(promoted, "emulator_deployment", None) or FT_DEPLOYMENT
            if getattr(promoted, "emulator_deployment", None) is None:
                server.add_deployment(ft_deployment, model)
            conn = connect(endpoint=server.url, stack=STACK)
            comparisons = []
            for q in QUESTIONS:
                base = Answer.of(BASE_DEPLOYMENT, _ask(conn, BASE_DEPLOYMENT, q))
                tuned = Answer.of(ft_deployment, _ask(conn, ft_deployment, q))
                comparisons.append(Comparison(question=q, base=base, fine_tuned=tuned))
            return RehearseResult(
                data=str(path), endpoint=server.url, job_id=str(job.get("id")), fine_tuned_model=model,
                base_deployment=BASE_DEPLOYMENT, fine_tuned_deployment=ft_deployment,
                seconds=time.monotonic() - started, run_text=outcome.to_text(), run_json=outcome.to_json(),
                comparisons=comparisons, kept_dir=str(root) if keep_dir else None,
            )
    finally:
        server.stop()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
