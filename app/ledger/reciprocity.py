"""Relationship health from ledger totals: the rules, defined once.

goodwill = deposits - ratio x withdrawals. Asking for a favour of weight w is fair when
goodwill >= ratio x w: the ask would be a withdrawal, so the balance must already hold
ratio deposits for each unit of it.

The rules that lists filter and sort by (`goodwill`, `is_one_sided`, `is_overdrawn`,
`is_stale`) are written only with operators that Python's ints and SQLAlchemy's column
expressions share (`-`, `*`, `<`, `>=`, `==`, `&`, never `and`), so the list's SQL
(app/contacts/listing.py) is these same functions applied to columns.
tests/contacts/test_reciprocity_sql.py holds the SQL to the Python on both databases.
"""

from collections.abc import Callable, Mapping
from datetime import datetime
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


def goodwill(deposits: Any, withdrawals: Any, ratio: Any) -> Any:
    return deposits - ratio * withdrawals


def is_overdrawn(deposits: Any, withdrawals: Any, ratio: Any) -> Any:
    return goodwill(deposits, withdrawals, ratio) < 0


def is_one_sided(deposits: Any, withdrawals: Any, ratio: Any) -> Any:
    """You have given a full ask's worth (ratio) and never received anything."""
    return (withdrawals == 0) & (deposits >= ratio)


def is_stale(due_at: Any, now: Any) -> Any:
    """Past the keep-in-touch cadence. A contact without one (`due_at` None) never is: in
    SQL, where `due_at is not None` is always true of a column, `due_at < now` is not true
    of a NULL either."""
    return due_at is not None and due_at < now


# The flags a balance alone decides, in the order a summary lists them (stale comes last).
BALANCE_FLAGS: Mapping[Flag, Callable[[Any, Any, Any], Any]] = {
    Flag.one_sided: is_one_sided,
    Flag.overdrawn: is_overdrawn,
}


def summary_values(
    deposits: int, withdrawals: int, ratio: int, *, ask_weight: int = 1, stale: bool = False
) -> dict[str, Any]:
    """The fields of `Reciprocity`, in its order, as plain values."""
    balance = goodwill(deposits, withdrawals, ratio)
    needed = max(0, ratio * ask_weight - balance)
    flags = [flag for flag, rule in BALANCE_FLAGS.items() if rule(deposits, withdrawals, ratio)]
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


def contact_reciprocity(
    row: Mapping[str, Any], ratio: int, now: datetime, *, ask_weight: int = 1
) -> dict[str, Any]:
    """A contact's reciprocity from its row (`ledger_deposits`, `ledger_withdrawals`,
    `due_at`): what GET /v1/contacts/{id}/reciprocity answers, and what every contact's
    document embeds (with an ask of weight 1)."""
    return summary_values(
        row["ledger_deposits"],
        row["ledger_withdrawals"],
        ratio,
        ask_weight=ask_weight,
        stale=is_stale(row["due_at"], now),
    )


def summarize(
    *, deposits: int, withdrawals: int, ratio: int, ask_weight: int = 1, stale: bool = False
) -> Reciprocity:
    return Reciprocity(
        **summary_values(deposits, withdrawals, ratio, ask_weight=ask_weight, stale=stale)
    )
