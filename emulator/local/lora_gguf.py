"""A peft LoRA adapter (``adapter_model.safetensors`` + ``adapter_config.json``, as ``save_pretrained`` writes
them) converted to a llama.cpp LoRA adapter GGUF, so the serving runtime (llama.cpp, through ``xllamacpp``)
applies it on top of the base GGUF. Needs only ``gguf``, ``safetensors`` and numpy (no torch); about 0.2 s.

The format, as read in llama.cpp's ``convert_lora_to_gguf.py`` and ``gguf-py`` (ggml-org/llama.cpp, master,
read 2026-12-06; no code copied):
- metadata ``general.architecture`` (the base's, here ``llama``), ``general.type = "adapter"``,
  ``adapter.type = "lora"`` and ``adapter.lora.alpha`` (float32); llama.cpp scales by alpha / rank;
- per adjusted weight two tensors named after the base tensor, ``blk.N.attn_q.weight.lora_a`` with peft's
  ``lora_A`` as it is (rank x in) and ``.lora_b`` with peft's ``lora_B`` (out x rank);
- the Llama converter permutes the rows of q and k (rotary halves interleaved); a LoRA's rows live in
  ``lora_B``, so ``lora_B`` of ``q_proj`` and ``k_proj`` gets the same permutation.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# peft's module names of a Llama layer -> llama.cpp's tensor names (gguf-py's tensor_mapping.py).
PROJECTIONS = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"


class AdapterError(Exception):
    """An adapter directory that cannot be converted; the message names the file and the reason."""


@dataclass(frozen=True)
class BaseShape:
    """What the conversion needs from the base GGUF: its architecture and attention head counts."""
    architecture: str
    n_head: int
    n_head_kv: int


def base_shape(base_gguf: Path) -> BaseShape:
    import gguf

    reader = gguf.GGUFReader(str(base_gguf))

    def field(key: str) -> Any:
        found = reader.get_field(key)
        if found is None:
            raise AdapterError(f"{base_gguf}: the base GGUF has no {key}")
        return found.contents()

    arch = str(field("general.architecture"))
    return BaseShape(arch, int(field(f"{arch}.attention.head_count")),
                     int(field(f"{arch}.attention.head_count_kv")))


def read_config(adapter_dir: Path) -> dict[str, Any]:
    path = adapter_dir / ADAPTER_CONFIG
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AdapterError(f"{path} is missing: an adapter directory is what peft's save_pretrained "
                           f"writes ({ADAPTER_CONFIG} and {ADAPTER_WEIGHTS})") from None
    except (OSError, ValueError) as exc:
        raise AdapterError(f"{path}: not a readable JSON adapter config ({exc})") from None
    if not isinstance(config, dict) or config.get("peft_type", "LORA") != "LORA":
        raise AdapterError(f"{path}: only LoRA adapters are served (peft_type LORA)")
    if config.get("use_dora"):
        raise AdapterError(f"{path}: DoRA adapters are not supported by llama.cpp; train with use_dora=false")
    return config


def effective_alpha(config: dict[str, Any], rank: int) -> float:
    """llama.cpp scales a LoRA by alpha / rank; peft's rsLoRA scales by alpha / sqrt(rank), so that alpha is
    rewritten to give the same scale."""
    alpha = float(config.get("lora_alpha", rank))
    return alpha * math.sqrt(rank) if config.get("use_rslora") else alpha


def permute_rows(rows: Any, n_head: int) -> Any:
    """llama.cpp's row order for q/k: each head's two rotary halves interleaved (as its HF converter does)."""
    out = rows.shape[0]
    return (rows.reshape(n_head, 2, out // n_head // 2, *rows.shape[1:]).swapaxes(1, 2)
            .reshape(rows.shape))


def gguf_name(peft_name: str, path: Path) -> tuple[str, str]:
    """``base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight`` -> (``blk.3.attn_q.weight``, ``a``)."""
    parts = peft_name.split(".")
    try:
        layer_at = parts.index("layers")
        block = int(parts[layer_at + 1])
        module = ".".join(parts[layer_at + 2:layer_at + 4])
        side = {"lora_A": "a", "lora_B": "b"}[parts[layer_at + 4]]
        return f"blk.{block}.{PROJECTIONS[module]}.weight", side
    except (ValueError, IndexError, KeyError):
        raise AdapterError(f"{path}: tensor {peft_name!r} is not a LoRA on a Llama projection "
                           f"({', '.join(PROJECTIONS)}); only those are served") from None


def convert(adapter_dir: Path, base_gguf: Path, out: Path, shape: BaseShape | None = None) -> Path:
    """Write ``out`` (a llama.cpp LoRA GGUF) from the peft adapter in ``adapter_dir``; returns ``out``.
    ``shape`` (from :func:`base_shape`, which reads the whole GGUF header: about a second) may be cached."""
    import gguf
    import numpy as np
    from safetensors.numpy import load_file

    config = read_config(adapter_dir)
    weights_path = adapter_dir / ADAPTER_WEIGHTS
    if not weights_path.is_file():
        raise AdapterError(f"{weights_path} is missing (peft's save_pretrained writes it)")
    shape = shape or base_shape(base_gguf)
    pairs: dict[str, dict[str, Any]] = {}
    for name, array in load_file(str(weights_path)).items():
        target, side = gguf_name(name, weights_path)
        pairs.setdefault(target, {})[side] = array.astype(np.float32)
    if not pairs or any(set(pair) != {"a", "b"} for pair in pairs.values()):
        raise AdapterError(f"{weights_path}: every adjusted weight needs both lora_A and lora_B")
    rank = next(iter(pairs.values()))["a"].shape[0]
    writer = gguf.GGUFWriter(str(out), shape.architecture)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, effective_alpha(config, rank))
    for target, pair in sorted(pairs.items()):
        lora_b = pair["b"]
        if ".attn_q." in target:
            lora_b = permute_rows(lora_b, shape.n_head)
        elif ".attn_k." in target:
            lora_b = permute_rows(lora_b, shape.n_head_kv)
        writer.add_tensor(f"{target}.lora_a", np.ascontiguousarray(pair["a"]))
        writer.add_tensor(f"{target}.lora_b", np.ascontiguousarray(lora_b))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


def write_random_adapter(out: Path, base_gguf: Path, *, rank: int = 8, alpha: float = 16.0, std: float = 0.05,
                         seed: int = 0, targets: tuple[str, ...] = tuple(PROJECTIONS)) -> Path:
    """A random, non-zero LoRA on every layer, in peft's saved format (for benchmarks and tests without torch):
    the shape of each projection comes from the base GGUF."""
    import gguf
    import numpy as np
    from safetensors.numpy import save_file

    reader = gguf.GGUFReader(str(base_gguf))
    dims = {t.name: [int(d) for d in t.shape] for t in reader.tensors}  # GGUF order: (in, out)
    rng = np.random.default_rng(seed)
    tensors: dict[str, Any] = {}
    n_blocks = 1 + max(int(name.split(".")[1]) for name in dims if name.startswith("blk."))
    for block in range(n_blocks):
        for module in targets:
            fan_in, fan_out = dims[f"blk.{block}.{PROJECTIONS[module]}.weight"][:2]
            prefix = f"base_model.model.model.layers.{block}.{module}"
            tensors[f"{prefix}.lora_A.weight"] = rng.normal(0, 1 / fan_in ** 0.5, (rank, fan_in)).astype(np.float32)
            tensors[f"{prefix}.lora_B.weight"] = rng.normal(0, std, (fan_out, rank)).astype(np.float32)
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / ADAPTER_WEIGHTS))
    config = {"peft_type": "LORA", "r": rank, "lora_alpha": alpha, "task_type": "CAUSAL_LM",
              "target_modules": [m.split(".")[1] for m in targets]}
    (out / ADAPTER_CONFIG).write_text(json.dumps(config), encoding="utf-8")
    return out
