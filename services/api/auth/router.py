from __future__ import annotations

from typing import Any

import anyio
from authlib.oauth2.rfc6749.errors import InsecureTransportError
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.api.auth import service as auth_service
from services.api.auth.oauth import FormRequest, LingkarAuthorizationServer
from services.api.db import DbSession
from shared.problems import problem_response

# Checks of a secret still stored as scrypt (n=2**14, r=8: 16 MiB and tens of ms each) at once,
# per process. Each such hash is replaced at its first good use; see auth/secrets.py.
SCRYPT_CHECKS = anyio.CapacityLimiter(4)

router = APIRouter(prefix="/v1/oauth", tags=["auth"])

_TOKEN_EXAMPLE = {
    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
    "token_type": "Bearer",
    "expires_in": 3600,
    "scope": "school.admin school.read school.write",
}


@router.post(
    "/token",
    summary="Get an access token (OAuth 2 client credentials, or RFC 8693 token exchange)",
    responses={
        200: {"content": {"application/json": {"example": _TOKEN_EXAMPLE}}},
        400: {"description": "OAuth 2 error, as problem+json with `error`"},
        401: {"description": "Client authentication failed"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["grant_type"],
                        "properties": {
                            "grant_type": {"type": "string", "example": "client_credentials"},
                            "scope": {"type": "string"},
                            "client_id": {"type": "string"},
                            "client_secret": {"type": "string"},
                            "subject_token": {"type": "string"},
                            "subject_token_type": {"type": "string"},
                            "requested_token_type": {"type": "string"},
                        },
                    }
                }
            },
        }
    },
)
async def token(request: Request, db: DbSession) -> Any:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    headers = request.headers
    authorization = headers.get("authorization") or ""
    client_id = auth_service.client_id_of(authorization, form)
    if client_id is None and authorization.lower().startswith("basic "):
        # Not base64 of UTF-8 text: refuse here, before authlib trips over decoding it.
        return problem_response(
            401,
            "oauth/invalid_client",
            "Invalid client",
            "The HTTP Basic credentials are not valid.",
            headers={"WWW-Authenticate": "Basic"},
            error="invalid_client",
        )
    prefetched = await auth_service.prefetch(db=db, client_id=client_id, form=form)
    server: LingkarAuthorizationServer = request.app.state.oauth_server
    try:
        oauth_request = FormRequest(str(request.url), headers, form)
    except InsecureTransportError:
        return problem_response(
            400,
            "oauth/insecure_transport",
            "Insecure transport",
            "Tokens are issued over HTTPS only (behind a proxy, forward X-Forwarded-Proto).",
            error="insecure_transport",
        )
    if not prefetched.outdated_hashes():
        status, body, response_headers = server.respond(oauth_request, prefetched)
    else:
        # scrypt is slow on purpose: off the event loop, and few at a time, since each check
        # holds 16 MiB while it runs (a flood would otherwise take 40 threads' worth).
        status, body, response_headers = await anyio.to_thread.run_sync(
            server.respond, oauth_request, prefetched, limiter=SCRYPT_CHECKS
        )
        if status == 200:
            prefetched.store_current_hashes()
    if status >= 400:
        error = body.get("error", "invalid_request")
        return problem_response(
            status,
            f"oauth/{error}",
            error.replace("_", " ").capitalize(),
            body.get("error_description") or error,
            headers={"WWW-Authenticate": "Basic"} if status == 401 else None,
            error=error,
            error_description=body.get("error_description"),
        )
    return JSONResponse(body, status_code=status, headers=dict(response_headers))
