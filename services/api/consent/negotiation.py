"""One URL, two kinds of client: a browser (HTML, form posts) and a front end (JSON).

The consent link is opened in a browser and called by front ends, on the same URLs. These
helpers tell the two apart and read a JSON body the way FastAPI reads a body parameter (the
same 422s, field for field), since a route that also takes a form cannot declare one.
"""

from __future__ import annotations

import email.message
import json
from typing import Any, TypeVar

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

T = TypeVar("T")

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def wants_html(request: Request) -> bool:
    """The Accept header ranks text/html above JSON (a browser); no header means JSON."""
    accept = request.headers.get("accept", "")
    return _quality(accept, "text/html") > _quality(accept, "application/json")


def is_form(request: Request) -> bool:
    """The body is an HTML form's (what a browser posts without JavaScript)."""
    return _media_type(request.headers.get("content-type")) in _FORM_TYPES


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _quality(accept: str, media_type: str) -> float:
    """The q the most specific matching range of `accept` gives `media_type` (RFC 9110 12.5.1)."""
    kind, _, subtype = media_type.partition("/")
    best_specificity, best_q = -1, 0.0
    for entry in accept.split(","):
        media_range, *params = (part.strip() for part in entry.split(";"))
        r_kind, _, r_subtype = media_range.lower().partition("/")
        if (r_kind, r_subtype) == (kind, subtype):
            specificity = 2
        elif r_kind == kind and r_subtype == "*":
            specificity = 1
        elif (r_kind, r_subtype) == ("*", "*"):
            specificity = 0
        else:
            continue
        if specificity > best_specificity:
            best_specificity, best_q = specificity, _q(params)
    return best_q


def _q(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0


async def json_body(request: Request, annotation: Any, *, required: bool = True) -> Any:
    """The body validated against `annotation` exactly as a FastAPI body parameter would be.

    An empty body is missing (or None when not `required`); a body that is not declared JSON
    is validated as raw bytes (and refused), as FastAPI does with its strict content type.
    """
    raw = await request.body()
    if not raw:
        if required:
            missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
            raise RequestValidationError([missing])
        return None
    value: Any = raw
    if _is_json(request.headers.get("content-type")):
        value = _parse_json(raw)
    try:
        return TypeAdapter(annotation).validate_python(value, from_attributes=True)
    except ValidationError as exc:
        errors = [
            {**error, "loc": ("body", *error.get("loc", ()))}
            for error in exc.errors(include_url=False)
        ]
        raise RequestValidationError(errors, body=value) from exc


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        error = {
            "type": "json_invalid",
            "loc": ("body", exc.pos),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": exc.msg},
        }
        raise RequestValidationError([error], body=exc.doc) from exc
    except ValueError as exc:  # not UTF-8, for one
        raise HTTPException(400, "There was an error parsing the body") from exc
