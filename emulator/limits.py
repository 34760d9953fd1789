"""Per-deployment rate limits (TPM / RPM sliding windows) and seeded fault injection.

Azure gives each deployment a tokens-per-minute quota (capacity x 1000) and a
requests-per-minute quota (6 per 1000 TPM for most models). A request is admitted
if both windows have room for it; its *estimated* tokens (prompt + max_tokens, as
Azure estimates) are charged when it is admitted, then corrected to the real usage.
Over the limit: 429 with ``Retry-After``/``retry-after-ms`` and ``x-ratelimit-*`` headers.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from emulator.config import EmulatorConfig
from emulator.errors import ApiError


@dataclass
class _Window:
    requests: deque[float] = field(default_factory=deque)
    tokens: deque[tuple[float, int]] = field(default_factory=deque)

    def prune(self, now: float, span: float) -> None:
        while self.requests and self.requests[0] <= now - span:
            self.requests.popleft()
        while self.tokens and self.tokens[0][0] <= now - span:
            self.tokens.popleft()

    def used_tokens(self) -> int:
        return sum(n for _, n in self.tokens)


def rate_limit_error(operation: str, api_version: str | None, kind: str, retry_seconds: float,
                     headers: dict[str, str]) -> ApiError:
    """Azure's 429: ``{"error": {"code": "429", "message": "Requests to the <Operation> Operation under Azure
    OpenAI API version <v> have exceeded <call|token> rate limit ... Please retry after N seconds. ..."}}``
    with ``retry-after`` (whole seconds, at least 1), ``retry-after-ms`` and the given ``x-ratelimit-*`` headers."""
    secs = max(1, math.ceil(retry_seconds))
    version = api_version or "v1"
    return ApiError(
        429, "429",
        f"Requests to the {operation} Operation under Azure OpenAI API version {version} "
        f"have exceeded {kind} limit of your current OpenAI S0 pricing tier. Please retry after "
        f"{secs} second{'s' if secs != 1 else ''}. Please go here: https://aka.ms/oai/quotaincrease "
        f"if you would like to further increase the default rate limit.",
        headers={"retry-after": str(secs), "retry-after-ms": str(int(retry_seconds * 1000)), **headers},
    )


class RateLimiter:
    def __init__(self, config: EmulatorConfig):
        self.config = config
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()

    def admit(self, deployment: str, estimated_tokens: int, api_version: str | None,
              cap: tuple[int, int] | None = None) -> tuple[dict[str, str], int]:
        """Admit one request or raise a 429 :class:`ApiError`. Returns headers and a charge handle.

        ``cap``: (requests, tokens) per minute the answer source can serve; the lower of it and the quota counts."""
        cfg = self.config
        now = time.time()
        span = cfg.limits.window_seconds
        rpm, tpm = cfg.rpm(deployment), cfg.tpm(deployment)
        if cap is not None:
            rpm, tpm = min(rpm, max(1, cap[0])), min(tpm, max(1, cap[1]))
        with self._lock:
            win = self._windows.setdefault(deployment, _Window())
            win.prune(now, span)
            used = win.used_tokens()
            if cfg.limits.enabled:
                kind = None
                if len(win.requests) + 1 > rpm:
                    kind, wait_from = "call rate", win.requests[0]
                elif used + estimated_tokens > tpm and win.tokens:
                    # free enough tokens: find when the window drops below the needed amount
                    need = used + estimated_tokens - tpm
                    freed, wait_from = 0, win.tokens[0][0]
                    for t, n in win.tokens:
                        freed += n
                        wait_from = t
                        if freed >= need:
                            break
                    kind = "token rate"
                if kind is not None:
                    retry = max(0.001, wait_from + span - now)
                    headers = {
                        "x-ratelimit-limit-requests": str(rpm), "x-ratelimit-limit-tokens": str(tpm),
                        "x-ratelimit-remaining-requests": str(max(0, rpm - len(win.requests))),
                        "x-ratelimit-remaining-tokens": str(max(0, tpm - used)),
                    }
                    raise rate_limit_error("ChatCompletions_Create", api_version, kind, retry, headers)
            win.requests.append(now)
            win.tokens.append((now, estimated_tokens))
            handle = len(win.tokens)
            headers = {
                "x-ratelimit-limit-requests": str(rpm), "x-ratelimit-limit-tokens": str(tpm),
                "x-ratelimit-remaining-requests": str(max(0, rpm - len(win.requests))),
                "x-ratelimit-remaining-tokens": str(max(0, tpm - used - estimated_tokens)),
            }
        return headers, handle

    def snapshot(self, deployment: str) -> dict[str, str]:
        """The ``x-ratelimit-*`` headers of ``deployment`` right now (used by injected 429s)."""
        cfg = self.config
        now = time.time()
        rpm, tpm = cfg.rpm(deployment), cfg.tpm(deployment)
        with self._lock:
            win = self._windows.setdefault(deployment, _Window())
            win.prune(now, cfg.limits.window_seconds)
            used = win.used_tokens()
            return {
                "x-ratelimit-limit-requests": str(rpm), "x-ratelimit-limit-tokens": str(tpm),
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-remaining-tokens": str(max(0, tpm - used)),
            }

    def settle(self, deployment: str, estimated: int, actual: int) -> None:
        """Replace the estimate charged at admission by the real token usage."""
        with self._lock:
            win = self._windows.get(deployment)
            if not win:
                return
            for i in range(len(win.tokens) - 1, -1, -1):
                t, n = win.tokens[i]
                if n == estimated:
                    win.tokens[i] = (t, actual)
                    return


class FaultInjector:
    """Decides, deterministically for a given seed, which requests fail and how."""

    def __init__(self, config: EmulatorConfig):
        self.config = config
        self._lock = threading.Lock()
        self._seed: int | None = None
        self._rng = random.Random(0)

    def by_deployment(self) -> bool:
        """Whether the rules name deployments (so the wrapper must find a v1 request's deployment in its body)."""
        f = self.config.faults
        return f.rate > 0 and bool(f.kinds) and bool(f.deployments)

    def pick(self, path: str, deployment: str | None = None) -> str | None:
        """The fault for a request to ``path`` (for ``deployment``, from its URL or its v1 body), or None."""
        f = self.config.faults
        if f.rate <= 0 or not f.kinds:
            return None
        if f.routes and not any(path.startswith(r) or path.startswith("/openai" + r) for r in f.routes):
            return None
        if f.deployments and deployment not in f.deployments:
            return None
        with self._lock:
            if self._seed != f.seed:
                self._seed = f.seed
                self._rng = random.Random(f.seed)
            if self._rng.random() >= f.rate:
                return None
            return self._rng.choice(list(f.kinds))
