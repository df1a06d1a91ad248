"""Fixtures of the contact tests."""

from typing import Any

import pytest

from app.contacts import vocabulary


@pytest.fixture
def paths(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What `vocabulary.tokens_to_read` decided for each search: tokens (`vocabulary.Tokens`),
    or None (trigrams)."""
    decided: list[Any] = []
    real = vocabulary.tokens_to_read

    async def spy(*args: Any) -> Any:
        decided.append(await real(*args))
        return decided[-1]

    monkeypatch.setattr(vocabulary, "tokens_to_read", spy)
    return decided
