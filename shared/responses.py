"""Answers built by the code itself, serialized without a second validation.

FastAPI validates whatever a route returns against its `response_model` and then serializes
it: for a list of fifty sessions with their gates, the validation is about a third of the
request. The hot reads build their views as plain dicts of exactly the documented shape and
answer with `json_response`: pydantic-core writes the same JSON (UUIDs, RFC 3339 instants with
`Z` for UTC) without building the models. The route still declares its `response_model` (the
OpenAPI document), and the schemathesis run checks every answer against that document.
"""

from __future__ import annotations

from typing import Any

import pydantic_core
from fastapi import Response


def json_response(content: Any, status_code: int = 200) -> Response:
    return Response(
        content=pydantic_core.to_json(content),
        status_code=status_code,
        media_type="application/json",
    )
