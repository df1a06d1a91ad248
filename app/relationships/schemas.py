from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from app.core.schemas import Id, InputModel, bounded, bounded_int, strict_int
from app.relationships.models import KINDS


class RelationshipKind(StrEnum):
    colleague = "colleague"
    friend = "friend"
    family = "family"
    worked_with = "worked_with"
    recommended = "recommended"
    # Added by the service when the owner makes an introduction between the two.
    introduced = "introduced"
    other = "other"


# The table's list and this one are the same kinds.
assert tuple(RelationshipKind) == KINDS

Strength = strict_int(ge=1, le=5, description="How well they know each other, 1 (barely) to 5.")
Note = Annotated[str, StringConstraints(max_length=2_000)]
ContactRef = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class RelationshipCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "contact_ids": [
                        "ct_01kbw2g4v7s3m5x8y9z0a1b2c3",
                        "ct_01kbw2g4v7s3m5x8y9z0a1b2c4",
                    ],
                    "kind": "worked_with",
                    "strength": 4,
                    "note": "Built the first engine together.",
                }
            ]
        }
    )

    contact_ids: Annotated[
        list[ContactRef],
        Field(
            min_length=2,
            max_length=2,
            description="The two contacts who know each other, in any order.",
        ),
    ]
    kind: RelationshipKind
    strength: Strength = 3
    note: Note | None = None

    @field_validator("contact_ids")
    @classmethod
    def _two_people(cls, value: list[str]) -> list[str]:
        if value[0] == value[1]:
            raise ValueError("must name two different contacts")
        return value


class RelationshipUpdate(InputModel):
    """The fields sent are set (a null `note` clears it), the others kept. The two contacts
    are the relationship's for good: two other people make a new one."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"strength": 5, "note": None}]})

    kind: RelationshipKind | None = None
    strength: Strength | None = None
    note: Note | None = None

    @field_validator("kind", "strength")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be changed but not cleared")
        return value


class RelationshipRead(BaseModel):
    id: Id
    contact_ids: Annotated[
        list[Id],
        Field(
            min_length=2,
            max_length=2,
            description="The two contacts, in the order the service keeps them (not the "
            "order they were sent in): the relationship has no direction.",
        ),
    ]
    kind: RelationshipKind
    strength: bounded_int(1, 5)  # type: ignore[valid-type]
    note: bounded(2_000) | None  # type: ignore[valid-type]
    created_at: datetime
    updated_at: datetime
