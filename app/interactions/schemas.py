from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, StringConstraints

from app.core.schemas import InputModel, PastTimestamp


class InteractionKind(StrEnum):
    meeting = "meeting"
    call = "call"
    message = "message"
    coffee = "coffee"
    event = "event"
    other = "other"


class Initiator(StrEnum):
    me = "me"
    them = "them"


class InteractionCreate(InputModel):
    kind: InteractionKind
    occurred_at: PastTimestamp | None = None
    summary: Annotated[str, StringConstraints(max_length=5_000)] | None = None
    initiated_by: Initiator = Initiator.me


class InteractionRead(BaseModel):
    id: str
    contact_id: str
    kind: InteractionKind
    occurred_at: datetime
    summary: str | None
    initiated_by: Initiator
    created_at: datetime
