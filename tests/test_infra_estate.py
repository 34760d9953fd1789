"""The Pulumi program under Pulumi's mocks: every resource, its security settings, roles, order, outputs."""

from __future__ import annotations

import datetime
import gc
import json
import logging
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Callable

import pytest

from infra.config import ConfigError
from infra.plan import SUBSCRIPTION, TENANT, EstateRun, principal_of
from infra.plan import run_program as _run, project_principal_of
from jobs import models

RG = "azure-native:resources:ResourceGroup"
STORAGE = "azure-native:storage:StorageAccount"
VAULT = "azure-native:keyvault:Vault"
ACCOUNT = "azure-native:cognitiveservices:Account"
DEPLOYMENT = "azure-native:cognitiveservices:Deployment"
WORKSPACE = "azure-native:machinelearningservices:Workspace"
CONNECTION = "azure-native:machinelearningservices:WorkspaceConnection"
ROLE = "azure-native:authorization:RoleAssignment"
PROJECT = "azure-native:cognitiveservices:Project"

BLOB_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
OPENAI_CONTRIBUTOR = "a001fd3d-188f-4b5d-821b-7da978bf7442"
AI_DEVELOPER = "64702f94-c441-49e6-a78b-ef80e0188fee"
AI_USER = "53ca6127-db72-4b80-b1b0-d745d6d5456d"
TAGS = {"project": "foundry-finetune", "stack": "dev", "lab": "fine-tune-a-language-model"}
FOUNDRY = {"topology": "foundry"}

TUNED = "gpt-4.1-2025-04-14.ft-0123456789abcdef0123456789abcdef-ft-travel"
OPERATOR = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

Run = Callable[..., EstateRun]


def role_def(guid: str) -> str:
    return f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def workspace(run: EstateRun, kind: str) -> Any:
    found = [r for r in run.of_type(WORKSPACE) if r.inputs["kind"] == kind]
    assert len(found) == 1
    return found[0]


def assert_one_group_in_the_region(run: EstateRun) -> None:
    """One resource group holds everything, in the configured region (role assignments live on their scope,
    checked on their own)."""
    rg = run.one(RG)
    for r in run.resources:
        if r.custom and r.type not in (RG, ROLE):
            assert r.inputs["resourceGroupName"] == rg.inputs["resourceGroupName"], r.name
            if "location" in r.inputs:
                assert r.inputs["location"] == "swedencentral", r.name


@pytest.mark.slow
def test_default_estate_declares_the_lab(run_estate: Run) -> None:
    run = run_estate({})
    counts = {t: len(run.of_type(t)) for t in (RG, STORAGE, VAULT, ACCOUNT, WORKSPACE, CONNECTION, ROLE, DEPLOYMENT, PROJECT)}
    assert counts == {RG: 1, STORAGE: 1, VAULT: 1, ACCOUNT: 1, WORKSPACE: 2, CONNECTION: 1, ROLE: 1, DEPLOYMENT: 1, PROJECT: 0}
    assert_one_group_in_the_region(run)


def test_storage_and_vault_secure_defaults(run_estate: Run) -> None:
    run = run_estate({})
    st = run.one(STORAGE).inputs
    assert st["allowBlobPublicAccess"] is False
    assert st["minimumTlsVersion"] == "TLS1_2"
    assert st["enableHttpsTrafficOnly"] is True
    assert st["kind"] == "StorageV2"
    kv = run.one(VAULT).inputs["properties"]
    assert kv["enableRbacAuthorization"] is True
    assert kv["tenantId"] == TENANT
    # Off by default, by omission: Azure rejects an explicit false.
    assert "enablePurgeProtection" not in kv


def test_purge_protection_is_configurable(run_estate: Run) -> None:
    run = run_estate({"keyVaultPurgeProtection": True})
    assert run.one(VAULT).inputs["properties"]["enablePurgeProtection"] is True


def test_ai_services_account(run_estate: Run) -> None:
    run = run_estate({})
    acct = run.one(ACCOUNT).inputs
    assert acct["kind"] == "AIServices"
    assert acct["sku"] == {"name": "S0"}
    assert acct["identity"] == {"type": "SystemAssigned"}
    props = acct["properties"]
    assert props["disableLocalAuth"] is True
    assert props["publicNetworkAccess"] == "Enabled"
    assert props["customSubDomainName"] == acct["accountName"]
    assert props["customSubDomainName"].startswith("ais-ftlab-")
    # Only the Foundry resource (topology foundry) holds projects.
    assert "allowProjectManagement" not in props


def test_public_network_access_is_configurable(run_estate: Run) -> None:
    run = run_estate({"publicNetworkAccess": "Disabled"})
    assert run.one(ACCOUNT).inputs["properties"]["publicNetworkAccess"] == "Disabled"
    assert {w.inputs["publicNetworkAccess"] for w in run.of_type(WORKSPACE)} == {"Disabled"}
    # As Pulumi.yaml says: every resource that has the setting, storage included.
    assert run.one(VAULT).inputs["properties"]["publicNetworkAccess"] == "Disabled"
    assert run.one(STORAGE).inputs["publicNetworkAccess"] == "Disabled"
    default = run_estate({})
    assert default.one(STORAGE).inputs["publicNetworkAccess"] == "Enabled"
    assert default.one(VAULT).inputs["properties"]["publicNetworkAccess"] == "Enabled"


def test_subdomain_is_unique_per_stack(run_estate: Run) -> None:
    dev = run_estate({}, stack="dev").one(ACCOUNT).inputs["properties"]["customSubDomainName"]
    prod = run_estate({}, stack="prod").one(ACCOUNT).inputs["properties"]["customSubDomainName"]
    again = run_estate({}, stack="dev").one(ACCOUNT).inputs["properties"]["customSubDomainName"]
    assert dev != prod
    assert dev == again


def test_hub_project_and_connection(run_estate: Run) -> None:
    run = run_estate({})
    hub, project = workspace(run, "Hub"), workspace(run, "Project")
    storage, vault, account = run.one(STORAGE), run.one(VAULT), run.one(ACCOUNT)
    assert hub.inputs["storageAccount"] == storage.id
    assert hub.inputs["keyVault"] == vault.id
    # The ARM enum's spelling (AccessKey | Identity | UserDelegationSAS).
    assert hub.inputs["systemDatastoresAuthMode"] == "Identity"
    assert project.inputs["hubResourceId"] == hub.id
    conn = run.one(CONNECTION).inputs
    assert conn["workspaceName"] == hub.inputs["workspaceName"]
    props = conn["properties"]
    assert props["category"] == "AIServices"
    assert props["authType"] == "AAD"
    assert props["isSharedToAll"] is True
    assert props["target"] == f"https://{account.inputs['accountName']}.cognitiveservices.azure.com/"
    assert props["metadata"] == {"ApiType": "Azure", "ResourceId": account.id, "location": "swedencentral"}
    assert "credentials" not in props
    # No AI Search connection, as in the lab.
    assert all(c.inputs["properties"]["category"] == "AIServices" for c in run.of_type(CONNECTION))


def test_blob_data_owner_for_the_ai_identity_scoped_to_the_storage_account(run_estate: Run) -> None:
    run = run_estate({})
    role = run.one(ROLE).inputs
    storage, account = run.one(STORAGE), run.one(ACCOUNT)
    assert role["roleDefinitionId"] == role_def(BLOB_OWNER)
    assert role["scope"] == storage.id
    assert role["scope"].endswith(f"/providers/Microsoft.Storage/storageAccounts/{storage.inputs['accountName']}")
    assert role["principalId"] == principal_of(account.inputs["accountName"])
    assert role["principalType"] == "ServicePrincipal"
    # A deterministic GUID name: same scope + principal + role -> same assignment.
    assert str(uuid.UUID(role["roleAssignmentName"])) == role["roleAssignmentName"]
    assert run_estate({}).one(ROLE).inputs["roleAssignmentName"] == role["roleAssignmentName"]


def test_operator_roles_only_when_operator_is_set(run_estate: Run) -> None:
    run = run_estate({"operatorPrincipalId": OPERATOR})
    roles = {r.inputs["roleDefinitionId"]: r.inputs for r in run.of_type(ROLE)}
    assert set(roles) == {role_def(BLOB_OWNER), role_def(OPENAI_CONTRIBUTOR), role_def(AI_DEVELOPER)}
    openai = roles[role_def(OPENAI_CONTRIBUTOR)]
    assert openai["scope"] == run.one(ACCOUNT).id
    assert openai["principalId"] == OPERATOR
    assert openai["principalType"] == "User"
    dev = roles[role_def(AI_DEVELOPER)]
    assert dev["scope"] == workspace(run, "Project").id
    assert dev["principalId"] == OPERATOR
    names = {r["roleAssignmentName"] for r in roles.values()}
    assert len(names) == 3
    group = run_estate({"operatorPrincipalId": OPERATOR, "operatorPrincipalType": "Group"})
    assert {r.inputs["principalType"] for r in group.of_type(ROLE) if r.inputs["principalId"] == OPERATOR} == {"Group"}


def test_base_deployment_defaults(run_estate: Run) -> None:
    run = run_estate({})
    base = run.one(DEPLOYMENT).inputs
    assert base["deploymentName"] == "gpt-4.1"
    assert base["accountName"] == run.one(ACCOUNT).inputs["accountName"]
    assert base["sku"] == {"name": "GlobalStandard", "capacity": 5}
    assert base["properties"]["model"] == {"format": "OpenAI", "name": "gpt-4.1", "version": "2025-04-14"}
    assert base["properties"]["raiPolicyName"] == "Microsoft.DefaultV2"


def test_seed_config_is_refused_before_any_resource_naming_the_2026_model(run_estate: Run) -> None:
    """The seed lab's gpt-4 0613 (retired: Azure answers 410) is refused by `pulumi up`, which names gpt-4.1."""
    with pytest.raises(ConfigError) as info:
        run_estate({"baseModel": "gpt-4", "baseModelVersion": "0613", "baseDeploymentSku": "Standard",
                    "baseDeploymentCapacity": 5, "location": "northcentralus"})
    assert info.value.key == "baseModel"
    assert "retired on 2025-06-06" in str(info.value) and models.LAB_2026_MODEL in str(info.value)


def test_seed_sku_and_capacity_deploy_the_2026_model_standard_5k(run_estate: Run) -> None:
    run = run_estate({"baseDeploymentSku": "Standard", "baseDeploymentCapacity": 5, "location": "northcentralus"})
    base = run.one(DEPLOYMENT).inputs
    assert base["sku"] == {"name": "Standard", "capacity": 5}
    assert base["properties"]["model"] == {"format": "OpenAI", "name": "gpt-4.1", "version": "2025-04-14"}
    assert run.one(ACCOUNT).inputs["location"] == "northcentralus"


OPEN_WEIGHT = [m for m in models.FINE_TUNABLE if m.open_weight]


@pytest.mark.parametrize("model", OPEN_WEIGHT, ids=lambda m: m.model_id)
def test_open_weight_model_on_foundry_declares_its_publisher_format_and_sku(run_estate: Run, model: models.FineTunableModel) -> None:
    tuned = f"{model.model_id}.ft-0123456789abcdef0123456789abcdef-ft-travel"
    run = run_estate({**FOUNDRY, "fineTuneModel": model.model_id, "fineTunedModel": tuned,
                      "fineTunedDeploymentSku": "GlobalStandard"})
    deployments = {d.inputs["deploymentName"]: d.inputs for d in run.of_type(DEPLOYMENT)}
    ft = deployments["gpt-4.1-ft-travel"]
    assert ft["properties"]["model"] == {"format": model.deployment_format, "name": tuned, "version": "1"}
    assert ft["sku"]["name"] == "GlobalStandard"
    assert model.deployment_format in ("Mistral AI", "Meta", "OpenAI-OSS", "Alibaba")
    assert run.outputs["fine_tune_model"] == model.model_id


@pytest.mark.parametrize("model", OPEN_WEIGHT, ids=lambda m: m.model_id)
def test_open_weight_model_on_the_hub_is_refused_naming_the_fix(run_estate: Run, model: models.FineTunableModel) -> None:
    with pytest.raises(ConfigError) as info:
        run_estate({"fineTuneModel": model.model_id, "fineTunedDeploymentSku": "GlobalStandard"})
    assert info.value.key == "fineTuneModel"
    assert "only on Foundry resources" in str(info.value) and "pulumi config set topology foundry" in str(info.value)


def test_open_weight_model_defaults_to_global_training_and_has_no_developer_deployment(run_estate: Run) -> None:
    from infra.config import parse

    cfg = parse({**FOUNDRY, "fineTuneModel": "gpt-oss-20b", "fineTunedDeploymentSku": "GlobalStandard"})
    assert cfg.training_type == "GlobalStandard"
    with pytest.raises(ConfigError) as info:
        parse({**FOUNDRY, "fineTuneModel": "gpt-oss-20b"})  # the default Developer SKU
    assert info.value.key == "fineTunedDeploymentSku"


def _day(d: datetime.date, days: int = 0) -> str:
    return (d + datetime.timedelta(days=days)).isoformat()


def test_a_retired_fine_tune_model_is_refused_by_pulumi_up(run_estate: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    lc = models.resolve(models.DEFAULT_MODEL).lifecycle
    assert lc.training_retires is not None
    monkeypatch.setenv(models.TODAY_ENV, _day(lc.training_retires))
    with pytest.raises(ConfigError) as info:
        run_estate({})
    assert info.value.key == "fineTuneModel"
    assert f"retired on {lc.training_retires.isoformat()}" in str(info.value) and lc.replacement in str(info.value)


def test_a_model_near_retirement_is_warned_through_pulumi_log_and_still_deployed(
        run_estate: Run, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    lc = models.resolve(models.DEFAULT_MODEL).lifecycle
    assert lc.training_retires is not None
    monkeypatch.setenv(models.TODAY_ENV, _day(lc.training_retires, -(models.WARN_DAYS - 10)))
    caplog.set_level("WARNING")
    run = run_estate({})
    assert run.of_type(DEPLOYMENT)
    warned = [r.getMessage() for r in caplog.records if "model lifecycle" in r.getMessage()]
    assert any(f"retires on {lc.training_retires.isoformat()}, in {models.WARN_DAYS - 10} days" in w for w in warned)


def test_fine_tuned_deployment_absent_until_the_model_is_set(run_estate: Run) -> None:
    run = run_estate({})
    assert [d.inputs["deploymentName"] for d in run.of_type(DEPLOYMENT)] == ["gpt-4.1"]
    assert run.outputs["fine_tuned_deployment"] is None


def test_fine_tuned_deployment_depends_on_the_base(run_estate: Run) -> None:
    run = run_estate({"fineTunedModel": TUNED})
    deployments = {d.inputs["deploymentName"]: d for d in run.of_type(DEPLOYMENT)}
    assert set(deployments) == {"gpt-4.1", "gpt-4.1-ft-travel"}
    base, tuned = deployments["gpt-4.1"], deployments["gpt-4.1-ft-travel"]
    assert tuned.inputs["properties"]["model"] == {"format": "OpenAI", "name": TUNED, "version": "1"}
    assert tuned.inputs["sku"] == {"name": "DeveloperTier", "capacity": 50}
    assert tuned.inputs["properties"]["raiPolicyName"] == "Microsoft.DefaultV2"
    # Azure rejects parallel deployment operations on one account (409 RequestConflict).
    assert base.urn in tuned.dependencies
    assert tuned.urn not in base.dependencies
    assert run.outputs["fine_tuned_deployment"] == "gpt-4.1-ft-travel"


def test_fine_tuned_deployment_own_sku_name_and_capacity(run_estate: Run) -> None:
    run = run_estate(
        {
            "fineTunedModel": TUNED,
            "fineTunedDeploymentSku": "Standard",
            "fineTunedDeploymentCapacity": 2,
            "fineTunedDeploymentName": "travel",
            "raiPolicy": "Microsoft.Default",
        }
    )
    tuned = next(d for d in run.of_type(DEPLOYMENT) if d.inputs["deploymentName"] == "travel").inputs
    assert tuned["sku"] == {"name": "Standard", "capacity": 2}
    assert tuned["properties"]["raiPolicyName"] == "Microsoft.Default"


def test_every_resource_belongs_to_a_component(run_estate: Run) -> None:
    run = run_estate({"fineTunedModel": TUNED, "operatorPrincipalId": OPERATOR})
    components = {r.urn: r.type for r in run.resources if not r.custom}
    assert set(components.values()) == {
        f"foundry-finetune:infra:{n}" for n in ("HubStorage", "AiServices", "FoundryHub", "RoleAssignments", "ModelDeployments")
    }
    expected_parent = {
        STORAGE: "HubStorage",
        VAULT: "HubStorage",
        ACCOUNT: "AiServices",
        WORKSPACE: "FoundryHub",
        CONNECTION: "FoundryHub",
        ROLE: "RoleAssignments",
        DEPLOYMENT: "ModelDeployments",
    }
    for r in run.resources:
        if r.custom and r.type != RG:
            assert components[r.parent] == f"foundry-finetune:infra:{expected_parent[r.type]}", r.name


def test_dependency_chain(run_estate: Run) -> None:
    run = run_estate({"fineTunedModel": TUNED})
    hub, project = workspace(run, "Hub"), workspace(run, "Project")
    storage, vault, account = run.one(STORAGE), run.one(VAULT), run.one(ACCOUNT)
    assert {storage.urn, vault.urn} <= set(hub.dependencies)
    assert hub.urn in project.dependencies
    assert {hub.urn, account.urn} <= set(run.one(CONNECTION).dependencies)
    assert {storage.urn, account.urn} <= set(run.one(ROLE).dependencies)
    for d in run.of_type(DEPLOYMENT):
        assert account.urn in d.dependencies


def test_stack_outputs_exactly(run_estate: Run) -> None:
    run = run_estate({"fineTunedModel": TUNED})
    account = run.one(ACCOUNT).inputs
    assert run.outputs == {
        "resource_group": run.one(RG).inputs["resourceGroupName"],
        "location": "swedencentral",
        "ai_services_name": account["accountName"],
        "ai_services_endpoint": f"https://{account['properties']['customSubDomainName']}.openai.azure.com/",
        "hub_name": workspace(run, "Hub").inputs["workspaceName"],
        "project_name": workspace(run, "Project").inputs["workspaceName"],
        "base_deployment": "gpt-4.1",
        "base_model": "gpt-4.1-2025-04-14",
        "fine_tune_model": "gpt-4.1-2025-04-14",
        "fine_tuned_deployment": "gpt-4.1-ft-travel",
        "fine_tuned_deployment_sku": "DeveloperTier",
        "ai_services_principal_id": principal_of(account["accountName"]),
        "topology": "hub",
        "project_endpoint": None,
        "key_vault_name": run.one(VAULT).inputs["vaultName"],
    }


def test_outputs_are_the_stack_contract(run_estate: Run) -> None:
    """infra exports exactly the names jobs/contract.py declares, in its order (the runner reads those)."""
    from jobs import contract

    assert tuple(run_estate({}).outputs) == contract.OUTPUTS
    assert tuple(run_estate(FOUNDRY).outputs) == contract.OUTPUTS
    assert contract.OUTPUTS == (
        "resource_group", "location", "ai_services_name", "ai_services_endpoint", "hub_name", "project_name",
        "base_deployment", "base_model", "fine_tune_model", "fine_tuned_deployment", "fine_tuned_deployment_sku",
        "ai_services_principal_id", "topology", "project_endpoint", "key_vault_name",
    )


def test_no_secrets_or_keys_anywhere(run_estate: Run) -> None:
    run = run_estate({"fineTunedModel": TUNED, "operatorPrincipalId": OPERATOR})
    text = json.dumps(run.outputs) + json.dumps([r.inputs for r in run.resources], default=str)
    for word in ("key1", "key2", "apiKey", "api_key", "password", "secret", "accountKey", "credentials"):
        assert word.lower() not in text.lower(), word


def test_bad_config_fails_before_any_resource(run_estate: Run) -> None:
    with pytest.raises(ConfigError) as info:
        run_estate({"fineTuneModel": "gpt-4-0613"})
    assert info.value.key == "fineTuneModel"
    assert "gpt-4.1-2025-04-14" in str(info.value)


def test_real_main_program_runs_under_mocks(run_main: Run) -> None:
    run = run_main({"fineTunedModel": TUNED})
    assert set(run.outputs) == {
        "resource_group",
        "location",
        "ai_services_name",
        "ai_services_endpoint",
        "hub_name",
        "project_name",
        "base_deployment",
        "base_model",
        "fine_tune_model",
        "fine_tuned_deployment",
        "fine_tuned_deployment_sku",
        "ai_services_principal_id",
        "topology",
        "project_endpoint",
        "key_vault_name",
    }
    assert run.outputs["fine_tuned_deployment"] == "gpt-4.1-ft-travel"
    assert len(run.of_type(DEPLOYMENT)) == 2


# Runs __main__.py the way Pulumi's language host does: a RunError is printed as
# one "error:" line; anything else as "Program failed with an unhandled exception"
# plus the traceback.
_HOST = """
import json, logging, os, runpy, sys, traceback
sys.path.insert(0, sys.argv[1])
import pulumi
from infra.plan import PROJECT, EstateMocks
# As pulumi-language-python-exec does: no asyncio logs about unobserved failed futures.
logging.getLogger("asyncio").setLevel(logging.CRITICAL)
previous = json.loads(sys.argv[3]) if len(sys.argv) > 3 else None
pulumi.runtime.set_mocks(EstateMocks(previous_outputs=previous), project=PROJECT, stack="dev", preview=True)
pulumi.runtime.set_all_config({PROJECT + ":" + k: v for k, v in json.loads(sys.argv[2]).items()})
try:
    pulumi.runtime.test(lambda: runpy.run_path(sys.argv[1] + "/__main__.py", run_name="__main__"))()
except pulumi.RunError as e:
    print("error: " + str(e), file=sys.stderr, flush=True)
    os._exit(1)  # the host exits here; no interpreter teardown of the mocks' event loops
except Exception:
    print("error: Program failed with an unhandled exception:\\n" + traceback.format_exc(), file=sys.stderr)
    sys.exit(32)
print("ok")
"""


def _host(repo_root: Path, config: dict[str, str], previous_outputs: dict[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
    extra = [json.dumps(previous_outputs)] if previous_outputs is not None else []
    return subprocess.run(
        [sys.executable, "-c", _HOST, str(repo_root), json.dumps(config), *extra],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=repo_root,
    )


@pytest.mark.subprocess
def test_bad_config_in_preview_is_one_clean_message(repo_root: Path) -> None:
    proc = _host(repo_root, {"baseDeploymentSku": "Premium"})
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        "error: config foundry-finetune:baseDeploymentSku = 'Premium': allowed values: Standard, GlobalStandard, "
        "DataZoneStandard. Fix: pulumi config set baseDeploymentSku Standard"
    )


@pytest.mark.subprocess
def test_a_refused_topology_switch_in_preview_is_one_clean_message(repo_root: Path) -> None:
    proc = _host(repo_root, {"topology": "foundry"}, {"topology": "hub", "hub_name": "hub-ftlab-abcd"})
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "error: config foundry-finetune:topology = 'foundry': the stack's last deployment has topology hub;"
    )


@pytest.mark.slow
@pytest.mark.subprocess
def test_good_config_in_preview_runs(repo_root: Path) -> None:
    proc = _host(repo_root, {"location": "northcentralus"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_unknown_key_in_the_stack_is_caught_through_pulumi_config(run_estate: Run) -> None:
    with pytest.raises(ConfigError) as info:
        run_estate({"fineTunedModle": TUNED})
    assert "unknown key; did you mean fineTunedModel?" in str(info.value)


def test_importing_the_program_modules_declares_nothing() -> None:
    import importlib

    modules = ["infra.regions", "infra.config", "infra.naming", "infra.components", "infra.estate"]

    def program() -> dict[str, Any]:
        for name in modules:  # a fresh import, inside a mocked runtime
            sys.modules.pop(name, None)
        for name in modules:
            importlib.import_module(name)
        return {}

    saved = {name: sys.modules[name] for name in modules if name in sys.modules}
    try:
        run = _run({}, program, stack="dev", preview=False)
    finally:
        sys.modules.update(saved)  # other tests keep the classes they imported
        for name, module in saved.items():
            setattr(sys.modules["infra"], name.rsplit(".", 1)[1], module)
    assert run.resources == []


def test_secret_config_values_are_not_echoed_through_pulumi_config(run_estate: Run) -> None:
    with pytest.raises(ConfigError) as info:
        run_estate({"apiKey": "sk-leak-me-456"}, secret_keys=("apiKey",))
    assert "sk-leak-me-456" not in str(info.value)
    assert "= [secret]: unknown key" in str(info.value)


def test_preview_warns_about_hourly_fees_and_the_24h_developer_lifetime(run_estate: Run, caplog: pytest.LogCaptureFixture) -> None:
    from infra.config import parse
    from infra.estate import warnings_for

    assert warnings_for(parse({})) == []
    standard = warnings_for(parse({"fineTunedModel": TUNED, "fineTunedDeploymentSku": "GlobalStandard"}))
    assert len(standard) == 1 and "hourly hosting fee" in standard[0]
    developer = warnings_for(parse({"fineTunedModel": TUNED}))
    assert len(developer) == 1 and "deletes it after 24 hours" in developer[0]
    unlisted = warnings_for(parse({"location": "westus3", "allowUnlistedRegion": "true"}))
    assert unlisted == [
        "location westus3 is not in the region table for gpt-4.1-2025-04-14 Standard training "
        "(northcentralus, swedencentral); allowUnlistedRegion is set, so Azure decides"
    ]
    caplog.set_level("WARNING")
    run_estate({"fineTunedModel": TUNED, "fineTunedDeploymentSku": "Standard"})
    assert any("hourly hosting fee" in r.getMessage() for r in caplog.records)


OTHER_SUBSCRIPTION = "22222222-3333-4444-5555-666666666666"
OTHER_TENANT = "88888888-7777-6666-5555-444444444444"


def _global_names(run: EstateRun) -> tuple[str, str, str]:
    """The three names that must be unique across all of Azure."""
    account = run.one(ACCOUNT).inputs
    return (run.one(STORAGE).inputs["accountName"], run.one(VAULT).inputs["vaultName"], account["properties"]["customSubDomainName"])


@pytest.mark.slow
def test_default_global_names_differ_per_subscription_and_stay_stable(run_estate: Run) -> None:
    # Two people on the local backend (organization "organization", stack
    # "dev", default prefix) in different subscriptions must not collide.
    mine = _global_names(run_estate({}))
    theirs = _global_names(run_estate({}, subscription=OTHER_SUBSCRIPTION))
    other_tenant = _global_names(run_estate({}, tenant=OTHER_TENANT))
    for a, b in zip(mine, theirs):
        assert a != b
    for a, b in zip(mine, other_tenant):
        assert a != b
    # Same stack, same subscription: the same names on every run (no random suffix).
    assert _global_names(run_estate({})) == mine
    assert _global_names(run_estate({}, subscription=OTHER_SUBSCRIPTION)) == theirs


def test_explicit_name_suffix_wins_over_the_subscription(run_estate: Run) -> None:
    expected = ("stftlabab12", "kv-ftlab-ab12", "ais-ftlab-ab12")
    assert _global_names(run_estate({"nameSuffix": "ab12"})) == expected
    assert _global_names(run_estate({"nameSuffix": "ab12"}, subscription=OTHER_SUBSCRIPTION)) == expected


def test_one_client_config_invoke_feeds_names_roles_and_vault(run_estate: Run) -> None:
    run = run_estate({"operatorPrincipalId": OPERATOR}, subscription=OTHER_SUBSCRIPTION, tenant=OTHER_TENANT)
    assert run.invokes == ["azure-native:authorization:getClientConfig"]
    prefix = f"/subscriptions/{OTHER_SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/"
    assert {r.inputs["roleDefinitionId"] for r in run.of_type(ROLE)} == {
        prefix + BLOB_OWNER,
        prefix + OPENAI_CONTRIBUTOR,
        prefix + AI_DEVELOPER,
    }
    assert run.one(VAULT).inputs["properties"]["tenantId"] == OTHER_TENANT


def test_bad_config_fails_before_the_invoke_and_any_resource() -> None:
    from infra.config import load

    caught: list[ConfigError] = []

    def program() -> dict[str, Any]:
        try:
            load()
        except ConfigError as exc:
            caught.append(exc)
        return {}

    run = _run({"namePrefix": "Bad_Prefix"}, program, stack="dev", preview=True)
    assert [e.key for e in caught] == ["namePrefix"]
    assert run.invokes == [] and run.resources == []


# --------------------------------------------------------------------------- topology foundry (the 2026 lab)


def test_foundry_estate_declares_the_2026_lab(run_estate: Run) -> None:
    run = run_estate(FOUNDRY)
    counts = {t: len(run.of_type(t)) for t in (RG, STORAGE, VAULT, ACCOUNT, WORKSPACE, CONNECTION, ROLE, DEPLOYMENT, PROJECT)}
    # No hub: no storage account, key vault, ML workspaces or connection.
    assert counts == {RG: 1, STORAGE: 0, VAULT: 0, ACCOUNT: 1, WORKSPACE: 0, CONNECTION: 0, ROLE: 1, DEPLOYMENT: 1, PROJECT: 1}
    assert_one_group_in_the_region(run)


def test_foundry_account_is_a_foundry_resource(run_estate: Run) -> None:
    acct = run_estate(FOUNDRY).one(ACCOUNT).inputs
    assert acct["kind"] == "AIServices"
    assert acct["sku"] == {"name": "S0"}
    assert acct["identity"] == {"type": "SystemAssigned"}
    props = acct["properties"]
    assert props["allowProjectManagement"] is True
    assert props["customSubDomainName"] == acct["accountName"]
    assert props["disableLocalAuth"] is True
    assert props["publicNetworkAccess"] == "Enabled"
    assert run_estate({**FOUNDRY, "publicNetworkAccess": "Disabled"}).one(ACCOUNT).inputs["properties"]["publicNetworkAccess"] == "Disabled"


def test_foundry_project_is_a_child_of_the_account(run_estate: Run) -> None:
    run = run_estate(FOUNDRY)
    account, project = run.one(ACCOUNT), run.one(PROJECT)
    inputs = project.inputs
    assert inputs["accountName"] == account.inputs["accountName"]
    assert inputs["projectName"].startswith("proj-ftlab-")
    assert inputs["location"] == "swedencentral"
    assert inputs["identity"] == {"type": "SystemAssigned"}
    assert inputs["properties"]["displayName"] == "ftlab fine-tuning project (dev)"
    assert project.id == f"{account.id}/projects/{inputs['projectName']}"
    assert account.urn in project.dependencies
    components = {r.urn: r.type for r in run.resources if not r.custom}
    assert components[project.parent] == "foundry-finetune:infra:FoundryProject"


def test_foundry_roles_azure_ai_user_for_project_and_operator(run_estate: Run) -> None:
    run = run_estate({**FOUNDRY, "operatorPrincipalId": OPERATOR})
    account, project = run.one(ACCOUNT), run.one(PROJECT)
    roles = {(r.inputs["roleDefinitionId"], r.inputs["principalId"]): r for r in run.of_type(ROLE)}
    project_identity = project_principal_of(project.inputs["projectName"])
    assert set(roles) == {
        (role_def(AI_USER), project_identity),
        (role_def(AI_USER), OPERATOR),
        (role_def(OPENAI_CONTRIBUTOR), OPERATOR),
    }
    for (_, principal), r in roles.items():
        assert r.inputs["scope"] == account.id  # the Foundry resource, never wider
        assert r.inputs["principalType"] == ("ServicePrincipal" if principal == project_identity else "User")
        assert str(uuid.UUID(r.inputs["roleAssignmentName"])) == r.inputs["roleAssignmentName"]
    assert project.urn in roles[(role_def(AI_USER), project_identity)].dependencies
    assert len({r.inputs["roleAssignmentName"] for r in roles.values()}) == 3
    # Without an operator: only the project's identity.
    alone = run_estate(FOUNDRY)
    assert [(r.inputs["roleDefinitionId"], r.inputs["principalType"]) for r in alone.of_type(ROLE)] == [
        (role_def(AI_USER), "ServicePrincipal")
    ]
    group = run_estate({**FOUNDRY, "operatorPrincipalId": OPERATOR, "operatorPrincipalType": "Group"})
    assert {r.inputs["principalType"] for r in group.of_type(ROLE) if r.inputs["principalId"] == OPERATOR} == {"Group"}


def test_operator_openai_contributor_keeps_its_urn_across_topologies(run_estate: Run) -> None:
    # The same logical name, scope and principal in both: a switch leaves it alone.
    hub = run_estate({"operatorPrincipalId": OPERATOR}).named("roles-operator-openai-contributor")
    foundry = run_estate({**FOUNDRY, "operatorPrincipalId": OPERATOR}).named("roles-operator-openai-contributor")
    assert (hub.urn, hub.inputs) == (foundry.urn, foundry.inputs)


def test_foundry_every_resource_belongs_to_a_component(run_estate: Run) -> None:
    run = run_estate({**FOUNDRY, "fineTunedModel": TUNED, "operatorPrincipalId": OPERATOR})
    components = {r.urn: r.type for r in run.resources if not r.custom}
    assert set(components.values()) == {
        f"foundry-finetune:infra:{n}" for n in ("AiServices", "FoundryProject", "RoleAssignments", "ModelDeployments")
    }
    expected_parent = {ACCOUNT: "AiServices", PROJECT: "FoundryProject", ROLE: "RoleAssignments", DEPLOYMENT: "ModelDeployments"}
    for r in run.resources:
        if r.custom and r.type != RG:
            assert components[r.parent] == f"foundry-finetune:infra:{expected_parent[r.type]}", r.name
    account = run.one(ACCOUNT)
    deployments = {d.inputs["deploymentName"]: d for d in run.of_type(DEPLOYMENT)}
    for d in deployments.values():
        assert account.urn in d.dependencies
        assert d.inputs["accountName"] == account.inputs["accountName"]
    assert deployments["gpt-4.1"].urn in deployments["gpt-4.1-ft-travel"].dependencies


def test_foundry_stack_outputs_exactly(run_estate: Run) -> None:
    run = run_estate({**FOUNDRY, "fineTunedModel": TUNED})
    account, project = run.one(ACCOUNT).inputs, run.one(PROJECT).inputs
    sub = account["properties"]["customSubDomainName"]
    assert run.outputs == {
        "resource_group": run.one(RG).inputs["resourceGroupName"],
        "location": "swedencentral",
        "ai_services_name": account["accountName"],
        # The runner keeps working against the account's OpenAI endpoint.
        "ai_services_endpoint": f"https://{sub}.openai.azure.com/",
        "hub_name": None,
        "project_name": project["projectName"],
        "base_deployment": "gpt-4.1",
        "base_model": "gpt-4.1-2025-04-14",
        "fine_tune_model": "gpt-4.1-2025-04-14",
        "fine_tuned_deployment": "gpt-4.1-ft-travel",
        "fine_tuned_deployment_sku": "DeveloperTier",
        "ai_services_principal_id": principal_of(account["accountName"]),
        "topology": "foundry",
        "project_endpoint": f"https://{sub}.services.ai.azure.com/api/projects/{project['projectName']}",
        "key_vault_name": None,
    }


def test_real_main_program_runs_the_foundry_topology(run_main: Run) -> None:
    run = run_main({**FOUNDRY, "fineTunedModel": TUNED})
    assert run.outputs["topology"] == "foundry"
    assert len(run.of_type(PROJECT)) == 1 and run.of_type(WORKSPACE) == []


# --------------------------------------------------------------------------- defects a real subscription would hit


@pytest.mark.parametrize("topology", ["hub", "foundry"])
def test_a_model_change_replaces_the_deployment_deleting_it_first(run_estate: Run, topology: str) -> None:
    """Azure refuses an in-place model change (CannotChangeDeploymentModel); the name is reused."""
    run = run_estate({"topology": topology, "fineTunedModel": TUNED})
    deployments = run.of_type(DEPLOYMENT)
    assert len(deployments) == 2
    for d in deployments:
        assert d.replace_on_changes == ["properties.model.name", "properties.model.format"], d.name
        assert d.delete_before_replace is True, d.name
    # Other resources keep Pulumi's defaults.
    assert all(not r.replace_on_changes and not r.delete_before_replace for r in run.resources if r.type != DEPLOYMENT)


@pytest.mark.parametrize("topology", ["hub", "foundry"])
def test_the_base_deployment_stays_on_its_pinned_version(run_estate: Run, topology: str) -> None:
    run = run_estate({"topology": topology, "fineTunedModel": TUNED})
    deployments = {d.inputs["deploymentName"]: d.inputs for d in run.of_type(DEPLOYMENT)}
    assert deployments["gpt-4.1"]["properties"]["versionUpgradeOption"] == "NoAutoUpgrade"
    # A fine-tuned model has one version ("1"): nothing to upgrade to, left unset as in Microsoft's examples.
    assert "versionUpgradeOption" not in deployments["gpt-4.1-ft-travel"]["properties"]
    chosen = run_estate({"topology": topology, "versionUpgradeOption": "OnceCurrentVersionExpired"})
    assert chosen.one(DEPLOYMENT).inputs["properties"]["versionUpgradeOption"] == "OnceCurrentVersionExpired"


# Azure resources without tags in ARM: role assignments and workspace connections.
_UNTAGGED = {ROLE, CONNECTION}


@pytest.mark.parametrize("topology", ["hub", "foundry"])
def test_every_taggable_resource_has_the_project_tags(run_estate: Run, topology: str) -> None:
    run = run_estate({"topology": topology, "fineTunedModel": TUNED, "operatorPrincipalId": OPERATOR})
    tagged = [r for r in run.resources if r.custom and r.type not in _UNTAGGED]
    assert {r.type for r in tagged} >= {RG, ACCOUNT, DEPLOYMENT}
    for r in tagged:
        assert r.inputs["tags"] == TAGS, r.name
    assert {r.type for r in run.resources if r.custom} - {r.type for r in tagged} <= _UNTAGGED


def test_key_vault_retention_is_what_the_purge_notes_say(run_estate: Run) -> None:
    from jobs import softdelete

    assert run_estate({}).one(VAULT).inputs["properties"]["softDeleteRetentionInDays"] == softdelete.KEY_VAULT_RETENTION_DAYS == 7


# --------------------------------------------------------------------------- topology switch guard

HUB_DEPLOYED = {"topology": "hub", "hub_name": "hub-ftlab-abcd", "project_name": "proj-ftlab-abcd"}


def test_the_guard_reads_the_stacks_own_last_deployment(run_estate: Run) -> None:
    run = run_estate({}, stack="dev")
    assert run.stack_references == ["organization/foundry-finetune/dev"]
    assert run_estate({}, stack="prod").stack_references == ["organization/foundry-finetune/prod"]


@pytest.mark.parametrize("topology", ["hub", "foundry"])
def test_a_first_up_of_a_new_stack_passes(run_estate: Run, topology: str) -> None:
    run = run_estate({"topology": topology}, previous_outputs=None)
    assert run.outputs["topology"] == topology
    assert run_estate({"topology": topology}, previous_outputs={}).outputs["topology"] == topology  # destroyed


def test_the_same_topology_again_passes(run_estate: Run) -> None:
    assert run_estate({}, previous_outputs=HUB_DEPLOYED).outputs["topology"] == "hub"
    foundry_deployed = {"topology": "foundry", "project_name": "proj-ftlab-abcd"}
    assert run_estate(FOUNDRY, previous_outputs=foundry_deployed).outputs["topology"] == "foundry"


def _refused(config: dict[str, Any], previous: dict[str, Any]) -> tuple[ConfigError, list[Any]]:
    from infra.config import load
    from infra.estate import build_estate
    from infra import plan as fixtures_pulumi

    monitors: list[fixtures_pulumi.RecordingMonitor] = []
    original = fixtures_pulumi.RecordingMonitor.__init__

    def keep(self: fixtures_pulumi.RecordingMonitor, mocks: Any) -> None:
        original(self, mocks)
        monitors.append(self)

    fixtures_pulumi.RecordingMonitor.__init__ = keep  # type: ignore[method-assign]
    # The resources waiting on the refused guard fail too; like Pulumi's language host,
    # keep asyncio quiet about those unobserved futures.
    asyncio_log = logging.getLogger("asyncio")
    level = asyncio_log.level
    asyncio_log.setLevel(logging.CRITICAL)
    try:
        with pytest.raises(ConfigError) as info:
            _run(config, lambda: build_estate(load()).outputs, stack="dev", preview=True, previous_outputs=previous)
        gc.collect()
    finally:
        fixtures_pulumi.RecordingMonitor.__init__ = original  # type: ignore[method-assign]
        asyncio_log.setLevel(level)
    return info.value, [r for r in monitors[-1].recorded if r.custom]


@pytest.mark.parametrize(
    ("config", "previous", "deployed"),
    [
        (FOUNDRY, HUB_DEPLOYED, "hub"),
        ({}, {"topology": "foundry", "project_name": "proj-ftlab-abcd"}, "foundry"),
        # A hub stack deployed before the topology output existed.
        (FOUNDRY, {"hub_name": "hub-ftlab-abcd", "project_name": "proj-ftlab-abcd"}, "hub"),
    ],
)
def test_switching_a_deployed_stack_is_refused_and_declares_nothing(
    config: dict[str, Any], previous: dict[str, Any], deployed: str
) -> None:
    err, declared = _refused(config, previous)
    assert err.key == "topology"
    assert f"the stack's last deployment has topology {deployed}" in str(err)
    assert str(err).endswith(
        f"Fix: pulumi config set topology {deployed} to keep the deployed topology, "
        "or pulumi config set allowTopologyChange true to confirm the switch"
    )
    # Every resource waits for the resource group, whose name waits for the guard.
    assert declared == []


def test_a_confirmed_switch_goes_ahead_with_a_warning(run_estate: Run, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING")
    run = run_estate({**FOUNDRY, "allowTopologyChange": True}, previous_outputs=HUB_DEPLOYED)
    assert run.outputs["topology"] == "foundry" and len(run.of_type(PROJECT)) == 1
    assert any("topology changes from hub to foundry (allowTopologyChange is set)" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("config, kinds", [
    ({}, ["resources:ResourceGroup", "cognitiveservices:Account", "cognitiveservices:Deployment",
          "storage:StorageAccount", "keyvault:Vault", "machinelearningservices:Workspace",
          "machinelearningservices:Workspace", "machinelearningservices:WorkspaceConnection",
          "authorization:RoleAssignment"]),
    (FOUNDRY, None),
])
def test_the_plan_lists_containers_first_in_the_same_order_whatever_order_the_mocks_registered(
        config: dict[str, Any], kinds: list[str] | None) -> None:
    import dataclasses
    import random

    from infra.plan import plan_estate, plan_lines

    run = plan_estate(config, stack="dev")
    lines = plan_lines(run)
    for seed in range(5):  # the mocks register in the order inputs resolve: any order must give the same plan
        shuffled = list(run.resources)
        random.Random(seed).shuffle(shuffled)
        assert plan_lines(dataclasses.replace(run, resources=shuffled)) == lines
    listed = [ln.split()[1] for ln in lines]
    assert listed[0] == "resources:ResourceGroup" and listed[1] == "cognitiveservices:Account"
    if kinds is not None:
        assert listed == kinds
        hub, project = [ln for ln in lines if "machinelearningservices:Workspace " in ln]
        assert "(kind Hub)" in hub and "(kind Project)" in project
    else:  # a Foundry project is a child of the account: listed right after it, before the deployment
        assert listed.index("cognitiveservices:Project") < listed.index("cognitiveservices:Deployment")
