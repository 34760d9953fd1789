"""jobs/softdelete.py: what stays soft-deleted after `pulumi destroy`, and the exact purge commands."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, Callable

import pytest

from jobs import contract
from jobs.softdelete import AFTER_DESTROY, BEFORE_DESTROY, SoftDeleted, purge_commands, purge_text
from infra.plan import EstateRun

HUB = contract.StackOutputs(
    resource_group="rg-ftlab-dev",
    location="swedencentral",
    ai_services_name="ais-ftlab-ab12",
    hub_name="hub-ftlab-ab12",
    project_name="proj-ftlab-ab12",
    topology="hub",
    key_vault_name="kv-ftlab-ab12",
)
FOUNDRY = contract.StackOutputs(
    resource_group="rg-ftlab-dev",
    location="swedencentral",
    ai_services_name="ais-ftlab-ab12",
    project_name="proj-ftlab-ab12",
    topology="foundry",
    project_endpoint="https://ais-ftlab-ab12.services.ai.azure.com/api/projects/proj-ftlab-ab12",
)


def test_hub_purge_commands_exactly() -> None:
    assert [(i.kind, i.name, i.retention, i.when, i.command) for i in purge_commands(HUB)] == [
        ("Azure ML workspace (hub project)", "proj-ftlab-ab12", "14 days", BEFORE_DESTROY,
         "az ml workspace delete --name proj-ftlab-ab12 --resource-group rg-ftlab-dev --permanently-delete --yes"),
        ("Azure ML workspace (hub)", "hub-ftlab-ab12", "14 days", BEFORE_DESTROY,
         "az ml workspace delete --name hub-ftlab-ab12 --resource-group rg-ftlab-dev --permanently-delete --yes"),
        ("Key Vault", "kv-ftlab-ab12", "7 days", AFTER_DESTROY,
         "az keyvault purge --name kv-ftlab-ab12 --location swedencentral"),
        ("AI Services account", "ais-ftlab-ab12", "48 hours", AFTER_DESTROY,
         "az cognitiveservices account purge --name ais-ftlab-ab12 --resource-group rg-ftlab-dev --location swedencentral"),
    ]


def test_foundry_has_only_the_account_to_purge() -> None:
    items = purge_commands(FOUNDRY)
    assert [(i.kind, i.when, i.command) for i in items] == [
        ("AI Services account", AFTER_DESTROY,
         "az cognitiveservices account purge --name ais-ftlab-ab12 --resource-group rg-ftlab-dev --location swedencentral"),
    ]
    assert "Foundry project" in items[0].note  # the project goes with its account


def test_topology_comes_from_the_outputs_or_the_caller() -> None:
    # A hub stack deployed before the topology output existed: hub_name says hub.
    legacy = contract.StackOutputs(resource_group="rg", location="eastus2", ai_services_name="ais", hub_name="hub", project_name="proj")
    assert [i.kind for i in purge_commands(legacy)] == [
        "Azure ML workspace (hub project)", "Azure ML workspace (hub)", "AI Services account"
    ]
    # The caller's topology wins: a foundry project is no ML workspace.
    assert [i.kind for i in purge_commands(HUB, topology="foundry")] == ["AI Services account"]


def test_nothing_to_purge_for_a_stack_without_outputs() -> None:
    assert purge_commands(contract.StackOutputs()) == []
    assert purge_commands(contract.StackOutputs(resource_group="rg")) == []  # no location: no command can be built


def test_workspace_notes_say_why_before_destroy() -> None:
    workspace = purge_commands(HUB)[0]
    assert "before `pulumi destroy`" in workspace.note and "Recently deleted" in workspace.note
    assert "keyVaultPurgeProtection" in purge_commands(HUB)[2].note


def test_purge_text_groups_before_and_after_destroy() -> None:
    lines = purge_text(purge_commands(HUB))
    assert lines[0] == "before `pulumi destroy`, to free the names at once (otherwise Azure keeps them reserved):"
    assert lines[1] == "  az ml workspace delete --name proj-ftlab-ab12 --resource-group rg-ftlab-dev --permanently-delete --yes"
    assert lines[2].startswith("    # Azure ML workspace (hub project) proj-ftlab-ab12: soft-deleted for 14 days; run it before")
    after = lines.index("after `pulumi destroy`, to free the names at once (otherwise Azure keeps them reserved):")
    assert after == 5
    assert lines[after + 1] == "  az keyvault purge --name kv-ftlab-ab12 --location swedencentral"
    assert len(lines) == 10
    foundry = purge_text(purge_commands(FOUNDRY))
    assert foundry[0].startswith("after `pulumi destroy`") and len(foundry) == 3
    assert purge_text([]) == []


def test_soft_deleted_is_a_frozen_record() -> None:
    item = SoftDeleted("Key Vault", "kv", "7 days", AFTER_DESTROY, "az keyvault purge --name kv --location x")
    with pytest.raises(AttributeError):
        item.name = "other"  # type: ignore[misc]
    assert item.note == ""


@pytest.mark.parametrize("topology", ["hub", "foundry"])
def test_commands_name_what_the_program_deploys(run_estate: Callable[..., EstateRun], topology: str) -> None:
    """From the real stack outputs (under mocks), every soft-deletable resource of the topology is covered."""
    run = run_estate({"topology": topology})
    outputs = contract.StackOutputs.from_json(run.outputs)
    names = {i.name for i in purge_commands(outputs)}
    soft_deleted_types = {
        "azure-native:keyvault:Vault": "vaultName",
        "azure-native:cognitiveservices:Account": "accountName",
        "azure-native:machinelearningservices:Workspace": "workspaceName",
    }
    deployed = {r.inputs[key] for r in run.resources for t, key in soft_deleted_types.items() if r.type == t}
    assert deployed and names == deployed


def test_softdelete_imports_only_the_standard_library() -> None:
    tree = ast.parse((Path(__file__).resolve().parent.parent / "jobs" / "softdelete.py").read_text())
    imported: set[Any] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= {"__future__", "dataclasses", "jobs"}
