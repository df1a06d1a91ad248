from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from app.core.schemas import InputModel, trimmed


class Scope(StrEnum):
    read = "read"
    write = "write"


KeyName = trimmed(100, required=True)


class ApiKeyCreate(InputModel):
    name: KeyName
    scopes: list[Scope] = Field(
        default_factory=lambda: [Scope.read, Scope.write], min_length=1, max_length=2
    )


class ApiKeyRead(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="The first characters of the key, to tell keys apart.")
    scopes: list[Scope]
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    api_key: str = Field(description="The secret. Shown only in this response; store it now.")


class MeRead(BaseModel):
    owner_id: str
    email: str
    name: str | None
    key_id: str
    scopes: list[Scope]
