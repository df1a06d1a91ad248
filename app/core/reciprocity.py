"""Relationship health from ledger totals: the rules, defined once.

goodwill = deposits - ratio x withdrawals. Asking for a favour of weight w is fair when
goodwill >= ratio x w: the ask would be a withdrawal, so the balance must already hold
ratio deposits for each unit of it.

The rules that lists filter and sort by (`goodwill`, `can_ask`, `is_one_sided`,
`is_overdrawn`, `is_stale`) are written only with operators that Python's ints and
SQLAlchemy's column expressions share (`-`, `*`, `<`, `>=`, `==`, `&`, never `and`), so
the SQL of the lists (app/contacts/listing.py) and of warm paths and suggestions
(app/network/) is these same functions applied to columns.
tests/contacts/test_reciprocity_sql.py holds the SQL to the Python on both databases.

In app/core/ because two domains ask it: contacts embed a summary in every contact, and the
ledger, which sits above contacts (its entries are a contact's), answers the full one.
"""

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field

from app.core.schemas import BIGINT_MAX


class Flag(StrEnum):
    one_sided = "one_sided"
    overdrawn = "overdrawn"
    stale = "stale"


# Sums of weights (1-5) of ledger entries: within the database's BIGINT.
_Total = Annotated[int, Field(ge=0, le=BIGINT_MAX)]
_Balance = Annotated[int, Field(ge=-BIGINT_MAX, le=BIGINT_MAX)]


class Reciprocity(BaseModel):
    deposits: _Total = Field(description="Weighted sum of what you gave.")
    withdrawals: _Total = Field(description="Weighted sum of what you received.")
    ratio: int = Field(
        ge=1, le=50, description="Deposits expected per withdrawal (the owner's setting)."
    )
    goodwill: _Balance = Field(description="deposits - ratio x withdrawals.")
    ask_weight: int = Field(ge=1, le=5)
    can_ask: bool = Field(description="goodwill >= ratio x ask_weight.")
    deposits_needed: _Total = Field(description="Weight-1 deposits still needed; 0 if can_ask.")
    flags: list[Flag] = Field(max_length=len(Flag))


def goodwill(deposits: Any, withdrawals: Any, ratio: Any) -> Any:
    return deposits - ratio * withdrawals


def can_ask(deposits: Any, withdrawals: Any, ratio: Any, ask_weight: Any) -> Any:
    """An ask of `ask_weight` is fair now: goodwill already holds ratio deposits a unit."""
    return goodwill(deposits, withdrawals, ratio) >= ratio * ask_weight


def is_overdrawn(balance: Any) -> Any:
    """Of a `goodwill` balance."""
    return balance < 0


def is_one_sided(deposits: Any, withdrawals: Any, ratio: Any) -> Any:
    """You have given a full ask's worth (ratio) and never received anything."""
    return (withdrawals == 0) & (deposits >= ratio)


def is_stale(due_at: Any, now: Any) -> Any:
    """Past the keep-in-touch cadence. A contact without one (`due_at` None) never is: in
    SQL, where `due_at is not None` is always true of a column, `due_at < now` is not true
    of a NULL either."""
    return due_at is not None and due_at < now


def contact_reciprocity(
    row: Mapping[str, Any], ratio: int, now: datetime, *, ask_weight: int = 1
) -> dict[str, Any]:
    """The fields of `Reciprocity`, in its order, as plain values, from a contact's row
    (`ledger_deposits`, `ledger_withdrawals`, `due_at`): what
    GET /v1/contacts/{id}/reciprocity answers, and what every contact's document embeds
    (for an ask of weight 1). Plain values, not the model, and no helper in between: a page
    of fifty contacts calls this fifty times."""
    deposits, withdrawals = row["ledger_deposits"], row["ledger_withdrawals"]
    balance = goodwill(deposits, withdrawals, ratio)
    needed = max(0, ratio * ask_weight - balance)
    flags = []
    if is_one_sided(deposits, withdrawals, ratio):
        flags.append(Flag.one_sided)
    if is_overdrawn(balance):
        flags.append(Flag.overdrawn)
    if is_stale(row["due_at"], now):
        flags.append(Flag.stale)
    return {
        "deposits": deposits,
        "withdrawals": withdrawals,
        "ratio": ratio,
        "goodwill": balance,
        "ask_weight": ask_weight,
        "can_ask": can_ask(deposits, withdrawals, ratio, ask_weight),
        "deposits_needed": needed,
        "flags": flags,
    }
