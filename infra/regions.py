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
lab's 2026 revision (gpt-4.1, North Central US or Sweden Central). gpt-4 0613,
the seed lab's model, retired on 2025-06-06 and is refused (jobs/models.py).

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

def base_models() -> dict[str, tuple[str, ...]]:
    """Known base model name -> versions the program accepts for the base deployment.

    From jobs/models.py's table (one place for model facts, lifecycle included): the fine-tunable models,
    then base-only ones. Retired ones (gpt-4 0613, the original lab's model) are listed so that the config
    check refuses them with their retirement date and replacement (models.check_base), not as "unknown".
    """
    table: dict[str, list[str]] = {}
    for b in models.base_models():
        if b.version not in table.setdefault(b.name, []):
            table[b.name].append(b.version)
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
    return training_type in model.training_types


def normalize_region(value: str) -> str:
    """``"Sweden Central"`` -> ``"swedencentral"`` (ARM's location name)."""
    return "".join(value.split()).lower()


def all_training_regions() -> tuple[str, ...]:
    """Every region the table knows for Standard training, sorted."""
    return tuple(sorted({r for m in models.FINE_TUNABLE for r in m.standard_training_regions}))
