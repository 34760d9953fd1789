"""One ``ComponentResource`` per concern of the lab's estate.

Every Azure resource is a child (``parent=self``) of its component, and every
component registers the outputs the next one needs. Nothing here runs at
import time: :func:`infra.estate.build_estate` creates the components.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.cognitiveservices as cognitiveservices
import pulumi_azure_native.keyvault as keyvault
import pulumi_azure_native.machinelearningservices as ml
import pulumi_azure_native.storage as storage

from infra.config import InfraConfig
from infra.naming import Names, foundry_project_endpoint, openai_endpoint
from jobs import contract, softdelete

# Built-in role definition ids (Azure RBAC built-in roles reference, AI + machine learning).
STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
COGNITIVE_SERVICES_OPENAI_CONTRIBUTOR = "a001fd3d-188f-4b5d-821b-7da978bf7442"
AZURE_AI_DEVELOPER = "64702f94-c441-49e6-a78b-ef80e0188fee"
# "Azure AI User" (renamed "Foundry User"; the id is stable): the least-privilege
# role for building in a Foundry project. Microsoft's getting-started checklist
# assigns it on the Foundry resource to the user and to the project's managed
# identity (MicrosoftDocs/azure-ai-docs articles/ai-foundry/concepts/rbac-foundry.md).
AZURE_AI_USER = "53ca6127-db72-4b80-b1b0-d745d6d5456d"

# Azure refuses to change the model of an existing deployment
# (CannotChangeDeploymentModel: "The model of deployment cannot be changed.", also
# with a capacity change: Azure-Samples/azure-search-openai-demo#1429 and #1154),
# while a new version of the same model is an in-place update ("Working with Azure
# OpenAI models": update a deployment's model version). So a change of the model's
# name or format replaces the deployment, and deletes it first, since the new one
# reuses its name (delete_before_replace).
MODEL_REPLACING_PROPERTIES: tuple[str, ...] = ("properties.model.name", "properties.model.format")

# Namespace of the deterministic role assignment names (uuid5 of scope, principal, role).
ROLE_ASSIGNMENT_NAMESPACE = uuid.UUID("6f1d3c2a-6a55-4c8e-9b7e-2f0d8b6a1e47")

_TYPE = "foundry-finetune:infra"


def role_definition_id(subscription_id: str, role_guid: str) -> str:
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}"


def role_assignment_name(scope: str, principal_id: str, role_guid: str) -> str:
    """Same scope + principal + role -> same name, so re-runs are idempotent."""
    return str(uuid.uuid5(ROLE_ASSIGNMENT_NAMESPACE, f"{scope.lower()}|{principal_id.lower()}|{role_guid}"))


class HubStorage(pulumi.ComponentResource):
    """The hub's storage account and key vault, with secure defaults."""

    storage_account: storage.StorageAccount
    key_vault: keyvault.Vault

    def __init__(
        self,
        name: str,
        cfg: InfraConfig,
        names: Names,
        resource_group_name: pulumi.Input[str],
        tenant_id: pulumi.Input[str],
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        super().__init__(f"{_TYPE}:HubStorage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.storage_account = storage.StorageAccount(
            f"{name}-storage",
            storage.StorageAccountArgs(
                account_name=names.storage_account,
                resource_group_name=resource_group_name,
                location=cfg.location,
                kind=storage.Kind.STORAGE_V2,
                sku=storage.SkuArgs(name=storage.SkuName.STANDARD_LRS),
                allow_blob_public_access=False,
                minimum_tls_version=storage.MinimumTlsVersion.TLS1_2,
                enable_https_traffic_only=True,
                allow_cross_tenant_replication=False,
                public_network_access=cfg.public_network_access,
                tags=cfg.tags,
            ),
            child,
        )
        self.key_vault = keyvault.Vault(
            f"{name}-vault",
            keyvault.VaultArgs(
                vault_name=names.key_vault,
                resource_group_name=resource_group_name,
                location=cfg.location,
                properties=keyvault.VaultPropertiesArgs(
                    tenant_id=tenant_id,
                    sku=keyvault.SkuArgs(family=keyvault.SkuFamily.A, name=keyvault.SkuName.STANDARD),
                    enable_rbac_authorization=True,
                    # Purge protection is off by default: a lab estate is torn
                    # down with `pulumi destroy`, and with protection on the
                    # soft-deleted vault (and its name) cannot be purged for the
                    # whole retention period. Turning it on is irreversible.
                    # Azure rejects an explicit `false` ("enablePurgeProtection
                    # cannot be set to false"), so "off" means leaving it unset.
                    enable_purge_protection=True if cfg.key_vault_purge_protection else None,
                    soft_delete_retention_in_days=softdelete.KEY_VAULT_RETENTION_DAYS,
                    public_network_access=cfg.public_network_access,
                ),
                tags=cfg.tags,
            ),
            child,
        )
        self.register_outputs({"storage_account_id": self.storage_account.id, "key_vault_id": self.key_vault.id})


class AiServices(pulumi.ComponentResource):
    """The Azure AI Services account (kind AIServices) that hosts the OpenAI models.

    In topology foundry it is the Foundry resource: ``allowProjectManagement``
    lets it hold projects (as Microsoft's foundry-samples
    infrastructure-setup-bicep/00-basic template sets it). The same account,
    same URN, serves both topologies, so a topology switch keeps it and its
    model deployments.
    """

    account: cognitiveservices.Account
    principal_id: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    openai_endpoint: str

    def __init__(
        self,
        name: str,
        cfg: InfraConfig,
        names: Names,
        resource_group_name: pulumi.Input[str],
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        super().__init__(f"{_TYPE}:AiServices", name, None, opts)
        self.account = cognitiveservices.Account(
            f"{name}-account",
            cognitiveservices.AccountArgs(
                account_name=names.ai_services,
                resource_group_name=resource_group_name,
                location=cfg.location,
                kind="AIServices",
                sku=cognitiveservices.SkuArgs(name="S0"),
                identity=cognitiveservices.IdentityArgs(type=cognitiveservices.ResourceIdentityType.SYSTEM_ASSIGNED),
                properties=cognitiveservices.AccountPropertiesArgs(
                    allow_project_management=True if cfg.topology == contract.TOPOLOGY_FOUNDRY else None,
                    custom_sub_domain_name=names.subdomain,
                    # Entra ID only: no API keys exist to leak.
                    disable_local_auth=True,
                    public_network_access=cfg.public_network_access,
                ),
                tags=cfg.tags,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        self.principal_id = self.account.identity.apply(lambda i: i.principal_id if i else "")
        self.endpoint = self.account.properties.apply(lambda p: p.endpoint or "")
        self.openai_endpoint = openai_endpoint(names.subdomain)
        self.register_outputs({"principal_id": self.principal_id, "openai_endpoint": self.openai_endpoint})


class FoundryHub(pulumi.ComponentResource):
    """The AI Foundry hub, its project, and the hub's Entra ID connection to AI Services."""

    hub: ml.Workspace
    project: ml.Workspace
    connection: ml.WorkspaceConnection

    def __init__(
        self,
        name: str,
        cfg: InfraConfig,
        names: Names,
        resource_group_name: pulumi.Input[str],
        hub_storage: HubStorage,
        ai: AiServices,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        super().__init__(f"{_TYPE}:FoundryHub", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.hub = _hub_workspace(f"{name}-hub", cfg, names, resource_group_name, hub_storage, child)
        self.project = _hub_project(f"{name}-project", cfg, names, resource_group_name, self.hub, child)
        self.connection = _ai_services_connection(f"{name}-aiservices", cfg, names, resource_group_name, self.hub, ai, child)
        self.register_outputs({"hub_name": self.hub.name, "project_name": self.project.name})


def _hub_workspace(logical: str, cfg: InfraConfig, names: Names, resource_group_name: pulumi.Input[str],
                   hub_storage: HubStorage, opts: pulumi.ResourceOptions) -> ml.Workspace:
    return ml.Workspace(
        logical,
        ml.WorkspaceArgs(
            workspace_name=names.hub,
            resource_group_name=resource_group_name,
            location=cfg.location,
            kind="Hub",
            friendly_name=f"{cfg.name_prefix} fine-tuning hub ({cfg.stack})",
            identity=ml.ManagedServiceIdentityArgs(type=ml.ManagedServiceIdentityType.SYSTEM_ASSIGNED),
            sku=ml.SkuArgs(name="Basic", tier=ml.SkuTier.BASIC),
            storage_account=hub_storage.storage_account.id,
            key_vault=hub_storage.key_vault.id,
            # The hub reaches its storage with its managed identity, not keys.
            # The ARM enum (azure-rest-api-specs MachineLearningServices,
            # API 2025-12-01 used by azure-native 3.x: SystemDatastoresAuthMode
            # = AccessKey | Identity | UserDelegationSAS; the same values in
            # the Azure SDKs' KnownSystemDatastoresAuthMode) spells it
            # "Identity". Older samples write 'identity' from API versions
            # where the property was a free string; use the enum's spelling.
            system_datastores_auth_mode=ml.SystemDatastoresAuthMode.IDENTITY,
            public_network_access=cfg.public_network_access,
            tags=cfg.tags,
        ),
        opts,
    )


def _hub_project(logical: str, cfg: InfraConfig, names: Names, resource_group_name: pulumi.Input[str],
                 hub: ml.Workspace, opts: pulumi.ResourceOptions) -> ml.Workspace:
    return ml.Workspace(
        logical,
        ml.WorkspaceArgs(
            workspace_name=names.project,
            resource_group_name=resource_group_name,
            location=cfg.location,
            kind="Project",
            friendly_name=f"{cfg.name_prefix} fine-tuning project ({cfg.stack})",
            hub_resource_id=hub.id,
            identity=ml.ManagedServiceIdentityArgs(type=ml.ManagedServiceIdentityType.SYSTEM_ASSIGNED),
            sku=ml.SkuArgs(name="Basic", tier=ml.SkuTier.BASIC),
            public_network_access=cfg.public_network_access,
            tags=cfg.tags,
        ),
        opts,
    )


def _ai_services_connection(logical: str, cfg: InfraConfig, names: Names, resource_group_name: pulumi.Input[str],
                            hub: ml.Workspace, ai: "AiServices", opts: pulumi.ResourceOptions) -> ml.WorkspaceConnection:
    # As in the lab: one AI Services connection on the hub, shared to all
    # projects, authenticated with Entra ID (no key stored). No AI Search.
    # Same shape as Microsoft's hub samples for a keyless AIServices
    # connection (category AIServices, target = the account's
    # properties.endpoint, authType AAD, isSharedToAll, metadata ApiType
    # "Azure" + ResourceId + location of the account).
    return ml.WorkspaceConnection(
        logical,
        ml.WorkspaceConnectionArgs(
            connection_name=names.connection,
            resource_group_name=resource_group_name,
            workspace_name=hub.name,
            properties=ml.AADAuthTypeWorkspaceConnectionPropertiesArgs(
                auth_type="AAD",
                category=ml.ConnectionCategory.AI_SERVICES,
                target=ai.endpoint,
                is_shared_to_all=True,
                metadata={"ApiType": "Azure", "ResourceId": ai.account.id, "location": cfg.location},
            ),
        ),
        opts,
    )


class FoundryProject(pulumi.ComponentResource):
    """Topology foundry: the project, a child of the Foundry resource (``accounts/projects``), no hub.

    As in Microsoft's foundry-samples 00-basic template and the Foundry
    getting-started quickstart: a location, a system-assigned identity (it gets
    Azure AI User on the account) and a display name.
    """

    project: cognitiveservices.Project
    principal_id: pulumi.Output[str]
    endpoint: str

    def __init__(
        self,
        name: str,
        cfg: InfraConfig,
        names: Names,
        resource_group_name: pulumi.Input[str],
        ai: AiServices,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        super().__init__(f"{_TYPE}:FoundryProject", name, None, opts)
        self.project = cognitiveservices.Project(
            f"{name}-project",
            cognitiveservices.ProjectArgs(
                project_name=names.project,
                account_name=ai.account.name,
                resource_group_name=resource_group_name,
                location=cfg.location,
                identity=cognitiveservices.IdentityArgs(type=cognitiveservices.ResourceIdentityType.SYSTEM_ASSIGNED),
                properties=cognitiveservices.ProjectPropertiesArgs(
                    display_name=f"{cfg.name_prefix} fine-tuning project ({cfg.stack})",
                    description="Fine-tune a language model (travel assistant, suffix ft-travel)",
                ),
                tags=cfg.tags,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        self.principal_id = self.project.identity.apply(lambda i: i.principal_id if i else "")
        self.endpoint = foundry_project_endpoint(names.subdomain, names.project)
        self.register_outputs({"project_name": self.project.name, "principal_id": self.principal_id})


@dataclass(frozen=True)
class Grant:
    """One role assignment: ``role`` (a built-in role id) for ``principal_id`` on ``scope``."""

    key: str  # the logical name is "<component>-<key>"; keep it stable, it is the URN
    role: str
    scope: pulumi.Input[str]
    principal_id: pulumi.Input[str]
    principal_type: str


def hub_grants(cfg: InfraConfig, storage_account_id: pulumi.Input[str], ai_principal_id: pulumi.Input[str],
               ai_account_id: pulumi.Input[str], project_id: pulumi.Input[str]) -> list[Grant]:
    """Topology hub: the lab's permission fix, plus the optional operator roles."""
    # Storage Blob Data Owner on the hub storage account (never wider) for the
    # AI Services managed identity: the lab's fix for permission errors.
    grants = [Grant("ai-blob-owner", STORAGE_BLOB_DATA_OWNER, storage_account_id, ai_principal_id, "ServicePrincipal")]
    if cfg.operator_principal_id:
        op, kind = cfg.operator_principal_id, cfg.operator_principal_type
        grants += [
            Grant("operator-openai-contributor", COGNITIVE_SERVICES_OPENAI_CONTRIBUTOR, ai_account_id, op, kind),
            Grant("operator-ai-developer", AZURE_AI_DEVELOPER, project_id, op, kind),
        ]
    return grants


def foundry_grants(cfg: InfraConfig, ai_account_id: pulumi.Input[str], project_principal_id: pulumi.Input[str]) -> list[Grant]:
    """Topology foundry: Azure AI User on the account for the project's identity and the operator.

    The operator also gets Cognitive Services OpenAI Contributor (fine-tuning
    jobs, files), as in topology hub; the same key keeps its URN across a switch.
    """
    grants = [Grant("project-ai-user", AZURE_AI_USER, ai_account_id, project_principal_id, "ServicePrincipal")]
    if cfg.operator_principal_id:
        op, kind = cfg.operator_principal_id, cfg.operator_principal_type
        grants += [
            Grant("operator-openai-contributor", COGNITIVE_SERVICES_OPENAI_CONTRIBUTOR, ai_account_id, op, kind),
            Grant("operator-ai-user", AZURE_AI_USER, ai_account_id, op, kind),
        ]
    return grants


class RoleAssignments(pulumi.ComponentResource):
    """The topology's role assignments (:func:`hub_grants`, :func:`foundry_grants`)."""

    assignments: dict[str, authorization.RoleAssignment]

    def __init__(
        self,
        name: str,
        subscription_id: pulumi.Input[str],
        grants: Sequence[Grant],
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        super().__init__(f"{_TYPE}:RoleAssignments", name, None, opts)
        self.assignments = {g.key: self._assign(f"{name}-{g.key}", subscription_id, g) for g in grants}
        self.register_outputs({"assignment_ids": {k: a.id for k, a in self.assignments.items()}})

    def _assign(self, logical: str, subscription_id: pulumi.Input[str], grant: Grant) -> authorization.RoleAssignment:
        scope_out = pulumi.Output.from_input(grant.scope)
        principal_out = pulumi.Output.from_input(grant.principal_id)
        role = grant.role
        return authorization.RoleAssignment(
            logical,
            authorization.RoleAssignmentArgs(
                role_assignment_name=pulumi.Output.all(scope_out, principal_out).apply(
                    lambda sp: role_assignment_name(str(sp[0]), str(sp[1]), role)
                ),
                scope=scope_out,
                principal_id=principal_out,
                principal_type=grant.principal_type,
                role_definition_id=pulumi.Output.from_input(subscription_id).apply(lambda sub: role_definition_id(sub, role)),
            ),
            pulumi.ResourceOptions(parent=self),
        )


class ModelDeployments(pulumi.ComponentResource):
    """The base model deployment and, once the job has run, the fine-tuned one."""

    base: cognitiveservices.Deployment
    fine_tuned: Optional[cognitiveservices.Deployment]

    def __init__(
        self,
        name: str,
        cfg: InfraConfig,
        resource_group_name: pulumi.Input[str],
        account_name: pulumi.Input[str],
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        super().__init__(f"{_TYPE}:ModelDeployments", name, None, opts)
        replace_on_model_change = pulumi.ResourceOptions(
            parent=self, replace_on_changes=list(MODEL_REPLACING_PROPERTIES), delete_before_replace=True
        )
        self.base = _base_deployment(f"{name}-base", cfg, resource_group_name, account_name, replace_on_model_change)
        self.fine_tuned = None
        if cfg.fine_tuned_model:
            # Azure rejects two deployment operations on one account at
            # once (409 RequestConflict): create them one after the other.
            after_base = pulumi.ResourceOptions.merge(replace_on_model_change, pulumi.ResourceOptions(depends_on=[self.base]))
            self.fine_tuned = _fine_tuned_deployment(f"{name}-fine-tuned", cfg, cfg.fine_tuned_model, resource_group_name,
                                                     account_name, after_base)
        self.register_outputs(
            {
                "base_deployment": self.base.name,
                "fine_tuned_deployment": self.fine_tuned.name if self.fine_tuned else None,
            }
        )


@dataclass(frozen=True)
class _DeploymentSpec:
    """What differs between the base and the fine-tuned deployment; the rest is :func:`_deployment`'s."""

    name: str
    sku: str
    capacity: int
    model: cognitiveservices.DeploymentModelArgs
    version_upgrade_option: str | None  # None: left unset


def _base_deployment(logical: str, cfg: InfraConfig, resource_group_name: pulumi.Input[str],
                     account_name: pulumi.Input[str], opts: pulumi.ResourceOptions) -> cognitiveservices.Deployment:
    model = cognitiveservices.DeploymentModelArgs(format=cfg.base_model_format, name=cfg.base_model,
                                                  version=cfg.base_model_version)
    # Explicit, so Azure never moves the pinned version (infra/config.py VERSION_UPGRADE_OPTIONS).
    spec = _DeploymentSpec(cfg.base_deployment_name, cfg.base_deployment_sku, cfg.base_deployment_capacity, model,
                           cfg.version_upgrade_option)
    return _deployment(logical, spec, cfg, resource_group_name, account_name, opts)


def _fine_tuned_deployment(logical: str, cfg: InfraConfig, model: str, resource_group_name: pulumi.Input[str],
                           account_name: pulumi.Input[str], opts: pulumi.ResourceOptions) -> cognitiveservices.Deployment:
    # model.format: the base model's publisher format (jobs/models.py deployment_format: "OpenAI" for
    # Azure OpenAI models; "Mistral AI", "Meta", "OpenAI-OSS", ... for open-weight ones, as Microsoft's
    # Bicep samples deploy those publishers' models; a wrong format fails the deployment).
    # versionUpgradeOption is left unset: a fine-tuned model has one version ("1") and no newer default to move
    # to, and Microsoft's fine-tuned deployment examples (how-to/fine-tuning-deploy.md) set none.
    spec = _DeploymentSpec(cfg.fine_tuned_deployment_name, cfg.fine_tuned_deployment_sku,
                           cfg.fine_tuned_deployment_capacity,
                           cognitiveservices.DeploymentModelArgs(format=cfg.fine_tuned_model_format, name=model,
                                                                 version="1"),
                           None)
    return _deployment(logical, spec, cfg, resource_group_name, account_name, opts)


def _deployment(logical: str, spec: _DeploymentSpec, cfg: InfraConfig, resource_group_name: pulumi.Input[str],
                account_name: pulumi.Input[str], opts: pulumi.ResourceOptions) -> cognitiveservices.Deployment:
    return cognitiveservices.Deployment(
        logical,
        cognitiveservices.DeploymentArgs(
            deployment_name=spec.name,
            account_name=account_name,
            resource_group_name=resource_group_name,
            sku=cognitiveservices.SkuArgs(name=spec.sku, capacity=spec.capacity),
            properties=cognitiveservices.DeploymentPropertiesArgs(
                model=spec.model,
                rai_policy_name=cfg.rai_policy,
                version_upgrade_option=spec.version_upgrade_option,
            ),
            tags=cfg.tags,
        ),
        opts,
    )
