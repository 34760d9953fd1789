"""Fixtures for the Pulumi program's tests (see tests/conftest.py).

``run_estate(config)`` runs ``infra`` (or the real ``__main__.py``) under
Pulumi's own mocks (``pulumi.runtime.set_mocks`` + ``@pulumi.runtime.test``)
and returns every registered resource (type, logical name, inputs, parent,
dependencies) plus the resolved stack outputs. No Azure, no Pulumi CLI.

Pulumi's mocks are process-global; every run installs a fresh monitor, config
and root stack, so tests do not see each other's resources.
"""

from __future__ import annotations

import asyncio

import runpy
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import pulumi
import pytest
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings

PROJECT = "foundry-finetune"
SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
TENANT = "99999999-8888-7777-6666-555555555555"
REPO = Path(__file__).resolve().parent.parent

# type token -> (ARM provider path, input that holds the Azure name)
_ARM = {
    "azure-native:storage:StorageAccount": ("Microsoft.Storage/storageAccounts", "accountName"),
    "azure-native:keyvault:Vault": ("Microsoft.KeyVault/vaults", "vaultName"),
    "azure-native:cognitiveservices:Account": ("Microsoft.CognitiveServices/accounts", "accountName"),
    "azure-native:machinelearningservices:Workspace": ("Microsoft.MachineLearningServices/workspaces", "workspaceName"),
}


def principal_of(account_name: str) -> str:
    """The mock system-assigned identity of an AI Services account."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"principal.{account_name}"))


def project_principal_of(project_name: str) -> str:
    """The mock system-assigned identity of a Foundry project (accounts/projects)."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"principal.project.{project_name}"))


@dataclass
class Recorded:
    type: str
    name: str
    urn: str
    custom: bool
    parent: str
    dependencies: list[str]
    inputs: dict[str, Any] = field(default_factory=dict)
    id: str = ""
    # Resource options as registered (what `pulumi up` acts on).
    replace_on_changes: list[str] = field(default_factory=list)
    delete_before_replace: bool = False


class EstateMocks(pulumi.runtime.Mocks):
    """ARM-shaped ids and the computed outputs the program reads.

    ``subscription`` / ``tenant`` are what ``getClientConfig`` answers (the
    signed-in Azure account); ``invokes`` records every invoke token.
    ``previous_outputs`` are the outputs of the stack's last deployment, as the
    program's StackReference to itself reads them (``None``: never deployed);
    ``stack_references`` records the stack names it asked for.
    """

    def __init__(
        self, subscription: str = SUBSCRIPTION, tenant: str = TENANT, previous_outputs: Optional[dict[str, Any]] = None
    ) -> None:
        self.subscription = subscription
        self.tenant = tenant
        self.previous_outputs = previous_outputs
        self.invokes: list[str] = []
        self.stack_references: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[Optional[str], dict[str, Any]]:
        inputs = dict(args.inputs)
        state = dict(inputs)
        rg = inputs.get("resourceGroupName", "")
        rg_id = f"/subscriptions/{self.subscription}/resourceGroups/{rg}"
        if args.typ == "pulumi:pulumi:StackReference":  # a read (ReadResource), so not "custom" here
            self.stack_references.append(inputs["name"])
            return inputs["name"], {"name": inputs["name"], "outputs": dict(self.previous_outputs or {}), "secretOutputNames": []}
        if not args.custom:
            return "", state
        if args.typ == "azure-native:resources:ResourceGroup":
            state["name"] = rg
            return rg_id, state
        if args.typ in _ARM:
            path, key = _ARM[args.typ]
            state["name"] = inputs[key]
            rid = f"{rg_id}/providers/{path}/{inputs[key]}"
            if args.typ == "azure-native:cognitiveservices:Account":
                state["identity"] = {**inputs.get("identity", {}), "principalId": principal_of(inputs[key]), "tenantId": self.tenant}
                sub = inputs.get("properties", {}).get("customSubDomainName", "")
                state["properties"] = {**inputs.get("properties", {}), "endpoint": f"https://{sub}.cognitiveservices.azure.com/"}
            return rid, state
        if args.typ == "azure-native:cognitiveservices:Project":
            state["name"] = inputs["projectName"]
            state["identity"] = {**inputs.get("identity", {}), "principalId": project_principal_of(inputs["projectName"]), "tenantId": self.tenant}
            acct = f"{rg_id}/providers/Microsoft.CognitiveServices/accounts/{inputs['accountName']}"
            return f"{acct}/projects/{inputs['projectName']}", state
        if args.typ == "azure-native:cognitiveservices:Deployment":
            state["name"] = inputs["deploymentName"]
            acct = f"{rg_id}/providers/Microsoft.CognitiveServices/accounts/{inputs['accountName']}"
            return f"{acct}/deployments/{inputs['deploymentName']}", state
        if args.typ == "azure-native:machinelearningservices:WorkspaceConnection":
            state["name"] = inputs["connectionName"]
            ws = f"{rg_id}/providers/Microsoft.MachineLearningServices/workspaces/{inputs['workspaceName']}"
            return f"{ws}/connections/{inputs['connectionName']}", state
        if args.typ == "azure-native:authorization:RoleAssignment":
            state["name"] = inputs["roleAssignmentName"]
            return f"{inputs['scope']}/providers/Microsoft.Authorization/roleAssignments/{inputs['roleAssignmentName']}", state
        raise AssertionError(f"unexpected resource type in the estate: {args.typ}")

    def call(self, args: pulumi.runtime.MockCallArgs) -> Any:
        self.invokes.append(args.token)
        if args.token == "azure-native:authorization:getClientConfig":
            return {"subscriptionId": self.subscription, "tenantId": self.tenant, "clientId": "client", "objectId": "object"}
        raise AssertionError(f"unexpected invoke: {args.token}")


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, plus a record of each registration's parent and dependencies."""

    def __init__(self, mocks: pulumi.runtime.Mocks):
        super().__init__(mocks)
        self.recorded: list[Recorded] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            reg = self.resources[response.urn]
            self.recorded.append(
                Recorded(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    custom=bool(request.custom),
                    parent=request.parent,
                    dependencies=list(request.dependencies),
                    inputs=dict(pulumi.runtime.rpc.deserialize_properties(request.object)),
                    id=reg.id or "",
                    replace_on_changes=list(request.replaceOnChanges),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                )
            )
        return response


@dataclass
class EstateRun:
    resources: list[Recorded]
    outputs: dict[str, Any]
    invokes: list[str] = field(default_factory=list)
    stack_references: list[str] = field(default_factory=list)

    def of_type(self, token: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == token]

    def one(self, token: str) -> Recorded:
        found = self.of_type(token)
        assert len(found) == 1, f"expected one {token}, found {[r.name for r in found]}"
        return found[0]

    def named(self, name: str) -> Recorded:
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"expected one resource named {name}, found {len(found)}"
        return found[0]

    def by_urn(self, urn: str) -> Recorded:
        return next(r for r in self.resources if r.urn == urn)


def _run(
    config: dict[str, Any],
    program: Callable[[], dict[str, Any]],
    *,
    stack: str,
    preview: bool,
    secret_keys: tuple[str, ...] = (),
    subscription: str = SUBSCRIPTION,
    tenant: str = TENANT,
    previous_outputs: Optional[dict[str, Any]] = None,
) -> EstateRun:
    # Pulumi's test mode runs on the thread's current event loop; another test's
    # asyncio.run() leaves none behind, so give each run a fresh one.
    asyncio.set_event_loop(asyncio.new_event_loop())
    mocks = EstateMocks(subscription, tenant, previous_outputs)
    monitor = RecordingMonitor(mocks)
    pulumi_settings.set_root_resource(None)  # type: ignore[arg-type]  # a fresh Stack per run
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor, organization="organization")
    pulumi.runtime.set_all_config(
        {f"{PROJECT}:{k}": v if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v) for k, v in config.items()},
        [f"{PROJECT}:{k}" for k in secret_keys],
    )
    resolved: dict[str, Any] = {}

    @pulumi.runtime.test
    def go() -> Any:
        outputs = program()
        return pulumi.Output.all(**outputs).apply(resolved.update) if outputs else None

    go()
    return EstateRun(monitor.recorded, resolved, mocks.invokes, mocks.stack_references)


@pytest.fixture
def run_estate() -> Callable[..., EstateRun]:
    """``run_estate(config_dict, stack="dev", secret_keys=(), subscription=..., tenant=..., previous_outputs=...)``:
    build the estate via infra under mocks (``previous_outputs``: the last deployment's, default none)."""

    def run(
        config: dict[str, Any] | None = None,
        *,
        stack: str = "dev",
        preview: bool = False,
        secret_keys: tuple[str, ...] = (),
        subscription: str = SUBSCRIPTION,
        tenant: str = TENANT,
        previous_outputs: Optional[dict[str, Any]] = None,
    ) -> EstateRun:
        from infra.config import load
        from infra.estate import build_estate

        return _run(
            config or {},
            lambda: build_estate(load()).outputs,
            stack=stack,
            preview=preview,
            secret_keys=secret_keys,
            subscription=subscription,
            tenant=tenant,
            previous_outputs=previous_outputs,
        )

    return run


@pytest.fixture
def run_main() -> Callable[..., EstateRun]:
    """``run_main(config_dict)``: run the real ``__main__.py`` (via runpy) under mocks."""

    def run(config: dict[str, Any] | None = None, *, stack: str = "dev") -> EstateRun:
        def program() -> dict[str, Any]:
            runpy.run_path(str(REPO / "__main__.py"), run_name="__main__")
            root = pulumi_settings.get_root_resource()
            assert root is not None
            return dict(root.outputs)  # type: ignore[attr-defined]

        return _run(config or {}, program, stack=stack, preview=False)

    return run
