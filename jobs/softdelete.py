"""What Azure keeps soft-deleted after ``pulumi destroy``, and the exact commands that free the names.

The estate's names are deterministic per stack (``infra/naming.py``), so a
``pulumi destroy`` followed by ``pulumi up`` on the same stack meets its own
soft-deleted resources: Azure keeps them, and reserves their names, for a while.
:func:`purge_commands` lists them for a stack's outputs, each with the ``az``
command that removes it for good. Standard library only, for the runner's ``clean``
and ``pipeline --destroy-after`` to print (``python -m jobs --help`` stays fast).

Sources (checked 2026-11):

- Azure ML workspaces (the hub and its project): soft-deleted for 14 days, the
  name reserved until then or until permanently deleted; ``az ml workspace delete
  --permanently-delete`` deletes a workspace that still exists ("Workspace soft
  deletion", MicrosoftDocs/azure-ai-docs articles/machine-learning/concept-soft-delete.md).
  Once soft-deleted, the CLI no longer finds it (Azure/azure-cli#33756, open),
  which leaves the portal's *Azure Machine Learning > Recently deleted* page: so
  these commands run **before** ``pulumi destroy``.
- AI Services (Foundry) accounts: the name is reserved for 48 hours; purge with
  ``az cognitiveservices account purge`` ("Recover or purge deleted Foundry
  resources", articles/ai-services/recover-purge-resources.md). A Foundry
  project goes with its account. Purging needs Contributor on the subscription.
- Key Vault: soft-deleted for ``softDeleteRetentionInDays`` (7 here, set by
  ``infra/components.py``); ``az keyvault purge`` frees it unless purge
  protection is on (then only the retention period does).
- Storage accounts are not soft-deleted by name; nothing to purge.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobs import contract

# The hub's key vault keeps a deleted vault this long (infra sets softDeleteRetentionInDays from it).
KEY_VAULT_RETENTION_DAYS = 7
ACCOUNT_RETENTION = "48 hours"
WORKSPACE_RETENTION = "14 days"

BEFORE_DESTROY = "before"
AFTER_DESTROY = "after"


@dataclass(frozen=True)
class SoftDeleted:
    """One resource that ``pulumi destroy`` leaves soft-deleted, and how to remove it for good."""

    kind: str  # e.g. "Key Vault"
    name: str
    retention: str  # how long Azure keeps it (and its name) soft-deleted
    when: str  # BEFORE_DESTROY or AFTER_DESTROY: when the command can run
    command: str  # the exact az command
    note: str = ""


def _topology(outputs: contract.StackOutputs, topology: str | None) -> str:
    if topology:
        return topology
    if outputs.topology:
        return outputs.topology
    # A stack deployed before the topology output existed was a hub.
    return contract.TOPOLOGY_HUB if outputs.hub_name else contract.TOPOLOGY_FOUNDRY


def _workspace(kind: str, name: str, rg: str) -> SoftDeleted:
    return SoftDeleted(
        kind=kind,
        name=name,
        retention=WORKSPACE_RETENTION,
        when=BEFORE_DESTROY,
        command=f"az ml workspace delete --name {name} --resource-group {rg} --permanently-delete --yes",
        note="run it before `pulumi destroy` (destroy then finds it gone); once soft-deleted, only the Azure "
        "portal's Azure Machine Learning > Recently deleted page can delete it permanently",
    )


def purge_commands(outputs: contract.StackOutputs, topology: str | None = None) -> list[SoftDeleted]:
    """Everything of this stack that stays soft-deleted, in the order to run the commands.

    ``topology`` overrides the one the outputs name. Resources whose names the
    outputs do not give (a stack never deployed) are left out.
    """
    rg, location = outputs.resource_group, outputs.location
    if not rg or not location:
        return []
    found: list[SoftDeleted] = []
    if _topology(outputs, topology) == contract.TOPOLOGY_HUB:
        # The project before its hub: a hub cannot go while it has projects.
        if outputs.project_name:
            found.append(_workspace("Azure ML workspace (hub project)", outputs.project_name, rg))
        if outputs.hub_name:
            found.append(_workspace("Azure ML workspace (hub)", outputs.hub_name, rg))
        if outputs.key_vault_name:
            found.append(SoftDeleted(
                kind="Key Vault",
                name=outputs.key_vault_name,
                retention=f"{KEY_VAULT_RETENTION_DAYS} days",
                when=AFTER_DESTROY,
                command=f"az keyvault purge --name {outputs.key_vault_name} --location {location}",
                note="refused while keyVaultPurgeProtection is on: then the name is free after the retention period",
            ))
    if outputs.ai_services_name:
        found.append(SoftDeleted(
            kind="AI Services account",
            name=outputs.ai_services_name,
            retention=ACCOUNT_RETENTION,
            when=AFTER_DESTROY,
            command=(f"az cognitiveservices account purge --name {outputs.ai_services_name} "
                     f"--resource-group {rg} --location {location}"),
            note="its model deployments (and a Foundry project) go with it; needs Contributor on the subscription",
        ))
    return found


def purge_text(items: list[SoftDeleted]) -> list[str]:
    """The lines to print: what stays soft-deleted, then the commands, before and after ``pulumi destroy``."""
    lines: list[str] = []
    for when, title in ((BEFORE_DESTROY, "before `pulumi destroy`"), (AFTER_DESTROY, "after `pulumi destroy`")):
        group = [i for i in items if i.when == when]
        if not group:
            continue
        lines.append(f"{title}, to free the names at once (otherwise Azure keeps them reserved):")
        for item in group:
            lines.append(f"  {item.command}")
            lines.append(f"    # {item.kind} {item.name}: soft-deleted for {item.retention}"
                         + (f"; {item.note}" if item.note else ""))
    return lines
