"""Settings of the meetings service (`LINGKAR_*`)."""

from __future__ import annotations

from typing import ClassVar

from shared.settings import ServiceSettings


class MeetingsSettings(ServiceSettings):
    service_name: ClassVar[str] = "meetings"

    meetings_database_url: str | None = None
    # Where members' gated links (/j/{token}) point: the meetings service as people reach it.
    meetings_public_url: str = "http://127.0.0.1:8001"
    jitsi_default_url: str = "https://meet.jit.si"
    zoom_oauth_url: str = "https://zoom.us"
    zoom_api_url: str = "https://api.zoom.us/v2"

    @property
    def db_url(self) -> str:
        return self.resolved_database_url(self.meetings_database_url)
