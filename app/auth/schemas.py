from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import Id, InputModel, bounded, trimmed


class Scope(StrEnum):
    read = "read"
    write = "write"


KeyName = trimmed(100, required=True)


class ApiKeyCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "CRM sync", "scopes": ["read"]}]}
    )

    name: KeyName
    scopes: list[Scope] = Field(
        default_factory=lambda: [Scope.read, Scope.write], min_length=1, max_length=2
    )


class ApiKeyRead(BaseModel):
    id: Id
    name: bounded(100)  # type: ignore[valid-type]
    prefix: bounded(16) = Field(  # type: ignore[valid-type]
        description="The first characters of the key, to tell keys apart."
    )
    scopes: list[Scope] = Field(max_length=len(Scope))
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    # `gw_` and 32 random bytes in URL-safe base64 (app/auth/service.py).
    api_key: bounded(64) = Field(  # type: ignore[valid-type]
        description="The secret. Shown only in this response; store it now."
    )


class MeRead(BaseModel):
    owner_id: Id
    email: bounded(320)  # type: ignore[valid-type]
    name: bounded(200) | None  # type: ignore[valid-type]
    key_id: Id
    scopes: list[Scope] = Field(max_length=len(Scope))
