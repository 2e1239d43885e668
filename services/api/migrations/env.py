from services.api.auth import models as _auth  # noqa: F401
from services.api.consent import models as _consent  # noqa: F401
from services.api.db import ApiTable
from services.api.groups import models as _groups  # noqa: F401
from services.api.outbox import models as _outbox  # noqa: F401
from services.api.record import models as _record  # noqa: F401
from services.api.schools import models as _schools  # noqa: F401
from services.api.sessions import models as _sessions  # noqa: F401
from services.api.settings import ApiSettings
from services.api.users import models as _users  # noqa: F401
from shared.migrations_env import run

run(ApiTable.metadata, default_schema="api", url_from_settings=lambda: ApiSettings().db_url)
