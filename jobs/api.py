"""The one place that calls the data plane and reads what it answers.

Every call goes through :class:`Api`: the SDK call runs with the project's
retry policy (:meth:`jobs.client.Connection.call`), using the SDK's
``with_raw_response`` form, so the answer is checked *before* anything reads
it. A 2xx answer that is not the API (an HTML login page from a proxy, a wrong
URL, JSON of another shape, an empty body) raises :class:`NotTheApi` at once:
one line naming the endpoint, where it came from, and what was received
(content type, the first bytes); exit 2. Nothing is written to the run state
because nothing downstream ever sees such an answer.

What the runner relies on is read into small frozen records (:class:`FileInfo`,
:class:`JobInfo`, :class:`EventInfo`, :class:`ChatAnswer`): the ids and status
strings it needs are checked to be there and to be strings; everything else is
optional, as the service documents it.

A final HTTP error is a :class:`~jobs.errors.JobsError` whose ``status`` holds the
HTTP status (``jobs/retry.py:translate``); :func:`is_not_found` reads it.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, TypeVar

from jobs.client import Connection
from jobs.errors import JobsError, UsageError
from jobs.retry import RetryPolicy
from jobs.stand_in import LOCAL_MODEL, MODEL_HEADER, STAND_IN_HEADER, STAND_IN_LABEL  # re-exported: the SDK layer's callers read them here
from jobs.status import FileStatus, JobStatus, normalise, normalise_file

T = TypeVar("T")


class NotTheApi(UsageError):
    """A 2xx answer that is not the Azure OpenAI API (exit 2)."""


ENDPOINT_HINT = ("check the endpoint: it must be the AI Services account's OpenAI endpoint, e.g. "
                 "https://<account>.openai.azure.com (--endpoint, env AZURE_OPENAI_ENDPOINT, or the stack's "
                 "ai_services_endpoint output); a proxy's login page or a wrong URL answers like this")


def is_not_found(exc: BaseException) -> bool:
    return isinstance(exc, JobsError) and exc.status == 404


HEAD_LIMIT = 64 * 1024  # at most this much of a streamed answer that is not the API is read, to show it


def _body(resp: Any, limit: int = HEAD_LIMIT) -> tuple[bytes, bool]:
    """(the answer's body, or its first ``limit`` bytes when it is a stream not read yet; whether it was cut).
    A stream is closed after that read: the command stops anyway."""
    try:
        return resp.content or b"", False
    except Exception:  # httpx(2).ResponseNotRead: a streamed answer whose body nobody has read
        pass
    got = bytearray()
    try:
        for chunk in resp.iter_bytes():
            got += chunk
            if len(got) >= limit:
                return bytes(got[:limit]), True
    except Exception:  # the connection broke off while reading: show what came
        pass
    finally:
        resp.close()
    return bytes(got), False


def transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP layer's errors while a stream is read: the openai SDK is built on httpx (2.x) or httpx2 (later
    releases), and an answer broken off midway surfaces as theirs, or as the SDK's connection error."""
    import openai  # here, not at the top: openai is slow to import and only the calls need it

    found: list[type[BaseException]] = [openai.APIConnectionError]
    for name in ("httpx", "httpx2"):
        try:
            found.append(importlib.import_module(name).HTTPError)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def _sample(body: bytes, limit: int = 120) -> str:
    text = body[:limit].decode("utf-8", errors="replace")
    text = " ".join(text.split())
    return repr(text) + ("..." if len(body) > limit else "")


# --------------------------------------------------------------------------- records


def _opt_str(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) and value else None


def _opt_int(data: dict[str, Any], name: str) -> int | None:
    value = data.get(name)
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    return None


@dataclass(frozen=True)
class FileInfo:
    id: str
    status: str
    filename: str | None = None
    bytes: int | None = None
    purpose: str | None = None
    created_at: int | None = None
    status_details: str | None = None

    @property
    def state(self) -> FileStatus:
        return normalise_file(self.status)

    @classmethod
    def of(cls, data: dict[str, Any]) -> "FileInfo":
        return cls(id=data["id"], status=data["status"], filename=_opt_str(data, "filename"),
                   bytes=_opt_int(data, "bytes"), purpose=_opt_str(data, "purpose"),
                   created_at=_opt_int(data, "created_at"), status_details=_opt_str(data, "status_details"))


@dataclass(frozen=True)
class JobInfo:
    id: str
    status: str
    model: str | None = None
    fine_tuned_model: str | None = None
    training_file: str | None = None
    validation_file: str | None = None
    suffix: str | None = None
    created_at: int | None = None
    finished_at: int | None = None
    estimated_finish: int | None = None
    trained_tokens: int | None = None
    queue_position: int | None = None
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    result_files: tuple[str, ...] = ()
    method: str | None = None  # method.type: supervised, dpo, ...

    @property
    def state(self) -> JobStatus:
        return normalise(self.status)

    @classmethod
    def of(cls, data: dict[str, Any]) -> "JobInfo":
        hp = data.get("hyperparameters")
        err = data.get("error")
        error = None
        if isinstance(err, dict) and (err.get("code") or err.get("message")):
            error = {"code": err.get("code"), "message": err.get("message"), "param": err.get("param")}
        results = data.get("result_files")
        method = data.get("method")
        return cls(
            id=data["id"], status=data["status"], model=_opt_str(data, "model"),
            fine_tuned_model=_opt_str(data, "fine_tuned_model"), training_file=_opt_str(data, "training_file"),
            validation_file=_opt_str(data, "validation_file"), suffix=_opt_str(data, "suffix"),
            created_at=_opt_int(data, "created_at"), finished_at=_opt_int(data, "finished_at"),
            estimated_finish=_opt_int(data, "estimated_finish"), trained_tokens=_opt_int(data, "trained_tokens"),
            queue_position=_opt_int(data, "queue_position"),
            hyperparameters=dict(hp) if isinstance(hp, dict) else {}, error=error,
            result_files=tuple(str(r) for r in results if isinstance(r, str)) if isinstance(results, list) else (),
            method=_opt_str(method, "type") if isinstance(method, dict) else None,
        )

    def summary(self) -> dict[str, Any]:
        """The job as the commands print it (``--json``)."""
        return {
            "id": self.id, "status": str(self.state), "raw_status": self.status, "model": self.model,
            "fine_tuned_model": self.fine_tuned_model, "training_file": self.training_file,
            "validation_file": self.validation_file, "suffix": self.suffix, "created_at": self.created_at,
            "finished_at": self.finished_at, "estimated_finish": self.estimated_finish,
            "trained_tokens": self.trained_tokens, "method": self.method,
            "hyperparameters": self.hyperparameters or None,
            "error": self.error,
        }


EventKey = tuple[Any, Any, Any]


@dataclass(frozen=True)
class EventInfo:
    id: str | None
    created_at: int | None
    level: str | None
    type: str | None
    message: str
    data: Any = None

    @property
    def key(self) -> EventKey:
        """What makes two events the same (the service may repeat one under a new id)."""
        return (self.created_at, self.message, self.level)

    @classmethod
    def of(cls, data: dict[str, Any]) -> "EventInfo":
        message = data.get("message")
        return cls(id=_opt_str(data, "id"), created_at=_opt_int(data, "created_at"), level=_opt_str(data, "level"),
                   type=_opt_str(data, "type"), message=message if isinstance(message, str) else "",
                   data=data.get("data"))

    def summary(self) -> dict[str, Any]:
        return {"created_at": self.created_at, "level": self.level, "type": self.type, "message": self.message,
                "data": self.data}


@dataclass(frozen=True)
class Page:
    items: list[Any]
    has_more: bool
    last_id: str | None




def _kept_headers(headers: Any) -> dict[str, str]:
    """The headers a caller may use: Azure's ``x-ratelimit-*`` (pacing) and the stand-in marker (``x-emulator``
    and its ``x-emulator-*`` details)."""
    return {k.lower(): v for k, v in headers.items()
            if k.lower().startswith(("x-ratelimit", f"{STAND_IN_HEADER}-")) or k.lower() == STAND_IN_HEADER}


@dataclass(frozen=True)
class ChatAnswer:
    text: str
    finish_reason: str | None
    usage: dict[str, Any]
    model: str | None
    headers: dict[str, str] = field(default_factory=dict)  # x-ratelimit-* and x-emulator, lower-case names
    id: str | None = None  # the completion's id (chatcmpl-...): tells one answer from a re-sent one

    @property
    def stand_in(self) -> bool:
        """An emulator stand-in, not model output (the header says so, or the text carries the label)."""
        return self.headers.get(STAND_IN_HEADER) == "stand-in" or self.text.lstrip().startswith(STAND_IN_LABEL)

    @property
    def local_model(self) -> str | None:
        """The small model that generated this answer on the emulator's local backend (``x-emulator: local-model``,
        its name in ``x-emulator-model``), standing in for the deployment's model; None for Azure and the
        stand-in. Real generated text, but not the deployment's model (:func:`jobs.stand_in.local_model_label`)."""
        if self.headers.get(STAND_IN_HEADER) != LOCAL_MODEL:
            return None
        return self.headers.get(MODEL_HEADER) or "a small open model"


@dataclass(frozen=True)
class StreamEvent:
    """One step of :meth:`Api.chat_stream`: ``delta`` (more text), ``restart`` (the stream broke off and is
    sent again: drop the text shown so far; ``note`` says why) or ``done`` (``answer`` is the whole answer)."""

    kind: str
    text: str = ""
    note: str | None = None
    answer: ChatAnswer | None = None


# --------------------------------------------------------------------------- the calls

# What the runner relies on, per kind of record: these fields must be non-empty strings.
_REQUIRED: dict[str, tuple[str, ...]] = {"file": ("id", "status"), "job": ("id", "status"), "event": ("message",)}


class Api:
    """The data-plane operations the runner uses, each returning checked records."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.client = conn.client

    # ------------------------------------------------------------------ checking answers
    def _not_the_api(self, what: str, resp: Any, problem: str) -> NotTheApi:
        ctype = resp.headers.get("content-type") or "no content type"
        body, cut = _body(resp)
        size = f"more than {len(body)}" if cut else str(len(body))
        received = f"{ctype}, {size} bytes" + (f": {_sample(body)}" if body else "")
        return NotTheApi(
            f"{what}: {self.conn.endpoint} (from {self.conn.endpoint_source}) answered HTTP {resp.status_code} "
            f"with something that is not the Azure OpenAI API ({problem}); received {received}",
            hint=ENDPOINT_HINT)

    def _json(self, what: str, raw: Any) -> tuple[dict[str, Any], Any]:
        resp = raw.http_response
        ctype = (resp.headers.get("content-type") or "").lower()
        if "json" not in ctype:
            raise self._not_the_api(what, resp, "not JSON")
        try:
            data = json.loads(resp.content or b"")
        except ValueError:
            raise self._not_the_api(what, resp, "the JSON does not parse") from None
        if not isinstance(data, dict):
            raise self._not_the_api(what, resp, f"a JSON {type(data).__name__}, not an object")
        return data, resp

    def _record(self, what: str, raw: Any, reader: Callable[[dict[str, Any]], T], *, kind: str) -> T:
        data, resp = self._json(what, raw)
        return self._read(what, resp, data, reader, kind=kind)

    def _read(self, what: str, resp: Any, data: dict[str, Any], reader: Callable[[dict[str, Any]], T], *,
              kind: str) -> T:
        for name in _REQUIRED.get(kind, ()):
            if not isinstance(data.get(name), str) or not data[name]:
                raise self._not_the_api(what, resp, f"a {kind} without a string {name!r}")
        return reader(data)

    def _page(self, what: str, raw: Any, reader: Callable[[dict[str, Any]], T], *, kind: str) -> Page:
        data, resp = self._json(what, raw)
        items = data.get("data")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise self._not_the_api(what, resp, 'no "data" list of objects')
        read = [self._read(what, resp, i, reader, kind=kind) for i in items]
        last = items[-1].get("id") if items else None
        return Page(items=read, has_more=data.get("has_more") is True, last_id=last if isinstance(last, str) else None)

    def _call(self, fn: Callable[..., Any], *args: Any, what: str, **kwargs: Any) -> Any:
        return self.conn.call(fn, *args, what=what, **kwargs)

    # ------------------------------------------------------------------ files
    def get_file(self, file_id: str) -> FileInfo:
        what = f"get file {file_id}"
        return self._record(what, self._call(self.client.files.with_raw_response.retrieve, file_id, what=what),
                            FileInfo.of, kind="file")

    def list_files(self) -> list[FileInfo]:
        what = "list files"
        page = self._page(what, self._call(self.client.files.with_raw_response.list, what=what), FileInfo.of,
                          kind="file")
        return list(page.items)

    def upload(self, filename: str, content: bytes, *, reconcile: Callable[[], FileInfo | None]) -> FileInfo:
        """Upload once: on an ambiguous failure, ``reconcile`` looks for the file the lost request created."""
        what = f"upload {filename}"

        def send() -> FileInfo:
            raw = self.client.files.with_raw_response.create(file=(filename, content), purpose="fine-tune")
            return self._record(what, raw, FileInfo.of, kind="file")

        return self.conn.call(send, what=what, idempotent=False, reconcile=reconcile)

    def delete_file(self, file_id: str) -> None:
        what = f"delete file {file_id}"
        self._call(self.client.files.with_raw_response.delete, file_id, what=what)

    def file_content(self, file_id: str) -> bytes:
        return self.file_download(file_id)[0]

    def file_download(self, file_id: str) -> tuple[bytes, dict[str, str]]:
        """The file's bytes and the headers a caller may use (the stand-in marker: the emulator's results.csv)."""
        what = f"download {file_id}"
        raw = self._call(self.client.files.with_raw_response.content, file_id, what=what)
        return bytes(raw.http_response.content or b""), _kept_headers(raw.http_response.headers)

    # ------------------------------------------------------------------ jobs
    def get_job(self, job_id: str) -> JobInfo:
        what = f"get job {job_id}"
        raw = self._call(self.client.fine_tuning.jobs.with_raw_response.retrieve, job_id, what=what)
        return self._record(what, raw, JobInfo.of, kind="job")

    def list_jobs(self, limit: int = 100) -> list[JobInfo]:
        what = "list jobs"
        raw = self._call(self.client.fine_tuning.jobs.with_raw_response.list, limit=limit, what=what)
        return list(self._page(what, raw, JobInfo.of, kind="job").items)

    def create_job(self, body: dict[str, Any], *, extra_body: dict[str, Any] | None,
                   reconcile: Callable[[], JobInfo | None]) -> JobInfo:
        what = "create fine-tuning job"

        def send() -> JobInfo:
            raw = self.client.fine_tuning.jobs.with_raw_response.create(**body, extra_body=extra_body)
            return self._record(what, raw, JobInfo.of, kind="job")

        return self.conn.call(send, what=what, idempotent=False, reconcile=reconcile)

    def control_job(self, action: str, job_id: str) -> JobInfo:
        """``cancel``, ``pause`` or ``resume``."""
        what = f"{action} job {job_id}"
        fn = getattr(self.client.fine_tuning.jobs.with_raw_response, action)
        return self._record(what, self._call(fn, job_id, what=what), JobInfo.of, kind="job")

    def list_events(self, job_id: str, *, limit: int, after: str | None = None) -> Page:
        what = f"list events of {job_id}"
        kwargs: dict[str, Any] = {"limit": limit}
        if after:
            kwargs["after"] = after
        raw = self._call(self.client.fine_tuning.jobs.with_raw_response.list_events, job_id, what=what, **kwargs)
        return self._page(what, raw, EventInfo.of, kind="event")

    def list_checkpoints(self, job_id: str) -> list[dict[str, Any]]:
        what = f"list checkpoints of {job_id}"
        raw = self._call(self.client.fine_tuning.jobs.checkpoints.with_raw_response.list, job_id, what=what)
        return list(self._page(what, raw, dict, kind="checkpoint").items)

    def delete_model(self, job_id: str, model: str) -> None:
        """The dated authoring API has no ``DELETE /models/{id}``: a fine-tuned model goes with its job
        (``FineTuning_Delete``). The v1 API has ``DELETE /openai/v1/models/{model}``."""
        import httpx  # here, like openai (whose HTTP layer it is): slow to import, needed by this call only

        if self.conn.api == "v1":
            what = f"delete model {model}"
            self._call(self.client.models.with_raw_response.delete, model, what=what)
        else:
            what = f"delete job {job_id}"
            self._call(self.client.delete, f"/fine_tuning/jobs/{job_id}", cast_to=httpx.Response, what=what)

    # ------------------------------------------------------------------ chat
    def chat(self, deployment: str, messages: Iterable[dict[str, Any]], *,
             on_wait: Callable[[str, float], None] | None = None, **params: Any) -> ChatAnswer:
        """One chat completion. ``on_wait`` hears the retry policy's waits (a pacer, ``jobs/compare/pacing.py``)."""
        what = f"chat with {deployment}"
        raw = self.conn.call(self.client.chat.completions.with_raw_response.create, model=deployment,
                             messages=list(messages), what=what, on_wait=on_wait, **params)
        data, resp = self._json(what, raw)
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise self._not_the_api(what, resp, 'no "choices" list')
        first = choices[0]
        message = first.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        usage = data.get("usage")
        return ChatAnswer(text=content if isinstance(content, str) else "",
                          finish_reason=_opt_str(first, "finish_reason"),
                          usage=dict(usage) if isinstance(usage, dict) else {},
                          model=_opt_str(data, "model"), headers=_kept_headers(resp.headers), id=_opt_str(data, "id"))

    def chat_stream(self, deployment: str, messages: Iterable[dict[str, Any]], **params: Any) -> Iterator[StreamEvent]:
        """A streamed chat completion, as events (:class:`StreamEvent`).

        Opening the stream goes through the retry policy like every call (``on_wait`` in ``params`` hears its
        waits, as for :meth:`chat`). A stream that breaks off midway (a
        dropped connection, or an end without a ``finish_reason``) is sent again, after the policy's backoff,
        up to its ``max_attempts`` in all; the caller is told with a ``restart`` event. Then it is a
        :class:`~jobs.errors.JobsError` naming what was received, never a traceback.
        """
        what = f"stream chat with {deployment}"
        sent = list(messages)
        policy = self.conn.policy or RetryPolicy()
        attempt = 0
        while True:
            raw = self._call(self.client.chat.completions.with_raw_response.create, model=deployment,
                             messages=sent, stream=True, stream_options={"include_usage": True}, what=what,
                             **params)
            resp = raw.http_response
            if "text/event-stream" not in (resp.headers.get("content-type") or "").lower():
                raise self._not_the_api(what, resp, "not an event stream")
            reading = _StreamReading()
            try:
                for chunk in raw.parse():
                    piece = reading.add(chunk.model_dump() if hasattr(chunk, "model_dump") else chunk)
                    if piece:
                        yield StreamEvent("delta", text=piece)
                problem = None if reading.finish_reason else "the stream ended without a finish_reason"
            except transport_errors() as exc:
                problem = f"the stream broke off ({type(exc).__name__}: {' '.join(str(exc).split()) or 'no detail'})"
            if problem is None:
                yield StreamEvent("done", answer=reading.answer(_kept_headers(resp.headers)))
                return
            attempt += 1
            shown = f"after {len(reading.text())} characters"
            if attempt >= policy.max_attempts:
                raise JobsError(f"{what}: {problem} {shown}; gave up after {attempt} attempts",
                                hint="the service or the network is failing; ask again (the conversation is kept)")
            wait = policy.backoff(attempt - 1)
            yield StreamEvent("restart", note=f"{problem} {shown}; sending it again in {wait:.1f} s "
                                              f"(attempt {attempt + 1}/{policy.max_attempts})")
            policy.sleep(wait)


class _StreamReading:
    """What the chunks of one stream said so far (the first choice's text, finish reason, usage, model, id)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] = {}
        self.model: str | None = None
        self.id: str | None = None

    def add(self, chunk: Any) -> str:
        if not isinstance(chunk, dict):
            return ""
        self.model = self.model or _opt_str(chunk, "model")
        self.id = self.id or _opt_str(chunk, "id")
        if isinstance(chunk.get("usage"), dict):
            self.usage = dict(chunk["usage"])
        piece = ""
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            content = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(content, str):
                piece += content
            self.finish_reason = _opt_str(choice, "finish_reason") or self.finish_reason
        if piece:
            self.parts.append(piece)
        return piece

    def text(self) -> str:
        return "".join(self.parts)

    def answer(self, headers: dict[str, str]) -> ChatAnswer:
        return ChatAnswer(text=self.text(), finish_reason=self.finish_reason, usage=self.usage, model=self.model,
                          headers=headers, id=self.id)
