"""What marks an answer as emulator output, wherever it is shown (docs/emulator.md, "Stand-in answers").

Two kinds, told apart by the ``x-emulator`` response header:

- ``stand-in``: the canned backend. Every answer starts with :data:`STAND_IN_LABEL`; it is not model output.
- ``local-model``: the local backend. A small open model (its name in ``x-emulator-model``) really generated the
  answer on this machine, standing in for the deployment's model. Its text carries no label, so wherever it is
  shown the runner says so with :func:`local_model_label`; it is never called a stand-in canned answer.

The product only reads these; it never names the emulator otherwise. Standard library only and nothing else
here, so the checks (and ``validate``, which grades with them) import it without the SDK layer."""

from __future__ import annotations

import re
from typing import Iterable

STAND_IN_LABEL = "[emulator stand-in]"
STAND_IN_HEADER = "x-emulator"
MODEL_HEADER = "x-emulator-model"  # the local backend's model name
STAND_IN = "stand-in"  # x-emulator values
LOCAL_MODEL = "local-model"
DEFAULT_TARGET = "gpt-4.1"  # the lab's model, when an answer does not say which model it stands in for

_DATE = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def target_model(model: str | None) -> str | None:
    """The Azure model an answer's ``model`` field names, as a person knows it: ``gpt-4.1-2025-04-14``, a
    fine-tuned ``gpt-4.1-2025-04-14.ft-<32 hex>-ft-travel`` (Azure's form) and ``ft:gpt-4.1-2025-04-14:org::id``
    (OpenAI's) are all ``gpt-4.1``."""
    if not model:
        return None
    name = model[3:] if model.startswith("ft:") else model
    name = name.split(":", 1)[0].split(".ft-", 1)[0]
    return _DATE.sub("", name) or None


def local_model_label(local_model: str | None, models: Iterable[str | None] = ()) -> str:
    """``local model (SmolLM2-135M-Instruct on this machine) standing in for gpt-4.1``: ``models`` are the answers'
    ``model`` fields (the deployments' models); several are named in the order first seen."""
    targets: list[str] = []
    for m in models:
        t = target_model(m)
        if t and t not in targets:
            targets.append(t)
    name = local_model or "a small open model"
    return f"local model ({name} on this machine) standing in for {', '.join(targets) or DEFAULT_TARGET}"
