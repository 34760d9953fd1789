"""``run --holdout N`` / ``pipeline --holdout N``: set N training examples aside before upload, as a suite.

The split is reproducible: the same file, N and seed (``--seed``, else 0) always hold out the same examples
(``random.Random(seed).sample`` over the example indices). Both parts are written next to the run state,
``<state dir>/holdout/<sha256 of the source, 12>-n<N>-s<seed>/{train,holdout}.jsonl``, and the run trains on
``train.jsonl``. ``holdout.jsonl`` is a chat-JSONL suite (each example's last user turn is asked; its assistant
answer is the reference) that ``compare --checkpoints`` uses by default for the job trained on ``train.jsonl``:
the run state keeps ``holdouts[<sha256 of train.jsonl>] = {"suite", "source", "n", "seed"}``.

A checkpoint that memorised a prompt would look best on it, so a prompt seen in training must not be in the
suite that chooses the checkpoint (:mod:`jobs.compare.contamination` warns when one is).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from jobs.session import Session

FOLDER = "holdout"
MIN_TRAINING_EXAMPLES = 10  # Azure refuses a training file with fewer (Learn, "Customize a model", data prep)


@dataclass(frozen=True)
class Holdout:
    source: Path
    train: Path
    suite: Path
    n: int
    seed: int
    train_sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"source": str(self.source), "train": str(self.train), "suite": str(self.suite), "n": self.n,
                "seed": self.seed}


def _lines(data: Path) -> list[bytes]:
    try:
        raw = data.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the training file {data}: {exc.strerror or exc}",
                         hint="pass an existing JSONL file") from None
    return [line for line in raw.splitlines() if line.strip()]


def split(data: Path, n: int, folder: Path, *, seed: int | None = None) -> Holdout:
    """Write the two parts (see the module docstring); the same inputs give the same files."""
    lines = _lines(data)
    most = len(lines) - MIN_TRAINING_EXAMPLES
    if n < 1 or n > most:
        raise UsageError(f"--holdout {n}: {data} has {len(lines)} examples; hold out 1 to {max(most, 0)} so that "
                         f"at least {MIN_TRAINING_EXAMPLES} remain for training",
                         hint="e.g. --holdout 10 (about a sixth of the lab's 62 examples)")
    seed = 0 if seed is None else seed
    held = set(random.Random(seed).sample(range(len(lines)), n))
    source_sha = hashlib.sha256(b"\n".join(lines)).hexdigest()[:12]
    out = folder / FOLDER / f"{source_sha}-n{n}-s{seed}"
    train = b"\n".join(line for i, line in enumerate(lines) if i not in held) + b"\n"
    suite = b"\n".join(line for i, line in enumerate(lines) if i in held) + b"\n"
    from jobs.atomic import write_atomic

    try:
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / "train.jsonl", train)
        write_atomic(out / "holdout.jsonl", suite)
    except OSError as exc:
        raise UsageError(f"cannot write the holdout split into {out}: {exc.strerror or exc}",
                         hint="free disk space or point FTJOBS_STATE_DIR at a writable folder") from None
    return Holdout(source=data, train=out / "train.jsonl", suite=out / "holdout.jsonl", n=n, seed=seed,
                   train_sha256=hashlib.sha256(train).hexdigest())


def set_aside(session: "Session", data: Path, n: int, *, seed: int | None = None) -> Holdout:
    """Split ``data`` and record the holdout in the run state; the caller trains on ``.train``."""
    got = split(data, n, session.state.directory, seed=seed)
    session.state.update(lambda d: d.setdefault("holdouts", {}).__setitem__(got.train_sha256, got.to_json()))
    session.say(f"holdout: {n} of the examples in {data} set aside (seed {got.seed}) as the suite {got.suite}; "
                f"training on {got.train}")
    return got


def suite_for_job(state: dict[str, Any], training_file_id: str | None) -> str | None:
    """The holdout suite recorded for the file a job trained on (by its file id), if any."""
    if not training_file_id:
        return None
    holdouts = state.get("holdouts") or {}
    for sha, entry in (state.get("files") or {}).items():
        if isinstance(entry, dict) and entry.get("file_id") == training_file_id and sha in holdouts:
            suite = holdouts[sha].get("suite")
            return str(suite) if suite and Path(str(suite)).is_file() else None
    return None
