"""Where things are: the project root (the folder above ``tests/``) and ``../shared`` beside it."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
SHARED = REPO.parent / "shared"
MSLEARN = SHARED / "mslearn-data"
DATA = Path(__file__).resolve().parent / "data"
# `--cwd ROOT`: what the runner passes to every pulumi command when run from a folder without Pulumi.yaml.
CWD = ["--cwd", str(REPO)]
