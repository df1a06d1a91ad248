"""The goodwill arithmetic, without a database."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.core.reciprocity import Flag, contact_reciprocity

NOW = datetime(2026, 12, 7, tzinfo=UTC)


def summary_values(
    deposits: int, withdrawals: int, ratio: int, *, ask_weight: int = 1, stale: bool = False
) -> dict[str, Any]:
    row = {
        "ledger_deposits": deposits,
        "ledger_withdrawals": withdrawals,
        # Due a second ago, or never.
        "due_at": NOW - timedelta(seconds=1) if stale else None,
    }
    return contact_reciprocity(row, ratio, NOW, ask_weight=ask_weight)


def test_worked_example_from_the_readme():
    # Ten weight-1 favours given, one weight-1 favour received, ratio 7.
    summary = summary_values(10, 1, 7, ask_weight=1)
    assert summary["goodwill"] == 3
    assert summary["can_ask"] is False
    assert summary["deposits_needed"] == 4
    assert summary["flags"] == []


def test_exactly_enough_goodwill_allows_the_ask():
    summary = summary_values(14, 0, 7, ask_weight=2)
    assert summary["can_ask"] is True
    assert summary["deposits_needed"] == 0


@pytest.mark.parametrize(
    ("deposits", "withdrawals", "ratio", "flags"),
    [
        (0, 0, 7, []),
        (7, 0, 7, [Flag.one_sided]),
        (6, 0, 7, []),
        (7, 1, 7, []),
        (6, 1, 7, [Flag.overdrawn]),
        (0, 2, 3, [Flag.overdrawn]),
    ],
)
def test_flags(deposits, withdrawals, ratio, flags):
    assert summary_values(deposits, withdrawals, ratio)["flags"] == flags


def test_stale_is_reported_with_other_flags():
    summary = summary_values(0, 1, 7, stale=True)
    assert summary["flags"] == [Flag.overdrawn, Flag.stale]


def test_deposits_needed_grows_with_the_ask():
    needed = [summary_values(3, 0, 7, ask_weight=w)["deposits_needed"] for w in range(1, 6)]
    assert needed == [4, 11, 18, 25, 32]


def test_a_contact_due_later_or_right_now_is_not_stale():
    for due_at in (NOW, NOW + timedelta(days=1)):
        row = {"ledger_deposits": 0, "ledger_withdrawals": 0, "due_at": due_at}
        assert contact_reciprocity(row, 7, NOW)["flags"] == []
