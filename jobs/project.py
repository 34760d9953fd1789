"""Where the project lives, so that the run state and ``pulumi`` do not depend on the current folder.

The project root is the nearest folder at or above the current directory that
holds ``Pulumi.yaml`` (Pulumi's own rule for finding a project). When there is
none, it is the folder above the ``jobs`` package if that holds ``Pulumi.yaml``
(running this checkout's CLI from elsewhere), and the current directory last.

Stdlib only: imported by ``jobs/state.py``, ``jobs/pulumi_cli.py`` and the commands that default to the
project's training file.
"""

from __future__ import annotations

from pathlib import Path

from jobs.errors import UsageError

PROJECT_FILES = ("Pulumi.yaml", "Pulumi.yml")


def _holds_project(folder: Path) -> bool:
    return any((folder / name).is_file() for name in PROJECT_FILES)


def project_root(start: Path | None = None) -> Path:
    """The absolute project folder (see the module docstring)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if _holds_project(folder):
            return folder
    package_parent = Path(__file__).resolve().parent.parent
    if _holds_project(package_parent):
        return package_parent
    return here


TRAINING_FILE = Path("data") / "travel-train.jsonl"


def default_training_file() -> Path:
    """The project's training file (``data/travel-train.jsonl``): from the current folder, else the project root,
    else this checkout. ``run``, ``pipeline`` and ``rehearse`` use it when no DATA is given."""
    for candidate in (TRAINING_FILE, project_root() / TRAINING_FILE,
                      Path(__file__).resolve().parent.parent / TRAINING_FILE):
        if candidate.is_file():
            return candidate
    raise UsageError(
        f"the default training file {TRAINING_FILE} is missing (looked in {Path.cwd()} and {project_root()})",
        hint="pass one, e.g. ../shared/mslearn-data/travel-finetune-hotel.jsonl",
    )
