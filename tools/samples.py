"""Regenerate the sample outputs the docs quote (``make samples``): real runs, never hand-edited.

- ``docs/samples/validate.txt``: ``python -m jobs validate data/travel-train.jsonl --price-per-1m 25``.
- ``docs/samples/rehearse.txt``: ``python -m jobs rehearse`` (stdout; progress in ``rehearse.stderr.txt``).
- ``docs/samples/run.txt``: ``python -m jobs run`` against ``python -m jobs emulator`` (a placeholder Entra token,
  a private run state, no ``pulumi`` on PATH), then the same command again, which repeats nothing, then
  ``status``, ``metrics``, ``list``, ``clean --models --yes`` and ``status`` again.

Each file starts with the command and the date it was recorded. With Debian's Chromium installed it also
takes ``docs/img/report.png``, the screenshot of the rehearsal's HTML report the README shows.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "samples"


def _env(extra: dict[str, str]) -> dict[str, str]:
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if p and not (Path(p) / "pulumi").exists())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FTJOBS_", "AZURE_OPENAI_"))}
    return {**env, "PATH": path, "CI": "1", "PYTHONUNBUFFERED": "1", **extra}


def _record(name: str, args: list[str], env: dict[str, str], *, merge: bool = False) -> str:
    cmd = [sys.executable, "-m", "jobs", *args]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT if merge else subprocess.PIPE, text=True, timeout=600)
    shown = "python -m jobs " + shlex.join(args)
    head = f"$ {shown}\n"
    body = proc.stdout + f"(exit {proc.returncode})\n"
    if not merge and proc.stderr:
        (OUT / f"{name}.stderr.txt").write_text(head + proc.stderr, encoding="utf-8")
    return head + body


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d", time.gmtime())
    checked = _record("validate", ["validate", "data/travel-train.jsonl", "--price-per-1m", "25"], _env({}), merge=True)
    (OUT / "validate.txt").write_text(f"# recorded {stamp} with `make samples` (25 USD is an example price, not a "
                                      f"quote)\n{checked}", encoding="utf-8")
    text = _record("rehearse", ["rehearse", "--backend", "stand-in"], _env({}))
    (OUT / "rehearse.txt").write_text(f"# recorded {stamp} with `make samples`\n{text}", encoding="utf-8")

    with tempfile.TemporaryDirectory(prefix="ftjobs-samples-") as tmp:
        emu = subprocess.Popen([sys.executable, "-m", "jobs", "emulator", "--port", "0", "--state-dir",
                                str(Path(tmp) / "emulator")], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True, env=_env({}))
        try:
            assert emu.stdout is not None
            url = emu.stdout.readline().split("emulator listening on ", 1)[1].strip()
            env = _env({"AZURE_OPENAI_ENDPOINT": url, "AZURE_OPENAI_AD_TOKEN": "placeholder-token",
                        "FTJOBS_STATE_DIR": str(Path(tmp) / "ftjobs")})
            run = ["run", "data/travel-train.jsonl", "--validation-file", "data/travel-validation.jsonl",
                   "--price-per-1m", "25", "--max-cost", "5", "--yes"]
            first = _record("run", run, env, merge=True)
            again = _record("run", run, env, merge=True)
            later = [_record("run", args, env, merge=True) for args in
                     (["status"], ["metrics", "--rows", "6"], ["list", "--limit", "3"], ["clean", "--models", "--yes"],
                      ["status"])]
        finally:
            emu.terminate()
            emu.wait(timeout=30)
    (OUT / "run.txt").write_text(f"# recorded {stamp} with `make samples` against `python -m jobs emulator` "
                                 "(default stage durations; every answer and event comes from the local stand-in)\n"
                                 f"{first}\n# the same command again: nothing is repeated\n{again}\n"
                                 "# then: the job, its metrics, the jobs on the resource, the clean-up, and `status` "
                                 "after it (no job left to default to)\n" + "\n".join(later), encoding="utf-8")
    screenshot(text)
    print(f"wrote {', '.join(sorted(p.name for p in OUT.iterdir()))} in {OUT}")


def screenshot(rehearsal: str) -> None:
    """docs/img/report.png: the rehearsal's HTML report in headless Chromium (Debian's; skipped without it)."""
    import re
    import shutil

    chromium = shutil.which("chromium")
    found = re.search(r"^report \(compare\): (\S+)$", rehearsal, re.M)
    if chromium is None or found is None:
        print("no chromium (or no report): docs/img/report.png not regenerated")
        return
    target = ROOT / "docs" / "img" / "report.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ftjobs-chromium-") as profile:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", "--hide-scrollbars", "--window-size=1280,1400",
                        f"--screenshot={target}", f"file://{found.group(1)}"], capture_output=True, timeout=120,
                       check=True)


if __name__ == "__main__":
    main()
