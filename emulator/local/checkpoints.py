"""Checkpoints of a local training run, and the state a stopped run resumes from.

Layout under the workdir (paths in the progress file are relative to it)::

    checkpoints/step-000016/adapter/   the LoRA adapter (peft save_pretrained: adapter_config.json,
                                       adapter_model.safetensors); serve it on the base model
    checkpoints/step-000016/state.pt   what resuming needs: optimizer state, RNG states, step, epoch
    resume/adapter/, resume/state.pt   the same, written when a stop request is honoured mid-epoch

One checkpoint per epoch end; the newest ``keep`` are kept (the last is the fine-tuned model). Each directory is
written under a temporary name and renamed, so a crash never leaves a half-written checkpoint behind.
Torch is imported by the functions that need it, not at module import.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHECKPOINTS = "checkpoints"
RESUME = "resume"
ADAPTER = "adapter"
STATE = "state.pt"


@dataclass(frozen=True)
class Saved:
    path: Path  # the checkpoint's directory
    step: int

    @property
    def adapter(self) -> Path:
        return self.path / ADAPTER


def checkpoint_dir(workdir: Path, step: int) -> Path:
    return workdir / CHECKPOINTS / f"step-{step:06d}"


def listed(workdir: Path) -> list[Saved]:
    """The complete checkpoints of ``workdir``, oldest first."""
    root = workdir / CHECKPOINTS
    found = []
    for path in root.glob("step-*") if root.is_dir() else ():
        if path.name[5:].isdigit() and (path / STATE).is_file():
            found.append(Saved(path=path, step=int(path.name[5:])))
    return sorted(found, key=lambda s: s.step)


def resume_point(workdir: Path) -> Saved | None:
    """The newest state to resume from: the stop-request state or the last checkpoint, whichever is later."""
    candidates = listed(workdir)[-1:]
    resume = workdir / RESUME
    if (resume / STATE).is_file():
        candidates.append(Saved(path=resume, step=int(_load_state(resume)["step"])))
    return max(candidates, key=lambda s: s.step) if candidates else None


def save(model: Any, optimizer: Any, target: Path, step: int, epoch: int) -> Saved:
    """The adapter and the resume state, written to a temporary sibling and renamed into ``target``."""
    import torch

    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(str(tmp / ADAPTER))
    torch.save({"step": step, "epoch": epoch, "optimizer": optimizer.state_dict(),
                "torch_rng": torch.get_rng_state(), "python_rng": random.getstate()}, tmp / STATE)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return Saved(path=target, step=step)


def restore(model: Any, optimizer: Any, saved: Saved) -> int:
    """Load a saved adapter and optimizer into the run; returns the step it was saved after."""
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model, load_file(str(saved.adapter / "adapter_model.safetensors")))
    state = _load_state(saved.path)
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"])
    random.setstate(state["python_rng"])
    return int(state["step"])


def _load_state(path: Path) -> dict[str, Any]:
    import torch

    state: dict[str, Any] = torch.load(path / STATE, weights_only=True)
    return state


def prune(workdir: Path, keep: int) -> list[Path]:
    """Remove all but the newest ``keep`` checkpoints; returns the removed directories."""
    removed = [s.path for s in listed(workdir)[:-keep]]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def drop_resume(workdir: Path) -> None:
    shutil.rmtree(workdir / RESUME, ignore_errors=True)
