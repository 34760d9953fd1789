"""The stack config as a pure function: values in, InfraConfig or one named-key error out."""

from __future__ import annotations

import re
from pathlib import Path

import pulumi
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from infra import regions
from infra.config import KEYS, LAB_TAG, ConfigError, check_topology_change, default_suffix, parse, previous_topology
from infra.naming import names_for, openai_endpoint
from jobs import models

TUNED = "gpt-4.1-2025-04-14.ft-0123456789abcdef0123456789abcdef-ft-travel"


def test_defaults_are_the_2026_lab() -> None:
    cfg = parse({})
    assert cfg.location == "swedencentral"
    assert (cfg.base_model, cfg.base_model_version) == ("gpt-4.1", "2025-04-14")
    assert cfg.base_deployment_name == "gpt-4.1"
    assert (cfg.base_deployment_sku, cfg.base_deployment_capacity) == ("GlobalStandard", 5)
    assert cfg.fine_tune_model == "gpt-4.1-2025-04-14"
    assert cfg.training_type == "Standard"
    assert cfg.fine_tuned_model is None
    assert cfg.fine_tuned_deployment_name == "gpt-4.1-ft-travel"
    # The portal's "Developer" deployment type is the ARM SKU "DeveloperTier".
    assert (cfg.fine_tuned_deployment_sku, cfg.fine_tuned_deployment_capacity) == ("DeveloperTier", 50)
    assert cfg.rai_policy == "Microsoft.DefaultV2"
    assert cfg.public_network_access == "Enabled"
    assert cfg.key_vault_purge_protection is False
    assert cfg.operator_principal_id is None
    # The lab as specified (hub) unless the stack picks the 2026 lab (foundry).
    assert (cfg.topology, cfg.allow_topology_change) == ("hub", False)
    # Pinned: Azure never moves the base deployment past baseModelVersion.
    assert cfg.version_upgrade_option == "NoAutoUpgrade"


def test_topology_and_version_upgrade_option_spellings() -> None:
    cfg = parse({"topology": "Foundry", "versionUpgradeOption": "oncecurrentversionexpired", "allowTopologyChange": "true"})
    assert (cfg.topology, cfg.version_upgrade_option, cfg.allow_topology_change) == ("foundry", "OnceCurrentVersionExpired", True)
    assert parse({"versionUpgradeOption": "OnceNewDefaultVersionAvailable"}).version_upgrade_option == "OnceNewDefaultVersionAvailable"


def test_tags_are_defined_once_for_every_resource() -> None:
    assert LAB_TAG == "fine-tune-a-language-model"
    assert parse({}, stack="prod").tags == {"project": "foundry-finetune", "stack": "prod", "lab": "fine-tune-a-language-model"}
    assert parse({"topology": "foundry"}).tags == parse({}).tags


def test_seed_values_reach_the_base_deployment() -> None:
    """The 2024 lab's values (Standard, 5K TPM, default filter) on the 2026 lab's model."""
    cfg = parse(
        {
            "baseModel": "gpt-4.1",
            "baseModelVersion": "2025-04-14",
            "baseDeploymentSku": "Standard",
            "baseDeploymentCapacity": "5",
            "raiPolicy": "Microsoft.Default",
            "location": "northcentralus",
        }
    )
    assert (cfg.base_model, cfg.base_model_version, cfg.base_deployment_sku, cfg.base_deployment_capacity) == (
        "gpt-4.1",
        "2025-04-14",
        "Standard",
        5,
    )
    assert cfg.base_deployment_name == "gpt-4.1"
    assert cfg.rai_policy == "Microsoft.Default"


@pytest.mark.parametrize("allow", [False, True])
def test_seed_model_gpt_4_0613_is_refused_naming_the_2026_labs_model(allow: bool) -> None:
    """gpt-4 0613 retired on the date the lifecycle table gives; even allowUnlistedModel does not deploy it."""
    retired = next(r for r in models.RETIRED if r.model_id == "gpt-4-0613")
    with pytest.raises(ConfigError) as info:
        parse({"baseModel": "gpt-4", "baseModelVersion": "0613", "allowUnlistedModel": allow})
    msg = str(info.value)
    assert info.value.key == "baseModel"
    assert f"retired on {retired.retired}" in msg and "410" in msg
    assert models.LAB_2026_MODEL in msg and "pulumi config set baseModel gpt-4.1" in msg


def test_strings_as_pulumi_stores_them_and_friendly_spellings() -> None:
    cfg = parse(
        {
            "location": "North Central US",
            "baseDeploymentSku": "globalstandard",
            "baseDeploymentCapacity": "10",
            "fineTunedDeploymentSku": "DeveloperTier",
            "fineTunedDeploymentCapacity": 25,
            "keyVaultPurgeProtection": "True",
            "publicNetworkAccess": "disabled",
            "fineTuneModel": "gpt-4.1",
            "fineTunedModel": TUNED,
            "operatorPrincipalId": "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE",
            "nameSuffix": "",
        }
    )
    assert cfg.location == "northcentralus"
    assert cfg.base_deployment_sku == "GlobalStandard"
    assert cfg.base_deployment_capacity == 10
    assert cfg.fine_tuned_deployment_sku == "DeveloperTier"
    assert cfg.fine_tuned_deployment_capacity == 25
    assert cfg.key_vault_purge_protection is True
    assert cfg.public_network_access == "Disabled"
    assert cfg.fine_tune_model == "gpt-4.1-2025-04-14"
    assert cfg.fine_tuned_model == TUNED
    assert cfg.operator_principal_id == "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    assert cfg.name_suffix == default_suffix("organization", "foundry-finetune", "dev", "ftlab")


def test_fine_tuned_standard_and_global_skus() -> None:
    assert parse({"fineTunedDeploymentSku": "Standard", "fineTunedDeploymentCapacity": "1"}).fine_tuned_deployment_sku == "Standard"
    assert parse({"fineTunedDeploymentSku": "GlobalStandard"}).fine_tuned_deployment_sku == "GlobalStandard"


def test_allow_unlisted_region_and_model_overrides() -> None:
    cfg = parse({"location": "westus3", "allowUnlistedRegion": "true"})
    assert cfg.location == "westus3"
    cfg = parse({"baseModel": "gpt-5", "baseModelVersion": "2025-08-07", "allowUnlistedModel": "true"})
    assert (cfg.base_model, cfg.base_model_version) == ("gpt-5", "2025-08-07")


def test_global_training_is_not_limited_to_the_standard_regions() -> None:
    cfg = parse({"trainingType": "Global", "location": "eastus2"})
    assert (cfg.location, cfg.training_type) == ("eastus2", "GlobalStandard")
    assert parse({"trainingType": "globalstandard", "location": "eastus2"}).training_type == "GlobalStandard"
    assert parse({"trainingType": "developer", "location": "westeurope"}).training_type == "Developer"


def test_gpt4o_trains_in_eastus2() -> None:
    cfg = parse({"fineTuneModel": "gpt-4o-2024-08-06", "location": "eastus2", "fineTunedDeploymentSku": "GlobalStandard"})
    assert cfg.fine_tune_model == "gpt-4o-2024-08-06"


def test_developer_deployment_is_refused_where_azure_does_not_offer_it() -> None:
    """gpt-4o has no Developer deployments: refused with Microsoft's sentence and a suggestion, nothing switched silently."""
    err = _err({"fineTuneModel": "gpt-4o-2024-08-06", "location": "eastus2"})
    assert err.key == "fineTunedDeploymentSku"
    assert "A Developer type is also available for fine-tuned model evaluation." in str(err)
    assert "gpt-4.1 family only" in str(err) and "fineTunedDeploymentSku GlobalStandard" in str(err)


def _err(values: dict[str, object]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse(values)  # type: ignore[arg-type]
    return info.value


def test_config_error_is_a_pulumi_run_error() -> None:
    # RunError is what Pulumi's language host prints as one line, without a traceback.
    assert issubclass(ConfigError, pulumi.RunError)


def test_retired_fine_tune_model_names_the_alternatives() -> None:
    err = _err({"fineTuneModel": "gpt-4-0613"})
    assert err.key == "fineTuneModel"
    assert str(err) == (
        "config foundry-finetune:fineTuneModel = 'gpt-4-0613': gpt-4-0613 was retired on 2025-06-06 "
        "(the original lab's model; the lab's 2026 revision uses gpt-4.1): Azure answers 410 for a retired model "
        "and takes no new deployments or fine-tuning jobs; use gpt-4.1-2025-04-14 instead "
        f"(source: {models.LEGACY_SOURCE}, checked {models.CHECKED}). "
        "Fix: pulumi config set fineTuneModel gpt-4.1-2025-04-14"
    )


def test_unsupported_region_names_the_supported_ones() -> None:
    err = _err({"location": "westeurope"})
    assert str(err) == (
        "config foundry-finetune:location = 'westeurope': gpt-4.1-2025-04-14 Standard training is supported in: "
        "northcentralus, swedencentral. Fix: pulumi config set location northcentralus, or pulumi config set "
        "allowUnlistedRegion true if Azure added this region after the table was written"
    )


def test_unknown_key_suggests_the_right_one() -> None:
    err = _err({"fineTunedModle": TUNED})
    assert err.key == "fineTunedModle"
    assert "unknown key; did you mean fineTunedModel?" in str(err)
    assert str(err).endswith("Fix: pulumi config rm fineTunedModle")


@pytest.mark.parametrize(
    ("values", "key", "expected"),
    [
        ({"fineTuneModel": "gpt-9"}, "fineTuneModel", "not a fine-tunable model; fine-tunable models: gpt-4.1-2025-04-14, gpt-4.1-mini"),
        ({"trainingType": "Turbo"}, "trainingType", "allowed values: Standard, GlobalStandard, Developer"),
        ({"location": "mars central!"}, "location", "not an Azure region name (e.g. swedencentral)"),
        ({"namePrefix": "Lab"}, "namePrefix", "must be 2-10 lowercase letters or digits, starting with a letter"),
        ({"namePrefix": "ft-lab"}, "namePrefix", "must be 2-10 lowercase letters or digits"),
        ({"nameSuffix": "AB"}, "nameSuffix", "must be 4-8 lowercase letters or digits"),
        ({"baseModel": "gpt-99"}, "baseModel", "not in the model table; known models: gpt-4.1, gpt-4.1-mini"),
        ({"baseModelVersion": "0613"}, "baseModelVersion", "gpt-4.1 versions: 2025-04-14"),
        ({"baseDeploymentSku": "Developer"}, "baseDeploymentSku", "allowed values: Standard, GlobalStandard, DataZoneStandard"),
        ({"baseDeploymentSku": "Premium"}, "baseDeploymentSku", "allowed values: Standard, GlobalStandard, DataZoneStandard"),
        ({"baseDeploymentCapacity": "0"}, "baseDeploymentCapacity", "baseDeploymentSku GlobalStandard takes a capacity from 1 to 10000"),
        ({"baseDeploymentSku": "Standard", "baseDeploymentCapacity": "5000"}, "baseDeploymentCapacity", "Standard takes a capacity from 1 to 1000"),
        ({"baseDeploymentCapacity": "5k"}, "baseDeploymentCapacity", "expected a whole number"),
        ({"baseDeploymentCapacity": True}, "baseDeploymentCapacity", "expected a whole number"),
        ({"baseDeploymentName": "-bad name"}, "baseDeploymentName", "2-64 letters, digits"),
        ({"fineTunedDeploymentSku": "DataZoneStandard"}, "fineTunedDeploymentSku", "allowed values: Standard, GlobalStandard, Developer"),
        ({"fineTunedDeploymentCapacity": "-1"}, "fineTunedDeploymentCapacity", "fineTunedDeploymentSku Developer takes a capacity from 1 to 1000"),
        ({"fineTunedDeploymentName": "gpt-4.1"}, "fineTunedDeploymentName", "is the same as baseDeploymentName"),
        ({"fineTunedModel": "gpt-4.1-ft-travel"}, "fineTunedModel", "not a fine-tuned model id (<base-model-id>.ft-<hex>[-suffix]"),
        (
            {"fineTunedModel": "gpt-4o-mini-2024-07-18.ft-0123456789abcdef-ft-travel"},
            "fineTunedModel",
            "was not fine-tuned from fineTuneModel gpt-4.1-2025-04-14",
        ),
        ({"raiPolicy": "my policy"}, "raiPolicy", "not a content filter name"),
        ({"operatorPrincipalId": "me@example.com"}, "operatorPrincipalId", "not an object id (a GUID)"),
        ({"operatorPrincipalType": "Robot"}, "operatorPrincipalType", "allowed values: User, Group, ServicePrincipal"),
        ({"publicNetworkAccess": "Open"}, "publicNetworkAccess", "allowed values: Enabled, Disabled"),
        ({"keyVaultPurgeProtection": "yes"}, "keyVaultPurgeProtection", "expected true or false"),
        ({"allowUnlistedRegion": "1"}, "allowUnlistedRegion", "expected true or false"),
        ({"location": ""}, "location", "is empty"),
        ({"topology": "classic"}, "topology", "allowed values: hub, foundry"),
        ({"versionUpgradeOption": "Auto"}, "versionUpgradeOption", "allowed values: NoAutoUpgrade, OnceCurrentVersionExpired, OnceNewDefaultVersionAvailable"),
        ({"allowTopologyChange": "yes"}, "allowTopologyChange", "expected true or false"),
    ],
)
def test_each_bad_value_names_key_value_and_allowed(values: dict[str, object], key: str, expected: str) -> None:
    err = _err(values)
    assert err.key == key
    bad = values[key]
    assert str(err).startswith(f"config foundry-finetune:{key} = {bad!r}: ")
    assert expected in str(err)
    assert "Fix: " in str(err)


def test_pulumi_yaml_documents_every_key_with_the_same_default(repo_root: Path) -> None:
    project = yaml.safe_load((repo_root / "Pulumi.yaml").read_text())
    assert project["name"] == "foundry-finetune"
    assert project["runtime"]["name"] == "python"
    assert project["runtime"]["options"]["virtualenv"] == ".venv"
    documented = project["config"]
    assert list(documented) == [k.name for k in KEYS]
    for key in KEYS:
        entry = documented[key.name]
        assert entry["type"] == key.type, key.name
        assert entry["description"], key.name
        assert entry["default"] == ("" if key.default is None else key.default), key.name
    # The declared defaults, passed back as config, give the default config.
    assert parse({k: v["default"] for k, v in documented.items()}) == parse({})


def test_example_stack_is_valid_and_holds_no_secrets(repo_root: Path) -> None:
    stack = yaml.safe_load((repo_root / "Pulumi.dev.yaml").read_text())
    values = stack["config"]
    assert all(k.startswith("foundry-finetune:") for k in values)
    assert not any(isinstance(v, dict) and "secure" in v for v in values.values())
    cfg = parse({k.split(":", 1)[1]: v for k, v in values.items()})
    assert cfg.location in regions.all_training_regions()


def test_names_follow_azure_rules_and_differ_per_stack() -> None:
    a, b = names_for(parse({}, stack="dev")), names_for(parse({}, stack="prod"))
    assert a.ai_services != b.ai_services and a.storage_account != b.storage_account
    assert names_for(parse({}, stack="dev")) == a  # stable across runs
    long = names_for(parse({"namePrefix": "abcdefghij", "nameSuffix": "12345678"}, stack="a-very-long-stack-name"))
    for n in (a, b, long):
        assert 3 <= len(n.storage_account) <= 24 and n.storage_account.isalnum() and n.storage_account.islower()
        assert 3 <= len(n.key_vault) <= 24 and n.key_vault[0].isalpha() and "--" not in n.key_vault
        assert 3 <= len(n.hub) <= 33 and 3 <= len(n.project) <= 33
        assert n.subdomain == n.ai_services and n.subdomain == n.subdomain.lower()
    assert openai_endpoint(a.subdomain) == f"https://{a.subdomain}.openai.azure.com/"
    assert parse({"nameSuffix": "abcd"}).name_suffix == "abcd"


@settings(max_examples=150, deadline=None)
@given(
    prefix=st.from_regex(r"[a-z][a-z0-9]{1,9}", fullmatch=True),
    suffix=st.one_of(st.just(""), st.from_regex(r"[a-z0-9]{4,8}", fullmatch=True)),
    stack=st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", min_size=1, max_size=80),
)
def test_any_valid_prefix_suffix_and_stack_give_valid_azure_names(prefix: str, suffix: str, stack: str) -> None:
    n = names_for(parse({"namePrefix": prefix, "nameSuffix": suffix}, stack=stack))
    assert re.fullmatch(r"[a-z0-9]{3,24}", n.storage_account)
    assert re.fullmatch(r"[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]", n.key_vault) and "--" not in n.key_vault
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}[a-z0-9]", n.subdomain)
    for ws in (n.hub, n.project):
        assert re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}", ws)
    assert re.fullmatch(r"[-\w._()]{1,90}", n.resource_group) and not n.resource_group.endswith(".")


def test_errors_about_secret_keys_do_not_echo_the_value() -> None:
    with pytest.raises(ConfigError) as info:
        parse({"openaiApiKey": "sk-very-secret-123"}, secret_keys=frozenset({"openaiApiKey"}))
    assert "sk-very-secret-123" not in str(info.value)
    assert str(info.value).startswith("config foundry-finetune:openaiApiKey = [secret]: unknown key")
    with pytest.raises(ConfigError) as info:
        parse({"operatorPrincipalId": "not-a-guid-secret"}, secret_keys=frozenset({"operatorPrincipalId"}))
    assert "not-a-guid-secret" not in str(info.value)


# YAML type each Pulumi.yaml `type` needs in a stack file. Pulumi validates a
# stack value against the declared type ("Stack 'dev' with configuration key
# 'x' must be of type 'integer'"); bool is a subclass of int in Python, so it
# is excluded from "integer" explicitly.
_YAML_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,), "boolean": (bool,)}


def stack_type_errors(project_text: str, stack_text: str, project: str = "foundry-finetune") -> list[str]:
    """Every stack value whose YAML type differs from the declared type, and every undeclared key."""
    declared = yaml.safe_load(project_text)["config"]
    errors: list[str] = []
    for key, entry in declared.items():
        default = entry.get("default")
        if default is not None and not _yaml_type_ok(entry["type"], default):
            errors.append(f"Pulumi.yaml {key}: default {default!r} is not {entry['type']}")
    for full, value in (yaml.safe_load(stack_text).get("config") or {}).items():
        namespace, _, key = full.partition(":")
        if namespace != project or key not in declared:
            errors.append(f"{full}: not declared in Pulumi.yaml")
        elif not _yaml_type_ok(declared[key]["type"], value):
            errors.append(f"{full}: {value!r} is {type(value).__name__}, declared {declared[key]['type']}")
    return errors


def _yaml_type_ok(declared: str, value: object) -> bool:
    if declared == "integer" and isinstance(value, bool):
        return False
    return isinstance(value, _YAML_TYPES[declared])


def test_stack_type_check_catches_quoted_numbers_dates_and_undeclared_keys(repo_root: Path) -> None:
    project = (repo_root / "Pulumi.yaml").read_text()
    bad = """config:
  foundry-finetune:baseDeploymentCapacity: "5"
  foundry-finetune:keyVaultPurgeProtection: "false"
  foundry-finetune:baseModelVersion: 2025-04-14
  foundry-finetune:nameSuffix: 1234
  foundry-finetune:baseDeploymentCapcity: 5
"""
    assert stack_type_errors(project, bad) == [
        "foundry-finetune:baseDeploymentCapacity: '5' is str, declared integer",
        "foundry-finetune:keyVaultPurgeProtection: 'false' is str, declared boolean",
        "foundry-finetune:baseModelVersion: datetime.date(2025, 4, 14) is date, declared string",
        "foundry-finetune:nameSuffix: 1234 is int, declared string",
        "foundry-finetune:baseDeploymentCapcity: not declared in Pulumi.yaml",
    ]
    good = 'config:\n  foundry-finetune:nameSuffix: "1234"\n  foundry-finetune:allowUnlistedRegion: true\n'
    assert stack_type_errors(project, good) == []


def test_example_stack_values_have_the_declared_yaml_types(repo_root: Path) -> None:
    project = (repo_root / "Pulumi.yaml").read_text()
    stack = (repo_root / "Pulumi.dev.yaml").read_text()
    assert stack_type_errors(project, stack) == []
    values = yaml.safe_load(stack)["config"]
    assert values["foundry-finetune:baseDeploymentCapacity"] == 5
    assert values["foundry-finetune:fineTunedDeploymentCapacity"] == 50


def test_digits_only_name_suffix_as_pulumi_config_set_stores_it() -> None:
    # `pulumi config set nameSuffix 1234` stores the string "1234"; the
    # program may also see an int if someone edits the YAML by hand.
    assert parse({"nameSuffix": "1234"}).name_suffix == "1234"
    assert parse({"nameSuffix": 1234}).name_suffix == "1234"
    assert names_for(parse({"nameSuffix": "1234"})).storage_account == "stftlab1234"


def test_default_suffix_depends_on_subscription_and_tenant_and_is_stable() -> None:
    sub_a, sub_b = "11111111-2222-3333-4444-555555555555", "22222222-3333-4444-5555-666666666666"
    tenant = "99999999-8888-7777-6666-555555555555"
    a = names_for(parse({}, subscription_id=sub_a, tenant_id=tenant))
    b = names_for(parse({}, subscription_id=sub_b, tenant_id=tenant))
    c = names_for(parse({}, subscription_id=sub_a, tenant_id="88888888-7777-6666-5555-444444444444"))
    for other in (b, c):
        assert a.storage_account != other.storage_account
        assert a.key_vault != other.key_vault
        assert a.subdomain != other.subdomain
    assert names_for(parse({}, subscription_id=sub_a, tenant_id=tenant)) == a
    assert names_for(parse({}, subscription_id=sub_a.upper(), tenant_id=tenant)) == a  # ids compare case-insensitively
    explicit = parse({"nameSuffix": "ab12"}, subscription_id=sub_b, tenant_id=tenant)
    assert explicit.name_suffix == "ab12"
    assert (explicit.subscription_id, explicit.tenant_id) == (sub_b, tenant)


def test_default_names_are_pinned() -> None:
    # Changing the naming hash would rename, i.e. replace, every resource of existing
    # stacks. The literal below is sha256("organization/foundry-finetune/dev/ftlab/
    # <tenant>/<subscription>")[:6], computed once by hand, not by the code under test.
    cfg = parse({}, stack="dev", organization="organization",
                subscription_id="11111111-1111-1111-1111-111111111111",
                tenant_id="00000000-0000-0000-0000-0000000000AA")
    n = names_for(cfg)
    assert (n.storage_account, n.key_vault, n.ai_services) == ("stftlab8f2de4", "kv-ftlab-8f2de4", "ais-ftlab-8f2de4")
    assert (n.hub, n.project, n.resource_group) == ("hub-ftlab-8f2de4", "proj-ftlab-8f2de4", "rg-ftlab-dev")


def test_previous_topology_reads_the_last_deployment() -> None:
    assert previous_topology(None) is None  # never deployed: a first `up`
    assert previous_topology({}) is None  # destroyed: no outputs left
    assert previous_topology({"topology": "foundry", "hub_name": None}) == "foundry"
    assert previous_topology({"topology": "hub", "hub_name": "hub-ftlab-abcd"}) == "hub"
    # Deployed before the topology output existed: it exported hub_name, so it was a hub.
    assert previous_topology({"hub_name": "hub-ftlab-abcd", "project_name": "proj-ftlab-abcd"}) == "hub"
    assert previous_topology({"topology": "bogus"}) is None


def test_a_topology_switch_is_refused_unless_confirmed() -> None:
    foundry = parse({"topology": "foundry"})
    assert check_topology_change(foundry, None) is None
    assert check_topology_change(foundry, "foundry") is None
    with pytest.raises(ConfigError) as info:
        check_topology_change(foundry, "hub")
    assert info.value.key == "topology"
    assert str(info.value) == (
        "config foundry-finetune:topology = 'foundry': the stack's last deployment has topology hub; switching to "
        "foundry deletes the hub, its project workspace, the AI Services connection, the storage account, the key "
        "vault and their role assignments, and creates a Foundry project on the AI Services account (the AI Services "
        "account and its model deployments stay). Fix: pulumi config set topology hub to keep the deployed topology, "
        "or pulumi config set allowTopologyChange true to confirm the switch"
    )
    with pytest.raises(ConfigError) as info:
        check_topology_change(parse({}), "foundry")
    assert "switching to hub deletes the Foundry project and its role assignments" in str(info.value)
    assert "pulumi config set topology foundry" in str(info.value)
    confirmed = parse({"topology": "foundry", "allowTopologyChange": "true"})
    note = check_topology_change(confirmed, "hub")
    assert note is not None and note.startswith("topology changes from hub to foundry (allowTopologyChange is set)")
    assert note.endswith("afterwards run `pulumi config rm allowTopologyChange`")


def test_documented_quotas_are_the_contracts(repo_root: Path) -> None:
    """Microsoft's figures today (10 tuned deployments; 3 running Standard/Global jobs, 5 Developer; 20 queued)."""
    from jobs import contract

    assert contract.MAX_FINE_TUNED_DEPLOYMENTS == 10
    assert contract.MAX_RUNNING_TRAINING_JOBS == {"Standard": 3, "GlobalStandard": 3, "Developer": 5}
    assert set(contract.MAX_RUNNING_TRAINING_JOBS) == set(contract.TRAINING_TYPE_NAMES)
    assert contract.MAX_QUEUED_TRAINING_JOBS == 20
    docs = (repo_root / "docs" / "infrastructure.md").read_text()
    assert contract.QUOTA_SOURCE in docs
    assert f"| Fine-tuned model deployments | {contract.MAX_FINE_TUNED_DEPLOYMENTS} |" in docs
    assert "| Simultaneously running training jobs | Standard and Global training: 3; Developer training: 5 |" in docs
    assert f"| Queued training jobs | {contract.MAX_QUEUED_TRAINING_JOBS} |" in docs
    readme = (repo_root / "README.md").read_text()
    assert "like one per Azure resource" not in readme  # the old figure (one running job per resource)


def test_replace_note_names_the_deployment_and_both_models() -> None:
    from jobs import contract

    note = contract.replace_note("gpt-4.1-ft-travel", "gpt-4.1-2025-04-14.ft-aaa-ft-travel", "gpt-4.1-2025-04-14.ft-bbb-ft-travel")
    assert note == (
        "the deployment gpt-4.1-ft-travel already serves gpt-4.1-2025-04-14.ft-aaa-ft-travel; Azure cannot change "
        "the model of a deployment, so the next `pulumi up` deletes it and then creates it again with "
        "gpt-4.1-2025-04-14.ft-bbb-ft-travel (the name stays, the old model stops answering at once)"
    )


def test_training_type_has_one_normaliser_for_the_cli_and_the_stack() -> None:
    """trainingType is read with contract.training_type_name, the function the CLI uses: Azure's spelling and the
    portal's word work in both, an unknown word is refused with the contract's names."""
    from jobs import contract

    for raw, name in (("developerTier", "Developer"), ("Global", "GlobalStandard"), ("STANDARD", "Standard")):
        assert contract.training_type_name(raw) == name
        assert parse({"trainingType": raw, "location": "swedencentral"}).training_type == name
    assert contract.training_type_name("Turbo") is None
    with pytest.raises(ConfigError) as info:
        parse({"trainingType": "Turbo"})
    assert (info.value.key, info.value.problem) == ("trainingType", "allowed values: Standard, GlobalStandard, Developer")
    assert not hasattr(regions, "TRAINING_ALIASES")
    assert parse({}).training_type == contract.DEFAULT_TRAINING_TYPE

