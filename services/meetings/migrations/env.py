from services.meetings.accounts import models as _accounts  # noqa: F401
from services.meetings.db import MeetingsTable
from services.meetings.join import models as _join_models  # noqa: F401
from services.meetings.meetings import models as _meeting_models  # noqa: F401
from services.meetings.participants import models as _participant_models  # noqa: F401
from services.meetings.settings import MeetingsSettings
from services.meetings.zoom_webhooks import models as _zoom_webhook_models  # noqa: F401
from shared.migrations_env import run

run(
    MeetingsTable.metadata,
    default_schema="meetings",
    url_from_settings=lambda: MeetingsSettings().db_url,
)
