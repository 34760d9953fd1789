"""The base model for training, loaded through an optional cache of its float32 conversion.

Reading the GGUF (dequantizing 272 tensors) takes about 14 s here; the same model saved once as safetensors
(517 MB) loads in about 3 s (docs/benchmarks.md). The cache is a directory the caller names (the emulator: its
state directory's ``local-model/``); it is keyed by the GGUF's size and modification time and written under a
temporary name and renamed, so two workers never read a half-written cache.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from emulator.local import weights

STAMP = "gguf-source.json"


def _source_stamp() -> dict[str, Any]:
    path = weights.gguf_path()
    stat = path.stat()
    return {"gguf": path.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def cache_path(cache_dir: Path) -> Path:
    return cache_dir / f"{weights.MODEL_NAME}-float32"


def load(cache_dir: Path | None) -> tuple[Any, Any]:
    """(model float32, tokenizer): from the cache when it matches the installed GGUF, else from the GGUF (and
    then the cache is written, when a cache directory is given)."""
    weights.require_packages()
    if cache_dir is None:
        return weights.load_base()
    target = cache_path(cache_dir)
    stamp = _source_stamp()
    try:
        cached = json.loads((target / STAMP).read_text(encoding="utf-8")) == stamp
    except (OSError, ValueError):
        cached = False
    if cached:
        return _load_saved(target)
    model, tokenizer = weights.load_base()
    _write(target, model, tokenizer, stamp)
    return model, tokenizer


def _load_saved(target: Path) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(target, local_files_only=True)
    model: Any = AutoModelForCausalLM.from_pretrained(target, dtype=torch.float32, local_files_only=True)
    model.eval()
    return model, tokenizer


def _write(target: Path, model: Any, tokenizer: Any, stamp: dict[str, Any]) -> None:
    tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / STAMP).write_text(json.dumps(stamp), encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    except OSError:  # a cache that cannot be written costs time, not the run
        shutil.rmtree(tmp, ignore_errors=True)
