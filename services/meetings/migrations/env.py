from services.meetings.db import MeetingsTable
from services.meetings.meetings import models as _models  # noqa: F401
from services.meetings.settings import MeetingsSettings
from shared.migrations_env import run

run(
    MeetingsTable.metadata,
    default_schema="meetings",
    url_from_settings=lambda: MeetingsSettings().db_url,
)
