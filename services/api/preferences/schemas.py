from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from shared.contracts.notifications import ChannelName
from shared.validation import Payload

CHANNELS_HELP = (
    "The channels to try, in order; the next is used when one cannot reach the person. "
    "null: Lingkar's default order (Telegram, WhatsApp, email)"
)
OPT_OUT_HELP = (
    "No reminders or follow-ups. Consent requests, meeting links, reschedules, cancellations "
    "and reports to the counselor always come"
)


class PreferencesIn(Payload):
    channels: list[ChannelName] | None = Field(
        default=None,
        min_length=1,
        max_length=3,
        examples=[["whatsapp", "email"]],
        description=CHANNELS_HELP,
    )
    opt_out_non_essential: bool = Field(default=False, description=OPT_OUT_HELP)

    @field_validator("channels")
    @classmethod
    def _each_once(cls, value: list[ChannelName] | None) -> list[ChannelName] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("name each channel once")
        return value


class Preferences(BaseModel):
    channels: list[ChannelName] | None = Field(description=CHANNELS_HELP)
    order: list[ChannelName] = Field(
        examples=[["whatsapp", "email"]],
        description="What Lingkar will try, in order: the channels above (or the default) "
        "that the person has an address for",
    )
    opt_out_non_essential: bool = Field(description=OPT_OUT_HELP)
