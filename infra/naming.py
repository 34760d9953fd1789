"""Azure names of the estate, derived from namePrefix + a per-stack, per-subscription suffix.

Explicit, deterministic names (rather than Pulumi's random auto-names) let the
job runner and the README name things, and keep the AI Services custom
subdomain unique per stack. Rules respected (Azure naming rules):

- resource group: 1-90 of letters, digits, ``-_.()``;
- storage account: 3-24 lowercase letters and digits, globally unique;
- key vault: 3-24 letters, digits and hyphens, starts with a letter, globally unique;
- AI Services account / custom subdomain: lowercase letters, digits, hyphens, 2-64;
- workspaces (hub, project): 3-33 letters, digits, hyphens, underscores;
- the Foundry project (topology foundry) reuses the project name.

Key Vault, AI Services accounts and Azure ML workspaces (hub, project) are
soft-deleted on ``pulumi destroy`` and their names stay reserved (vault 7 days
as configured, account 48 hours, workspaces 14 days) until purged, or pick
another ``nameSuffix``: ``jobs/softdelete.py`` has the purge commands and
docs/infrastructure.md the details.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from infra.config import InfraConfig


@dataclass(frozen=True)
class Names:
    resource_group: str
    storage_account: str
    key_vault: str
    ai_services: str
    subdomain: str
    hub: str
    project: str
    connection: str


def _slug(text: str) -> str:
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", text.lower())).strip("-") or "stack"


def names_for(cfg: InfraConfig) -> Names:
    p, s = cfg.name_prefix, cfg.name_suffix
    ai = f"ais-{p}-{s}"
    return Names(
        resource_group=f"rg-{p}-{_slug(cfg.stack)}"[:90],
        storage_account=f"st{p}{s}"[:24],
        key_vault=f"kv-{p}-{s}"[:24],
        ai_services=ai,
        subdomain=ai,
        hub=f"hub-{p}-{s}"[:33],
        project=f"proj-{p}-{s}"[:33],
        connection=f"{ai}-aad",
    )


def openai_endpoint(subdomain: str) -> str:
    """The OpenAI endpoint of an AIServices account with a custom subdomain.

    An ``AIServices`` account lists it in ``properties.endpoints`` under
    ``"OpenAI Language Model Instance API"``; it is always this URL, so the
    program builds it from the subdomain (known at preview time, and the same
    under mocks) instead of reading the map.
    """
    return f"https://{subdomain}.openai.azure.com/"


def cognitive_endpoint(subdomain: str) -> str:
    """The account's general endpoint (``properties.endpoint``), the hub connection's target."""
    return f"https://{subdomain}.cognitiveservices.azure.com/"


def foundry_project_endpoint(subdomain: str, project: str) -> str:
    """A Foundry project's endpoint, ``https://<subdomain>.services.ai.azure.com/api/projects/<project>``.

    The form Microsoft's Foundry SDK documents for ``AIProjectClient(endpoint=...)``
    (azure-ai-projects); built from names, so it is known at preview time.
    """
    return f"https://{subdomain}.services.ai.azure.com/api/projects/{project}"
