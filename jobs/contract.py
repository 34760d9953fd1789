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
- the training types, as the CLI and the stack config name them and as Azure's
  create-job body spells them (``trainingType``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping

# --------------------------------------------------------------------------- config keys (Pulumi.yaml)

FINE_TUNE_MODEL = "fineTuneModel"
TRAINING_TYPE = "trainingType"
FINE_TUNED_MODEL = "fineTunedModel"
FINE_TUNED_DEPLOYMENT_NAME = "fineTunedDeploymentName"
FINE_TUNED_DEPLOYMENT_SKU = "fineTunedDeploymentSku"
BASE_DEPLOYMENT_NAME = "baseDeploymentName"

# --------------------------------------------------------------------------- default names

SUFFIX = "ft-travel"  # the lab's model suffix
DEPLOYMENT_NAME_MAX = 64
DEFAULT_BASE_DEPLOYMENT = "gpt-4.1"  # the base deployment's name when baseDeploymentName is unset: baseModel
# What infra/config.py deploys when fineTunedDeploymentSku is not set in the stack.
DEFAULT_FINE_TUNED_SKU = "Developer"


def fine_tuned_deployment_name(base_deployment: str) -> str:
    """The fine-tuned deployment's default name: ``<base deployment>-ft-travel`` (at most 64 characters)."""
    return f"{base_deployment}-{SUFFIX}"[:DEPLOYMENT_NAME_MAX]


DEFAULT_FINE_TUNED_DEPLOYMENT = fine_tuned_deployment_name(DEFAULT_BASE_DEPLOYMENT)

# --------------------------------------------------------------------------- training types

# Our name (CLI --training-type, stack config trainingType) -> the value Azure's create-job body takes as
# "trainingType" (an extra field the openai SDK does not know). Values as in Microsoft's fine-tuning docs.
TRAINING_TYPES: dict[str, str] = {"Standard": "standard", "GlobalStandard": "globalstandard",
                                  "Developer": "developerTier"}
TRAINING_TYPE_NAMES: tuple[str, ...] = tuple(TRAINING_TYPES)


def training_type_name(value: str) -> str | None:
    """Our spelling of a training type given in any case, or as Azure spells it; None when unknown."""
    low = value.strip().lower()
    for name, wire in TRAINING_TYPES.items():
        if low in (name.lower(), wire.lower()):
            return name
    return None


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
