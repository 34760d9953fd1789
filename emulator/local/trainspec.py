"""What a local training run is asked to do (:class:`TrainSpec`), with the defaults that suit the small model.

No torch here: the emulator builds a spec in the server process and hands it to a worker process
(:mod:`emulator.local.worker`), which runs :func:`emulator.local.train.run`.

Defaults, and why (measured on this machine over data/travel-train.jsonl; docs/benchmarks.md):
- LoRA r=16, alpha=32 on all seven projections of each layer (q, k, v, o, gate, up, down). On q/k/v/o only,
  at lr 2e-4, the loss fell 3.39 -> 3.04 in 3 epochs and the model still recommended restaurants; on all
  seven at lr 1e-3 it fell to about 2.1 and the model declines recommendations and asks a question (the lab's
  behaviour).
- Base learning rate 1e-3, times Azure's ``learning_rate_multiplier`` (Azure's default multiplier is 1), with
  a linear decay to 0 over the run; AdamW without weight decay; gradient norm clipped at 1.
- ``n_epochs`` 3 and ``batch_size`` 4 when the request leaves them to the service (Azure's -1, "auto").
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

METHODS = ("supervised", "dpo")
PRECISIONS = ("auto", "bf16", "fp32")
ALL_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
DEFAULT_EPOCHS = 3
DEFAULT_BATCH_SIZE = 4
BASE_LEARNING_RATE = 1e-3
# Azure keeps the checkpoints of the last three epochs (the last is the fine-tuned model itself): the source cited
# by emulator/finetune.py's KEPT_CHECKPOINTS (Microsoft Learn, tutorials/fine-tune.md, "List checkpoints").
KEPT_CHECKPOINTS = 3
# DPO's beta when unset: 0.1, the value of Microsoft's DPO REST example (emulator/finetune.py DEFAULT_DPO_BETA).
DEFAULT_BETA = 0.1
MAX_TOKENS = 2048  # a longer example is cut at the end (the small model's context is 8192)


class TrainSpecError(ValueError):
    """A training request or file the local trainer cannot use; the message names the field or file and line."""


@dataclass(frozen=True)
class TrainSpec:
    """One training run. ``training`` and ``validation`` are the JSONL files' records, one dict per line: a chat
    example ``{"messages": [...]}`` (an assistant message may carry ``"weight": 0`` to be context only), or for
    ``method="dpo"`` a preference pair ``{"input": {"messages": [...]}, "preferred_output": [...],
    "non_preferred_output": [...]}``. ``threads`` None: chosen by :func:`emulator.local.worker.default_threads`."""

    training: list[dict[str, Any]]
    validation: list[dict[str, Any]] | None = None
    method: str = "supervised"
    n_epochs: int = DEFAULT_EPOCHS
    batch_size: int = DEFAULT_BATCH_SIZE
    learning_rate_multiplier: float = 1.0
    seed: int = 0
    threads: int | None = None
    beta: float = DEFAULT_BETA
    lora_r: int = 16
    lora_alpha: int = 32
    target_modules: tuple[str, ...] = field(default=ALL_PROJECTIONS)
    base_learning_rate: float = BASE_LEARNING_RATE
    keep_checkpoints: int = KEPT_CHECKPOINTS
    max_tokens: int = MAX_TOKENS
    valid_every: int = 1  # valid_loss on a validation batch every this many steps (the other rows leave it empty)
    # A speed switch, not a result switch: a prefix all rows of a batch share runs once (emulator/local/losses.py).
    share_prefix: bool = True
    # bf16: the frozen base weights in bfloat16 and the forward and backward passes under bf16 autocast (the
    # LoRA weights and the optimizer stay float32); auto: bf16 when the CPU has native bf16 (emulator.local.cpu).
    precision: str = "auto"
    # Where the float32 conversion of the GGUF is kept between runs (emulator.local.basecache); None: no cache.
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise TrainSpecError("; ".join(problems))

    @property
    def learning_rate(self) -> float:
        return self.base_learning_rate * self.learning_rate_multiplier

    def fingerprint(self) -> str:
        """What the trained weights depend on (not threads, precision's speed choice or the cache): a resumed
        run must be given the same, or it would continue another run's optimizer state."""
        fields = {k: v for k, v in asdict(self).items() if k not in ("threads", "cache_dir", "share_prefix")}
        return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def _problems(spec: TrainSpec) -> list[str]:
    out: list[str] = []
    if spec.precision not in PRECISIONS:
        out.append(f"precision '{spec.precision}' is not one of {', '.join(PRECISIONS)}")
    if spec.method not in METHODS:
        out.append(f"method '{spec.method}' is not one of {', '.join(METHODS)}")
    for name in ("n_epochs", "batch_size", "lora_r", "keep_checkpoints", "max_tokens", "valid_every"):
        value = getattr(spec, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            out.append(f"{name} must be a whole number of at least 1 (got {value!r})")
    for name in ("learning_rate_multiplier", "beta", "base_learning_rate"):
        value = getattr(spec, name)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
            out.append(f"{name} must be a number above 0 (got {value!r})")
    if spec.threads is not None and (not isinstance(spec.threads, int) or spec.threads < 1):
        out.append(f"threads must be a whole number of at least 1, or None (got {spec.threads!r})")
    if not spec.training:
        out.append("the training file has no examples")
    return out


def from_hyperparameters(training: list[dict[str, Any]], validation: list[dict[str, Any]] | None,
                         hyperparameters: dict[str, Any], **extra: Any) -> TrainSpec:
    """A spec from an Azure job's hyperparameters: -1, None or absent ("auto") take the local defaults."""

    def pick(name: str, default: Any) -> Any:
        value = hyperparameters.get(name)
        return default if value is None or value == -1 or value == "auto" else value

    return TrainSpec(training=training, validation=validation,
                     n_epochs=pick("n_epochs", DEFAULT_EPOCHS), batch_size=pick("batch_size", DEFAULT_BATCH_SIZE),
                     learning_rate_multiplier=pick("learning_rate_multiplier", 1.0),
                     beta=pick("beta", DEFAULT_BETA), **extra)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of a JSONL file; a line that is not a JSON object is an error naming the file and line."""
    records: list[dict[str, Any]] = []
    text = path.read_text(encoding="utf-8-sig")
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise TrainSpecError(f"{path}:{number}: not JSON ({err.msg}); each line must be one JSON object") from None
        if not isinstance(obj, dict):
            raise TrainSpecError(f"{path}:{number}: each line must be one JSON object")
        records.append(obj)
    return records
