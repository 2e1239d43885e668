"""Fixtures shared by the api's tests."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.operator_cli import ROOT, STRONG


@pytest.fixture
def production_env(database_url: Callable[[str], str], tmp_path: Path) -> dict[str, str]:
    """The environment of a real deployment's api: production mode, strong secrets, the test
    database, nothing else of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINGKAR_")}
    env.update(
        STRONG,
        LINGKAR_ENV="production",
        LINGKAR_DATA_DIR=str(tmp_path),
        LINGKAR_API_DATABASE_URL=database_url("api"),
        PYTHONPATH=str(ROOT),
    )
    return env
