"""The operator's command line as a deployment runs it: a separate process, production mode,
strong secrets (the `production_env` fixture of tests/api/conftest.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STRONG = {
    "LINGKAR_SECRET_KEY": "operator-secret-key-long-enough-0123456789",
    "LINGKAR_SERVICE_SECRET": "operator-service-secret-long-enough-012345",
}


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.api.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
