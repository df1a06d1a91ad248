"""One settings object, read from GOODWILL_* environment variables."""

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_ASYNC_DRIVERS = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}


def async_database_url(url: str) -> str:
    """Map a plain `postgresql://` or `sqlite:///` URL to the async driver that serves it."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("database URL must look like scheme://...")
    return f"{_ASYNC_DRIVERS.get(scheme, scheme)}://{rest}"


class Settings(BaseSettings):
    """Every setting, read from `GOODWILL_<NAME>`. Each description is what an operator reads:
    docs/configuration.md is generated from them (`make docs`), and a test fails when it is
    stale."""

    model_config = SettingsConfigDict(env_prefix="GOODWILL_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./goodwill.db",
        description=(
            "Where all state lives: `sqlite:///path` (relative; `sqlite:////abs/path` for an "
            "absolute path) or `postgresql://user@host:port/db`. Plain URLs are mapped to the "
            "async drivers (`sqlite+aiosqlite`, `postgresql+asyncpg`); any other scheme is "
            "refused at start."
        ),
    )
    db_pool_size: int = Field(
        default=20,
        ge=1,
        description=(
            "Connections kept open per worker process; a request beyond them waits its turn. "
            "Overflow connections are opened and closed again per request under sustained load "
            "(a new PostgreSQL backend each time), so the default is a pool big enough for the "
            "load and no overflow. SQLite takes at most 8."
        ),
    )
    db_max_overflow: int = Field(
        default=0,
        ge=0,
        description="Extra connections a process may open under load, each closed after use.",
    )
    redis_url: str | None = Field(
        default=None,
        description=(
            "`redis://host:port/db` for the rate-limit counters, shared by every process and "
            "replica. Unset: each process counts in its own memory, so with N processes a key "
            "gets up to N times the limit. If Redis cannot be reached, requests are let "
            "through and a warning is logged."
        ),
    )
    rate_limit: str = Field(
        default="600/minute",
        description=(
            'Requests per API key; a `limits` rate string such as "600/minute" or "10/second".'
        ),
    )
    auth_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description=(
            "Verified API keys are cached in-process for this long: a key revoked through "
            "another process keeps working here for at most this many seconds (0 disables "
            "the cache)."
        ),
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Request bodies larger than this are refused with 413.",
    )
    import_max_body_bytes: int = Field(
        default=20 * 1024 * 1024,
        ge=1024,
        description="The body limit of `POST /v1/imports` alone, which takes whole export files.",
    )
    idempotency_ttl_hours: int = Field(
        default=24,
        ge=1,
        description="How long an `Idempotency-Key` and the answer stored with it are kept.",
    )
    public_base_url: str | None = Field(
        default=None,
        # Consent URLs are this and a token: the OpenAPI document promises at most 2,048.
        max_length=1024,
        description=(
            "Where clients reach this service, for absolute links such as consent URLs "
            "(e.g. https://goodwill.example.com); set it in production. Unset: taken from each "
            "request's Host, which must then be one of `allowed_hosts`, so a forged Host can "
            "never make a link."
        ),
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default=["localhost", "127.0.0.1"],
        description=(
            "Hosts a request may name while `public_base_url` is unset (any other: 400), comma "
            'separated; "*.example.com" stands for a domain\'s subdomains. Not checked when '
            "`public_base_url` is set."
        ),
    )
    body_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description=(
            "A request body must have arrived in full within this many seconds (else 408), so "
            "a client that stops sending cannot hold a connection."
        ),
    )
    log_level: str = Field(default="INFO", description="Python log level: DEBUG, INFO, WARNING.")
    log_json: bool = Field(
        default=True,
        description=(
            "One JSON object per log line on stderr (`time` in UTC, `level`, `logger`, "
            "`message`, then the line's own fields such as `request_id`); false for plain text."
        ),
    )
    otel: bool = Field(
        default=False,
        description=(
            "FastAPI's own OpenTelemetry instrumentation (traces, metrics and logs through the "
            "global providers, which an OpenTelemetry SDK must configure). Off unless set: with "
            "nothing configured it still looks for providers on every request "
            "(docs/decisions/2026-12-01-lean-request-overhead.md)."
        ),
    )
    webhook_allow_private: bool = Field(
        default=False,
        description=(
            "Private, loopback and link-local webhook targets are refused unless this is set "
            "(tests, development), so the service cannot be used to probe a network."
        ),
    )
    webhook_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=60,
        description="How long a receiver has to answer one delivery attempt.",
    )
    webhook_max_attempts: int = Field(
        default=8,
        ge=1,
        le=8,
        description=(
            "Attempts per delivery, the first included; the waits between them are "
            "`webhook_retry_base_seconds` x (1, 6, 24, 120, 720, 4320, 8640), +/-20% jitter."
        ),
    )
    webhook_retry_base_seconds: float = Field(
        default=5.0,
        gt=0,
        description="The first wait between delivery attempts; the later ones are multiples of it.",
    )
    webhook_secret_grace_hours: float = Field(
        default=24.0,
        ge=0,
        le=24 * 7,
        description="How long the previous webhook secret keeps signing after a rotation.",
    )
    webhook_worker_in_process: bool | None = Field(
        default=None,
        description=(
            "Whether `goodwill serve` runs the webhook delivery worker; unset means on SQLite "
            "only (on PostgreSQL run `goodwill worker`, as many copies as needed)."
        ),
    )
    webhook_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often an idle delivery worker looks for work.",
    )
    webhook_concurrency: int = Field(
        default=10,
        ge=1,
        le=100,
        description="Deliveries one worker attempts at once.",
    )

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [host.strip().lower() for host in value.split(",") if host.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        scheme = async_database_url(value).split("://", 1)[0]
        if scheme not in ("postgresql+asyncpg", "sqlite+aiosqlite"):
            raise ValueError("GOODWILL_DATABASE_URL must be a sqlite:/// or postgresql:// URL")
        return value

    @property
    def async_database_url(self) -> str:
        return async_database_url(self.database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.async_database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        path = self.async_database_url.split(":///", 1)[1].split("?", 1)[0]
        return None if path in ("", ":memory:") else Path(path)


@lru_cache
def get_settings() -> Settings:
    return Settings()
