"""Where the project lives, so that the run state and ``pulumi`` do not depend on the current folder.

The project root is the nearest folder at or above the current directory that
holds ``Pulumi.yaml`` (Pulumi's own rule for finding a project). When there is
none, it is the folder above the ``jobs`` package if that holds ``Pulumi.yaml``
(running this checkout's CLI from elsewhere), and the current directory last.

Stdlib only: imported by ``jobs/state.py`` and ``jobs/pulumi_cli.py``.
"""

from __future__ import annotations

from pathlib import Path

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
