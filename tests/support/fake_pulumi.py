"""The stand-in ``pulumi`` of the tests: the script ``tests/support/bin/pulumi`` and a handle on it.

The script (stdlib only, any Python 3) keeps everything in its home folder, env ``FAKE_PULUMI_HOME``:

- appends its argv (without the program name) as one JSON line to ``calls.jsonl``, and its environment
  to ``env.jsonl`` (tests check no secret reaches pulumi);
- answers ``stack output --json`` from ``outputs`` and ``config get`` from ``config`` in ``settings.json``
  (a missing key fails like the real CLI: exit 255, "configuration key ... not found");
- applies ``config set`` / ``config rm`` to ``config``, so later reads see them;
- prints a few lines for ``up`` / ``destroy``; with ``set_estate(outputs, emulator_url)`` it also answers as the
  real CLI would after them: ``up`` sets the outputs (``fine_tuned_deployment`` when ``fineTunedModel`` is set)
  and, standing in for ARM, registers or removes that deployment in the emulator; ``destroy`` clears them;
- ``whoami`` (``set_logged_in(False)`` makes it fail like a CLI with no login), ``stack ls --json``,
  ``stack init`` (stacks in ``settings.json``; ``dev`` exists), ``config --json`` (every value, none secret);
- fails like the real CLI (exit 255, "no Pulumi.yaml project file found") when neither the ``--cwd``
  folder (the runner always passes it) nor a parent holds ``Pulumi.yaml``;
- exits 0, unless ``fail("config set", code, stderr)`` asked a subcommand to fail.

The stand-in ``az`` beside it (``tests/support/bin/az``) shares the home: ``account show`` and
``cognitiveservices account deployment list`` (and, standing in with an emulator, ``create``/``delete``)
(:meth:`FakePulumi.set_az`), its calls in ``az-calls.jsonl``
(:meth:`FakePulumi.az_calls`). :func:`path_without_az` hides it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BIN = Path(__file__).resolve().parent / "bin"
HOME_ENV = "FAKE_PULUMI_HOME"


def path_without_pulumi(path: str | None = None, *, names: tuple[str, ...] = ("pulumi",)) -> str:
    """``PATH`` without any folder that holds a ``pulumi`` executable (or any of ``names``)."""
    entries = (path if path is not None else os.environ.get("PATH", "")).split(os.pathsep)
    return os.pathsep.join(e for e in entries if e and not any((Path(e) / n).exists() for n in names))


def path_without_az(folder: Path) -> str:
    """A ``PATH`` with the stand-in ``pulumi`` (linked into ``folder``) and no ``az`` anywhere."""
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "pulumi"
    if not link.exists():
        link.symlink_to(BIN / "pulumi")
    return f"{folder}{os.pathsep}{path_without_pulumi(names=('pulumi', 'az'))}"


@dataclass
class FakePulumi:
    """Handle on one stand-in ``pulumi`` home: what it was called with, what it answers."""

    home: Path

    @classmethod
    def create(cls, home: Path) -> "FakePulumi":
        home.mkdir(parents=True, exist_ok=True)
        (home / "settings.json").write_text(json.dumps({"outputs": {}, "config": {}}), encoding="utf-8")
        return cls(home)

    @property
    def env(self) -> dict[str, str]:
        """What a process needs to find this stand-in (and no real pulumi)."""
        return {"PATH": f"{BIN}{os.pathsep}{path_without_pulumi()}", HOME_ENV: str(self.home)}

    @property
    def record(self) -> Path:
        """``calls.jsonl``: one JSON argv per call."""
        return self.home / "calls.jsonl"

    @property
    def settings_path(self) -> Path:
        return self.home / "settings.json"

    def _settings(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.settings_path.read_text(encoding="utf-8"))
        return data

    def _write(self, data: dict[str, Any]) -> None:
        self.settings_path.write_text(json.dumps(data), encoding="utf-8")

    def _lines(self, name: str) -> list[Any]:
        path = self.home / name
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def calls(self) -> list[list[str]]:
        return self._lines("calls.jsonl")

    def envs(self) -> list[dict[str, str]]:
        """The environment of each call, in order."""
        return self._lines("env.jsonl")

    def set_outputs(self, outputs: dict[str, Any]) -> None:
        data = self._settings()
        data["outputs"] = outputs
        self._write(data)

    def set_config(self, **values: str) -> None:
        data = self._settings()
        data.setdefault("config", {}).update(values)
        self._write(data)

    @property
    def config(self) -> dict[str, str]:
        cfg: dict[str, str] = self._settings().get("config", {})
        return cfg

    def set_estate(self, outputs: dict[str, Any], emulator_url: str | None = None) -> None:
        """What ``up`` makes the outputs (plus the tuned deployment), and the emulator that stands in for ARM."""
        data = self._settings()
        data["estate"] = outputs
        data["emulator_url"] = emulator_url
        self._write(data)

    def set_logged_in(self, logged_in: bool) -> None:
        data = self._settings()
        data["logged_in"] = logged_in
        self._write(data)

    def set_stacks(self, *names: str) -> None:
        data = self._settings()
        data["stacks"] = list(names)
        self._write(data)

    def set_az(self, *, deployments: dict[str, list[str]] | None = None, logged_in: bool | None = None,
               raw: str | None = None, sleep: float | None = None, ml_fails: bool | None = None,
               emulator: str | None = None) -> None:
        """What the stand-in ``az`` answers: ``deployments`` by ``"RG/ACCOUNT"`` (the deployment list of that
        account), ``logged_in=False`` (every command fails as when nobody is signed in), ``raw`` (what the
        deployment list prints instead), ``sleep`` (seconds it waits first), ``ml_fails`` (``az ml workspace
        delete`` fails as without the ml extension), ``emulator`` (the URL of an emulator that stands in for every
        account's deployments: ``deployment create/delete/list`` register, remove and name its deployments)."""
        data = self._settings()
        for key, value in (("az_deployments", deployments), ("az_logged_in", logged_in), ("az_raw", raw),
                           ("az_sleep", sleep), ("az_ml_fails", ml_fails), ("az_emulator", emulator)):
            if value is not None:
                data[key] = value
        self._write(data)

    def az_calls(self) -> list[list[str]]:
        """The stand-in ``az``'s argvs, in order."""
        return self._lines("az-calls.jsonl")

    def az_envs(self) -> list[dict[str, str]]:
        return self._lines("az-env.jsonl")

    def fail(self, subcommand: str, code: int = 1, stderr: str = "error: failed\n") -> None:
        data = self._settings()
        data.setdefault("fail", {})[subcommand] = {"code": code, "stderr": stderr}
        self._write(data)
