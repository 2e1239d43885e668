"""Passing provider accounts to the meetings service, which stores and uses them."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, SecretStr

from shared.contracts.providers import ProviderStatus
from shared.problems import ServiceUnavailable
from shared.service_client import ServiceCallFailed


def _url(app_state: Any, school_id: uuid.UUID, provider: str = "") -> str:
    base = app_state.settings.internal_url("meetings")
    return f"{base}/internal/v1/schools/{school_id}/providers" + (
        f"/{provider}" if provider else ""
    )


async def save(
    app_state: Any, school_id: uuid.UUID, provider: str, data: BaseModel
) -> dict[str, Any]:
    # Secrets are sent once, in the body, to be encrypted there; the answer carries none.
    body = {
        name: value.get_secret_value() if isinstance(value, SecretStr) else value
        for name, value in data.model_dump().items()
    }
    try:
        response = await app_state.service_client.post(
            "meetings", _url(app_state, school_id, provider), json=body
        )
    except ServiceCallFailed as exc:
        raise ServiceUnavailable("the provider account could not be saved; try again") from exc
    answer: dict[str, Any] = response.json()
    return answer


async def statuses(app_state: Any, school_id: uuid.UUID) -> list[ProviderStatus]:
    try:
        response = await app_state.service_client.get("meetings", _url(app_state, school_id))
    except ServiceCallFailed as exc:
        raise ServiceUnavailable("the provider accounts could not be read; try again") from exc
    return [ProviderStatus.model_validate(item) for item in response.json()]
