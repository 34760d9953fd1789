"""The stack contract: the names the Pulumi program and the job runner share.

One small module, standard library only, imported by ``infra/`` (the Pulumi
program declares and exports exactly these) and by ``jobs/`` (the runner reads
and writes exactly these). Nothing else spells them out:

- the config keys the runner reads or writes (:data:`FINE_TUNED_MODEL` is the
  hand-over from a succeeded job to the second ``pulumi up``);
- the stack outputs, one spelling each (:data:`OUTPUTS`), and
  :class:`StackOutputs`, the typed view the runner reads them through;
- the default names: the model suffix ``ft-travel`` and the fine-tuned
  deployment's default name ``<base deployment>-ft-travel``;
- the training types, as the CLI and the stack config name them (the one
  normaliser, :func:`training_type_name`) and as Azure's create-job body
  spells them (its field :data:`TRAINING_TYPE_FIELD`);
- the two topologies (``hub``: the lab as specified; ``foundry``: its 2026
  revision), the sentence ``promote`` says about a replaced deployment, and the
  fine-tuning quotas Microsoft documents (``MAX_*``, with their source).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping, TypeVar

# --------------------------------------------------------------------------- config keys (Pulumi.yaml)

FINE_TUNE_MODEL = "fineTuneModel"
TRAINING_TYPE = "trainingType"
FINE_TUNED_MODEL = "fineTunedModel"
FINE_TUNED_DEPLOYMENT_NAME = "fineTunedDeploymentName"
FINE_TUNED_DEPLOYMENT_SKU = "fineTunedDeploymentSku"
BASE_DEPLOYMENT_NAME = "baseDeploymentName"
TOPOLOGY = "topology"
ALLOW_TOPOLOGY_CHANGE = "allowTopologyChange"

# --------------------------------------------------------------------------- topologies

# hub: an Azure ML workspace of kind Hub + a Project (storage account, key vault,
# AI Services connection): the lab as specified. foundry: one Foundry resource
# (AIServices account with allowProjectManagement) + a child project, no hub:
# the lab's 2026 revision. docs/infrastructure.md compares them.
TOPOLOGY_HUB = "hub"
TOPOLOGY_FOUNDRY = "foundry"
TOPOLOGIES: tuple[str, ...] = (TOPOLOGY_HUB, TOPOLOGY_FOUNDRY)
DEFAULT_TOPOLOGY = TOPOLOGY_HUB

# --------------------------------------------------------------------------- default names

SUFFIX = "ft-travel"  # the lab's model suffix
DEPLOYMENT_NAME_MAX = 64
DEFAULT_BASE_MODEL = "gpt-4.1"  # baseModel's default: the model of the base deployment
DEFAULT_BASE_DEPLOYMENT = DEFAULT_BASE_MODEL  # the base deployment's name when baseDeploymentName is unset: baseModel
# What infra/config.py deploys when fineTunedDeploymentSku is not set in the stack.
DEFAULT_FINE_TUNED_SKU = "Developer"


def fine_tuned_deployment_name(base_deployment: str) -> str:
    """The fine-tuned deployment's default name: ``<base deployment>-ft-travel`` (at most 64 characters)."""
    return f"{base_deployment}-{SUFFIX}"[:DEPLOYMENT_NAME_MAX]


DEFAULT_FINE_TUNED_DEPLOYMENT = fine_tuned_deployment_name(DEFAULT_BASE_DEPLOYMENT)

# --------------------------------------------------------------------------- training types

TRAINING_STANDARD = "Standard"  # regional: trains in the resource's region
TRAINING_GLOBAL = "GlobalStandard"
TRAINING_DEVELOPER = "Developer"
DEFAULT_TRAINING_TYPE = TRAINING_STANDARD  # trainingType's default in the stack config

# The create-job body's field for the training type (an extra field the openai SDK does not know).
TRAINING_TYPE_FIELD = "trainingType"
# Our name (CLI --training-type, stack config trainingType) -> the value Azure's create-job body takes in
# TRAINING_TYPE_FIELD. Values as in Microsoft's fine-tuning docs.
TRAINING_TYPES: dict[str, str] = {TRAINING_STANDARD: "standard", TRAINING_GLOBAL: "globalstandard",
                                  TRAINING_DEVELOPER: "developerTier"}
TRAINING_TYPE_NAMES: tuple[str, ...] = tuple(TRAINING_TYPES)
# Other words accepted for a training type (lower case): "Global" is the portal's word.
TRAINING_TYPE_ALIASES: dict[str, str] = {"global": TRAINING_GLOBAL}


def training_type_name(value: str) -> str | None:
    """Our spelling of a training type given in any case, as Azure spells it or by an alias; None when unknown."""
    low = value.strip().lower()
    for name, wire in TRAINING_TYPES.items():
        if low in (name.lower(), wire.lower()):
            return name
    return TRAINING_TYPE_ALIASES.get(low)


# --------------------------------------------------------------------------- replaced deployments

# What `promote` says when it sets a different fineTunedModel on a stack whose
# tuned deployment already serves a model. Azure refuses an in-place model change
# (CannotChangeDeploymentModel), so infra replaces the deployment, deleting the
# old one first because the name is reused (infra/components.py ModelDeployments).
# `promote` prints it after "note: ".
REPLACE_NOTE = (
    "the deployment {deployment} already serves {old_model}; Azure cannot change the model of a "
    "deployment, so the next `pulumi up` deletes it and then creates it again with {new_model} "
    "(the name stays, the old model stops answering at once)"
)


def replace_note(deployment: str, old_model: str, new_model: str) -> str:
    """:data:`REPLACE_NOTE` filled in."""
    return REPLACE_NOTE.format(deployment=deployment, old_model=old_model, new_model=new_model)


# --------------------------------------------------------------------------- quotas

# Fine-tuning limits per Azure OpenAI / Foundry resource, as Microsoft documents
# them today ("Azure OpenAI in Microsoft Foundry Models quotas and limits", ms.date
# 2026-02-17; MicrosoftDocs/azure-ai-docs articles/ai-foundry/openai/quotas-limits.md).
# They replace the older figures (5 fine-tuned deployments, 1 running job).
QUOTA_SOURCE = "https://learn.microsoft.com/azure/ai-foundry/openai/quotas-limits"
MAX_FINE_TUNED_DEPLOYMENTS = 10  # per resource
MAX_RUNNING_TRAINING_JOBS: dict[str, int] = {TRAINING_STANDARD: 3, TRAINING_GLOBAL: 3, TRAINING_DEVELOPER: 5}  # per resource
MAX_QUEUED_TRAINING_JOBS = 20
MAX_TRAINING_JOBS = 100  # total per resource
MAX_FINE_TUNING_FILES = 100  # per resource
# The same page's other fine-tuning limits (read again 2026-12-06): "Max training job size (tokens in training file)
# x (# of epochs): 2 Billion"; "Total size of all files per resource (fine-tuning): 1 GB"; "Max file size for
# Assistants & fine-tuning: 512 MB, 200 MB via the Foundry portal" (the validator checks the 512 MB:
# jobs/dataset.py MAX_FILE_BYTES); "Max training job time: 720 hours" (Azure fails the job, nothing to check before).
MAX_JOB_TOKENS = 2_000_000_000  # tokens in the training file x epochs
MAX_FINE_TUNING_FILES_BYTES = 1024 ** 3  # all fine-tuning files of one resource together

# --------------------------------------------------------------------------- deployment SKUs (money)

HOURLY_SKUS = frozenset({"standard", "globalstandard", "datazonestandard", "provisionedmanaged"})
DEVELOPER_SKUS = frozenset({"developer", "developertier"})

# --------------------------------------------------------------------------- stack outputs


@dataclass(frozen=True)
class StackOutputs:
    """The stack's outputs, as ``pulumi stack output --json`` prints them: one field per output name.

    Every output is optional for a reader (a stack that was never deployed has none).
    """

    resource_group: str | None = None
    location: str | None = None
    ai_services_name: str | None = None
    ai_services_endpoint: str | None = None
    hub_name: str | None = None
    project_name: str | None = None
    base_deployment: str | None = None
    base_model: str | None = None
    fine_tune_model: str | None = None
    fine_tuned_deployment: str | None = None
    fine_tuned_deployment_sku: str | None = None
    ai_services_principal_id: str | None = None
    # hub or foundry (None for a stack deployed before topologies existed: hub).
    topology: str | None = None
    # foundry only: https://<subdomain>.services.ai.azure.com/api/projects/<project>
    project_endpoint: str | None = None
    # hub only: the hub's key vault (soft-deleted on destroy, see jobs/softdelete.py)
    key_vault_name: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> "StackOutputs":
        """Read exactly the contract's names; a value that is not a non-empty string counts as unset."""
        data = data or {}
        values = {}
        for f in fields(cls):
            value = data.get(f.name)
            values[f.name] = value.strip() if isinstance(value, str) and value.strip() else None
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


OUTPUTS: tuple[str, ...] = tuple(f.name for f in fields(StackOutputs))

_T = TypeVar("_T")


def output_values(**values: _T) -> dict[str, _T]:
    """The stack's outputs as the Pulumi program exports them: every name in :data:`OUTPUTS`, in its order.

    A name outside the contract, or one left out, is a programming error (``TypeError``).
    """
    unknown = sorted(set(values) - set(OUTPUTS))
    missing = [name for name in OUTPUTS if name not in values]
    if unknown or missing:
        raise TypeError(f"stack outputs: unknown {unknown}, missing {missing} (jobs/contract.py:StackOutputs)")
    return {name: values[name] for name in OUTPUTS}
