"""Warm paths and suggestions as clients see them (API.md, "Relationships, warm paths and
suggestions")."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import BIGINT_MAX, Id, bounded, bounded_int

# A page of warm paths: the best `limit` introducers, no cursor (the ranking is computed
# whole on every read, see warm_paths.py).
MAX_PATHS = 100


class PathContact(BaseModel):
    id: Id
    display_name: bounded(200)  # type: ignore[valid-type]


class WarmPath(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "path": [
                        "ct_01kbw2g4v7s3m5x8y9z0a1b2c3",
                        "ct_01kbw2g4v7s3m5x8y9z0a1b2c4",
                        "ct_01kbw2g4v7s3m5x8y9z0a1b2c5",
                    ],
                    "introducer": {"id": "ct_01kbw2g4v7s3m5x8y9z0a1b2c3", "display_name": "Bob"},
                    "target": {"id": "ct_01kbw2g4v7s3m5x8y9z0a1b2c5", "display_name": "Theo"},
                    "hops": 2,
                    "strength": 3,
                    "can_ask": False,
                    "deposits_needed": 2,
                    "permits_introductions": True,
                    "last_interaction_at": "2026-11-30T10:00:00Z",
                    "reason": "Bob knows Carol (strength 4), who knows Theo (strength 3). "
                    "Give Bob 2 more weight-1 deposits before you ask.",
                }
            ]
        }
    )

    path: list[Id] = Field(
        min_length=2,
        max_length=3,
        description="Contact ids, the introducer first and the target last; the owner knows "
        "the introducer directly, so the owner is not in it.",
    )
    introducer: PathContact
    target: PathContact
    hops: bounded_int(1, 2) = Field(  # type: ignore[valid-type]
        description="Relationships between the introducer and the target: 1, they know each "
        "other; 2, through the contact between them in `path`."
    )
    strength: bounded_int(1, 5) = Field(  # type: ignore[valid-type]
        description="The weakest relationship's strength along the path."
    )
    can_ask: bool = Field(
        description="The owner's goodwill with the introducer allows an ask of `ask_weight` "
        "now (as GET /v1/contacts/{id}/reciprocity says)."
    )
    deposits_needed: bounded_int(0, BIGINT_MAX) = Field(  # type: ignore[valid-type]
        description="Weight-1 deposits with the introducer still needed before the ask; 0 "
        "when `can_ask`."
    )
    permits_introductions: bool = Field(
        description="The introducer has a channel whose permitted uses include introductions."
    )
    last_interaction_at: datetime | None = Field(
        description="The owner's latest interaction with the introducer."
    )
    reason: bounded(1000) = Field(  # type: ignore[valid-type]
        description="A sentence a person can read aloud."
    )


class WarmPaths(BaseModel):
    data: list[WarmPath] = Field(max_length=MAX_PATHS)


class Suggestion(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "requester_id": "ct_01kbw2g4v7s3m5x8y9z0a1b2c3",
                    "target_id": "ct_01kbw2g4v7s3m5x8y9z0a1b2c5",
                    "need": "seed funding",
                    "reason": "Dana needs seed funding and Eli offers it: offer to introduce them.",
                    "score": 90,
                }
            ]
        }
    )

    requester_id: Id = Field(description="The contact with the need.")
    target_id: Id = Field(description="The contact who offers it.")
    need: bounded(200) = Field(  # type: ignore[valid-type]
        description="The phrase matched, trimmed and case-folded."
    )
    reason: bounded(1000) = Field(  # type: ignore[valid-type]
        description="A sentence a person can read aloud."
    )
    score: bounded_int(0, 1000) = Field(  # type: ignore[valid-type]
        description="Higher first: 10 x each side's trust stage (stranger 0 ... trusted 4), "
        "plus 50 when the owner's goodwill with the target already covers an ask of weight "
        "1 (asking them to meet someone is a withdrawal)."
    )
