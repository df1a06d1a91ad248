"""Relationship health from ledger totals: pure arithmetic, no database.

goodwill = deposits - ratio x withdrawals. Asking for a favour of weight w is fair when
goodwill >= ratio x w: the ask would be a withdrawal, so the balance must already hold
ratio deposits for each unit of it.
"""

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class Flag(StrEnum):
    one_sided = "one_sided"
    overdrawn = "overdrawn"
    stale = "stale"


class Reciprocity(BaseModel):
    deposits: int = Field(description="Weighted sum of what you gave.")
    withdrawals: int = Field(description="Weighted sum of what you received.")
    ratio: int = Field(description="Deposits expected per withdrawal (the owner's setting).")
    goodwill: int = Field(description="deposits - ratio x withdrawals.")
    ask_weight: int
    can_ask: bool = Field(description="goodwill >= ratio x ask_weight.")
    deposits_needed: int = Field(description="Weight-1 deposits still needed; 0 if can_ask.")
    flags: list[Flag]


def goodwill(deposits: int, withdrawals: int, ratio: int) -> int:
    return deposits - ratio * withdrawals


def is_one_sided(deposits: int, withdrawals: int, ratio: int) -> bool:
    """You have given a full ask's worth (ratio) and never received anything."""
    return withdrawals == 0 and deposits >= ratio


def summary_values(
    deposits: int, withdrawals: int, ratio: int, *, ask_weight: int = 1, stale: bool = False
) -> dict[str, Any]:
    """The fields of `Reciprocity`, in its order, as plain values."""
    balance = goodwill(deposits, withdrawals, ratio)
    needed = max(0, ratio * ask_weight - balance)
    flags = []
    if is_one_sided(deposits, withdrawals, ratio):
        flags.append(Flag.one_sided)
    if balance < 0:
        flags.append(Flag.overdrawn)
    if stale:
        flags.append(Flag.stale)
    return {
        "deposits": deposits,
        "withdrawals": withdrawals,
        "ratio": ratio,
        "goodwill": balance,
        "ask_weight": ask_weight,
        "can_ask": needed == 0,
        "deposits_needed": needed,
        "flags": flags,
    }


def summarize(
    *, deposits: int, withdrawals: int, ratio: int, ask_weight: int = 1, stale: bool = False
) -> Reciprocity:
    return Reciprocity(
        **summary_values(
            deposits=deposits,
            withdrawals=withdrawals,
            ratio=ratio,
            ask_weight=ask_weight,
            stale=stale,
        )
    )
