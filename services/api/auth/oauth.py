"""The OAuth 2 authorization server (authlib): client credentials and user token exchange.

authlib's server is synchronous and looks clients up through `query_client`; our database is
async. So the route loads the client (and, for a token exchange, the subject user) first and
hands them to the grant through a context variable; authlib then does all the checking.

Grants:
- `client_credentials` (RFC 6749 §4.4): a school's admin client, or the operator's platform client.
- `urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693): a school admin client obtains a
  token for one of its own school's users, with exactly that person's role. The subject is the
  user's id, with `subject_token_type=urn:lingkar:params:oauth:token-type:user-id`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    OAuth2Payload,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.grants import BaseGrant, ClientCredentialsGrant, TokenEndpointMixin

from services.api.auth.models import ApiClient
from services.api.auth.principal import USER_SCOPES, Role, Scope
from services.api.auth.secrets import hash_secret, needs_rehash, verify_secret
from services.api.auth.tokens import AccessTokens

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - a type name, not a secret
USER_ID_TOKEN_TYPE = "urn:lingkar:params:oauth:token-type:user-id"  # noqa: S105 - a type name, not a secret
ACCESS_TOKEN_TYPE_URI = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 - a type name, not a secret


@dataclass(frozen=True)
class SubjectUser:
    id: uuid.UUID
    school_id: uuid.UUID
    role: Role


@dataclass
class Prefetched:
    clients: dict[str, ApiClient] = field(default_factory=dict)
    subject: SubjectUser | None = None
    # Secrets authlib found good for a client whose hash is in an earlier form.
    good_secrets: dict[str, str] = field(default_factory=dict)

    def outdated_hashes(self) -> bool:
        return any(needs_rehash(c.secret_hash) for c in self.clients.values())

    def store_current_hashes(self) -> None:
        """Replace each earlier-form hash whose secret was just found good (the request's
        session commits it)."""
        for client_id, secret in self.good_secrets.items():
            self.clients[client_id].secret_hash = hash_secret(secret)


_prefetched: ContextVar[Prefetched] = ContextVar("oauth_prefetched")


class OAuthClient(ClientMixin):
    """authlib's view of an `ApiClient` row."""

    def __init__(self, row: ApiClient) -> None:
        self.row = row
        self.allowed = set(row.scopes.split())

    def get_client_id(self) -> str:
        return self.row.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        stored = self.row.secret_hash
        good = self.row.revoked_at is None and verify_secret(client_secret, stored)
        if good and needs_rehash(stored):
            _prefetched.get().good_secrets[self.row.client_id] = client_secret
        return good

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in ("client_secret_basic", "client_secret_post")

    def check_grant_type(self, grant_type: str) -> bool:
        if grant_type == TOKEN_EXCHANGE:
            return Scope.admin.value in self.allowed and self.row.school_id is not None
        return grant_type == "client_credentials"

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return " ".join(sorted(self.allowed))
        return " ".join(s for s in scope.split() if s in self.allowed)

    @property
    def role(self) -> Role:
        return Role.school_admin if self.row.school_id else Role.platform_admin


class _FormPayload(OAuth2Payload):
    def __init__(self, form: dict[str, str]) -> None:
        self._data = form

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> Any:
        return {k: [v] for k, v in self._data.items()}


class FormRequest(OAuth2Request):
    def __init__(self, uri: str, headers: Mapping[str, str], form: dict[str, str]) -> None:
        super().__init__(method="POST", uri=uri, headers=headers)
        self.payload = _FormPayload(form)
        self._form = form

    @property
    def form(self) -> dict[str, str]:
        return self._form

    @property
    def args(self) -> dict[str, str]:
        return {}


def _strict_scope(request: OAuth2Request) -> None:
    """Refuse, rather than silently narrow, a request for scopes the client does not hold."""
    requested = set((request.payload.scope or "").split())
    client: OAuthClient = request.client
    if not requested.issubset(client.allowed):
        raise InvalidScopeError(f"not allowed: {' '.join(sorted(requested - client.allowed))}")


class ClientCredentials(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def validate_requested_scope(self) -> None:
        _strict_scope(self.request)


class UserTokenExchange(BaseGrant, TokenEndpointMixin):
    GRANT_TYPE = TOKEN_EXCHANGE
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("only a school admin client may exchange tokens")
        data = self.request.payload.data
        if data.get("subject_token_type") != USER_ID_TOKEN_TYPE:
            raise InvalidRequestError(f"subject_token_type must be {USER_ID_TOKEN_TYPE}")
        requested = data.get("requested_token_type")
        if requested and requested != ACCESS_TOKEN_TYPE_URI:
            raise InvalidRequestError(f"requested_token_type must be {ACCESS_TOKEN_TYPE_URI}")
        subject = _prefetched.get().subject
        if subject is None or subject.school_id != client.row.school_id:
            raise InvalidGrantError("subject_token names no user of this school")
        self.request.client = client
        self.request.user = subject

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        token = self.generate_token(user=self.request.user, include_refresh_token=False)
        token["issued_token_type"] = ACCESS_TOKEN_TYPE_URI
        return 200, token, self.TOKEN_RESPONSE_HEADER


class LingkarAuthorizationServer(AuthorizationServer):
    def __init__(self, tokens: AccessTokens) -> None:
        super().__init__(scopes_supported=[s.value for s in Scope])
        self.tokens = tokens
        self.register_grant(ClientCredentials)
        self.register_grant(UserTokenExchange)
        self.register_token_generator("default", self._generate)

    def query_client(self, client_id: str) -> OAuthClient | None:
        row = _prefetched.get().clients.get(client_id)
        return OAuthClient(row) if row else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Access tokens are self-contained JWTs; nothing to store."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signal bus here."""

    def create_oauth2_request(self, request: FormRequest) -> FormRequest:
        """The route builds the request itself (see `FormRequest`)."""
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, Any]:
        return status, body, headers

    def _generate(
        self,
        *,
        grant_type: str,
        client: OAuthClient,
        user: SubjectUser | None = None,
        scope: str | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        if user is not None:
            return self.tokens.issue(
                role=user.role,
                subject=str(user.id),
                client_id=client.row.client_id,
                scopes=[s.value for s in USER_SCOPES],
                school_id=user.school_id,
                user_id=user.id,
            )
        return self.tokens.issue(
            role=client.role,
            subject=client.row.client_id,
            client_id=client.row.client_id,
            scopes=client.get_allowed_scope(scope).split(),
            school_id=client.row.school_id,
        )

    def respond(
        self, request: FormRequest, prefetched: Prefetched
    ) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        token = _prefetched.set(prefetched)
        try:
            result: tuple[int, dict[str, Any], list[tuple[str, str]]] = self.create_token_response(
                request
            )
            return result
        finally:
            _prefetched.reset(token)
