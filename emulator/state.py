"""What every route shares: the config, the store, the fine-tuning engine, inference, limits, faults, clock."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.answers import AnswerSource
from emulator.clock import Clock
from emulator.config import EmulatorConfig
from emulator.finetune import Engine
from emulator.inference import Inference
from emulator.limits import FaultInjector, RateLimiter
from emulator.store import Store
from emulator.trainer import Trainer

DEFAULT_CAPACITY = 50  # thousands of tokens per minute, when a registration names none


@dataclass
class State:
    config: EmulatorConfig
    store: Store
    clock: Clock
    engine: Engine
    limiter: RateLimiter
    faults: FaultInjector
    inference: Inference

    @classmethod
    def build(cls, state_dir: Path, config: EmulatorConfig, source: AnswerSource, trainer: Trainer,
              clock: Clock | None = None) -> "State":
        store = Store(state_dir)
        config.deployments.update(store.registered_deployments())
        clock = clock or Clock(Path(state_dir) / "clock.json")
        engine = Engine(store, config, trainer, clock)
        limiter = RateLimiter(config)
        inference = Inference(config, limiter, source, engine.catalogue.tuned_model, now=clock.now)
        return cls(config, store, clock, engine, limiter, FaultInjector(config), inference)

    def deployments(self) -> dict[str, dict[str, Any]]:
        return self.config.deployments

    def add_deployment(self, name: str, model: str, capacity: Any = None, sku: str | None = None) -> dict[str, Any]:
        ok = isinstance(capacity, (int, float)) and not isinstance(capacity, bool) and capacity > 0
        dep: dict[str, Any] = {"model": model, "capacity": capacity if ok else DEFAULT_CAPACITY,
                               "registered_at": self.clock.now()}
        if sku is not None:
            dep["sku"] = sku
        with self.store.lock:
            self.config.deployments[name] = dep
            registered = self.store.registered_deployments()
            registered[name] = dep
            self.store.save_deployments(registered)
        return dep

    def remove_deployment(self, name: str) -> bool:
        with self.store.lock:
            if name not in self.config.deployments:
                return False
            registered = self.store.registered_deployments()
            self.config.deployments.pop(name, None)
            registered.pop(name, None)
            self.store.save_deployments(registered)
        return True
