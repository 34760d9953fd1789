"""The rehearsal's deployer: a throwaway stack whose "pulumi up" is the local emulator registering deployments.

The second implementation of the deployer seam (``jobs/deploy.py``). Its stack config is a small JSON file in
the rehearsal's folder, never a ``Pulumi.<stack>.yaml``: a rehearsal cannot touch a real stack. Setting the
model writes that file; applying registers (or removes) the fine-tuned deployment through the emulator's admin
route ``/++/deployments``, standing in for the second ``pulumi up``. Every change reports the pulumi command it
stands in for. The account's deployments (:meth:`EmulatorDeployer.deployments`) are the emulator's, read from
``GET /++/deployments``. Deployments outside the stack (``compare --checkpoints``,
:meth:`EmulatorDeployer.temporary_deployments`) are registered and removed with the same admin route
(:class:`EmulatorTemporaryDeployments`).
"""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path
from typing import Any, Mapping

import httpx

from jobs import contract
from jobs.contract import StackOutputs
from jobs.deploy import Change, TemporaryDeployments
from jobs.errors import JobsError
from jobs.models import DEFAULT_MODEL


class EmulatorDeployer:
    def __init__(self, url: str, stack: str, config_path: Path, *,
                 base_deployment: str = contract.DEFAULT_BASE_DEPLOYMENT,
                 sku: str = contract.DEFAULT_FINE_TUNED_SKU, capacity: float | None = None):
        self.url = url.rstrip("/")
        self.capacity = capacity  # the registered deployment's capacity (None: the emulator's default)
        self.stack = stack
        self.config_path = Path(config_path)
        self.base_deployment = base_deployment
        self.sku = sku
        self.stand_in: str | None = f"rehearsal stack (a stand-in file, {self.config_path.name}, not Pulumi)"

    # ------------------------------------------------------------------ the throwaway stack config
    def _config(self) -> dict[str, str]:
        try:
            data = json.loads(self.config_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _save(self, config: dict[str, str]) -> None:
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    def _pulumi(self, *args: str) -> str:
        """The ``pulumi config`` command a change stands in for (shown, never run), as jobs/pulumi_cli.py spells
        it: ``pulumi config set --stack S KEY VALUE``."""
        return shlex.join(["pulumi", *args[:2], "--stack", self.stack, *args[2:]])

    def _tuned_name(self, config: dict[str, str]) -> str:
        return (config.get(contract.FINE_TUNED_DEPLOYMENT_NAME)
                or contract.fine_tuned_deployment_name(self.base_deployment))

    # ------------------------------------------------------------------ the seam
    @property
    def available(self) -> bool:
        return True

    def outputs(self) -> StackOutputs:
        config = self._config()
        model = config.get(contract.FINE_TUNED_MODEL)
        return StackOutputs(ai_services_endpoint=self.url, location="local emulator",
                            base_deployment=self.base_deployment, fine_tune_model=DEFAULT_MODEL,
                            fine_tuned_deployment=self._tuned_name(config) if model else None,
                            fine_tuned_deployment_sku=self.sku)

    def loaded_outputs(self) -> StackOutputs | None:
        return self.outputs()

    def fine_tuned_sku(self) -> tuple[str | None, str]:
        return self.sku, "the rehearsal stack"

    def set_model(self, model: str, deployment_name: str | None) -> list[Change]:
        config = self._config()
        config[contract.FINE_TUNED_MODEL] = model
        changes = [Change(self._pulumi("config", "set", contract.FINE_TUNED_MODEL, model), done=True,
                          stand_in=self.stand_in)]
        if deployment_name:
            config[contract.FINE_TUNED_DEPLOYMENT_NAME] = deployment_name
            changes.append(Change(self._pulumi("config", "set", contract.FINE_TUNED_DEPLOYMENT_NAME, deployment_name),
                                  done=True, stand_in=self.stand_in))
        self._save(config)
        return changes

    def apply(self) -> Change:
        config = self._config()
        model = config.get(contract.FINE_TUNED_MODEL)
        name = self._tuned_name(config)
        if model:
            body: dict[str, Any] = {"name": name, "model": model}
            if self.capacity is not None:
                body["capacity"] = self.capacity
            self._admin("POST", "/++/deployments", body)
            what = f"the emulator registered deployment {name!r} -> {model}"
        else:
            self._admin("DELETE", f"/++/deployments/{name}", None)
            what = (f"the emulator serves the base deployment {self.base_deployment!r} (no fine-tuned model in the "
                    "stack)")
        return Change(self.apply_command(yes=True), done=True, stand_in=what)

    def apply_command(self, *, yes: bool = False) -> str:
        return shlex.join(["pulumi", "up", *(["--yes"] if yes else []), "--stack", self.stack])

    def destroy(self) -> Change:
        config = self._config()
        self._admin("DELETE", f"/++/deployments/{self._tuned_name(config)}", None)
        self._save({})
        return Change(shlex.join(["pulumi", "destroy", "--yes", "--stack", self.stack]), done=True,
                      stand_in="the rehearsal stack is emptied (the emulator itself stops with the rehearsal)")

    def remove(self) -> list[Change]:
        config = self._config()
        name = self._tuned_name(config)
        config.pop(contract.FINE_TUNED_MODEL, None)
        self._save(config)
        self._admin("DELETE", f"/++/deployments/{name}", None)  # the `pulumi up` that removes it, at once
        return [Change(self.remove_command(), done=True, stand_in=f"the emulator removed deployment {name!r}")]

    def remove_command(self) -> str:
        return self._pulumi("config", "rm", contract.FINE_TUNED_MODEL)

    def destroy_command(self) -> str:
        return shlex.join(["pulumi", "destroy", "--stack", self.stack])

    def fine_tuned_model(self) -> str | None:
        return self._config().get(contract.FINE_TUNED_MODEL)

    def model_in_stack_file(self) -> tuple[str, str | None]:
        return self.config_path.name, self._config().get(contract.FINE_TUNED_MODEL)

    def deployments(self) -> list[str] | None:
        """Every deployment the emulator serves (``GET /++/deployments``: ``{"data": [{"name", "model", ...}]}``);
        ``None`` when the emulator does not answer that within a few seconds."""
        try:
            resp = httpx.get(self.url + "/++/deployments", timeout=5.0)
            data = resp.json() if resp.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            return None
        names = [item.get("name") for item in items if isinstance(item, dict)]
        return [n for n in names if isinstance(n, str) and n]

    def temporary_deployments(self) -> TemporaryDeployments:
        return EmulatorTemporaryDeployments(self.url, self.capacity)

    def temporary_deployments_from(self, recorded: Mapping[str, Any]) -> TemporaryDeployments | None:
        """A record of kind ``emulator`` (``admin-route`` in run states written before the deployer made them),
        on the emulator it names."""
        url = recorded.get("url")
        if recorded.get("kind") not in (EmulatorTemporaryDeployments.kind, "admin-route") or not url:
            return None
        return EmulatorTemporaryDeployments(str(url), self.capacity)

    # ------------------------------------------------------------------ the admin route
    def _admin(self, method: str, path: str, body: dict[str, Any] | None) -> None:
        admin(self.url, method, path, body)


class EmulatorTemporaryDeployments:
    """Deployments outside the rehearsal stack: the emulator registers and removes them (no fee: ``billed``
    False), at the rehearsal's ``capacity`` (None: the emulator's default). The SKU is not the emulator's concern."""

    kind = "emulator"
    billed = False

    def __init__(self, url: str, capacity: float | None = None):
        self.url = url.rstrip("/")
        self.capacity = capacity

    def create(self, name: str, model: str, sku: str) -> None:
        body: dict[str, Any] = {"name": name, "model": model}
        if self.capacity is not None:
            body["capacity"] = self.capacity
        admin(self.url, "POST", "/++/deployments", body)

    def delete(self, name: str) -> None:
        admin(self.url, "DELETE", f"/++/deployments/{name}", None)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "url": self.url}


def admin(url: str, method: str, path: str, body: dict[str, Any] | None) -> None:
    """One call of the emulator's admin route, retried on a refused connection or a 5xx; a DELETE of something
    already gone (404) is done."""
    last: str = ""
    for attempt in range(4):
        try:
            resp = httpx.request(method, url + path, json=body, timeout=10.0)
        except httpx.HTTPError as exc:
            last = str(exc) or type(exc).__name__
        else:
            if resp.status_code < 300 or (method == "DELETE" and resp.status_code == 404):
                return
            if resp.status_code < 500:
                raise JobsError(f"the emulator refused {method} {path}: HTTP {resp.status_code} "
                                f"{resp.text[:200]}", hint="check the emulator's log; is the model id right?")
            last = f"HTTP {resp.status_code}"
        time.sleep(0.2 * (attempt + 1))
    raise JobsError(f"the emulator at {url} did not take {method} {path}: {last}",
                    hint="is the emulator still running? start the rehearsal again")
