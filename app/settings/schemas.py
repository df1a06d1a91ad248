from datetime import datetime

from pydantic import BaseModel, ConfigDict, field_validator

from app.core.schemas import InputModel, TimeZone, bounded, strict_int

Ratio = strict_int(ge=1, le=50, description="Deposits expected for one withdrawal of equal weight.")
ConsentTtl = strict_int(ge=1, le=90, description="Days a consent link stays valid.")
Cooldown = strict_int(
    ge=0, le=3650, description="Days after a decline before the pair may be asked."
)
PendingCap = strict_int(ge=1, le=50, description="Pending consent requests one target may have.")
FollowUp = strict_int(
    ge=1, le=365, description="Days after an introduction before feedback is due."
)
ThanksWindow = strict_int(
    ge=1, le=365, description="Days after a `received` entry that a thanks is owed."
)

DEFAULTS = {
    "reciprocity_ratio": 7,
    "consent_ttl_days": 14,
    "decline_cooldown_days": 90,
    "max_pending_consents_per_target": 3,
    "follow_up_after_days": 14,
    "thanks_window_days": 7,
    "timezone": "UTC",
}


class SettingsRead(BaseModel):
    reciprocity_ratio: Ratio
    consent_ttl_days: ConsentTtl
    decline_cooldown_days: Cooldown
    max_pending_consents_per_target: PendingCap
    follow_up_after_days: FollowUp
    thanks_window_days: ThanksWindow
    # The owner's "today" for the agenda: an IANA name.
    timezone: bounded(64)  # type: ignore[valid-type]
    updated_at: datetime | None


class SettingsUpdate(InputModel):
    """Rules sent are changed; rules left out stay as they are."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reciprocity_ratio": 5, "follow_up_after_days": 21}]}
    )

    reciprocity_ratio: Ratio | None = None
    consent_ttl_days: ConsentTtl | None = None
    decline_cooldown_days: Cooldown | None = None
    max_pending_consents_per_target: PendingCap | None = None
    follow_up_after_days: FollowUp | None = None
    thanks_window_days: ThanksWindow | None = None
    timezone: TimeZone | None = None

    @field_validator("*")
    @classmethod
    def _not_null(cls, value: int | str | None) -> int | str:
        if value is None:
            raise ValueError("may be changed but not cleared")
        return value
