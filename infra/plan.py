"""The Pulumi program under Pulumi's own mocks: what ``pulumi up`` would declare, without Azure or the CLI.

:func:`run_program` runs a program (``infra``'s ``build_estate``, or the real ``__main__.py``) with
``pulumi.runtime.set_mocks`` and a monitor that records every registration: type, logical name, inputs,
parent, dependencies and resource options, plus the resolved stack outputs. The tests use it to check the
estate; the offline rehearsal uses :func:`plan_estate` to print the plan for its throwaway stack, labelled as
a plan, never a deployment.

Pulumi's mocks are process-global; every run installs a fresh monitor, config and root stack.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings

PROJECT = "foundry-finetune"
# The mocks' Azure account (what `getClientConfig` answers): placeholders, never a real subscription.
SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
TENANT = "99999999-8888-7777-6666-555555555555"

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
        return f"{rg_id}/providers/{args.typ}/{args.name}", state  # a type this table does not know yet

    def call(self, args: pulumi.runtime.MockCallArgs) -> Any:
        self.invokes.append(args.token)
        if args.token == "azure-native:authorization:getClientConfig":
            return {"subscriptionId": self.subscription, "tenantId": self.tenant, "clientId": "client", "objectId": "object"}
        raise ValueError(f"the plan's mocks do not answer the invoke {args.token}")


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, plus a record of each registration's parent and dependencies."""

    def __init__(self, mocks: pulumi.runtime.Mocks):
        super().__init__(mocks)
        self.recorded: list[Recorded] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
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


def run_program(
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

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def go() -> Any:
        outputs = program()
        return pulumi.Output.all(**outputs).apply(resolved.update) if outputs else None

    go()
    return EstateRun(monitor.recorded, resolved, mocks.invokes, mocks.stack_references)


def plan_estate(config: dict[str, Any] | None = None, *, stack: str = "rehearsal") -> EstateRun:
    """What the program declares for ``stack`` with ``config`` (a preview under mocks)."""
    from infra.config import load
    from infra.estate import build_estate

    return run_program(config or {}, lambda: build_estate(load()).outputs, stack=stack, preview=True)


# The settings worth showing per resource type: (label, path into the inputs).
_KEY_SETTINGS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "azure-native:resources:ResourceGroup": (("location", ("location",)),),
    "azure-native:storage:StorageAccount": (("sku", ("sku", "name")), ("public blob", ("allowBlobPublicAccess",)),
                                            ("TLS", ("minimumTlsVersion",))),
    "azure-native:keyvault:Vault": (("RBAC", ("properties", "enableRbacAuthorization")),
                                    ("soft-delete days", ("properties", "softDeleteRetentionInDays"))),
    "azure-native:cognitiveservices:Account": (("kind", ("kind",)), ("sku", ("sku", "name")),
                                               ("local auth disabled", ("properties", "disableLocalAuth")),
                                               ("project management", ("properties", "allowProjectManagement"))),
    "azure-native:cognitiveservices:Project": (("display name", ("properties", "displayName")),),
    "azure-native:machinelearningservices:Workspace": (("kind", ("kind",)),),
    "azure-native:cognitiveservices:Deployment": (("model", ("properties", "model", "name")),
                                                  ("version", ("properties", "model", "version")),
                                                  ("sku", ("sku", "name")), ("capacity", ("sku", "capacity"))),
    "azure-native:authorization:RoleAssignment": (("principal type", ("principalType",)),),
}
# The input that holds a resource's Azure name, most specific first (a deployment also names its account).
_NAME_KEYS = ("connectionName", "deploymentName", "projectName", "workspaceName", "vaultName", "accountName",
              "resourceGroupName")


def _shown(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _dig(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


# The plan's order: containers before what they hold, then by name. Pulumi's mocks register resources in the
# order their inputs resolve, which varies from run to run; a plan a person compares must not.
_PLAN_ORDER = ("resources:ResourceGroup", "cognitiveservices:Account", "cognitiveservices:Project",
               "cognitiveservices:Deployment", "storage:StorageAccount", "keyvault:Vault",
               "machinelearningservices:Workspace", "machinelearningservices:WorkspaceConnection",
               "authorization:RoleAssignment")
_WORKSPACE_ORDER = ("Hub", "Project")


def _plan_rank(r: Recorded) -> tuple[int, int, str]:
    kind = r.type.split(":", 1)[1] if ":" in r.type else r.type
    rank = _PLAN_ORDER.index(kind) if kind in _PLAN_ORDER else len(_PLAN_ORDER)
    ws = str(r.inputs.get("kind", ""))
    return rank, _WORKSPACE_ORDER.index(ws) if ws in _WORKSPACE_ORDER else 0, r.name


def plan_lines(run: EstateRun) -> list[str]:
    """One line per declared resource: its type, Azure name and key settings, in a stable order."""
    lines = []
    for r in sorted(run.resources, key=_plan_rank):
        if not r.custom:
            continue
        name = next((str(r.inputs[k]) for k in _NAME_KEYS if r.inputs.get(k)), r.name)
        if r.type == "azure-native:authorization:RoleAssignment":
            name = r.name
        settings = [f"{label} {_shown(_dig(r.inputs, path))}" for label, path in _KEY_SETTINGS.get(r.type, ())
                    if _dig(r.inputs, path) is not None]
        kind = r.type.split(":", 1)[1] if ":" in r.type else r.type
        lines.append(f"  + {kind:<42} {name}" + (f"  ({', '.join(settings)})" if settings else ""))
    return lines
