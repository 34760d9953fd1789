"""What importing some modules loads, asked of a fresh interpreter (this one may have loaded anything)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.paths import REPO

MODEL_PACKAGES = ("torch", "transformers", "peft", "xllamacpp")  # the local backend's heavy packages


def model_packages_loaded_by(*modules: str) -> list[str]:
    """The :data:`MODEL_PACKAGES` that ``import`` of ``modules`` loads in a new Python process."""
    code = (f"import sys, json; import {', '.join(modules)}; "
            f"print(json.dumps([m for m in {MODEL_PACKAGES!r} if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded
