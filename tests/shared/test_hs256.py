"""Our HS256 tokens: the RFC's example, joserfc's reading of ours and ours of its, and every
kind of token that must be refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from services.api.auth.tokens import AUDIENCE, ISSUER, AccessTokens
from services.api.consent.tokens import ConsentTokens
from shared.hs256 import HS256Key, InvalidToken
from shared.problems import NotFound, Unauthorized
from shared.service_auth import ServiceTokens

# RFC 7515, appendix A.1: a JWS using HMAC SHA-256 (header and payload spelled with CRLFs).
RFC_KEY = base64.urlsafe_b64decode(
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow=="
)
RFC_TOKEN = (
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)
SECRET = b"a-secret-of-thirty-two-bytes-or-more!"
CLAIMS = {"typ": "access", "sub": "u-1", "exp": 2_000_000_000, "scope": "a b"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(header: object, claims: object, secret: bytes = SECRET) -> str:
    """A token with any header and payload, validly signed with HMAC-SHA256 and `secret`."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def test_the_rfc_example_is_verified_and_signed_alike() -> None:
    key = HS256Key(RFC_KEY)

    assert key.decode(RFC_TOKEN) == {
        "iss": "joe",
        "exp": 1300819380,
        "http://example.com/is_root": True,
    }
    signing_input, _, signature = RFC_TOKEN.rpartition(".")
    assert key.sign(signing_input.encode()) == signature


def test_tokens_read_both_ways_with_joserfc() -> None:
    ours = HS256Key(SECRET).encode(CLAIMS, header={"typ": "JWT"})
    read = jwt.decode(ours, OctKey.import_key(SECRET), algorithms=["HS256"])
    assert read.header == {"alg": "HS256", "typ": "JWT"}
    assert read.claims == CLAIMS

    theirs = jwt.encode({"alg": "HS256"}, CLAIMS, OctKey.import_key(SECRET))
    assert HS256Key(SECRET).decode(theirs) == CLAIMS


def test_only_hs256_is_signed() -> None:
    with pytest.raises(ValueError, match="HS256"):
        HS256Key(SECRET).encode(CLAIMS, header={"alg": "none"})
    with pytest.raises(ValueError, match="empty"):
        HS256Key(b"")


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(HS256Key(b"another key").encode(CLAIMS), id="another key"),
        pytest.param(
            f"{b64(json.dumps({'alg': 'none'}).encode())}.{b64(json.dumps(CLAIMS).encode())}.",
            id="alg none",
        ),
        pytest.param(signed({"alg": "HS512"}, CLAIMS), id="alg HS512 over an HS256 mac"),
        pytest.param(signed({"alg": "HS256", "crit": ["exp"]}, CLAIMS), id="crit header"),
        pytest.param(signed({"typ": "JWT"}, CLAIMS), id="no alg"),
        pytest.param(signed({"alg": "HS256"}, ["a", "list"]), id="payload not an object"),
        pytest.param(signed(["HS256"], CLAIMS), id="header not an object"),
        pytest.param(HS256Key(SECRET).encode(CLAIMS) + "=", id="signature padded"),
        pytest.param(HS256Key(SECRET).encode(CLAIMS)[:-1], id="signature cut"),
        pytest.param(HS256Key(SECRET).encode(CLAIMS).replace(".", ".e30.", 1), id="four parts"),
        pytest.param(HS256Key(SECRET).encode(CLAIMS).rpartition(".")[0], id="two parts"),
        pytest.param("", id="empty"),
        pytest.param("é.é.é", id="not ascii"),
    ],
)
def test_refused(token: str) -> None:
    with pytest.raises(InvalidToken):
        HS256Key(SECRET).decode(token)


def test_a_changed_payload_is_refused() -> None:
    head, _, rest = HS256Key(SECRET).encode(CLAIMS).partition(".")
    _, _, signature = rest.partition(".")
    forged = f"{head}.{b64(json.dumps({**CLAIMS, 'sub': 'admin'}).encode())}.{signature}"

    with pytest.raises(InvalidToken, match="signature"):
        HS256Key(SECRET).decode(forged)


def test_a_signature_with_other_trailing_bits_is_refused() -> None:
    """32 bytes are 43 base64url characters with 2 bits spare: one token, one spelling."""
    token = HS256Key(SECRET).encode(CLAIMS)
    last = token[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = alphabet[alphabet.index(last) ^ 1]
    respelled = token[:-1] + twin
    assert base64.urlsafe_b64decode(respelled.rpartition(".")[2] + "=") == base64.urlsafe_b64decode(
        token.rpartition(".")[2] + "="
    )

    with pytest.raises(InvalidToken):
        HS256Key(SECRET).decode(respelled)


def signed_parts(head: bytes, claims: bytes, secret: bytes = SECRET) -> str:
    """A token whose header and payload are these exact bytes (base64url), validly signed."""
    signing_input = f"{b64(head)}.{b64(claims)}"
    return f"{signing_input}.{HS256Key(secret).sign(signing_input.encode())}"


def validly_signed(signing_input: str) -> str:
    return f"{signing_input}.{HS256Key(SECRET).sign(signing_input.encode())}"


HEAD = b'{"alg":"HS256"}'


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(validly_signed(f"{b64(HEAD)}.{b64(b'{}')}.{b64(b'{}')}"), id="dot in payload"),
        pytest.param(validly_signed(f".{b64(b'{}')}"), id="empty header"),
        pytest.param(validly_signed(f"{b64(HEAD)}."), id="empty payload"),
        pytest.param(validly_signed(f"{b64(HEAD)}.e30="), id="padded payload"),
        pytest.param(validly_signed(f"{b64(HEAD)}.e30+"), id="payload outside the alphabet"),
        pytest.param(validly_signed(f"{b64(HEAD)}.e"), id="payload of one character"),
        pytest.param(signed_parts(HEAD, b"not json"), id="payload not JSON"),
        pytest.param(signed_parts(HEAD, b'{"a":"\xff"}'), id="payload not UTF-8"),
        pytest.param(signed_parts(HEAD, b'{"exp":NaN}'), id="NaN"),
        pytest.param(signed_parts(HEAD, b'{"exp":Infinity}'), id="Infinity"),
        pytest.param(signed_parts(HEAD, b'{"a":' + b"[" * 2500 + b"]" * 2500 + b"}"), id="deep"),
        pytest.param(signed_parts(b'{"alg":"hs256"}', b"{}"), id="alg in lower case"),
        pytest.param(signed_parts(b'{"alg":["HS256"]}', b"{}"), id="alg a list"),
        pytest.param(signed_parts(b'{"alg":"none"}', b"{}"), id="alg none, signed"),
        pytest.param(signed_parts(HEAD, json.dumps({"pad": "x" * 9000}).encode()), id="over 8 KB"),
        pytest.param(HS256Key(SECRET).encode(CLAIMS) + " ", id="trailing space"),
        pytest.param(HS256Key(SECRET).encode(CLAIMS) + "\n", id="trailing newline"),
    ],
)
def test_refused_though_the_mac_is_good(token: str) -> None:
    """Each of these carries a MAC its key made (but the last two): only the rules refuse them."""
    with pytest.raises(InvalidToken):
        HS256Key(SECRET).decode(token)


def test_the_signature_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr("shared.hs256.hmac.compare_digest", spy)
    token = HS256Key(SECRET).encode(CLAIMS)

    assert HS256Key(SECRET).decode(token) == CLAIMS
    assert compared == [(token.rpartition(".")[2].encode(),) * 2]


# The callers: a token their key signed, with a claim of the wrong type, is refused as invalid
# (401 or 404), never an error of ours (500).
ACCESS = {
    "iss": ISSUER,
    "aud": AUDIENCE,
    "typ": "access",
    "sub": "c",
    "cid": "c",
    "role": "school_admin",
    "scope": "",
}


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({**ACCESS, "exp": "4000000000"}, id="exp text"),
        pytest.param({**ACCESS, "exp": 4e9}, id="exp a float"),
        pytest.param({**ACCESS, "exp": True}, id="exp a boolean"),
        pytest.param({**ACCESS, "exp": 4_000_000_000, "sch": 7}, id="school a number"),
        pytest.param({**ACCESS, "exp": 4_000_000_000, "uid": ["x"]}, id="user a list"),
        pytest.param({**ACCESS, "exp": 4_000_000_000, "role": "root"}, id="unknown role"),
    ],
)
def test_an_access_token_with_a_claim_of_the_wrong_type_is_unauthorized(
    claims: dict[str, object],
) -> None:
    tokens = AccessTokens(secret=SECRET.decode(), ttl_seconds=60)
    with pytest.raises(Unauthorized):
        tokens.verify(HS256Key(SECRET).encode(claims))


@pytest.mark.parametrize(
    "exp", [10**20, -(10**20), 4e9, "4000000000"], ids=["far", "far back", "float", "text"]
)
def test_a_consent_token_with_an_impossible_expiry_is_not_found(exp: object) -> None:
    claims = {"typ": "consent", "rid": str(uuid.uuid4()), "exp": exp}
    with pytest.raises(NotFound):
        ConsentTokens(SECRET.decode()).read(HS256Key(SECRET).encode(claims))


@pytest.mark.parametrize(
    "change",
    [{"iat": "now"}, {"iat": None}, {"exp": 4e9}, {"iss": None}, {"iss": ["api"]}],
    ids=["iat text", "no iat", "exp a float", "no issuer", "issuer a list"],
)
def test_a_service_token_with_a_claim_of_the_wrong_type_is_unauthorized(
    change: dict[str, object],
) -> None:
    now = int(time.time())
    claims = {"iss": "api", "aud": "meetings", "typ": "service", "iat": now, "exp": now + 60}
    claims = {k: v for k, v in {**claims, **change}.items() if v is not None}
    tokens = ServiceTokens(service="meetings", secret=SECRET.decode())
    with pytest.raises(Unauthorized):
        tokens.verify(HS256Key(SECRET).encode(claims))
    assert tokens.verify(tokens.issue("meetings")) == "meetings"
