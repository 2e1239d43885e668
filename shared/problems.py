"""RFC 9457 problem details: one error class hierarchy and one renderer for every service.

Domain code raises a `DomainError` subclass; the handlers here turn it, FastAPI's validation
errors, HTTP errors and anything unexpected into `application/problem+json`. No stack trace or
exception text of an unexpected error ever reaches the client; it gets a correlation id that
is in the log line instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.db import is_unreachable
from shared.observability import bind_request_id, current_request_id, reset_request_id

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://lingkar.id/problems/"

log = logging.getLogger("lingkar.errors")


@dataclass(frozen=True)
class Unmet:
    """One unmet requirement of a refused stage change or gate: a code and a human message."""

    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class DomainError(Exception):
    """Base of every error a service raises on purpose; carries its status and problem type."""

    status: int = 400
    type: str = "bad-request"
    title: str = "Bad request"

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extensions = extensions


class NotFound(DomainError):
    status, type, title = 404, "not-found", "Not found"


class Unauthorized(DomainError):
    status, type, title = 401, "unauthorized", "Authentication required"


class Forbidden(DomainError):
    status, type, title = 403, "forbidden", "Not allowed"


class Conflict(DomainError):
    status, type, title = 409, "conflict", "Conflict"


class InvalidInput(DomainError):
    """A payload that parses but breaks a rule about its own fields (size bounds, references)."""

    status, type, title = 422, "validation-error", "Invalid input"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}", errors=[{"field": field, "reason": reason}])


class RequirementsUnmet(DomainError):
    """A refused stage change or gate: lists every unmet requirement at once."""

    status, type, title = 409, "requirements-unmet", "Requirements not met"

    def __init__(self, detail: str, unmet: Sequence[Unmet]) -> None:
        super().__init__(detail, unmet=[u.as_dict() for u in unmet])


class ServiceUnavailable(DomainError):
    status, type, title = 503, "service-unavailable", "Service unavailable"


class Problem(BaseModel):
    """How every error of every service is answered (RFC 9457), for the OpenAPI documents.

    Some problems add members: `errors` (each field and why), `unmet` (each requirement),
    `correlation_id`; the model allows them.
    """

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    request_id: str | None = None


_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_DESCRIPTIONS = {
    401: "No valid credentials",
    403: "The caller may not do this",
    404: "Not found, or another school's",
    409: "Conflicts with the resource's state",
    422: "Invalid input: `errors` names each field and why",
    503: "A dependency (the database, another service) is not reachable now; try again",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for these error statuses, each a problem+json."""
    return {status: {"description": _DESCRIPTIONS[status]} for status in statuses}


def document_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Say in an OpenAPI document what errors really are: problem+json, not FastAPI's JSON.

    Every 4xx/5xx response is given the Problem schema under application/problem+json,
    replacing FastAPI's default 422 body (which the handlers here never send); a page for a
    browser (text/html) that a route documents is kept beside it.
    """
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema()
    for item in document.get("paths", {}).values():
        for operation in item.values():
            for status, response in operation.get("responses", {}).items():
                if status[:1] in ("4", "5"):
                    pages = {k: v for k, v in response.get("content", {}).items() if "html" in k}
                    response["content"] = {PROBLEM_JSON: {"schema": _PROBLEM_REF}, **pages}
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def problem_response(
    status: int,
    type_: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + type_,
        "title": title,
        "status": status,
        "detail": detail,
    }
    request_id = current_request_id()
    if request_id:
        body["request_id"] = request_id
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_name(loc: Sequence[int | str]) -> str:
    # Pydantic puts the tag of the union member it tried into `loc` (`to.str-enum[Stage]`);
    # no field name holds brackets, so such parts are dropped: the client sees `to`.
    parts = [str(p) for p in loc if not (isinstance(p, str) and "[" in p)]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:] if len(parts) > 1 else parts
    return ".".join(parts)


def _field_error(error: Any) -> dict[str, str]:
    if error.get("type") == "json_invalid":
        # `loc` is ("body", <character offset>): the field is the body itself.
        why = (error.get("ctx") or {}).get("error")
        position = error.get("loc", ("body", "?"))[-1]
        reason = f"not valid JSON ({why} at character {position})" if why else "not valid JSON"
        return {"field": "body", "reason": reason}
    return {"field": _field_name(error.get("loc", ())), "reason": error.get("msg", "invalid")}


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return problem_response(
        exc.status, exc.type, exc.title, exc.detail, headers=headers, **exc.extensions
    )


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [_field_error(e) for e in exc.errors()]
    detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
    return problem_response(422, "validation-error", "Invalid input", detail, errors=errors)


_HTTP_TITLES = {
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


# What FastAPI raises (400) for a body it cannot decode at all, e.g. JSON that is not UTF-8.
_BODY_UNREADABLE = "There was an error parsing the body"


def _unreadable_body(cause: BaseException | None) -> JSONResponse:
    """A body that cannot be decoded is malformed input like any other: 422 naming `body`."""
    why = "not UTF-8" if isinstance(cause, UnicodeDecodeError) else "not in its declared format"
    reason = f"could not be read ({why})"
    errors = [{"field": "body", "reason": reason}]
    return problem_response(
        422, "validation-error", "Invalid input", f"body: {reason}", errors=errors
    )


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _BODY_UNREADABLE:
        return _unreadable_body(exc.__cause__)
    type_, title = _HTTP_TITLES.get(exc.status_code, ("http-error", "Request failed"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    return problem_response(
        exc.status_code, type_, title, detail, headers=getattr(exc, "headers", None)
    )


def _database_unreachable(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if is_unreachable(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    if _database_unreachable(exc):
        # Not a bug and nothing to trace: the client is told to try again, the log says why.
        log.warning("database unreachable", extra={"error_type": type(exc).__name__})
        return problem_response(
            503,
            ServiceUnavailable.type,
            ServiceUnavailable.title,
            "the database is not reachable now; try again shortly",
            headers={"Retry-After": "2"},
        )
    request_id = getattr(request.state, "request_id", None) or current_request_id() or "-"
    token = bind_request_id(request_id)
    log.error(
        "unhandled error",
        exc_info=exc,
        extra={"error_type": type(exc).__name__, "correlation_id": request_id},
    )
    response = problem_response(
        500,
        "internal-error",
        "Internal error",
        f"Something went wrong on our side. Quote correlation id {request_id}.",
        headers={"X-Request-ID": request_id},
        correlation_id=request_id,
    )
    reset_request_id(token)
    return response


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
