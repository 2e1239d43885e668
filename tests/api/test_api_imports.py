"""The api process signs and checks its tokens with `shared.hs256` and loads no JOSE library.

joserfc (8x8 JaaS's RS256 tokens, in meetings, loaded on first use) registers every algorithm
it knows at import, and with them `cryptography`'s native module: 11 MB resident in the api for
keys it never uses.
Nor does any service load watchfiles, which uvicorn imports at start when it is installed (it is
only for `--reload`): we depend on uvicorn without its `standard` extra."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WATCHED = {"cryptography", "joserfc", "watchfiles"}
# As uvicorn runs it: its command line's module first (it imports watchfiles when installed).
PROBE = (
    "import json, sys, uvicorn.main; from services.api.main import create_app; create_app(); "
    f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {WATCHED!r})))"
)


def _loaded(probe: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**os.environ, "LINGKAR_ENV": "dev"},
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(done.stdout.splitlines()[-1]))


def test_the_api_loads_no_jose_library_nor_cryptography() -> None:
    assert _loaded(PROBE) == []


def test_meetings_loads_cryptography_and_joserfc_only_for_jaas() -> None:
    """The probe can see them: meetings seals secrets (cryptography) from the start, and signs
    8x8 JaaS tokens with joserfc (2.6 MB more), loaded when a school first uses JaaS."""
    probe = PROBE.replace("services.api.main", "services.meetings.main")
    assert _loaded(probe) == ["cryptography"]
    jaas = probe.replace("create_app(); ", "create_app(); import services.meetings.providers.jaas;")
    assert _loaded(jaas) == ["cryptography", "joserfc"]


def test_notifications_loads_no_watchfiles() -> None:
    """It seals webhook secrets (cryptography); it signs no JOSE token and never reloads."""
    probe = PROBE.replace("services.api.main", "services.notifications.main")
    assert _loaded(probe) == ["cryptography"]
