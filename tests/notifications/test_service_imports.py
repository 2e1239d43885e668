"""The notifications service process answers the api and the metrics; sending is the worker's.

The channels' code (SMTP and its email building, the Telegram and WhatsApp clients, invites)
is loaded by the worker only: in the service process it was 3.4 MB resident for nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, sys; import services.notifications.main; "
    "print(json.dumps(sorted(m for m in sys.modules "
    "if m.startswith(('services.notifications.channels', 'aiosmtplib')))))"
)


def test_the_service_process_loads_no_channel_code() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == []


def test_the_worker_does_load_them() -> None:
    """The probe can see them: the worker's import brings every channel."""
    probe = PROBE.replace("services.notifications.main", "services.notifications.worker")
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = json.loads(done.stdout)
    assert "services.notifications.channels.email" in loaded and "aiosmtplib" in loaded


def test_the_worker_runs_on_uvloop() -> None:
    """As the services do under uvicorn; asyncio's own loop cost about 13% more per email."""
    probe = (
        "import asyncio, services.notifications.worker as worker\n"
        "async def main():\n"
        "    print(type(asyncio.get_running_loop()).__module__)\n"
        "worker.main = main\n"
        "worker.run()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "uvloop"
