"""The temporary deployments of ``compare --checkpoints``: one per checkpoint, created, judged, deleted.

They live outside the Pulumi stack on purpose (docs/runner.md, "Choosing a checkpoint"): they exist for
minutes, a ``pulumi up`` in between must neither delete nor adopt them, and the stack keeps describing only what
stays deployed. Each is written to the run state (``checkpoint_deployments[name]``) *before* it is created, so
a rerun after Ctrl-C, a crash or ``kill -9`` finds it and deletes it (:func:`sweep`).

Names carry the prefix :data:`PREFIX` (``ckpt-eval-<job id tail>-s<step>``), so a person can tell them apart in
the portal. Two ways to create and delete them:

- on Azure, ``az cognitiveservices account deployment create/delete`` through the project's one Azure CLI
  bridge (``jobs/az_cli.py``), on the stack outputs' resource group and account;
- on an endpoint on this machine (the emulator), its admin route ``POST``/``DELETE /++/deployments``.
  An Azure endpoint is never a loopback address, so the host decides.
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol
from urllib.parse import urlparse

import httpx

from jobs.errors import JobsError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from jobs.session import Session

PREFIX = "ckpt-eval-"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def deployment_name(job_id: str, step: int | None) -> str:
    """``ckpt-eval-<last 8 of the job id>-s<step>`` (Azure allows 2-64 letters, digits, ``-``, ``_``, ``.``)."""
    tail = "".join(ch for ch in job_id.lower() if ch.isalnum())[-8:]
    return f"{PREFIX}{tail}-s{step if step is not None else 'final'}"


class Backend(Protocol):
    kind: str

    def create(self, name: str, model: str, sku: str) -> None: ...

    def delete(self, name: str) -> None: ...

    def describe(self) -> dict[str, Any]: ...


@dataclass
class AdminRoute:
    """An endpoint on this machine: the emulator's admin route."""

    url: str
    kind: str = "admin-route"

    def _call(self, method: str, path: str, body: dict[str, Any] | None) -> None:
        last = ""
        for attempt in range(3):
            try:
                resp = httpx.request(method, self.url.rstrip("/") + path, json=body, timeout=10.0)
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            else:
                if resp.status_code < 300 or (method == "DELETE" and resp.status_code == 404):
                    return
                last = f"HTTP {resp.status_code}"
                if resp.status_code < 500:
                    break
            time.sleep(0.2 * (attempt + 1))
        raise JobsError(f"{method} {self.url}{path} failed: {last}",
                        hint="is the endpoint still running? run the same command again (it resumes and cleans up)")

    def create(self, name: str, model: str, sku: str) -> None:
        self._call("POST", "/++/deployments", {"name": name, "model": model})

    def delete(self, name: str) -> None:
        self._call("DELETE", f"/++/deployments/{name}", None)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "url": self.url}


@dataclass
class AzCli:
    """An Azure AI Services account, through ``jobs/az_cli.py``."""

    resource_group: str
    account: str
    kind: str = "az"

    def create(self, name: str, model: str, sku: str) -> None:
        from jobs import az_cli

        argv = az_cli.deployment_create_argv(self.resource_group, self.account, name, model, sku)
        ran = az_cli.run(argv[1:])
        if not ran.ok:
            raise JobsError(f"could not create the temporary deployment {name}: {ran.detail}",
                            hint=f"check `az login` and the quota, then run the same command again; by hand: "
                            f"{shlex.join(argv)}")

    def delete(self, name: str) -> None:
        from jobs import az_cli

        if az_cli.deployment_exists(self.resource_group, self.account, name) is False:
            return
        argv = az_cli.deployment_delete_argv(self.resource_group, self.account, name)
        ran = az_cli.run(argv[1:])
        if not ran.ok:
            raise JobsError(f"could not delete the temporary deployment {name}: {ran.detail}",
                            hint=f"run the same command again, or delete it by hand: {shlex.join(argv)}")

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "resource_group": self.resource_group, "account": self.account}


def backend_for(session: "Session") -> Backend:
    """The emulator's admin route for an endpoint on this machine, else the stack's account through ``az``."""
    endpoint = session.connection.endpoint or ""
    if (urlparse(endpoint).hostname or "") in LOOPBACK:
        return AdminRoute(endpoint)
    try:
        outputs = session.deployer.outputs()
    except JobsError as exc:
        raise UsageError(f"the stack's account is not known, so checkpoints cannot be deployed: "
                         f"{exc.message.splitlines()[0]}", hint="run `pulumi up` for the stack first") from None
    if not outputs.resource_group or not outputs.ai_services_name:
        raise UsageError("the stack's outputs name no resource group or AI Services account",
                         hint="run `pulumi up` for the stack first")
    return AzCli(outputs.resource_group, outputs.ai_services_name)


def _backend_of(entry: dict[str, Any]) -> Backend | None:
    if entry.get("kind") == "admin-route" and entry.get("url"):
        return AdminRoute(str(entry["url"]))
    if entry.get("kind") == "az" and entry.get("resource_group") and entry.get("account"):
        return AzCli(str(entry["resource_group"]), str(entry["account"]))
    return None


def create(session: "Session", backend: Backend, name: str, *, job_id: str, step: int | None, model: str,
           sku: str) -> None:
    """Record, then create (the order matters: a kill between the two leaves a record, never a stray)."""
    entry = {"job_id": job_id, "step": step, "model": model, "sku": sku, "recorded_at": int(time.time()),
             **backend.describe()}
    session.state.update(lambda d: d.setdefault("checkpoint_deployments", {}).__setitem__(name, entry))
    session.checkpoint("ckpt_recorded")
    backend.create(name, model, sku)
    session.checkpoint("ckpt_deployed")


def sweep(session: "Session", *, only: set[str] | None = None) -> list[str]:
    """Delete every recorded temporary deployment (or those in ``only``) and drop its record; the names deleted."""
    recorded = session.state.load().get("checkpoint_deployments") or {}
    gone: list[str] = []
    for name, entry in sorted(recorded.items()):
        if only is not None and name not in only:
            continue
        backend = _backend_of(entry) if isinstance(entry, dict) else None
        if backend is not None:
            backend.delete(name)
        session.state.update(_forget(name))
        gone.append(name)
    return gone


def _forget(name: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        (data.get("checkpoint_deployments") or {}).pop(name, None)

    return change
