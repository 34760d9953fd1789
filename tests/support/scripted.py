"""A session over a scripted service, for unit tests of the flow steps (no HTTP).

The test scripts the service as simple objects (``SimpleNamespace`` or dicts) shaped like the SDK's; the
scripted :class:`ScriptedApi` turns them into the records ``jobs/api.py`` returns, exactly as the real ``Api``
reads JSON, so the flow code under test is the product's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

from jobs.api import EventInfo, FileInfo, JobInfo, Page
from jobs.crash import CrashHook
from jobs.settings import Env, PollSettings


def plain(obj: Any) -> Any:
    """``SimpleNamespace`` trees as JSON-like dicts (what the service would have sent)."""
    if isinstance(obj, SimpleNamespace):
        return {k: plain(v) for k, v in vars(obj).items()}
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [plain(v) for v in obj]
    return obj


class ScriptedApi:
    """The parts of :class:`jobs.api.Api` a test scripts: ``jobs`` (retrieve, list, list_events) and
    ``files`` (create, retrieve, list), each optional."""

    def __init__(self, *, jobs: Any = None, files: Any = None):
        self.jobs = jobs
        self.files = files

    def get_job(self, job_id: str) -> JobInfo:
        return JobInfo.of(plain(self.jobs.retrieve(job_id)))

    def list_jobs(self, limit: int = 100) -> list[JobInfo]:
        return [JobInfo.of(plain(j)) for j in plain(self.jobs.list(limit=limit))["data"]]

    def list_events(self, job_id: str, *, limit: int, after: str | None = None) -> Page:
        page = plain(self.jobs.list_events(job_id, limit=limit, after=after))
        items = [EventInfo.of(e) for e in page["data"]]
        last = page["data"][-1].get("id") if page["data"] else None
        return Page(items=items, has_more=page.get("has_more") is True, last_id=last)

    def list_checkpoints(self, job_id: str) -> list[dict[str, Any]]:
        return list(plain(self.jobs.checkpoints.list(job_id))["data"])

    def file_content(self, file_id: str) -> bytes:
        return self.file_download(file_id)[0]

    def file_download(self, file_id: str) -> tuple[bytes, dict[str, str]]:
        """The content and the headers the script gives (``headers``, lower-case names; none by default)."""
        got = self.files.content(file_id)
        return bytes(got.content), dict(getattr(got, "headers", None) or {})

    def get_file(self, file_id: str) -> FileInfo:
        return FileInfo.of(plain(self.files.retrieve(file_id)))

    def list_files(self) -> list[FileInfo]:
        return [FileInfo.of(f) for f in plain(self.files.list())["data"]]

    def upload(self, filename: str, content: bytes, *, reconcile: Callable[[], FileInfo | None]) -> FileInfo:
        return FileInfo.of(plain(self.files.create(file=(filename, content), purpose="fine-tune")))


@dataclass
class ScriptedUi:
    said: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        self.said.append(text)

    def ask(self, question: str) -> bool | None:
        return None


class ScriptedSession:
    """What a flow step uses of :class:`jobs.session.Session`, over a :class:`ScriptedApi`.

    ``poll`` is read from the environment on use (tests set ``FTJOBS_POLL_*`` with monkeypatch), ``sleep``
    records or simulates waits, ``state`` is a real run state when given a folder.
    """

    def __init__(self, api: ScriptedApi, *, sleep: Callable[[float], None] | None = None,
                 state_dir: Path | None = None, stack: str = "dev"):
        from jobs.state import RunState

        self.api = api
        self.stack = stack
        self.slept: list[float] = []
        self.sleep = sleep or self.slept.append
        self.state = RunState(stack, state_dir) if state_dir is not None else None
        self.ui = ScriptedUi()
        self.checkpoint = CrashHook(None)

    @property
    def poll(self) -> PollSettings:
        return PollSettings.from_env(Env.current())

    def say(self, text: str) -> None:
        self.ui.say(text)
