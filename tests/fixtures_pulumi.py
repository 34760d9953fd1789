"""Fixtures for the Pulumi program's tests (see tests/conftest.py).

``run_estate(config)`` runs ``infra`` (or the real ``__main__.py``) under Pulumi's own mocks through
``infra/plan.py:run_program`` (the same machinery the rehearsal prints its plan with) and returns every
registered resource (type, logical name, inputs, parent, dependencies) plus the resolved stack outputs.
No Azure, no Pulumi CLI.
"""

from __future__ import annotations

import runpy
from typing import Any, Callable, Optional

import pytest
from pulumi.runtime import settings as pulumi_settings

from infra.plan import SUBSCRIPTION, TENANT, EstateRun, run_program
from tests.support.paths import REPO


@pytest.fixture
def run_estate() -> Callable[..., EstateRun]:
    """``run_estate(config_dict, stack="dev", secret_keys=(), subscription=..., tenant=..., previous_outputs=...)``:
    build the estate via infra under mocks (``previous_outputs``: the last deployment's, default none)."""

    def run(
        config: dict[str, Any] | None = None,
        *,
        stack: str = "dev",
        preview: bool = False,
        secret_keys: tuple[str, ...] = (),
        subscription: str = SUBSCRIPTION,
        tenant: str = TENANT,
        previous_outputs: Optional[dict[str, Any]] = None,
    ) -> EstateRun:
        from infra.config import load
        from infra.estate import build_estate

        return run_program(
            config or {},
            lambda: build_estate(load()).outputs,
            stack=stack,
            preview=preview,
            secret_keys=secret_keys,
            subscription=subscription,
            tenant=tenant,
            previous_outputs=previous_outputs,
        )

    return run


@pytest.fixture
def run_main() -> Callable[..., EstateRun]:
    """``run_main(config_dict)``: run the real ``__main__.py`` (via runpy) under mocks."""

    def run(config: dict[str, Any] | None = None, *, stack: str = "dev") -> EstateRun:
        def program() -> dict[str, Any]:
            runpy.run_path(str(REPO / "__main__.py"), run_name="__main__")
            root = pulumi_settings.get_root_resource()
            assert root is not None
            return dict(root.outputs)  # type: ignore[attr-defined]

        return run_program(config or {}, program, stack=stack, preview=False)

    return run
