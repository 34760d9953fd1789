"""Build the whole estate from a validated :class:`~infra.config.InfraConfig`.

:func:`build_estate` declares every resource (nothing happens at import time)
and returns the stack outputs the job runner reads with
``pulumi stack output --json``. No keys and no secrets are exported: the AI
Services account has local (key) auth disabled, so there are none to export.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.resources as resources

from infra import regions
from infra.components import (
    AiServices,
    FoundryHub,
    FoundryProject,
    Grant,
    HubStorage,
    ModelDeployments,
    RoleAssignments,
    foundry_grants,
    hub_grants,
)
from infra.config import InfraConfig, check_topology_change, previous_topology
from infra.naming import Names, names_for
from jobs import contract, models


@dataclass
class Estate:
    names: Names
    resource_group: resources.ResourceGroup
    ai: AiServices
    roles: RoleAssignments
    deployments: ModelDeployments
    outputs: dict[str, Any]
    # topology hub
    hub_storage: Optional[HubStorage] = None
    foundry: Optional[FoundryHub] = None
    # topology foundry
    project: Optional[FoundryProject] = None


def warnings_for(cfg: InfraConfig) -> list[str]:
    """What `pulumi preview` should say about cost and unchecked choices."""
    notes: list[str] = []
    if cfg.fine_tuned_model and cfg.fine_tuned_deployment_sku in ("Standard", "GlobalStandard"):
        notes.append(
            f"fine-tuned deployment {cfg.fine_tuned_deployment_name} ({cfg.fine_tuned_deployment_sku}) is billed an "
            "hourly hosting fee for as long as it exists, used or not; remove it with "
            "`pulumi config rm fineTunedModel && pulumi up` or `pulumi destroy`"
        )
    if cfg.fine_tuned_model and cfg.fine_tuned_deployment_sku == "DeveloperTier":
        notes.append(
            f"fine-tuned deployment {cfg.fine_tuned_deployment_name} (Developer) has no hosting fee and Azure deletes "
            "it after 24 hours; `pulumi refresh && pulumi up` deploys it again"
        )
    if cfg.allow_unlisted_region:
        known = regions.training_regions(models.resolve(cfg.fine_tune_model), cfg.training_type)
        if known is not None and cfg.location not in known:
            notes.append(
                f"location {cfg.location} is not in the region table for {cfg.fine_tune_model} {cfg.training_type} "
                f"training ({', '.join(known)}); allowUnlistedRegion is set, so Azure decides"
            )
    return notes


def topology_guard(cfg: InfraConfig) -> pulumi.Output[str]:
    """The configured topology, once the stack's last deployment is known not to have another one.

    Reads the outputs of the stack's own last deployment (a StackReference to
    itself: no outputs on a first ``up``) and fails with a ConfigError naming
    ``allowTopologyChange`` when the topology would switch. The resource group's
    name waits for it, and every other resource for the resource group, so a
    refused switch changes nothing, even with ``pulumi up --skip-preview``.
    """
    previous = pulumi.StackReference(
        "previous-deployment", f"{cfg.organization}/{cfg.project}/{cfg.stack}"
    )

    def check(outputs: dict[str, Any]) -> str:
        note = check_topology_change(cfg, previous_topology(outputs))
        if note:
            pulumi.log.warn(note)
        return cfg.topology

    return previous.outputs.apply(check)


def build_estate(cfg: InfraConfig, opts: Optional[pulumi.ResourceOptions] = None) -> Estate:
    for note in warnings_for(cfg):
        pulumi.log.warn(note)
    names = names_for(cfg)
    # load() already asked the provider (one getClientConfig invoke) and keeps
    # the ids in cfg; only a config built by parse() alone needs to ask here.
    if cfg.subscription_id and cfg.tenant_id:
        subscription_id: pulumi.Input[str] = cfg.subscription_id
        tenant_id: pulumi.Input[str] = cfg.tenant_id
    else:
        client = authorization.get_client_config_output()
        subscription_id, tenant_id = client.subscription_id, client.tenant_id
    rg = resources.ResourceGroup(
        "resource-group",
        resources.ResourceGroupArgs(
            resource_group_name=topology_guard(cfg).apply(lambda _: names.resource_group),
            location=cfg.location,
            tags=cfg.tags,
        ),
        opts,
    )
    ai = AiServices("ai-services", cfg, names, rg.name, opts)
    hub_storage: Optional[HubStorage] = None
    foundry: Optional[FoundryHub] = None
    project: Optional[FoundryProject] = None
    grants: list[Grant]
    if cfg.topology == contract.TOPOLOGY_FOUNDRY:
        project = FoundryProject("foundry-project", cfg, names, rg.name, ai, opts)
        grants = foundry_grants(cfg, ai.account.id, project.principal_id)
        project_name: pulumi.Input[str] = project.project.name
    else:
        hub_storage = HubStorage("hub-storage", cfg, names, rg.name, tenant_id, opts)
        foundry = FoundryHub("foundry", cfg, names, rg.name, hub_storage, ai, opts)
        grants = hub_grants(cfg, hub_storage.storage_account.id, ai.principal_id, ai.account.id, foundry.project.id)
        project_name = foundry.project.name
    roles = RoleAssignments("roles", subscription_id, grants, opts)
    deployments = ModelDeployments("models", cfg, rg.name, ai.account.name, opts)
    # Exactly the stack contract's outputs (jobs/contract.py), which the job runner reads.
    outputs: dict[str, Any] = contract.output_values(
        resource_group=rg.name,
        location=cfg.location,
        ai_services_name=ai.account.name,
        ai_services_endpoint=ai.openai_endpoint,
        hub_name=foundry.hub.name if foundry else None,
        project_name=project_name,
        base_deployment=deployments.base.name,
        base_model=f"{cfg.base_model}-{cfg.base_model_version}",
        fine_tune_model=cfg.fine_tune_model,
        fine_tuned_deployment=deployments.fine_tuned.name if deployments.fine_tuned else None,
        fine_tuned_deployment_sku=cfg.fine_tuned_deployment_sku,
        ai_services_principal_id=ai.principal_id,
        topology=cfg.topology,
        project_endpoint=project.endpoint if project else None,
        key_vault_name=hub_storage.key_vault.name if hub_storage else None,
    )
    return Estate(names, rg, ai, roles, deployments, outputs, hub_storage=hub_storage, foundry=foundry, project=project)


def export_outputs(estate: Estate) -> None:
    for key, value in estate.outputs.items():
        pulumi.export(key, value)
