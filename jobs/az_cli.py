"""The Azure CLI bridge: the only module that runs ``az`` (the pipeline's preflight asks who is signed in;
``pipeline --destroy-after`` deletes the hub's workspaces for good before ``pulumi destroy``).

Pulumi's azure-native provider and ``DefaultAzureCredential`` both use the Azure CLI's sign-in when no
service principal or managed identity is configured (env ``ARM_CLIENT_ID`` / ``ARM_USE_MSI`` /
``ARM_USE_OIDC`` for Pulumi, ``AZURE_CLIENT_ID`` for azure-identity), so ``az account show`` tells whether
the pipeline can create anything.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass

from jobs.settings import Env

ENV_IDENTITIES = ("ARM_CLIENT_ID", "ARM_USE_MSI", "ARM_USE_OIDC", "AZURE_CLIENT_ID")
TIMEOUT = 60.0


@dataclass(frozen=True)
class Identity:
    ok: bool
    source: str  # how the identity is known, or why there is none


def identity(env: Env) -> Identity:
    """Who Pulumi and the runner would act as, without sending anything to Azure but ``az account show``."""
    for name in ENV_IDENTITIES:
        if env.is_set(name):
            return Identity(True, f"env {name}")
    az = shutil.which("az")
    if az is None:
        return Identity(False, "the Azure CLI (`az`) is not on PATH and no service principal is configured "
                               f"({', '.join(ENV_IDENTITIES)})")
    try:
        proc = subprocess.run([az, "account", "show", "--output", "json"], capture_output=True, text=True,
                              timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Identity(False, f"`az account show` did not answer ({type(exc).__name__})")
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


@dataclass(frozen=True)
class AzRun:
    ok: bool
    detail: str  # why it failed (the last lines az printed), or "" when it ran


def run(argv: list[str], *, timeout: float = 600.0) -> AzRun:
    """Run one ``az`` command (``argv`` without the program name), its output kept; never raises. Used for the
    clean-up commands that must run before ``pulumi destroy`` (``jobs/softdelete.py``)."""
    az = shutil.which("az")
    if az is None:
        return AzRun(False, "the Azure CLI (`az`) is not on PATH")
    try:
        proc = subprocess.run([az, *argv], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return AzRun(False, f"`az` did not finish ({type(exc).__name__})")
    if proc.returncode != 0:
        tail = " ".join((proc.stderr or proc.stdout or "").strip().splitlines()[-2:])
        return AzRun(False, f"exit {proc.returncode}: {tail or 'no output'}")
    return AzRun(True, "")
