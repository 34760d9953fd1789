"""Fixtures for the stack tests: stand-in pulumi executable (see tests/conftest.py).

``fake_pulumi`` writes a small Python script named ``pulumi`` into a temp
folder and puts that folder first on ``PATH`` (for this process and every
subprocess it starts). The script:

- appends its argv (without the program name) as one JSON line to ``calls.jsonl``;
- answers ``stack output --json`` from ``outputs`` and ``config get`` from ``config``
  (a missing key fails like the real CLI: exit 255, "configuration key ... not found");
- applies ``config set`` / ``config rm`` to ``config``, so later reads see them;
- prints a few lines for ``up`` / ``destroy``;
- fails like the real CLI (exit 255, "no Pulumi.yaml project file found") when neither the
  ``--cwd`` folder (the runner always passes it) nor a parent holds ``Pulumi.yaml``;
- exits 0, unless ``fail("config set", code, stderr)`` asked a subcommand to fail.

``REPO`` is the project root the runner passes as ``--cwd`` when the tests run
from a folder without ``Pulumi.yaml`` (a temp dir): the folder above ``jobs/``.

``no_pulumi`` removes every ``PATH`` entry that holds a ``pulumi`` executable.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
CWD = ["--cwd", str(REPO)]

_SCRIPT = r'''#!{python}
import json, sys
from pathlib import Path
here = Path(__file__).resolve().parent
args = sys.argv[1:]
with open(here / "calls.jsonl", "a", encoding="utf-8") as fh:
    fh.write(json.dumps(args) + "\n")
import os
with open(here / "env.jsonl", "a", encoding="utf-8") as fh:  # what pulumi was given (tests check no secret)
    fh.write(json.dumps(dict(os.environ)) + "\n")
settings_path = here / "settings.json"
settings = json.loads(settings_path.read_text(encoding="utf-8"))
words = [a for a in args if not a.startswith("-")]
def opt(name):
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None
stack = opt("--stack") or opt("-s") or "dev"
positional = [a for i, a in enumerate(args)
              if not a.startswith("-") and (i == 0 or args[i - 1] not in ("--stack", "-s", "--cwd", "-C"))]
# like the real CLI: the project (Pulumi.yaml) is looked up from --cwd (or the process's folder) upwards
start = Path(opt("--cwd") or opt("-C") or ".").resolve()
if not any((d / "Pulumi.yaml").is_file() for d in (start, *start.parents)):
    sys.stderr.write(f"error: no Pulumi.yaml project file found (searching upwards from {start}). If you have "
                     "not created a project yet, use `pulumi new` to do so: no project file found\n")
    sys.exit(255)
sub = " ".join(positional[:2])
fail = settings.get("fail", {}).get(sub) or settings.get("fail", {}).get(positional[0] if positional else "")
if fail:
    sys.stdout.write(fail.get("stdout", ""))
    sys.stderr.write(fail.get("stderr", "error: failed\n"))
    sys.exit(fail.get("code", 1))
config = settings.setdefault("config", {})
if sub == "stack output":
    print(json.dumps(settings.get("outputs", {}), indent=4))
elif sub == "config get":
    key = positional[2]
    if key not in config:
        sys.stderr.write(f"error: configuration key '{key}' not found for stack '{stack}'\n")
        sys.exit(255)
    print(config[key])
elif sub == "config set":
    config[positional[2]] = positional[3]
    settings_path.write_text(json.dumps(settings), encoding="utf-8")
elif sub == "config rm":
    config.pop(positional[2], None)
    settings_path.write_text(json.dumps(settings), encoding="utf-8")
elif positional and positional[0] in ("up", "destroy"):
    print(f"Updating ({stack})")
    print("    pulumi:pulumi:Stack foundry-finetune-" + stack + " running")
    print("Resources:")
    print("    3 unchanged")
sys.exit(0)
'''


@dataclass
class FakePulumi:
    """Handle on the stand-in ``pulumi``: what it was called with, what it answers."""

    bin_dir: Path

    @property
    def record(self) -> Path:
        return self.bin_dir / "calls.jsonl"

    @property
    def settings_path(self) -> Path:
        return self.bin_dir / "settings.json"

    def _settings(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.settings_path.read_text(encoding="utf-8"))
        return data

    def _write(self, data: dict[str, Any]) -> None:
        self.settings_path.write_text(json.dumps(data), encoding="utf-8")

    def calls(self) -> list[list[str]]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text(encoding="utf-8").splitlines() if line.strip()]

    def envs(self) -> list[dict[str, str]]:
        """The environment of each call, in order."""
        path = self.bin_dir / "env.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

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

    def fail(self, subcommand: str, code: int = 1, stderr: str = "error: failed\n") -> None:
        data = self._settings()
        data.setdefault("fail", {})[subcommand] = {"code": code, "stderr": stderr}
        self._write(data)


def _path_without_pulumi() -> str:
    kept = []
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if entry and not (Path(entry) / "pulumi").exists():
            kept.append(entry)
    return os.pathsep.join(kept)


def make_fake_pulumi(bin_dir: Path) -> FakePulumi:
    """Write the stand-in ``pulumi`` into ``bin_dir`` (PATH is the caller's business)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "pulumi"
    script.write_text(_SCRIPT.replace("{python}", sys.executable), encoding="utf-8")
    script.chmod(0o755)
    (bin_dir / "settings.json").write_text(json.dumps({"outputs": {}, "config": {}}), encoding="utf-8")
    return FakePulumi(bin_dir)


def path_with(bin_dir: Path | None) -> str:
    """PATH without any real pulumi, with ``bin_dir`` (if given) first."""
    rest = _path_without_pulumi()
    return f"{bin_dir}{os.pathsep}{rest}" if bin_dir else rest


@pytest.fixture
def fake_pulumi(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> FakePulumi:
    fake = make_fake_pulumi(tmp_path_factory.mktemp("fake-pulumi-bin"))
    monkeypatch.setenv("PATH", path_with(fake.bin_dir))
    return fake


@pytest.fixture
def no_pulumi(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", _path_without_pulumi())


@pytest.fixture
def stack_state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty run-state folder (env FTJOBS_STATE_DIR) for one test; stack env reset to the default."""
    directory = tmp_path_factory.mktemp("ftjobs-state")
    monkeypatch.setenv("FTJOBS_STATE_DIR", str(directory))
    monkeypatch.delenv("FTJOBS_STACK", raising=False)
    return directory


# ----------------------------------------------------------------- a finished job on the emulator

PLACEHOLDER_TOKEN = "test-placeholder-token"


@dataclass
class FinishedJob:
    url: str
    job_id: str
    training_file: str
    fine_tuned_model: str
    result_files: list[str]


def stack_env(url: str, state_dir: Path, *, bin_dir: Path | None = None, **extra: str) -> dict[str, str]:
    """Environment for ``python -m jobs ...`` against the emulator: placeholder token, private state."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("AZURE_OPENAI_API_KEY", "FTJOBS_API", "OPENAI_API_VERSION", "FTJOBS_STACK", "CI_TTY")}
    env.update({
        "AZURE_OPENAI_ENDPOINT": url,
        "AZURE_OPENAI_AD_TOKEN": PLACEHOLDER_TOKEN,
        "FTJOBS_STATE_DIR": str(state_dir),
        "PATH": path_with(bin_dir),
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def run_job_on(url: str, training_path: Path, *, suffix: str = "ft-travel", validation: bool = False,
               timeout: float = 30.0) -> FinishedJob:
    """Upload ``training_path`` and fine-tune on the emulator with the real SDK; wait until it ends."""
    import time

    import openai

    client = openai.AzureOpenAI(azure_endpoint=url, api_version="2025-04-01-preview",
                                azure_ad_token=PLACEHOLDER_TOKEN, max_retries=2)
    with training_path.open("rb") as fh:
        f = client.files.create(file=fh, purpose="fine-tune")
    deadline = time.monotonic() + timeout
    while client.files.retrieve(f.id).status != "processed":
        assert time.monotonic() < deadline, "file never processed"
        time.sleep(0.1)
    kwargs: dict[str, Any] = {"validation_file": f.id} if validation else {}
    job = client.fine_tuning.jobs.create(model="gpt-4.1-2025-04-14", training_file=f.id, suffix=suffix, **kwargs)
    while job.status not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline, f"job still {job.status}"
        time.sleep(0.2)
        job = client.fine_tuning.jobs.retrieve(job.id)
    return FinishedJob(url=url, job_id=job.id, training_file=f.id, fine_tuned_model=job.fine_tuned_model or "",
                       result_files=list(job.result_files or []))


@pytest.fixture
def finished_job(emulator: Any, mslearn_data: Path) -> FinishedJob:
    """A succeeded fine-tuning job (with a validation file, so every metric exists) on a fresh emulator."""
    return run_job_on(emulator.url, mslearn_data / "travel-finetune-hotel.jsonl", validation=True)
