"""The money guard of the train step: the estimate shown before a job is created, ``--max-cost``, confirmation.

Training is billed per token: billed tokens per epoch x epochs x the price per
1M tokens (``--price-per-1m`` or env ``FTJOBS_PRICE_PER_1M``; Azure's price list
changes, so the runner does not hard-code one). ``--max-cost`` refuses (exit 3)
above the limit, or when the cost cannot be told; without ``--yes`` the user is
asked on a terminal, and refused elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from jobs import settings
from jobs.errors import RefusedError
from jobs.settings import PRICE_MAX, PRICE_UNIT, Env, check_number, check_price

COST_MAX = 1_000_000.0


@dataclass(frozen=True)
class CostEstimate:
    billed_tokens_per_epoch: int | None
    epochs: int | None
    price_per_1m: float | None
    epochs_source: str = "option"

    @property
    def billed_tokens(self) -> int | None:
        if self.billed_tokens_per_epoch is None or self.epochs is None:
            return None
        return self.billed_tokens_per_epoch * self.epochs

    @property
    def cost(self) -> float | None:
        if self.billed_tokens is None or self.price_per_1m is None:
            return None
        return self.billed_tokens * self.price_per_1m / 1_000_000

    def text(self) -> str:
        tokens = ("unknown tokens" if self.billed_tokens_per_epoch is None
                  else f"{self.billed_tokens_per_epoch:,} billed tokens per epoch")
        epochs = "unknown epochs" if self.epochs is None else f"{self.epochs} epoch{'s' if self.epochs != 1 else ''}" + (
            f" ({self.epochs_source})" if self.epochs_source != "option" else "")
        price = ("unknown price (pass --price-per-1m or set FTJOBS_PRICE_PER_1M)" if self.price_per_1m is None
                 else f"${self.price_per_1m:g} per 1M tokens")
        total = f"= ${self.cost:,.2f}" if self.cost is not None else "= cost unknown"
        return f"cost estimate: {tokens} x {epochs} x {price} {total}"

    def to_json(self) -> dict[str, Any]:
        return {"billed_tokens_per_epoch": self.billed_tokens_per_epoch, "epochs": self.epochs,
                "billed_tokens": self.billed_tokens, "price_per_1m": self.price_per_1m, "cost": self.cost}


def resolve_price(price_per_1m: float | None, env: Env) -> float | None:
    """``--price-per-1m``, else env ``FTJOBS_PRICE_PER_1M``, else unknown; finite and in range."""
    if price_per_1m is not None:
        return check_price(price_per_1m)
    if not env.is_set(settings.PRICE_PER_1M):
        return None
    return env.number(settings.PRICE_PER_1M, 0.0, minimum=0, maximum=PRICE_MAX, unit=PRICE_UNIT, example="25")


def check_max_cost(max_cost: float | None) -> float | None:
    """``--max-cost``: USD, finite (``inf`` would be no limit at all), 0 to :data:`COST_MAX`."""
    if max_cost is None:
        return None
    return check_number(max_cost, name="--max-cost", minimum=0, maximum=COST_MAX,
                        unit=f"USD, 0 to {COST_MAX:,.0f}", example="5",
                        fix="pass the most you accept to spend, in USD, e.g. --max-cost 5")


@dataclass(frozen=True)
class Guards:
    """What stands between a request and a billed job: the price, the limit, the confirmation, ``--new``."""

    price_per_1m: float | None = None
    max_cost: float | None = None
    yes: bool = False
    new: bool = False

    def checked(self, env: Env) -> "Guards":
        """The price resolved (option, else env FTJOBS_PRICE_PER_1M) and both numbers checked."""
        return Guards(price_per_1m=resolve_price(self.price_per_1m, env), max_cost=check_max_cost(self.max_cost),
                      yes=self.yes, new=self.new)


def guard_cost(est: CostEstimate, guards: Guards, *, say: Callable[[str], None],
               confirm: Callable[[str], bool]) -> None:
    """Show the estimate; refuse above --max-cost; ask unless --yes."""
    say(est.text())
    max_cost = guards.max_cost
    if max_cost is not None:
        if est.cost is None:
            raise RefusedError(
                f"cannot check --max-cost {max_cost:g}: the cost is unknown ({est.text()})",
                hint="give the price (--price-per-1m or FTJOBS_PRICE_PER_1M) and the data file (not --file-id), "
                "or drop --max-cost",
            )
        if est.cost > max_cost:
            raise RefusedError(
                f"estimated cost ${est.cost:,.2f} is above --max-cost ${max_cost:,.2f}; no job was created",
                hint="raise --max-cost, or lower --epochs / use a smaller file",
            )
    if guards.yes:
        return
    if not confirm("Create the fine-tuning job? Training is billed. [y/N] "):
        raise RefusedError("not confirmed; no job was created",
                           hint="pass --yes to create the job without asking (needed when not on a terminal)")


def confirm_or_refuse(ask: Callable[[str], bool | None], *, what: str) -> Callable[[str], bool]:
    """The confirmation question of :func:`guard_cost`, refused (exit 3) when there is no terminal to ask on."""
    def confirm(question: str) -> bool:
        answer = ask(question)
        if answer is None:
            raise RefusedError(f"not on a terminal, so cannot ask for confirmation; {what}",
                               hint="pass --yes to confirm creating a billed fine-tuning job")
        return answer

    return confirm
