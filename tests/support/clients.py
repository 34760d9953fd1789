"""The one SDK client factory of the tests, and what the emulator holds, read through the SDK."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

API_VERSION = "2025-04-01-preview"
TEST_KEY = "test-key-not-secret"  # what runner_env puts in AZURE_OPENAI_API_KEY (the emulator accepts any)
PLACEHOLDER_TOKEN = "test-placeholder-token"  # an Entra token stand-in (AZURE_OPENAI_AD_TOKEN)


def sdk_client(url: str, *, api: str = "dated", key: str | None = TEST_KEY, token: str | None = None,
               token_provider: Callable[[], str] | None = None, api_version: str = API_VERSION,
               max_retries: int = 5, **kwargs: Any) -> Any:
    """The real ``openai`` client against ``url``: ``AzureOpenAI`` (dated) or ``OpenAI`` on ``/openai/v1/``.

    Credentials, first given wins: ``token_provider`` (Entra: ``azure_ad_token_provider`` on the dated API, a
    callable ``api_key`` on v1), ``token`` (a fixed Entra token), else ``key`` (an API key).
    """
    import openai

    if api not in ("dated", "v1"):
        raise ValueError(f"api must be 'dated' or 'v1', not {api!r}")
    if api == "v1":
        return openai.OpenAI(base_url=f"{url.rstrip('/')}/openai/v1/", api_key=token_provider or token or key,
                             max_retries=max_retries, **kwargs)
    auth: dict[str, Any] = ({"azure_ad_token_provider": token_provider} if token_provider
                            else {"azure_ad_token": token} if token else {"api_key": key})
    return openai.AzureOpenAI(azure_endpoint=url, api_version=api_version, max_retries=max_retries, **auth,
                              **kwargs)


@dataclass
class ServerView:
    files: list[Any]
    jobs: list[Any]

    def training_files(self, filename: str = "travel-train.jsonl") -> list[Any]:
        return [f for f in self.files if f.filename == filename and f.purpose == "fine-tune"]


def server_view(url: str) -> ServerView:
    """Everything the emulator holds, read through the real SDK (dated API)."""
    c = sdk_client(url)
    return ServerView(files=list(c.files.list().data), jobs=list(c.fine_tuning.jobs.list(limit=100).data))


def wait_for_running_job(client: Any, timeout: float = 30, interval: float = 0.05) -> Any:
    """Poll the newest job on the server until it is running; fail the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        jobs = list(client.fine_tuning.jobs.list().data)
        if jobs and jobs[0].status == "running":
            return jobs[0]
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(interval)


def read_state(state_dir: Path, stack: str = "dev") -> dict[str, Any]:
    """The runner's state file of ``stack`` (``{}`` when there is none)."""
    p = Path(state_dir) / f"{stack}.json"
    return json.loads(p.read_text()) if p.exists() else {}


@dataclass
class FinishedJob:
    url: str
    job_id: str
    training_file: str
    fine_tuned_model: str
    result_files: list[str]


def _advance_clock(url: str, seconds: float = 3600.0) -> None:
    """Move the emulator's clock ``seconds`` forward: every stage started so far ends at the next read."""
    import httpx

    assert httpx.post(f"{url}/++/clock", json={"advance": seconds}, timeout=10).status_code == 200


def run_job_on(url: str, training_path: Path, *, suffix: str = "ft-travel", validation: bool = False,
               timeout: float = 30.0) -> FinishedJob:
    """Upload ``training_path`` and fine-tune on the emulator with the real SDK; wait until it ends.

    The emulator's clock is moved past each stage (``POST /++/clock``) instead of sleeping through it."""
    client = sdk_client(url, token=PLACEHOLDER_TOKEN, max_retries=2)
    with training_path.open("rb") as fh:
        f = client.files.create(file=fh, purpose="fine-tune")
    _advance_clock(url)
    deadline = time.monotonic() + timeout
    while client.files.retrieve(f.id).status != "processed":
        assert time.monotonic() < deadline, "file never processed"
        time.sleep(0.1)
    kwargs: dict[str, Any] = {"validation_file": f.id} if validation else {}
    job = client.fine_tuning.jobs.create(model="gpt-4.1-2025-04-14", training_file=f.id, suffix=suffix, **kwargs)
    _advance_clock(url)
    while job.status not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline, f"job still {job.status}"
        time.sleep(0.2)
        job = client.fine_tuning.jobs.retrieve(job.id)
    return FinishedJob(url=url, job_id=job.id, training_file=f.id, fine_tuned_model=job.fine_tuned_model or "",
                       result_files=list(job.result_files or []))
