"""The Azure CLI bridge: the only module that runs ``az``. Two read-only commands, and the clean-up runner:

=====================  ==============================================================================================
:func:`identity`       ``az account show --output json``: who is signed in (the pipeline's preflight)
:func:`deployments`    ``az cognitiveservices account deployment list --resource-group RG --name ACCOUNT --output
                       json``: the names of every deployment of the stack's AI Services account (the playground's
                       Deployment suggestions, through ``jobs.deploy.PulumiDeployer.deployments``)
:func:`run`            one clean-up command of ``jobs/softdelete.py``: ``pipeline --destroy-after`` deletes the hub's
                       workspaces for good (``az ml workspace delete --permanently-delete``) before ``pulumi destroy``
=====================  ==============================================================================================

``az`` is found on ``PATH`` (tests put a stand-in first there). Each runs with stdin closed and a bounded
timeout; its output is parsed (``run`` keeps the last lines of a failure), never printed or logged (``az`` prints no token for either command, and the
data-plane credentials ``AZURE_OPENAI_API_KEY`` / ``AZURE_OPENAI_AD_TOKEN`` are not passed to it).

Pulumi's azure-native provider and ``DefaultAzureCredential`` both use the Azure CLI's sign-in when no
service principal or managed identity is configured (env ``ARM_CLIENT_ID`` / ``ARM_USE_MSI`` /
``ARM_USE_OIDC`` for Pulumi, ``AZURE_CLIENT_ID`` for azure-identity), so ``az account show`` tells whether
the pipeline can create anything.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass

from jobs import settings
from jobs.settings import Env

ENV_IDENTITIES = ("ARM_CLIENT_ID", "ARM_USE_MSI", "ARM_USE_OIDC", "AZURE_CLIENT_ID")
TIMEOUT = 60.0
# Listing deployments only fills in suggestions: it must not keep anyone waiting long.
LIST_TIMEOUT = 30.0
# Data-plane credentials the runner reads; `az` never needs them, so it does not get them.
_SECRET_ENV = (settings.API_KEY, settings.AD_TOKEN)


def _child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in _SECRET_ENV}


@dataclass(frozen=True)
class _Ran:
    """One ``az`` call: its process, or why there is none (``missing``: not on PATH; else ``error``, the
    exception's name: it did not start or finish)."""

    proc: "subprocess.CompletedProcess[str] | None"
    missing: bool = False
    error: str = ""


def _az(args: list[str], timeout: float) -> _Ran:
    """``az ARGS``: output captured, stdin closed, bounded, without the data-plane credentials; never raises."""
    az = shutil.which("az")
    if az is None:
        return _Ran(None, missing=True)
    try:
        return _Ran(subprocess.run([az, *args], capture_output=True, text=True, timeout=timeout,
                                   stdin=subprocess.DEVNULL, env=_child_env()))
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        return _Ran(None, error=type(exc).__name__)


@dataclass(frozen=True)
class Identity:
    ok: bool
    source: str  # how the identity is known, or why there is none


def identity(env: Env) -> Identity:
    """Who Pulumi and the runner would act as, without sending anything to Azure but ``az account show``."""
    for name in ENV_IDENTITIES:
        if env.is_set(name):
            return Identity(True, f"env {name}")
    ran = _az(["account", "show", "--output", "json"], TIMEOUT)
    if ran.missing:
        return Identity(False, "the Azure CLI (`az`) is not on PATH and no service principal is configured "
                               f"({', '.join(ENV_IDENTITIES)})")
    proc = ran.proc
    if proc is None:
        return Identity(False, f"`az account show` did not answer ({ran.error})")
    if proc.returncode != 0:
        return Identity(False, "`az account show` says nobody is signed in")
    try:
        account = json.loads(proc.stdout or "{}")
    except json.JSONDecodeError:
        return Identity(False, "`az account show` printed something that is not JSON")
    if not isinstance(account, dict):
        account = {}
    user = account.get("user")
    who = user.get("name") if isinstance(user, dict) else None
    return Identity(True, f"the Azure CLI: {who or 'signed in'}, subscription "
                          f"{account.get('name') or '?'}")


def deployments_argv(resource_group: str, account: str) -> list[str]:
    """The command :func:`deployments` runs (``az`` first, as a user would type it)."""
    return ["az", "cognitiveservices", "account", "deployment", "list", "--resource-group", resource_group,
            "--name", account, "--output", "json"]


def deployments(resource_group: str, account: str, *, timeout: float = LIST_TIMEOUT) -> list[str] | None:
    """The names of every deployment of the AI Services account ``account`` in ``resource_group``, in the
    order ``az`` lists them; ``None`` when they cannot be listed here (``az`` missing or failing, nobody signed
    in, no answer within ``timeout``, an answer that is not the JSON array of deployments), never an error."""
    if not resource_group or not account:
        return None
    proc = _az(deployments_argv(resource_group, account)[1:], timeout).proc
    if proc is None or proc.returncode != 0:
        return None
    try:
        data = json.loads(proc.stdout or "")
    except json.JSONDecodeError:
        return None
    if not isinstance(data, list):
        return None
    names = [item.get("name") for item in data if isinstance(item, dict)]
    return list(dict.fromkeys(n for n in names if isinstance(n, str) and n))


@dataclass(frozen=True)
class AzRun:
    ok: bool
    detail: str  # why it failed (the last lines az printed), or "" when it ran


def run(argv: list[str], *, timeout: float = 600.0) -> AzRun:
    """Run one ``az`` command (``argv`` without the program name), its output kept; never raises. Used for the
    clean-up commands that must run before ``pulumi destroy`` (``jobs/softdelete.py``)."""
    ran = _az(argv, timeout)
    if ran.missing:
        return AzRun(False, "the Azure CLI (`az`) is not on PATH")
    proc = ran.proc
    if proc is None:
        return AzRun(False, f"`az` did not finish ({ran.error})")
    if proc.returncode != 0:
        tail = " ".join((proc.stderr or proc.stdout or "").strip().splitlines()[-2:])
        return AzRun(False, f"exit {proc.returncode}: {tail or 'no output'}")
    return AzRun(True, "")


# Temporary checkpoint deployments (``compare --checkpoints``, ``jobs.deploy.AzTemporaryDeployments``): created and
# deleted outside the Pulumi stack. The arguments are those of `az cognitiveservices account deployment create/delete`
# (Learn, Azure CLI reference "az cognitiveservices account deployment", read 2026-12); a fine-tuned model or a
# checkpoint deploys with format OpenAI and version "1" (Learn, "Deploy a fine-tuned model", CLI tab).
def deployment_create_argv(resource_group: str, account: str, name: str, model: str, sku: str,
                           capacity: int = 1) -> list[str]:
    return ["az", "cognitiveservices", "account", "deployment", "create", "--resource-group", resource_group,
            "--name", account, "--deployment-name", name, "--model-name", model, "--model-version", "1",
            "--model-format", "OpenAI", "--sku-name", sku, "--sku-capacity", str(capacity), "--output", "none"]


def deployment_delete_argv(resource_group: str, account: str, name: str) -> list[str]:
    return ["az", "cognitiveservices", "account", "deployment", "delete", "--resource-group", resource_group,
            "--name", account, "--deployment-name", name]


def deployment_exists(resource_group: str, account: str, name: str) -> bool | None:
    """Whether the account has deployment ``name``; None when ``az`` cannot tell."""
    names = deployments(resource_group, account, timeout=TIMEOUT)
    return None if names is None else name in names
