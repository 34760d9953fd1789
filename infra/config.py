"""The stack's typed configuration: the only reader of ``pulumi.Config``.

:func:`parse` is a pure function (a mapping of config values in, a frozen
:class:`InfraConfig` or one :class:`ConfigError` out), so validation is tested
without a Pulumi engine. :func:`load` collects the values from the running
stack and calls it. Validation runs before any resource is declared.

Why :class:`ConfigError` subclasses ``pulumi.RunError``: Pulumi's Python
language host (``pulumi-language-python-exec``) prints a ``RunError`` as one
``error:`` line and exits, while any other exception is shown as "Program
failed with an unhandled exception" plus the Python traceback. ``pulumi.log.error``
followed by ``sys.exit`` also avoids the traceback but splits the message from
the failure; a ``RunError`` keeps both in one place and is easy to test.
"""

from __future__ import annotations

import datetime
import difflib
import hashlib
import re
from dataclasses import dataclass
from typing import Mapping, Union

import pulumi

from infra import regions
from jobs import contract, models

PROJECT = "foundry-finetune"

ConfigValue = Union[str, int, bool, None]


class ConfigError(pulumi.RunError):
    """One bad config value: names the key, the value and what is allowed."""

    def __init__(self, key: str, value: object, problem: str, fix: str):
        self.key = key
        self.value = value
        self.problem = problem
        self.fix = fix
        super().__init__(f"config {PROJECT}:{key} = {value!r}: {problem}. Fix: {fix}")


@dataclass(frozen=True)
class Key:
    name: str
    type: str  # "string" | "integer" | "boolean"
    default: ConfigValue
    description: str


# Every config key, in Pulumi.yaml's order. Pulumi.yaml documents the same keys
# (a test keeps the two in step).
KEYS: tuple[Key, ...] = (
    Key(contract.TOPOLOGY, "string", contract.DEFAULT_TOPOLOGY, "hub (the lab as specified: hub + project, storage, key vault) or foundry (the 2026 lab: a Foundry resource with a project, no hub)."),
    Key("location", "string", "swedencentral", "Azure region of every resource; must support fine-tuning of fineTuneModel."),
    Key("namePrefix", "string", "ftlab", "2-10 lowercase letters/digits, first a letter; starts every resource name."),
    Key("nameSuffix", "string", None, "4-8 lowercase letters/digits (quote digits-only values in YAML); default: a stable hash of organization/project/stack/prefix/tenant/subscription."),
    Key("baseModel", "string", contract.DEFAULT_BASE_MODEL, "Model of the base deployment (the lab's comparison chat)."),
    Key("baseModelVersion", "string", "2025-04-14", "Version of baseModel."),
    Key(contract.BASE_DEPLOYMENT_NAME, "string", None, "Name of the base deployment; default: baseModel."),
    Key("baseDeploymentSku", "string", "GlobalStandard", "Standard, GlobalStandard or DataZoneStandard."),
    Key("baseDeploymentCapacity", "integer", 5, "Base deployment rate limit in thousands of tokens per minute."),
    Key("versionUpgradeOption", "string", "NoAutoUpgrade", "Base deployment's version policy: NoAutoUpgrade (stays on baseModelVersion), OnceCurrentVersionExpired or OnceNewDefaultVersionAvailable."),
    Key(contract.FINE_TUNE_MODEL, "string", models.DEFAULT_MODEL, "Base model id the job fine-tunes, e.g. gpt-4.1-2025-04-14."),
    Key(contract.TRAINING_TYPE, "string", None, "Training type of the job: Standard (regional), GlobalStandard or Developer; default: per model (Standard where the model trains regionally, else GlobalStandard). The runner sends it on every job."),
    Key(contract.FINE_TUNED_MODEL, "string", None, "Fine-tuned model id the job produced; when set, the tuned deployment is declared."),
    Key(contract.FINE_TUNED_DEPLOYMENT_NAME, "string", None, f"Name of the tuned deployment; default: <{contract.BASE_DEPLOYMENT_NAME}>-{contract.SUFFIX}."),
    Key(contract.FINE_TUNED_DEPLOYMENT_SKU, "string", contract.DEFAULT_FINE_TUNED_SKU, "Developer (24 h, no hourly fee), Standard or GlobalStandard."),
    Key("fineTunedDeploymentCapacity", "integer", 50, "Tuned deployment rate limit in thousands of tokens per minute."),
    Key("raiPolicy", "string", "Microsoft.DefaultV2", "Content filter (RAI policy) of both deployments."),
    Key("operatorPrincipalId", "string", None, "Object id that gets the operator roles: OpenAI Contributor + Azure AI Developer (hub) or + Azure AI User (foundry)."),
    Key("operatorPrincipalType", "string", "User", "User, Group or ServicePrincipal: the kind of operatorPrincipalId."),
    Key("publicNetworkAccess", "string", "Enabled", "Enabled or Disabled, for every resource that has the setting: AI Services account, hub, hub project, storage account, key vault."),
    Key("keyVaultPurgeProtection", "boolean", False, "Turn on Key Vault purge protection (irreversible)."),
    Key("allowUnlistedRegion", "boolean", False, "Accept a location the region table does not list."),
    Key("allowUnlistedModel", "boolean", False, "Accept a baseModel/baseModelVersion the table does not list."),
    Key(contract.ALLOW_TOPOLOGY_CHANGE, "boolean", False, "Confirm switching a deployed stack to the other topology (the next up deletes the old topology's resources)."),
)
KEY_NAMES: tuple[str, ...] = tuple(k.name for k in KEYS)
_DEFAULTS: dict[str, ConfigValue] = {k.name: k.default for k in KEYS}


@dataclass(frozen=True)
class InfraConfig:
    project: str
    stack: str
    topology: str  # contract.TOPOLOGY_HUB | contract.TOPOLOGY_FOUNDRY
    location: str
    name_prefix: str
    name_suffix: str
    base_model: str
    base_model_version: str
    base_deployment_name: str
    base_deployment_sku: str  # ARM SKU name
    base_deployment_capacity: int
    version_upgrade_option: str  # of the base deployment (ARM DeploymentModelVersionUpgradeOption)
    fine_tune_model: str  # canonical id, e.g. gpt-4.1-2025-04-14
    training_type: str
    fine_tuned_model: str | None
    fine_tuned_deployment_name: str
    fine_tuned_deployment_sku: str  # ARM SKU name (Developer -> DeveloperTier)
    fine_tuned_deployment_capacity: int
    rai_policy: str
    operator_principal_id: str | None
    operator_principal_type: str
    public_network_access: str
    key_vault_purge_protection: bool
    allow_unlisted_region: bool
    allow_unlisted_model: bool
    allow_topology_change: bool
    # The Azure subscription and tenant the stack deploys to (from the
    # provider's getClientConfig invoke in :func:`load`); "" when parsed
    # without one (then build_estate asks the provider itself).
    subscription_id: str = ""
    tenant_id: str = ""
    organization: str = "organization"
    # model.format of each deployment (the publisher's: "OpenAI", or "Mistral AI", "Meta", "OpenAI-OSS", ... for
    # the open-weight models; jobs/models.py)
    base_model_format: str = "OpenAI"
    fine_tuned_model_format: str = "OpenAI"
    # Lifecycle warnings (a model retiring within 90 days): `pulumi up` cannot ask, so load() logs them
    # with pulumi.log.warn; a retired model is a ConfigError instead.
    warnings: tuple[str, ...] = ()

    @property
    def tags(self) -> dict[str, str]:
        """The tags of every taggable resource: find the lab's (billed) resources in the portal by them."""
        return {"project": self.project, "stack": self.stack, "lab": LAB_TAG}


# The lab this estate automates ("Fine-tune a language model"), as a tag value.
LAB_TAG = "fine-tune-a-language-model"

# Deployment model version upgrade options (ARM DeploymentModelVersionUpgradeOption;
# "Working with Azure OpenAI models", MicrosoftDocs/azure-ai-docs
# articles/ai-foundry/openai/how-to/working-with-models.md). NoAutoUpgrade is the
# default: the lab pins baseModelVersion (the version fine-tuned). Left unset,
# Azure's references disagree on the policy (null acts as OnceCurrentVersionExpired
# per that page; OnceNewDefaultVersionAvailable per the SDK and Terraform
# references), and with OnceNewDefaultVersionAvailable the deployment moves to a
# newer default version within two weeks of its release and the next `pulumi up`
# sets it back. The price: a NoAutoUpgrade deployment stops working when its
# version is retired (OnceCurrentVersionExpired upgrades only then).
VERSION_UPGRADE_OPTIONS: tuple[str, ...] = ("NoAutoUpgrade", "OnceCurrentVersionExpired", "OnceNewDefaultVersionAvailable")


_PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{1,9}$")
_SUFFIX_RE = re.compile(r"^[a-z0-9]{4,8}$")
_DEPLOYMENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
_GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_RAI_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$")
_REGION_RE = re.compile(r"^[a-z][a-z0-9]{2,39}$")
# A checkpoint deploys under `<fine-tuned model>:ckpt-step-N` (Learn, "Customize a model with fine-tuning", "Deploy a
# checkpoint"; `promote --checkpoint` sets it).
_FT_MODEL_RE = re.compile(r"^(?P<base>[A-Za-z0-9.-]+)\.ft-[0-9a-f]{8,}(?:-[A-Za-z0-9_-]+)?(?::ckpt-step-[0-9]+)?$")


def _set(key: str, example: str) -> str:
    return f"pulumi config set {key} {example}"


def _choices(key: str, value: object, allowed: tuple[str, ...] | list[str], what: str = "allowed values") -> ConfigError:
    return ConfigError(key, value, f"{what}: {', '.join(allowed)}", _set(key, allowed[0]))


def _pick(key: str, value: str, allowed: tuple[str, ...] | list[str]) -> str:
    """Case-insensitive choice; returns the canonical spelling."""
    for a in allowed:
        if a.lower() == value.lower():
            return a
    raise _choices(key, value, allowed)


def _as_str(values: Mapping[str, ConfigValue], key: str) -> str | None:
    raw = values.get(key, _DEFAULTS[key])
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise ConfigError(key, raw, "expected a string", _set(key, "<value>"))
    text = str(raw).strip()
    if not text:
        if _DEFAULTS[key] is None:
            # Optional keys are declared in Pulumi.yaml with default "" (a key
            # without a default would be required in every stack): "" = unset.
            return None
        raise ConfigError(key, raw, "is empty", f"pulumi config rm {key} (to use the default) or {_set(key, '<value>')}")
    return text


def _as_required_str(values: Mapping[str, ConfigValue], key: str) -> str:
    text = _as_str(values, key)
    assert text is not None, key  # every key read with this has a default
    return text


def _as_int(values: Mapping[str, ConfigValue], key: str) -> int:
    raw = values.get(key, _DEFAULTS[key])
    if isinstance(raw, bool):
        raise ConfigError(key, raw, "expected a whole number", _set(key, "5"))
    if isinstance(raw, int):
        return raw
    text = str(raw).strip()
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ConfigError(key, raw, "expected a whole number (thousands of tokens per minute)", _set(key, "5"))
    return int(text)


def _as_bool(values: Mapping[str, ConfigValue], key: str) -> bool:
    raw = values.get(key, _DEFAULTS[key])
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise ConfigError(key, raw, "expected true or false", _set(key, "true"))


def _capacity(values: Mapping[str, ConfigValue], key: str, sku_key: str, sku: str, rule: regions.SkuRule) -> int:
    cap = _as_int(values, key)
    if not rule.min_capacity <= cap <= rule.max_capacity:
        raise ConfigError(
            key,
            values.get(key, cap),
            f"{sku_key} {sku} takes a capacity from {rule.min_capacity} to {rule.max_capacity} "
            "(thousands of tokens per minute; your quota may be lower)",
            _set(key, str(min(max(cap, rule.min_capacity), rule.max_capacity))),
        )
    return cap


def default_suffix(
    organization: str, project: str, stack: str, prefix: str, subscription_id: str = "", tenant_id: str = ""
) -> str:
    """A short stable hash, so names (and the AI Services subdomain) differ per stack and per subscription.

    Storage account, key vault and AI Services subdomain names are globally
    unique in Azure. On the local backend every user's organization is
    "organization", so organization/project/stack/prefix alone would give two
    people with the defaults the same names; the subscription (and tenant) id
    tells them apart. Deterministic, so re-running a stack (or recreating it
    after losing its state) keeps the same names.
    """
    key = f"{organization}/{project}/{stack}/{prefix}/{tenant_id.lower()}/{subscription_id.lower()}"
    return hashlib.sha256(key.encode()).hexdigest()[:6]


class _Redacted:
    def __repr__(self) -> str:
        return "[secret]"


def parse(
    values: Mapping[str, ConfigValue],
    *,
    project: str = PROJECT,
    stack: str = "dev",
    organization: str = "organization",
    subscription_id: str = "",
    tenant_id: str = "",
    secret_keys: frozenset[str] = frozenset(),
) -> InfraConfig:
    """Validate raw config values (bare key names, strings as Pulumi stores them).

    An error about a key in ``secret_keys`` (set with ``pulumi config set
    --secret``) shows ``[secret]`` instead of the value.
    """
    try:
        return _parse(
            values, project=project, stack=stack, organization=organization, subscription_id=subscription_id, tenant_id=tenant_id
        )
    except ConfigError as exc:
        if exc.key not in secret_keys:
            raise
        raw = values.get(exc.key)
        problem = exc.problem.replace(str(raw), "[secret]") if raw not in (None, "") else exc.problem
        raise ConfigError(exc.key, _Redacted(), problem, exc.fix) from None


def _check_unknown(values: Mapping[str, ConfigValue]) -> None:
    unknown = sorted(set(values) - set(KEY_NAMES))
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key, KEY_NAMES, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise ConfigError(
            key, values[key], f"unknown key; {hint}known keys: {', '.join(KEY_NAMES)}", f"pulumi config rm {key}"
        )


@dataclass(frozen=True)
class _Training:
    """The fine-tuning part: the model, its training type and the region, checked together."""

    model: models.FineTunableModel
    training_type: str
    location: str
    warnings: tuple[str, ...]


def _fine_tune_model(values: Mapping[str, ConfigValue], topology: str, today: datetime.date) -> tuple[models.FineTunableModel, tuple[str, ...]]:
    """fineTuneModel: fine-tunable today, on this topology; returns it with its lifecycle warnings."""
    ft_raw = _as_required_str(values, contract.FINE_TUNE_MODEL)
    try:
        ft = models.resolve(ft_raw)
    except models.NotFineTunable as exc:
        raise ConfigError(
            contract.FINE_TUNE_MODEL, ft_raw, exc.model.refusal(), _set(contract.FINE_TUNE_MODEL, exc.model.replacement)
        ) from None
    except models.UnknownModel:
        raise _choices(contract.FINE_TUNE_MODEL, ft_raw, models.fine_tunable_ids(), "not a fine-tunable model; fine-tunable models") from None
    if ft.open_weight and topology != contract.TOPOLOGY_FOUNDRY:
        # "Open-source models ... are only supported on Foundry resources" (models.FINE_TUNE_MODELS_SOURCE).
        raise ConfigError(
            contract.FINE_TUNE_MODEL,
            ft_raw,
            f"{ft.model_id} is an open-weight model, which Azure fine-tunes only on Foundry resources "
            f"(topology {contract.TOPOLOGY_FOUNDRY}), not with topology {topology}",
            f"{_set(contract.TOPOLOGY, contract.TOPOLOGY_FOUNDRY)}, or {_set(contract.FINE_TUNE_MODEL, models.DEFAULT_MODEL)}",
        )
    warnings: list[str] = []
    for purpose in (models.TRAINING, models.DEPLOYMENT):
        verdict = models.check_lifecycle(ft, purpose, today)
        if verdict.refusal:
            current = models.current_models(today, open_weight=topology == contract.TOPOLOGY_FOUNDRY)
            fix = (_set(contract.FINE_TUNE_MODEL, current[0]) + f" (current: {', '.join(current)})" if current else
                   f"{_set(contract.TOPOLOGY, contract.TOPOLOGY_FOUNDRY)} and fine-tune an open-weight model")
            raise ConfigError(contract.FINE_TUNE_MODEL, ft_raw, verdict.refusal, fix)
        if verdict.warning:
            warnings.append(verdict.warning)
    return ft, tuple(warnings)


def _training_type(values: Mapping[str, ConfigValue], ft: models.FineTunableModel) -> str:
    """trainingType, or the model's default; one the model supports."""
    tt_raw = _as_str(values, contract.TRAINING_TYPE)
    if tt_raw is None:
        return ft.default_training_type
    training_type = contract.training_type_name(tt_raw)
    if training_type is None:
        raise _choices(contract.TRAINING_TYPE, tt_raw, contract.TRAINING_TYPE_NAMES)
    if not regions.training_supported(ft, training_type):
        raise _choices(contract.TRAINING_TYPE, training_type, list(ft.training_types), f"{ft.model_id} supports training types")
    return training_type


def _location(values: Mapping[str, ConfigValue], ft: models.FineTunableModel, training_type: str, allow_region: bool) -> str:
    """location: the table's training regions for this model and training type."""
    loc_raw = _as_required_str(values, "location")
    location = regions.normalize_region(loc_raw)
    if not _REGION_RE.match(location):
        raise ConfigError("location", loc_raw, "not an Azure region name (e.g. swedencentral)", _set("location", "swedencentral"))
    supported = regions.training_regions(ft, training_type)
    if supported is not None and location not in supported and not allow_region:
        raise ConfigError(
            "location",
            loc_raw,
            f"{ft.model_id} {training_type} training is supported in: {', '.join(supported)}",
            f"{_set('location', supported[0])}, or pulumi config set allowUnlistedRegion true "
            "if Azure added this region after the table was written",
        )
    return location


def _training(values: Mapping[str, ConfigValue], topology: str, allow_region: bool, today: datetime.date) -> _Training:
    ft, warnings = _fine_tune_model(values, topology, today)
    training_type = _training_type(values, ft)
    return _Training(ft, training_type, _location(values, ft, training_type, allow_region), warnings)


def _names(values: Mapping[str, ConfigValue], organization: str, project: str, stack: str,
           subscription_id: str, tenant_id: str) -> tuple[str, str]:
    """namePrefix and nameSuffix (an explicit nameSuffix wins over the stable hash)."""
    prefix = _as_required_str(values, "namePrefix")
    if not _PREFIX_RE.match(prefix):
        raise ConfigError("namePrefix", prefix, "must be 2-10 lowercase letters or digits, starting with a letter", _set("namePrefix", "ftlab"))
    suffix = _as_str(values, "nameSuffix")
    if suffix is None:
        suffix = default_suffix(organization, project, stack, prefix, subscription_id, tenant_id)
    elif not _SUFFIX_RE.match(suffix):
        raise ConfigError("nameSuffix", suffix, "must be 4-8 lowercase letters or digits", _set("nameSuffix", "a1b2c3"))
    return prefix, suffix


@dataclass(frozen=True)
class _Base:
    """The base (comparison) deployment."""

    model: str
    version: str
    name: str
    sku: str  # ARM SKU name
    capacity: int
    upgrade: str
    format: str
    warning: str | None


def _base_model(values: Mapping[str, ConfigValue], allow_model: bool, today: datetime.date) -> tuple[str, str, str | None]:
    """baseModel and baseModelVersion: listed (unless allowUnlistedModel) and not retired; with a near-retirement warning."""
    base_model = _as_required_str(values, "baseModel")
    base_version = _as_required_str(values, "baseModelVersion")
    known = regions.base_models()
    if not allow_model:
        if base_model not in known:
            raise ConfigError(
                "baseModel",
                base_model,
                f"not in the model table; known models: {', '.join(known)}",
                f"{_set('baseModel', contract.DEFAULT_BASE_MODEL)}, or pulumi config set allowUnlistedModel true",
            )
        if base_version not in known[base_model]:
            raise ConfigError(
                "baseModelVersion",
                base_version,
                f"{base_model} versions: {', '.join(known[base_model])}",
                f"{_set('baseModelVersion', known[base_model][0])}, or pulumi config set allowUnlistedModel true",
            )
    verdict = models.check_base(base_model, base_version, today)
    if verdict.refusal:  # refused even with allowUnlistedModel: Azure would answer 410
        raise ConfigError("baseModel", f"{base_model} {base_version}", verdict.refusal,
                          f"{_set('baseModel', contract.DEFAULT_BASE_MODEL)} and {_set('baseModelVersion', '2025-04-14')}")
    return base_model, base_version, verdict.warning


def _base(values: Mapping[str, ConfigValue], allow_model: bool, today: datetime.date) -> _Base:
    base_model, base_version, warning = _base_model(values, allow_model, today)
    base_name = _as_str(values, contract.BASE_DEPLOYMENT_NAME) or base_model
    if not _DEPLOYMENT_RE.match(base_name):
        raise ConfigError(
            contract.BASE_DEPLOYMENT_NAME, base_name, "2-64 letters, digits, '.', '-' or '_', starting with a letter or digit", _set(contract.BASE_DEPLOYMENT_NAME, contract.DEFAULT_BASE_DEPLOYMENT)
        )
    sku_key = _pick("baseDeploymentSku", _as_required_str(values, "baseDeploymentSku"), tuple(regions.BASE_SKUS))
    rule = regions.BASE_SKUS[sku_key]
    cap = _capacity(values, "baseDeploymentCapacity", "baseDeploymentSku", sku_key, rule)
    upgrade = _pick("versionUpgradeOption", _as_required_str(values, "versionUpgradeOption"), VERSION_UPGRADE_OPTIONS)
    fmt = next((b.format for b in models.base_models() if (b.name, b.version) == (base_model, base_version)), "OpenAI")
    return _Base(base_model, base_version, base_name, rule.arm_name, cap, upgrade, fmt, warning)


@dataclass(frozen=True)
class _Tuned:
    """The fine-tuned deployment."""

    sku: str  # ARM SKU name
    capacity: int
    name: str
    model: str | None


# Microsoft's sentence on the Developer type ("Deployment types", MicrosoftDocs/azure-ai-docs
# articles/foundry/foundry-models/concepts/deployment-types.md, read 2026-12-06).
DEVELOPER_SENTENCE = "A Developer type is also available for fine-tuned model evaluation."


def _tuned_sku(values: Mapping[str, ConfigValue], ft: models.FineTunableModel) -> str:
    """fineTunedDeploymentSku: one the model's fine-tuned deployments can use (Developer: the gpt-4.1 family)."""
    raw = _as_required_str(values, contract.FINE_TUNED_DEPLOYMENT_SKU)
    raw = regions.SKU_ALIASES.get(raw, raw)
    allowed = tuple(s for s in regions.FINE_TUNED_SKUS if s in ft.fine_tuned_deployment_skus)
    if raw.lower() == "developer" and "Developer" not in allowed:
        # Refused even when Developer is only the default: switching silently would start an hourly fee.
        raise ConfigError(
            contract.FINE_TUNED_DEPLOYMENT_SKU, raw,
            f'"{DEVELOPER_SENTENCE}" (Microsoft), but Azure offers it for the gpt-4.1 family only, not for '
            f"{ft.model_id}; its fine-tuned deployments take: {', '.join(allowed)}",
            f"{_set(contract.FINE_TUNED_DEPLOYMENT_SKU, allowed[-1])} (billed per hour while deployed), "
            f"or fine-tune gpt-4.1-mini-2025-04-14 to test on a Developer deployment")
    return _pick(contract.FINE_TUNED_DEPLOYMENT_SKU, raw, allowed)


def _fine_tuned_model(values: Mapping[str, ConfigValue], ft: models.FineTunableModel) -> str | None:
    tuned = _as_str(values, contract.FINE_TUNED_MODEL)
    if tuned is None:
        return None
    example = f"{ft.model_id}.ft-0123456789abcdef0123456789abcdef-{contract.SUFFIX}"
    if not _FT_MODEL_RE.match(tuned):
        raise ConfigError(
            contract.FINE_TUNED_MODEL,
            tuned,
            "not a fine-tuned model id (<base-model-id>.ft-<hex>[-suffix], as `python -m jobs status` prints it)",
            _set(contract.FINE_TUNED_MODEL, example),
        )
    try:
        tuned_base = models.resolve(tuned)
    except LookupError:
        tuned_base = None
    if tuned_base != ft:
        raise ConfigError(
            contract.FINE_TUNED_MODEL,
            tuned,
            f"was not fine-tuned from fineTuneModel {ft.model_id}",
            f"set {contract.FINE_TUNE_MODEL} to the model the job tuned, or {_set(contract.FINE_TUNED_MODEL, example)}",
        )
    return tuned


def _tuned(values: Mapping[str, ConfigValue], ft: models.FineTunableModel, base_name: str) -> _Tuned:
    sku_key = _tuned_sku(values, ft)
    rule = regions.FINE_TUNED_SKUS[sku_key]
    cap = _capacity(values, "fineTunedDeploymentCapacity", contract.FINE_TUNED_DEPLOYMENT_SKU, sku_key, rule)
    name = _as_str(values, contract.FINE_TUNED_DEPLOYMENT_NAME) or contract.fine_tuned_deployment_name(base_name)
    if not _DEPLOYMENT_RE.match(name):
        raise ConfigError(
            contract.FINE_TUNED_DEPLOYMENT_NAME, name, "2-64 letters, digits, '.', '-' or '_', starting with a letter or digit", _set(contract.FINE_TUNED_DEPLOYMENT_NAME, contract.DEFAULT_FINE_TUNED_DEPLOYMENT)
        )
    if name == base_name:
        raise ConfigError(contract.FINE_TUNED_DEPLOYMENT_NAME, name, "is the same as baseDeploymentName", _set(contract.FINE_TUNED_DEPLOYMENT_NAME, contract.fine_tuned_deployment_name(base_name)))
    return _Tuned(rule.arm_name, cap, name, _fine_tuned_model(values, ft))


@dataclass(frozen=True)
class _Access:
    rai_policy: str
    operator: str | None
    operator_type: str
    public_network_access: str


def _access(values: Mapping[str, ConfigValue]) -> _Access:
    """Content filter, the operator's principal and network access."""
    rai = _as_required_str(values, "raiPolicy")
    if not _RAI_RE.match(rai):
        raise ConfigError("raiPolicy", rai, "not a content filter name (e.g. Microsoft.DefaultV2)", _set("raiPolicy", "Microsoft.DefaultV2"))
    operator = _as_str(values, "operatorPrincipalId")
    if operator is not None and not _GUID_RE.match(operator):
        raise ConfigError(
            "operatorPrincipalId",
            operator,
            "not an object id (a GUID)",
            "pulumi config set operatorPrincipalId $(az ad signed-in-user show --query id -o tsv)",
        )
    operator_type = _pick("operatorPrincipalType", _as_required_str(values, "operatorPrincipalType"), ("User", "Group", "ServicePrincipal"))
    pna = _pick("publicNetworkAccess", _as_required_str(values, "publicNetworkAccess"), ("Enabled", "Disabled"))
    return _Access(rai, operator.lower() if operator else None, operator_type, pna)


def _today() -> datetime.date:
    try:
        return models.today()
    except ValueError as exc:  # a bad FTJOBS_TODAY: one error line, as for a config value
        raise ConfigError(models.TODAY_ENV, "(env)", str(exc), f"unset {models.TODAY_ENV}") from None


def _parse(
    values: Mapping[str, ConfigValue], *, project: str, stack: str, organization: str, subscription_id: str, tenant_id: str
) -> InfraConfig:
    _check_unknown(values)
    today = _today()
    topology = _pick(contract.TOPOLOGY, _as_required_str(values, contract.TOPOLOGY), contract.TOPOLOGIES)
    allow_region = _as_bool(values, "allowUnlistedRegion")
    allow_model = _as_bool(values, "allowUnlistedModel")
    training = _training(values, topology, allow_region, today)
    prefix, suffix = _names(values, organization, project, stack, subscription_id, tenant_id)
    base = _base(values, allow_model, today)
    tuned = _tuned(values, training.model, base.name)
    access = _access(values)
    return InfraConfig(
        project=project, stack=stack, topology=topology, location=training.location,
        name_prefix=prefix, name_suffix=suffix,
        base_model=base.model, base_model_version=base.version, base_deployment_name=base.name,
        base_deployment_sku=base.sku, base_deployment_capacity=base.capacity, version_upgrade_option=base.upgrade,
        fine_tune_model=training.model.model_id, training_type=training.training_type,
        fine_tuned_model=tuned.model, fine_tuned_deployment_name=tuned.name,
        fine_tuned_deployment_sku=tuned.sku, fine_tuned_deployment_capacity=tuned.capacity,
        rai_policy=access.rai_policy, operator_principal_id=access.operator, operator_principal_type=access.operator_type,
        public_network_access=access.public_network_access,
        key_vault_purge_protection=_as_bool(values, "keyVaultPurgeProtection"),
        allow_unlisted_region=allow_region, allow_unlisted_model=allow_model,
        allow_topology_change=_as_bool(values, contract.ALLOW_TOPOLOGY_CHANGE),
        subscription_id=subscription_id, tenant_id=tenant_id, organization=organization,
        base_model_format=base.format, fine_tuned_model_format=training.model.deployment_format,
        warnings=training.warnings + ((base.warning,) if base.warning else ()),
    )


def stack_values(project: str) -> dict[str, ConfigValue]:
    """This project's config values of the running stack, keyed by bare name."""
    from pulumi.runtime import config as rc

    prefix = f"{project}:"
    keys = {k for k in rc.get_config_env() if k.startswith(prefix)} | {k for k in rc.CONFIG.get() if k.startswith(prefix)}
    values: dict[str, ConfigValue] = {}
    for full in sorted(keys):
        raw = rc.get_config(full)
        values[full[len(prefix):]] = raw if isinstance(raw, (str, int, bool)) or raw is None else str(raw)
    return values


def load() -> InfraConfig:
    """Read and validate the running stack's config (raises :class:`ConfigError`).

    Validation runs first, before the provider is asked anything: a bad value
    is reported even without Azure credentials. Then one ``getClientConfig``
    invoke (synchronous in Python) gives the subscription and tenant ids, which
    the default ``nameSuffix`` hashes and :func:`infra.estate.build_estate`
    reuses for the role definition ids and the key vault's tenant. No resource
    is declared here.
    """
    project = pulumi.get_project()
    from pulumi.runtime import config as rc

    values = stack_values(project)
    secret = frozenset(k for k in values if rc.is_config_secret(f"{project}:{k}"))
    stack, organization = pulumi.get_stack(), pulumi.get_organization()
    checked = parse(values, project=project, stack=stack, organization=organization, secret_keys=secret)  # validation only
    for warning in checked.warnings:  # `pulumi up` cannot ask: it warns, and refuses only after retirement
        pulumi.log.warn(f"model lifecycle: {warning}")
    import pulumi_azure_native.authorization as authorization

    client = authorization.get_client_config()
    return parse(
        values,
        project=project,
        stack=stack,
        organization=organization,
        subscription_id=client.subscription_id,
        tenant_id=client.tenant_id,
        secret_keys=secret,
    )


# What switching a deployed stack to the other topology does, as the guard says it.
_SWITCH_EFFECT: dict[tuple[str, str], str] = {
    (contract.TOPOLOGY_HUB, contract.TOPOLOGY_FOUNDRY): (
        "deletes the hub, its project workspace, the AI Services connection, the storage account, the key vault "
        "and their role assignments, and creates a Foundry project on the AI Services account"
    ),
    (contract.TOPOLOGY_FOUNDRY, contract.TOPOLOGY_HUB): (
        "deletes the Foundry project and its role assignments, and creates a hub, its project workspace, "
        "a storage account, a key vault and the AI Services connection"
    ),
}


def previous_topology(outputs: Mapping[str, object] | None) -> str | None:
    """The topology of the stack's last deployment, from its outputs (a StackReference to itself).

    ``None`` when the stack has no outputs (never deployed, or destroyed): a
    first ``up`` is never refused. A stack deployed before the ``topology``
    output existed exported ``hub_name`` and was a hub.
    """
    last = contract.StackOutputs.from_json(outputs)
    if last.topology in contract.TOPOLOGIES:
        return last.topology
    if last.hub_name:
        return contract.TOPOLOGY_HUB
    return None


def check_topology_change(cfg: InfraConfig, previous: str | None) -> str | None:
    """Refuse a topology switch of a deployed stack unless ``allowTopologyChange`` confirms it.

    Returns the preview warning for a confirmed switch, ``None`` when nothing switches.
    """
    if previous is None or previous == cfg.topology:
        return None
    effect = _SWITCH_EFFECT[(previous, cfg.topology)]
    if not cfg.allow_topology_change:
        raise ConfigError(
            contract.TOPOLOGY,
            cfg.topology,
            f"the stack's last deployment has topology {previous}; switching to {cfg.topology} {effect} "
            "(the AI Services account and its model deployments stay)",
            f"{_set(contract.TOPOLOGY, previous)} to keep the deployed topology, or "
            f"{_set(contract.ALLOW_TOPOLOGY_CHANGE, 'true')} to confirm the switch",
        )
    return (
        f"topology changes from {previous} to {cfg.topology} (allowTopologyChange is set): this update {effect}; "
        f"afterwards run `pulumi config rm {contract.ALLOW_TOPOLOGY_CHANGE}`"
    )
