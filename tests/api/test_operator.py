"""A real deployment needs no dev mode: the operator brings schools on with a command."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx

from services.api.main import create_app
from services.api.settings import ApiSettings
from tests.operator_cli import STRONG, run_cli


async def test_the_operator_creates_a_school_whose_admin_client_gets_a_token(
    production_env: dict[str, str], database_url: Callable[[str], str]
) -> None:
    # In a thread: the in-process apps of other tests keep running on this loop meanwhile.
    made = await asyncio.to_thread(
        run_cli,
        "create-school",
        "--name",
        "SMA Negeri 3 Makassar",
        "--timezone",
        "Asia/Makassar",
        env=production_env,
    )
    assert made.returncode == 0, made.stderr
    credentials = json.loads(made.stdout)
    assert credentials["client_id"].startswith("lk_") and len(credentials["client_secret"]) >= 32

    settings = ApiSettings(
        env="production",
        api_database_url=database_url("api"),
        secret_key=STRONG["LINGKAR_SECRET_KEY"],
        service_secret=STRONG["LINGKAR_SERVICE_SECRET"],
        gc_freeze_after_start=False,
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://api.test"
        ) as api,
    ):
        good = await api.post(
            "/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(credentials["client_id"], credentials["client_secret"]),
        )
        assert good.status_code == 200, good.text
        assert set(good.json()["scope"].split()) == {"school.read", "school.write", "school.admin"}
        # Outside dev mode there is no well-known credential.
        dev = await api.post(
            "/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("dev-admin", "dev-secret"),
        )
        assert dev.status_code == 401


def test_the_cli_refuses_to_run_on_placeholder_secrets(production_env: dict[str, str]) -> None:
    env = {k: v for k, v in production_env.items() if k not in STRONG}
    refused = run_cli("create-school", "--name", "X", env=env)
    assert refused.returncode != 0
    assert "LINGKAR_SECRET_KEY" in refused.stderr
    assert "LINGKAR_SERVICE_SECRET" in refused.stderr
