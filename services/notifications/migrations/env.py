from services.notifications.contacts import models as _contacts  # noqa: F401
from services.notifications.db import NotificationsTable
from services.notifications.deliveries import models as _deliveries  # noqa: F401
from services.notifications.inbox import models as _inbox  # noqa: F401
from services.notifications.notifications import models as _models  # noqa: F401
from services.notifications.settings import NotificationsSettings
from services.notifications.webhooks import models as _webhook_models  # noqa: F401
from services.notifications.whatsapp import models as _whatsapp  # noqa: F401
from shared.migrations_env import run

run(
    NotificationsTable.metadata,
    default_schema="notifications",
    url_from_settings=lambda: NotificationsSettings().db_url,
)
