"""Plain HTTP against the emulator (what the SDK sends, without the SDK), and job helpers built on it."""

from __future__ import annotations

from typing import Any

AZURE_VERSION = "2025-04-01-preview"


class Raw:
    """Plain HTTP against the emulator (what the SDK sends, without the SDK)."""

    def __init__(self, url: str, *, v1: bool = False, api_version: str | None = AZURE_VERSION,
                 headers: dict[str, str] | None = None):
        import httpx

        self.v1 = v1
        self.prefix = "/openai/v1" if v1 else "/openai"
        params = {} if v1 or api_version is None else {"api-version": api_version}
        self.client = httpx.Client(base_url=url, params=params, timeout=20,
                                   headers=headers if headers is not None else {"Authorization": "Bearer fake-entra-token"})

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(self.prefix + path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.client.post(self.prefix + path, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.client.delete(self.prefix + path, **kw)

    def upload(self, content: bytes, filename: str = "train.jsonl", purpose: str = "fine-tune") -> Any:
        return self.post("/files", data={"purpose": purpose}, files={"file": (filename, content, "application/jsonl")})

    def wait(self, path: str, field: str, until: tuple[str, ...], timeout: float = 15.0) -> dict[str, Any]:
        import time

        deadline = time.monotonic() + timeout
        while True:
            body = self.get(path).json()
            if body.get(field) in until:
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"{path}: {field} still {body.get(field)!r} after {timeout}s")
            time.sleep(0.05)

    def close(self) -> None:
        self.client.close()


def created_job(raw: Raw, content: bytes, **body: Any) -> dict[str, Any]:
    """Upload, wait for processing and create a job; returns the job as created."""
    f = raw.upload(content).json()
    raw.wait(f"/files/{f['id']}", "status", ("processed", "error"))
    job: dict[str, Any] = raw.post("/fine_tuning/jobs", json={"model": "gpt-4.1-2025-04-14", "training_file": f["id"],
                                                              "suffix": "ft-travel", **body}).json()
    assert "id" in job, job
    return job


def trained_job(raw: Raw, content: bytes, **body: Any) -> dict[str, Any]:
    """Upload, wait for processing, create a job and wait until it ends; returns the final job."""
    job = created_job(raw, content, **body)
    return raw.wait(f"/fine_tuning/jobs/{job['id']}", "status", ("succeeded", "failed", "cancelled"))
