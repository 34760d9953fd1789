"""The one table of model facts shared by the validator, the runner, the emulator and infra.

Sources (checked 2026-11): Azure OpenAI "Fine-tuning models" include
(``articles/ai-services/openai/includes/fine-tune-models.md`` in MicrosoftDocs/azure-ai-docs)
and the lab's 2026 revision (gpt-4.1 in North Central US or Sweden Central,
Developer deployment of the tuned model). ``gpt-4`` (0613), the model of the
original lab, was retired in 2025 and can no longer be fine-tuned.

The lifecycle table (:data:`LIFECYCLE`, :func:`check_lifecycle`) is here too: every
place that starts money moving (the ``pulumi up`` config check, the ``run`` and
``pipeline`` preflights, ``promote``) asks it, with "today" from :func:`today`
(the system clock, or ``FTJOBS_TODAY=YYYY-MM-DD`` for tests and rehearsals).

Pure data and lookups: no imports beyond the standard library, so ``infra/``
(the Pulumi program) and ``python -m jobs`` can both use it at no cost.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field

O200K = "o200k_base"
CL100K = "cl100k_base"

# Training types as the stack config and the CLI name them (the same strings as jobs/contract.py's
# TRAINING_* constants; repeated here because this module imports nothing of the project).
STANDARD, GLOBAL, DEVELOPER = "Standard", "GlobalStandard", "Developer"

# --------------------------------------------------------------------------- lifecycle

# Sources of the lifecycle table, checked 2026-12-06:
# - RETIREMENT_SOURCE: Learn, "Model retirement schedule" (MicrosoftDocs/azure-ai-docs
#   articles/foundry/openai/includes/concepts-model-retirement-schedule-content.md). Its "Fine-tuned
#   models" table: gpt-4.1, -mini, -nano (2025-04-14) training "no earlier than 2027-04-14" and
#   deployment 2027-10-14; gpt-4o (2024-08-06) and gpt-4o-mini (2024-07-18) training "no earlier than
#   2027-04-01" and deployment 2027-10-01; footnote: "For existing customers only. Otherwise, training
#   retirement occurs at base model retirement."
#   The two revisions read disagree on the gpt-4.1 base models: ms.date 2026-04-23 says GA until
#   2027-10-14, ms.date 2026-07-07 says Deprecated until 2026-10-14, and the 2026-09 revision cited in
#   issue 22 says Legacy until 2027-04-14 (the latest). The table takes 2027-04-14, the earlier of the
#   two dates a current revision gives (the safer reading), for the base model and for new training.
#   gpt-4o and gpt-4o-mini base models: Deprecated, retired 2026-10-01 (ms.date 2026-07-07) - so their
#   training is for existing customers only since then.
# - LEGACY_SOURCE: Learn, "Legacy models" (articles/foundry/openai/concepts/legacy-models): gpt-4 0613
#   retired 2025-06-06 (replacement gpt-4o 2024-11-20 for chat); gpt-35-turbo 0613 2025-02-13;
#   babbage-002 and davinci-002 2025-01-27. The 2025-09-08 retirement table: gpt-35-turbo 1106 and 0125
#   and gpt-4 turbo-2024-04-09 retired 2025-11-14.
# - FINE_TUNE_MODELS_SOURCE: Learn, "Supported fine-tune models" (articles/foundry/includes/
#   fine-tune-supported-models.md, ms.date 2026-03-05): the open-weight models (Ministral-3B (2411),
#   Qwen-32B, Llama-3.3-70B-Instruct, gpt-oss-20b) are GA, SFT, Global or Data Zone (US) training only,
#   no Developer training, "only supported on Foundry resources".
RETIREMENT_SOURCE = "https://learn.microsoft.com/azure/foundry/openai/concepts/model-retirement-schedule"
LEGACY_SOURCE = "https://learn.microsoft.com/azure/foundry/openai/concepts/legacy-models"
FINE_TUNE_MODELS_SOURCE = "https://learn.microsoft.com/azure/foundry/openai/how-to/fine-tuning"
CHECKED = "2026-12-06"
WARN_DAYS = 90  # warn when training or deployment retires within this many days
TODAY_ENV = "FTJOBS_TODAY"  # = jobs.settings.TODAY (jobs/settings.py lists every FTJOBS_* variable)

GA, LEGACY, DEPRECATED, RETIRED_STATUS = "GA", "Legacy", "Deprecated", "Retired"
TRAINING, DEPLOYMENT = "training", "deployment"


@dataclass(frozen=True)
class Lifecycle:
    """A model's lifecycle, as Microsoft's retirement schedule gives it (dates are the first day it is gone)."""

    status: str  # GA | Legacy | Deprecated | Retired
    training_retires: _dt.date | None = None  # no new fine-tuning jobs from this day
    deployment_retires: _dt.date | None = None  # fine-tuned deployments stop answering (410) from this day
    base_retires: _dt.date | None = None  # the base model's own deployments stop answering
    new_customers_until: _dt.date | None = None  # after this, training is for existing customers only
    replacement: str = ""
    source: str = RETIREMENT_SOURCE
    checked: str = CHECKED


def _d(text: str) -> _dt.date:
    return _dt.date.fromisoformat(text)


_GPT41 = Lifecycle(LEGACY, training_retires=_d("2027-04-14"), deployment_retires=_d("2027-10-14"),
                   base_retires=_d("2027-04-14"), replacement="an open-weight model on Foundry (e.g. gpt-oss-20b)")
_GPT4O = Lifecycle(DEPRECATED, training_retires=_d("2027-04-01"), deployment_retires=_d("2027-10-01"),
                   base_retires=_d("2026-10-01"), new_customers_until=_d("2026-10-01"), replacement="gpt-4.1-2025-04-14")
_OPEN = Lifecycle(GA, replacement="", source=FINE_TUNE_MODELS_SOURCE)


def today() -> _dt.date:
    """Today's date: the system clock, or ``FTJOBS_TODAY`` (YYYY-MM-DD) when set (tests, rehearsals)."""
    raw = (os.environ.get(TODAY_ENV) or "").strip()
    if raw:
        try:
            return _dt.date.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"env {TODAY_ENV}={raw!r} is not a date; use YYYY-MM-DD (e.g. 2027-01-20), "
                             f"or unset it to use the system clock") from None
    return _dt.date.today()


@dataclass(frozen=True)
class LifecycleCheck:
    """What :func:`check_lifecycle` found: a refusal (the model is gone), a warning (it soon will be), or neither."""

    refusal: str | None = None
    warning: str | None = None


# --------------------------------------------------------------------------- fine-tunable models


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
    # Deployment types (SKU names) a fine-tuned model of this base can use. Developer: the gpt-4.1 family
    # only (issue 22's reading of Learn's "fine-tune-test" page; the supported-models table marks Developer
    # *training* for gpt-4o too, so where the pages differ the deployment takes the narrower, safer set).
    fine_tuned_deployment_skus: tuple[str, ...] = ("Standard", "GlobalStandard")
    aliases: tuple[str, ...] = field(default=())
    # Vision fine-tuning (images in training examples): how-to/fine-tuning-vision.md, "Model support"
    # (gpt-4o 2024-08-06 and gpt-4.1 2025-04-14 only; the models table says "Text and vision to text" for both).
    vision: bool = False
    # Direct preference optimization: how-to/fine-tuning-direct-preference-optimization.md, "model support"
    # (gpt-4o 2024-08-06, gpt-4.1, gpt-4.1-mini). The azure-ai-projects DPO sample also names gpt-4.1-nano and
    # gpt-4o-mini; the docs page does not, and this table follows the docs page (see docs/data.md).
    dpo: bool = False
    lifecycle: Lifecycle = _OPEN
    # Open-weight models (FINE_TUNE_MODELS_SOURCE): fine-tuned on Foundry resources only (topology foundry),
    # Global training only (Data Zone: US, no documented trainingType value yet), their deployments take the
    # publisher's model.format (Microsoft's Bicep samples: "Mistral AI", "Meta", "OpenAI-OSS").
    open_weight: bool = False
    deployment_format: str = "OpenAI"
    # The id the fine-tuning API takes when it is not "<name>-<version>" (open-weight models: the catalogue name).
    api_id: str = ""
    data_zone_training: tuple[str, ...] = ("US",)  # the supported-models table's Data Zone column

    @property
    def model_id(self) -> str:
        """The id the fine-tuning API takes: ``gpt-4.1-2025-04-14``."""
        return self.api_id or f"{self.name}-{self.version}"

    @property
    def training_types(self) -> tuple[str, ...]:
        """The training types this model accepts, in the stack config's spelling."""
        kinds = [STANDARD] if self.standard_training_regions else []
        kinds += [GLOBAL] if self.global_training else []
        kinds += [DEVELOPER] if self.developer_training else []
        return tuple(kinds)

    @property
    def default_training_type(self) -> str:
        """What the runner sends when neither the stack nor ``--training-type`` says: Standard where the model
        trains regionally (data stays in the region, the lab's choice), else Global (open-weight models)."""
        return STANDARD if self.standard_training_regions else GLOBAL


_NCUS_SWC = ("northcentralus", "swedencentral")
_FT_SKUS_41 = ("Standard", "GlobalStandard", "Developer")

FINE_TUNABLE: tuple[FineTunableModel, ...] = (
    FineTunableModel("gpt-4.1", "2025-04-14", O200K, 65_536, _NCUS_SWC, vision=True, dpo=True,
                     fine_tuned_deployment_skus=_FT_SKUS_41, lifecycle=_GPT41),
    FineTunableModel("gpt-4.1-mini", "2025-04-14", O200K, 65_536, _NCUS_SWC, dpo=True,
                     fine_tuned_deployment_skus=_FT_SKUS_41, lifecycle=_GPT41),
    FineTunableModel("gpt-4.1-nano", "2025-04-14", O200K, 32_768, _NCUS_SWC,
                     fine_tuned_deployment_skus=_FT_SKUS_41, lifecycle=_GPT41),
    FineTunableModel("gpt-4o", "2024-08-06", O200K, 65_536, ("eastus2", "northcentralus", "swedencentral"),
                     vision=True, dpo=True, lifecycle=_GPT4O),
    FineTunableModel("gpt-4o-mini", "2024-07-18", O200K, 65_536, _NCUS_SWC, lifecycle=_GPT4O),
    # Open-weight (FINE_TUNE_MODELS_SOURCE). Training context: Learn gives none for these models; the values are
    # the publishers' model cards' context windows capped at the 32,768 tokens Azure applies to gpt-4.1-nano
    # (the safer reading until Microsoft documents one). Token counts use o200k_base as an estimate (these
    # models have their own tokenizers; the validator says so in its report).
    FineTunableModel("Ministral-3B", "2411", O200K, 32_768, (), developer_training=False, open_weight=True,
                     fine_tuned_deployment_skus=("GlobalStandard",), deployment_format="Mistral AI",
                     api_id="Ministral-3B", aliases=("ministral-3b-2411",)),
    FineTunableModel("Qwen-32B", "1", O200K, 32_768, (), developer_training=False, open_weight=True,
                     fine_tuned_deployment_skus=("GlobalStandard",), deployment_format="Alibaba",
                     api_id="Qwen-32B"),
    FineTunableModel("Llama-3.3-70B-Instruct", "1", O200K, 32_768, (), developer_training=False, open_weight=True,
                     fine_tuned_deployment_skus=("GlobalStandard",), deployment_format="Meta",
                     api_id="Llama-3.3-70B-Instruct"),
    FineTunableModel("gpt-oss-20b", "11", O200K, 32_768, (), developer_training=False, open_weight=True,
                     fine_tuned_deployment_skus=("GlobalStandard",), deployment_format="OpenAI-OSS",
                     api_id="gpt-oss-20b"),
)

DEFAULT_MODEL = "gpt-4.1-2025-04-14"
# The 2026 revision of the lab fine-tunes gpt-4.1 (what a refusal of the seed's gpt-4 0613 names instead).
LAB_2026_MODEL = DEFAULT_MODEL


@dataclass(frozen=True)
class RetiredModel:
    name: str
    version: str | None
    encoding: str
    note: str
    retired: _dt.date | None = None
    replacement: str = LAB_2026_MODEL
    source: str = LEGACY_SOURCE

    @property
    def model_id(self) -> str:
        return f"{self.name}-{self.version}" if self.version else self.name

    def refusal(self) -> str:
        """Why this model is refused, naming the replacement."""
        when = f" on {self.retired.isoformat()}" if self.retired else ""
        return (f"{self.model_id} was retired{when} ({self.note}): Azure answers 410 for a retired model and takes no "
                f"new deployments or fine-tuning jobs; use {self.replacement} instead (source: {self.source}, "
                f"checked {CHECKED})")


RETIRED: tuple[RetiredModel, ...] = (
    RetiredModel("gpt-4", "0613", CL100K, "the original lab's model; the lab's 2026 revision uses gpt-4.1",
                 retired=_d("2025-06-06")),
    RetiredModel("gpt-4", "turbo-2024-04-09", CL100K, "never fine-tunable; deployments retired", retired=_d("2025-11-14")),
    RetiredModel("gpt-35-turbo", "0613", CL100K, "fine-tuning retired", retired=_d("2025-02-13")),
    RetiredModel("gpt-35-turbo", "1106", CL100K, "fine-tuning retired", retired=_d("2025-11-14")),
    RetiredModel("gpt-35-turbo", "0125", CL100K, "fine-tuning retired", retired=_d("2025-11-14")),
    RetiredModel("babbage-002", None, CL100K, "completion model; fine-tuning retired", retired=_d("2025-01-27")),
    RetiredModel("davinci-002", None, CL100K, "completion model; fine-tuning retired", retired=_d("2025-01-27")),
)


@dataclass(frozen=True)
class BaseModel:
    """A model the Pulumi program may deploy as the base (comparison) deployment, with its lifecycle."""

    name: str
    version: str
    lifecycle: Lifecycle
    format: str = "OpenAI"


def base_models() -> tuple[BaseModel, ...]:
    """Every base deployment the table knows: the fine-tunable models, then base-only ones.

    gpt-4o 2024-11-20 and 2024-05-13 retired 2026-10-01 (RETIREMENT_SOURCE, ms.date 2026-07-07): listed so that
    a stack asking for them gets the retirement refusal rather than "unknown model".
    """
    rows = [BaseModel(m.name, m.version, m.lifecycle, m.deployment_format) for m in FINE_TUNABLE]
    gone = Lifecycle(RETIRED_STATUS, base_retires=_d("2026-10-01"), replacement="gpt-4.1 (2025-04-14)")
    rows += [BaseModel("gpt-4o", "2024-11-20", gone), BaseModel("gpt-4o", "2024-05-13", gone)]
    for r in RETIRED:
        if r.version:
            rows.append(BaseModel(r.name, r.version, Lifecycle(RETIRED_STATUS, base_retires=r.retired,
                                                              replacement=r.replacement, source=r.source)))
    return tuple(rows)


def _days(day: _dt.date, now: _dt.date) -> int:
    return (day - now).days


def deployment_retirement(model: str | None) -> str | None:
    """:func:`retirement_text` for a report (the compare report's variants): None for no model, an unknown one,
    or an unreadable ``FTJOBS_TODAY`` (a report is never refused for it)."""
    if not model:
        return None
    try:
        return retirement_text(model)
    except ValueError:
        return None


def check_lifecycle(model: FineTunableModel, purpose: str, now: _dt.date | None = None) -> LifecycleCheck:
    """Is ``model`` still usable for ``purpose`` (:data:`TRAINING` or :data:`DEPLOYMENT` of a tuned model)?

    Refuses on and after the retirement day (naming the replacement); warns within :data:`WARN_DAYS` of it,
    and for training that is open to existing customers only.
    """
    now = now or today()
    lc = model.lifecycle
    day = lc.training_retires if purpose == TRAINING else lc.deployment_retires
    what = "fine-tuning" if purpose == TRAINING else "fine-tuned deployments"
    cite = f"(source: {lc.source}, checked {lc.checked})"
    instead = f"; use {lc.replacement} instead" if lc.replacement else ""
    if day is not None and now >= day:
        return LifecycleCheck(refusal=f"{what} of {model.model_id} retired on {day.isoformat()}{instead} {cite}")
    notes = []
    if day is not None and _days(day, now) <= WARN_DAYS:
        notes.append(f"{what} of {model.model_id} retires on {day.isoformat()}, in {_days(day, now)} days"
                     f"{instead}")
    if purpose == TRAINING and lc.new_customers_until is not None and now >= lc.new_customers_until:
        notes.append(f"since {lc.new_customers_until.isoformat()} fine-tuning {model.model_id} is for existing "
                     "customers only (Azure refuses the job otherwise)")
    return LifecycleCheck(warning="; ".join(notes) + f" {cite}" if notes else None)


def current_models(now: _dt.date | None = None, *, open_weight: bool = True) -> list[str]:
    """The fine-tunable ids whose training and deployments have not retired on ``now`` (a refusal's suggestions)."""
    now = now or today()
    return [m.model_id for m in FINE_TUNABLE if (open_weight or not m.open_weight)
            and not any(check_lifecycle(m, p, now).refusal for p in (TRAINING, DEPLOYMENT))]


def check_base(name: str, version: str, now: _dt.date | None = None) -> LifecycleCheck:
    """The lifecycle of a base deployment ``name`` ``version`` (unknown pairs pass: the caller checks the table)."""
    now = now or today()
    for b in base_models():
        if b.name == name and b.version == version:
            lc, day = b.lifecycle, b.lifecycle.base_retires
            cite = f"(source: {lc.source}, checked {lc.checked})"
            instead = f"; use {lc.replacement} instead" if lc.replacement else ""
            if day is not None and now >= day:
                return LifecycleCheck(refusal=f"{name} {version} was retired on {day.isoformat()}: Azure answers 410 "
                                      f"and takes no new deployments{instead} {cite}")
            if day is not None and _days(day, now) <= WARN_DAYS:
                return LifecycleCheck(warning=f"{name} {version} retires on {day.isoformat()}, in "
                                      f"{_days(day, now)} days{instead} {cite}")
    return LifecycleCheck()


def retirement_text(model: str, now: _dt.date | None = None) -> str | None:
    """One line for ``status`` and the compare report: when a tuned model of ``model``'s base stops answering.

    ``model`` is a base or fine-tuned id; ``None`` when the table knows no date for it.
    """
    try:
        m = resolve(model)
    except LookupError:
        return None
    day = m.lifecycle.deployment_retires
    if day is None:
        return None
    left = _days(day, now or today())
    tail = f"retired {-left} days ago" if left < 0 else f"in {left} days"
    return f"{day.isoformat()} ({tail}; {m.lifecycle.status}, {m.lifecycle.source}, checked {m.lifecycle.checked})"


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
