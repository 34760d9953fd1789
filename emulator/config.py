"""Emulator configuration: deployments, auth keys, stage durations, limits, latency, faults.

The config file is JSON (see docs/emulator.md, "Config file"). Every key is optional;
unknown keys are refused with the key's name so a typo never passes silently.
The same keys can be changed at runtime with ``PATCH /++/config``.
"""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobs import models
from jobs.errors import UsageError


def _default_deployments() -> dict[str, dict[str, Any]]:
    return {"gpt-4.1": {"model": "gpt-4.1", "capacity": 50}}


@dataclass
class LatencyConfig:
    fixed_ms: float = 0.0  # added to every data-plane response
    per_token_ms: float = 0.0  # added per completion token (chat only)


# What an injected fault can be: Azure's 429 (with Retry-After), 500, 503, or a dropped connection.
FAULT_KINDS = ("429", "500", "503", "drop")


@dataclass
class FaultConfig:
    rate: float = 0.0  # 0..1: share of data-plane requests that fail
    kinds: list[str] = field(default_factory=lambda: ["500", "503", "drop"])
    seed: int = 0
    routes: list[str] = field(default_factory=list)  # path prefixes after /openai (empty: all)
    # deployment names (empty: any request): the one in a dated URL (/deployments/{name}/...) or in a v1 body's
    # "model" (chat, responses); a rule naming deployments never matches files, jobs or models requests
    deployments: list[str] = field(default_factory=list)
    retry_after_seconds: float = 1.0  # the wait an injected 429 asks for (retry-after-ms; Retry-After rounds up)


# The categories Azure's content filter reports (inference spec 2024-10-21, contentFilterPromptResults).
FILTER_CATEGORIES = ("hate", "sexual", "violence", "self_harm", "jailbreak")
FILTER_SEVERITIES = ("low", "medium", "high")


@dataclass
class ContentFilterConfig:
    # A prompt (any message text) containing one of these, case-insensitively, is refused as Azure's
    # content filter refuses it: 400 content_filter, innererror ResponsibleAIPolicyViolation.
    triggers: list[str] = field(default_factory=lambda: ["[trigger content filter]"])
    category: str = "violence"  # the category reported as filtered
    severity: str = "medium"


@dataclass
class LimitConfig:
    enabled: bool = True
    window_seconds: float = 60.0  # Azure counts per minute
    rpm_per_1k_tpm: float = 6.0  # Azure's ratio: 6 RPM per 1000 TPM


# Azure's rule for deployment names, as its error states it: "Resource name can only include alphanumeric characters,
# underscores and hyphens" (quoted in 8monkey-ai/hebo-platform#489, 2026-08-31), plus the period the portal's own
# default names carry ("gpt-4.1"), at most 64 characters (contract.DEPLOYMENT_NAME_MAX), starting with a letter or
# digit. A name outside it could not be deleted through a URL (`../../x`).
DEPLOYMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# The largest capacity accepted, in thousands of tokens per minute (the emulator's own bound: far above any real
# quota, and small enough that TPM = capacity x 1000 stays an integer).
MAX_CAPACITY = 1_000_000


def deployment_problem(name: str, capacity: Any) -> str | None:
    """What is wrong with a deployment's name or capacity, naming the field (None: nothing)."""
    if not DEPLOYMENT_NAME.fullmatch(name):
        return (f"the name {name!r} is not a deployment name: 1-64 letters, digits, '_', '-' or '.', starting with a "
                "letter or digit (Azure's rule)")
    if not _number_in(capacity, MAX_CAPACITY):
        return f"capacity must be a number above 0 and at most {MAX_CAPACITY:,} (thousands of tokens per minute)"
    return None


def sku_problem(model: str, sku: Any) -> str | None:
    """What is wrong with deploying ``model`` under the deployment type ``sku`` (None: nothing, or no sku given).

    Checked for fine-tuned models only, against their base's documented deployment types
    (``jobs.models.FineTunableModel.fine_tuned_deployment_skus``: Developer for the gpt-4.1 family only,
    GlobalStandard only for open-weight models); base-model deployments are not checked here.
    """
    if sku is None:
        return None
    if not isinstance(sku, str) or not sku:
        return "sku must be a deployment type name such as \"GlobalStandard\""
    if ".ft-" not in model:
        return None
    try:
        base = models.resolve(model)
    except LookupError:
        return None
    if sku not in base.fine_tuned_deployment_skus:
        return (f"sku {sku!r} is not offered for a fine-tuned {base.model_id}; "
                f"use one of: {', '.join(base.fine_tuned_deployment_skus)}")
    return None


def _number_in(value: Any, high: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and 0 < value <= high


# Where answers and training come from (emulator/backends.py): "stand-in" (canned answers, simulated training)
# or "local" (a small open model on this machine, after `make install-local`).
BACKENDS = ("stand-in", "local")


@dataclass
class EmulatorConfig:
    backend: str = "stand-in"
    deployments: dict[str, dict[str, Any]] = field(default_factory=_default_deployments)
    api_keys: list[str] | None = None  # None: any non-empty key or bearer token
    file_processing_seconds: float = 2.0
    queue_seconds: float = 5.0  # a job is `pending` at least this long
    training_seconds: float = 30.0  # whole training run (all epochs)
    # A deployment registered through /++/deployments answers DeploymentNotFound for this long, as a new Azure
    # deployment does for a while after ARM reports it succeeded ("If you created the deployment within the last
    # 5 minutes, please wait a moment and try again.").
    deployment_ready_seconds: float = 0.0
    default_epochs: int | None = None  # n_epochs = -1 ("default"): None = the dataset-size heuristic
    fail_jobs_with_suffix: str = "fail"  # a suffix containing this makes the job fail
    stream_chunk_words: int = 4
    latency: LatencyConfig = field(default_factory=LatencyConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)
    limits: LimitConfig = field(default_factory=LimitConfig)
    content_filter: ContentFilterConfig = field(default_factory=ContentFilterConfig)

    # ------------------------------------------------------------------ build / change
    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, *, source: str = "config") -> "EmulatorConfig":
        cfg = cls()
        if data:
            cfg.apply(data, source=source)
        return cfg

    @classmethod
    def from_file(cls, path: str | Path) -> "EmulatorConfig":
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError(f"emulator config file {p} does not exist", hint="pass --config with an existing JSON file")
        except OSError as exc:
            raise UsageError(f"cannot read emulator config file {p}: {exc.strerror}", hint="check the path and permissions")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"{p}, line {exc.lineno}: not valid JSON ({exc.msg})",
                hint="the emulator config is one JSON object; see docs/emulator.md, \"Config file\"",
            )
        if not isinstance(data, dict):
            raise UsageError(f"{p}: the config must be a JSON object", hint='start the file with "{"')
        return cls.from_dict(data, source=str(p))

    def apply(self, data: dict[str, Any], *, source: str = "config", replace_deployments: bool = True) -> None:
        """Merge ``data`` into this config, checking every key and type. Atomic: on error nothing changes.

        ``deployments`` replaces the table (config file) or, with ``replace_deployments=False``
        (``PATCH /++/config``), adds/updates the named ones; a ``null`` value removes one.
        """
        trial = copy.deepcopy(self)
        if not replace_deployments and isinstance(data, dict) and isinstance(data.get("deployments"), dict):
            merged = dict(trial.deployments)
            for name, dep in data["deployments"].items():
                if dep is None:
                    merged.pop(name, None)
                else:
                    merged[name] = dep
            data = {**data, "deployments": merged}
        _merge(trial, data, source, "")
        trial.validate(source)
        self.__dict__.update(trial.__dict__)

    def validate(self, source: str = "config") -> None:
        for name, dep in self.deployments.items():
            if not isinstance(dep, dict) or not isinstance(dep.get("model"), str) or not dep["model"]:
                raise UsageError(f"{source}: deployments.{name} needs a \"model\" string",
                                 hint='write e.g. "deployments": {"gpt-4.1": {"model": "gpt-4.1", "capacity": 50}}')
            problem = deployment_problem(name, dep.get("capacity", 50)) or sku_problem(dep["model"], dep.get("sku"))
            for key in ("tpm", "rpm"):
                if not _number_in(dep.get(key, 1), MAX_CAPACITY * 1000):
                    problem = problem or f"{key} must be a number above 0 and at most {MAX_CAPACITY * 1000:,}"
            if problem:
                raise UsageError(f"{source}: deployments.{name}.{problem}" if not problem.startswith("the name")
                                 else f"{source}: deployments: {problem}",
                                 hint="capacity 50 means 50,000 tokens and 300 requests per minute; "
                                      'e.g. "deployments": {"gpt-4.1": {"model": "gpt-4.1", "capacity": 50}}')
        if self.backend not in BACKENDS:
            raise UsageError(f"{source}: backend must be one of {', '.join(BACKENDS)}, not {self.backend!r}",
                             hint='"stand-in" (canned answers, the default) or "local" (after `make install-local`)')
        if not 0.0 <= self.faults.rate <= 1.0:
            raise UsageError(f"{source}: faults.rate must be between 0 and 1", hint="0.2 fails one request in five")
        allowed = ", ".join(f'"{k}"' for k in FAULT_KINDS)
        bad = [k for k in self.faults.kinds if k not in FAULT_KINDS]
        if bad:
            raise UsageError(f"{source}: faults.kinds has unknown kind {bad[0]!r} (allowed: {allowed})",
                             hint=f"use only {allowed}, e.g. \"kinds\": [\"429\", \"500\", \"503\", \"drop\"]")
        if self.faults.retry_after_seconds < 0:
            raise UsageError(f"{source}: faults.retry_after_seconds must be >= 0",
                             hint="the wait an injected 429 asks for, in seconds (e.g. 0.05 in tests)")
        for key in ("file_processing_seconds", "queue_seconds", "training_seconds", "deployment_ready_seconds"):
            if getattr(self, key) < 0:
                raise UsageError(f"{source}: {key} must be >= 0", hint="durations are seconds")
        if self.default_epochs is not None and (not isinstance(self.default_epochs, int) or self.default_epochs < 1):
            raise UsageError(f"{source}: default_epochs must be >= 1", hint="a positive integer, or null for the dataset-size heuristic")
        cf = self.content_filter
        if cf.category not in FILTER_CATEGORIES or cf.severity not in FILTER_SEVERITIES:
            raise UsageError(f"{source}: content_filter.category must be one of {', '.join(FILTER_CATEGORIES)} and "
                             f"content_filter.severity one of {', '.join(FILTER_SEVERITIES)}",
                             hint='e.g. "content_filter": {"triggers": ["forbidden"], "category": "hate"}')
        if self.limits.window_seconds <= 0:
            raise UsageError(f"{source}: limits.window_seconds must be > 0", hint="Azure uses 60")
        if self.api_keys is not None and (not isinstance(self.api_keys, list) or not all(isinstance(k, str) and k for k in self.api_keys)):
            raise UsageError(f"{source}: api_keys must be a list of non-empty strings", hint='e.g. "api_keys": ["local-key"]')

    def to_dict(self, *, redact: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if hasattr(value, "__dataclass_fields__"):
                out[key] = dict(value.__dict__)
            else:
                out[key] = copy.deepcopy(value)
        if redact and out.get("api_keys") is not None:
            out["api_keys"] = [f"<{len(out['api_keys'])} key(s) set, not shown>"]
        return out

    # ------------------------------------------------------------------ helpers
    def deployment_capacity(self, name: str) -> float:
        return float(self.deployments.get(name, {}).get("capacity", 50))

    def tpm(self, name: str) -> int:
        dep = self.deployments.get(name, {})
        if "tpm" in dep:
            return int(dep["tpm"])
        return int(self.deployment_capacity(name) * 1000)

    def rpm(self, name: str) -> int:
        dep = self.deployments.get(name, {})
        if "rpm" in dep:
            return int(dep["rpm"])
        return max(1, int(self.deployment_capacity(name) * self.limits.rpm_per_1k_tpm))


_NESTED = {"latency": LatencyConfig, "faults": FaultConfig, "limits": LimitConfig,
           "content_filter": ContentFilterConfig}


def _merge(target: Any, data: dict[str, Any], source: str, prefix: str) -> None:
    if not isinstance(data, dict):
        raise UsageError(f"{source}: {prefix.rstrip('.') or 'config'} must be a JSON object", hint="see docs/emulator.md, \"Config file\"")
    known = target.__dataclass_fields__
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key not in known:
            raise UsageError(f"{source}: unknown config key {dotted!r}",
                             hint=f"known keys here: {', '.join(sorted(known))}")
        current = getattr(target, key)
        if key in _NESTED and not prefix:
            _merge(current, value, source, f"{key}.")
            continue
        if key == "deployments" and not prefix:  # (faults.deployments is a list of names, coerced below)
            if not isinstance(value, dict):
                raise UsageError(f"{source}: deployments must be an object of name -> {{model, capacity}}",
                                 hint='e.g. "deployments": {"gpt-4.1": {"model": "gpt-4.1"}}')
            setattr(target, key, {str(k): (dict(v) if isinstance(v, dict) else v) for k, v in value.items()})
            continue
        if key == "api_keys":
            setattr(target, key, value)
            continue
        setattr(target, key, _coerce(current, value, source, dotted))


def _coerce(current: Any, value: Any, source: str, dotted: str) -> Any:
    if isinstance(current, bool):
        if isinstance(value, bool):
            return value
        raise UsageError(f"{source}: {dotted} must be true or false", hint=f"got {value!r}")
    if isinstance(current, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"{source}: {dotted} must be a finite number", hint=f"got {value!r}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return type(current)(value) if isinstance(current, float) else value
        raise UsageError(f"{source}: {dotted} must be a number", hint=f"got {value!r}")
    if isinstance(current, str):
        if isinstance(value, str):
            return value
        raise UsageError(f"{source}: {dotted} must be a string", hint=f"got {value!r}")
    if isinstance(current, list):
        if isinstance(value, list):
            return [str(v) for v in value]
        raise UsageError(f"{source}: {dotted} must be a list", hint=f"got {value!r}")
    return value
