"""The one table of model facts shared by the validator, the runner, the emulator and infra.

Sources (checked 2026-11): Azure OpenAI "Fine-tuning models" include
(``articles/ai-services/openai/includes/fine-tune-models.md`` in MicrosoftDocs/azure-ai-docs)
and the lab's 2026 revision (gpt-4.1 in North Central US or Sweden Central,
Developer deployment of the tuned model). ``gpt-4`` (0613), the model of the
original lab, was retired in 2025 and can no longer be fine-tuned.

Pure data and lookups: no imports beyond the standard library, so ``infra/``
(the Pulumi program) and ``python -m jobs`` can both use it at no cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

O200K = "o200k_base"
CL100K = "cl100k_base"


@dataclass(frozen=True)
class FineTunableModel:
    """A base model Azure OpenAI can fine-tune (supervised)."""

    name: str  # catalogue name, as in a deployment's model.name: "gpt-4.1"
    version: str  # "2025-04-14"
    encoding: str  # tiktoken encoding of the family
    training_context: int  # max tokens of one training example
    # Regions where Standard (regional) training runs. Global training runs in
    # any region that offers the model for Global Standard deployment.
    standard_training_regions: tuple[str, ...]
    global_training: bool = True
    developer_training: bool = True
    # Deployment types (SKU names) a fine-tuned model of this base can use.
    fine_tuned_deployment_skus: tuple[str, ...] = ("Standard", "GlobalStandard", "Developer")
    aliases: tuple[str, ...] = field(default=())
    # Vision fine-tuning (images in training examples): how-to/fine-tuning-vision.md, "Model support"
    # (gpt-4o 2024-08-06 and gpt-4.1 2025-04-14 only; the models table says "Text and vision to text" for both).
    vision: bool = False
    # Direct preference optimization: how-to/fine-tuning-direct-preference-optimization.md, "model support"
    # (gpt-4o 2024-08-06, gpt-4.1, gpt-4.1-mini). The azure-ai-projects DPO sample also names gpt-4.1-nano and
    # gpt-4o-mini; the docs page does not, and this table follows the docs page (see docs/data.md).
    dpo: bool = False

    @property
    def model_id(self) -> str:
        """The id the fine-tuning API takes: ``gpt-4.1-2025-04-14``."""
        return f"{self.name}-{self.version}"


_NCUS_SWC = ("northcentralus", "swedencentral")

FINE_TUNABLE: tuple[FineTunableModel, ...] = (
    FineTunableModel("gpt-4.1", "2025-04-14", O200K, 65_536, _NCUS_SWC, vision=True, dpo=True),
    FineTunableModel("gpt-4.1-mini", "2025-04-14", O200K, 65_536, _NCUS_SWC, dpo=True),
    FineTunableModel("gpt-4.1-nano", "2025-04-14", O200K, 32_768, _NCUS_SWC),
    FineTunableModel("gpt-4o", "2024-08-06", O200K, 65_536, ("eastus2", "northcentralus", "swedencentral"),
                     vision=True, dpo=True),
    FineTunableModel("gpt-4o-mini", "2024-07-18", O200K, 65_536, _NCUS_SWC),
)

DEFAULT_MODEL = "gpt-4.1-2025-04-14"


@dataclass(frozen=True)
class RetiredModel:
    name: str
    version: str | None
    encoding: str
    note: str

    @property
    def model_id(self) -> str:
        return f"{self.name}-{self.version}" if self.version else self.name


RETIRED: tuple[RetiredModel, ...] = (
    RetiredModel("gpt-4", "0613", CL100K, "the original lab's model; fine-tuning was retired in 2025"),
    RetiredModel("gpt-35-turbo", "0613", CL100K, "fine-tuning retired"),
    RetiredModel("gpt-35-turbo", "1106", CL100K, "fine-tuning retired"),
    RetiredModel("gpt-35-turbo", "0125", CL100K, "fine-tuning retired"),
    RetiredModel("babbage-002", None, CL100K, "completion model; fine-tuning retired"),
    RetiredModel("davinci-002", None, CL100K, "completion model; fine-tuning retired"),
)


class UnknownModel(LookupError):
    """Not a model we know at all (a typo, most likely)."""


class NotFineTunable(LookupError):
    """A real model that Azure no longer (or never did) fine-tune."""

    def __init__(self, model: RetiredModel):
        super().__init__(model.model_id)
        self.model = model


def _keys(name: str, version: str | None) -> set[str]:
    keys = {name}
    if version:
        keys |= {f"{name}-{version}", f"{name}:{version}", f"{name}@{version}"}
        # Azure also writes gpt-4.1 as gpt-41 in some ids; OpenAI writes gpt-3.5.
    return {k.lower() for k in keys}


def resolve(model: str) -> FineTunableModel:
    """Find a fine-tunable model by id (``gpt-4.1-2025-04-14``) or name (``gpt-4.1``).

    Fine-tuned ids (``gpt-4.1-2025-04-14.ft-<hex>-ft-travel``) resolve to their base.
    Raises :class:`NotFineTunable` for retired models and :class:`UnknownModel` otherwise.
    """
    key = model.strip().lower()
    if ".ft-" in key:
        key = key.split(".ft-", 1)[0]
    for m in FINE_TUNABLE:
        if key in _keys(m.name, m.version) or key in m.aliases:
            return m
    for r in RETIRED:
        if key in _keys(r.name, r.version) or key.replace("gpt-3.5", "gpt-35") in _keys(r.name, r.version):
            raise NotFineTunable(r)
    raise UnknownModel(model)


def encoding_for(model: str) -> str:
    """The tiktoken encoding of any model we know, fine-tunable or not."""
    key = model.strip().lower()
    try:
        return resolve(model).encoding
    except NotFineTunable as exc:
        return exc.model.encoding
    except UnknownModel:
        pass
    if key.startswith(("gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4")):
        return O200K
    if key.startswith(("gpt-4", "gpt-35", "gpt-3.5")):
        return CL100K
    raise UnknownModel(model)


def fine_tunable_ids() -> list[str]:
    return [m.model_id for m in FINE_TUNABLE]


def alternatives_text() -> str:
    return ", ".join(fine_tunable_ids())
