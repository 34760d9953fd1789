"""An API key set in AZURE_OPENAI_API_KEY is used, and appears in no output and no file the runner writes."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import run_jobs_process
from tests.support.emulators import runner_config

pytestmark = pytest.mark.usefixtures("runner_env")


def _files_containing(root: Path, marker: str) -> list[Path]:
    hits = []
    for p in root.rglob("*"):
        if p.is_file() and marker.encode() in p.read_bytes():
            hits.append(p)
    return hits


@pytest.mark.slow
@pytest.mark.subprocess
def test_api_key_never_leaks(tmp_path: Path, training_copy: Path, fake_pulumi: Any, runner_env: Path,
                             monkeypatch: pytest.MonkeyPatch, jobs_cli: Any) -> None:
    from emulator.server import EmulatorServer

    marker = "key-" + secrets.token_hex(16)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", marker)
    outputs: list[str] = []
    # the emulator accepts only this key: proves the key is really sent
    with EmulatorServer(tmp_path / "em", runner_config(api_keys=[marker],
                                                       faults={"rate": 0.1, "seed": 3})) as em:
        url = ["--endpoint", em.url]
        for api in ("dated", "v1"):
            for args in (["run", str(training_copy), "--yes", "--price-per-1m", "25", "--api", api],
                         ["status", "--api", api], ["events", "--api", api], ["list", "--api", api],
                         ["watch", "--api", api, "--json"], ["upload", str(training_copy), "--api", api],
                         ["train", str(training_copy), "--yes", "--json", "--api", api],
                         ["pause", "--api", api], ["status", "ftjob-does-not-exist", "--api", api]):
                out = jobs_cli(*args, *url)
                outputs += [out.stdout, out.stderr]
                expected = 2 if args[0] == "pause" or "ftjob-does-not-exist" in args else 0
                assert out.exit_code == expected, (args, out.stderr)
        proc = run_jobs_process(["run", str(training_copy), "--yes", *url], env=dict(os.environ))
        assert proc.exit_code == 0, proc.stderr
        outputs += [proc.stdout, proc.stderr]

    # a wrong key: the error says how to fix auth, and still shows no key
    with EmulatorServer(tmp_path / "em2", runner_config(api_keys=["some-other-key"])) as em2:
        out = jobs_cli("list", "--endpoint", em2.url)
        assert out.exit_code == 2 and "HTTP 401" in out.stderr and "AZURE_OPENAI_API_KEY" in out.stderr
        outputs += [out.stdout, out.stderr]

    assert all(marker not in text for text in outputs)
    assert runner_env.is_dir() and any(runner_env.iterdir())
    assert _files_containing(runner_env, marker) == []
    assert _files_containing(fake_pulumi.home, marker) == []  # what went to pulumi
    assert _files_containing(Path.cwd(), marker) == []  # logs or stray files in the work dir
    # pulumi ran (promote) and got neither data-plane credential in its environment
    envs = fake_pulumi.envs()
    assert envs and all("AZURE_OPENAI_API_KEY" not in e and "AZURE_OPENAI_AD_TOKEN" not in e for e in envs)


@pytest.mark.slow
def test_ad_token_never_leaks_and_never_reaches_pulumi(tmp_path: Path, training_copy: Path, fake_pulumi: Any,
                                                       runner_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                       jobs_cli: Any) -> None:
    from emulator.server import EmulatorServer

    marker = "adtoken-" + secrets.token_hex(16)
    monkeypatch.delenv("AZURE_OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("AZURE_OPENAI_AD_TOKEN", marker)
    outputs: list[str] = []
    with EmulatorServer(tmp_path / "em", runner_config()) as em:
        for args in (["run", str(training_copy), "--yes", "--price-per-1m", "25"], ["status"], ["list"],
                     ["promote"], ["status", "ftjob-does-not-exist"]):
            out = jobs_cli(*args, "--endpoint", em.url)
            outputs += [out.stdout, out.stderr]
            assert out.exit_code == (2 if "ftjob-does-not-exist" in args else 0), (args, out.stderr)
    assert all(marker not in text for text in outputs)
    assert runner_env.is_dir() and any(runner_env.iterdir())
    assert _files_containing(runner_env, marker) == []
    envs = fake_pulumi.envs()
    assert len(envs) >= 2  # promote from run, and promote again
    assert all("AZURE_OPENAI_AD_TOKEN" not in e and "AZURE_OPENAI_API_KEY" not in e for e in envs)
    assert all(marker not in value for e in envs for value in e.values())
    assert _files_containing(fake_pulumi.home, marker) == []
