"""The lab's "help me choose": which deployments and regions the program accepts.

The fine-tunable models, their Standard-training regions and the deployment
types a fine-tuned model can use live in the shared table ``jobs/models.py``
(one table for the validator, the runner, the emulator and infra). This module
adds only what is infra-specific: deployment SKU names, capacity bounds, the
base models the program knows how to deploy, and the region check.

Sources (checked 2026-11): Azure OpenAI "deployment types" (GlobalStandard,
DataZoneStandard, Standard), "fine-tuning deploy" (fine-tuned models deploy as
Standard, GlobalStandard or Developer; the ARM SKU name of the Developer type is
``DeveloperTier`` and Microsoft's samples create it with capacity 50), and the
lab's 2026 revision (gpt-4.1, North Central US or Sweden Central).

Capacity is in units of 1,000 tokens per minute. The upper bounds below are
sanity limits that catch a typo (``50000`` for ``50``); the real ceiling is the
subscription's quota for that model, SKU and region, which only Azure knows.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobs import contract, models


@dataclass(frozen=True)
class SkuRule:
    """One deployment type: its ARM SKU name and the capacity bounds we accept."""

    arm_name: str
    min_capacity: int
    max_capacity: int


# Deployment types for a base model (pay-per-token only: provisioned throughput
# is bought in PTUs with different minimums and is out of scope for the lab).
BASE_SKUS: dict[str, SkuRule] = {
    "Standard": SkuRule("Standard", 1, 1_000),
    "GlobalStandard": SkuRule("GlobalStandard", 1, 10_000),
    "DataZoneStandard": SkuRule("DataZoneStandard", 1, 10_000),
}

# Deployment types for a fine-tuned model. Config accepts the portal's name
# ("Developer") and the ARM name ("DeveloperTier"); the resource gets the ARM name.
FINE_TUNED_SKUS: dict[str, SkuRule] = {
    "Standard": SkuRule("Standard", 1, 1_000),
    "GlobalStandard": SkuRule("GlobalStandard", 1, 10_000),
    "Developer": SkuRule("DeveloperTier", 1, 1_000),
}
SKU_ALIASES: dict[str, str] = {"DeveloperTier": "Developer"}

# Base models the program deploys for the comparison chat. The fine-tunable
# ones come from jobs/models.py; the rest are models the lab (or users) deploy
# as a base only. gpt-4 0613 is the original lab's model: it can still be
# *deployed* where a subscription has it, but no longer fine-tuned.
_EXTRA_BASE_MODELS: dict[str, tuple[str, ...]] = {
    "gpt-4o": ("2024-11-20", "2024-05-13"),
    "gpt-4": ("0613", "turbo-2024-04-09"),
    "gpt-35-turbo": ("0125", "1106"),
}


def base_models() -> dict[str, tuple[str, ...]]:
    """Known base model name -> versions the program accepts for the base deployment."""
    table: dict[str, list[str]] = {}
    for m in models.FINE_TUNABLE:
        table.setdefault(m.name, []).append(m.version)
    for name, versions in _EXTRA_BASE_MODELS.items():
        for v in versions:
            if v not in table.setdefault(name, []):
                table[name].append(v)
    return {k: tuple(v) for k, v in table.items()}


# Training types of a fine-tuning job: contract.TRAINING_TYPE_NAMES, read with contract.training_type_name.


def training_regions(model: models.FineTunableModel, training_type: str) -> tuple[str, ...] | None:
    """Regions where ``model`` can be trained with ``training_type``.

    ``None`` means "not restricted by our table": GlobalStandard and Developer training
    run in any region that offers the model for Global Standard deployment,
    which Azure checks when the job is submitted.
    """
    if training_type == contract.TRAINING_STANDARD:
        return model.standard_training_regions
    return None


def training_supported(model: models.FineTunableModel, training_type: str) -> bool:
    if training_type == contract.TRAINING_GLOBAL:
        return model.global_training
    if training_type == contract.TRAINING_DEVELOPER:
        return model.developer_training
    return training_type == contract.TRAINING_STANDARD


def normalize_region(value: str) -> str:
    """``"Sweden Central"`` -> ``"swedencentral"`` (ARM's location name)."""
    return "".join(value.split()).lower()


def all_training_regions() -> tuple[str, ...]:
    """Every region the table knows for Standard training, sorted."""
    return tuple(sorted({r for m in models.FINE_TUNABLE for r in m.standard_training_regions}))
