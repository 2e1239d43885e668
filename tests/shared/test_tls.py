"""Outgoing HTTPS: a process reads the CA bundle once, however many clients it makes, and not
at all for calls between our services on `http://` URLs."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy.ext.asyncio import create_async_engine

from services.api.main import create_app as create_api
from services.api.settings import ApiSettings
from services.meetings.providers.registry import ProviderRegistry
from services.meetings.settings import MeetingsSettings
from services.notifications.channels.base import Connections
from services.notifications.settings import NotificationsSettings
from services.notifications.webhooks.delivery import WebhookSender
from shared import tls
from shared.secret_box import SecretBox
from shared.service_auth import ServiceTokens
from shared.service_client import ServiceCallFailed, ServiceClient
from tests.conftest import MEETINGS_HOST, SECRET_KEY, SERVICE_SECRET, common_settings
from tests.local_http import JsonOk, serving


def _counting_bundle_reads(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    reads: list[object] = []
    real = ssl.SSLContext.load_verify_locations

    def counted(self: ssl.SSLContext, *args: object, **kwargs: object) -> None:
        reads.append(args or kwargs)
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    return reads


async def test_every_client_of_a_process_shares_one_context(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    reads = _counting_bundle_reads(monkeypatch)
    tls.client_context.cache_clear()
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/unused.db")
    common = common_settings(tmp_path)
    meetings = MeetingsSettings(**common, meetings_database_url=f"sqlite:///{tmp_path}/m.db")
    notifications = NotificationsSettings(
        **common, notifications_database_url=f"sqlite:///{tmp_path}/n.db"
    )
    tokens = ServiceTokens(service="api", secret=SERVICE_SECRET)
    clients = [
        ServiceClient(caller="api", tokens=tokens),
        ServiceClient(caller="meetings", tokens=tokens),
    ]
    registry = ProviderRegistry(
        settings=meetings, engine=engine, box=SecretBox(meetings.provider_secrets_key)
    )
    connections = Connections(notifications)
    channel_http = connections.http()
    webhooks = WebhookSender(notifications, engine=engine, worker="w1")
    try:
        assert len(reads) == 1, reads  # one read for five clients (it was one per client)
        assert webhooks.tls is tls.client_context()
    finally:
        for client in clients:
            await client.aclose()
        await registry.aclose()
        await channel_http.aclose()
        await engine.dispose()
        tls.client_context.cache_clear()


@pytest.mark.parametrize(
    ("meetings_url", "bundle_reads"),
    [
        (MEETINGS_HOST, 0),
        ("https://meetings.lingkar.internal", 1),
        ("HTTPS://meetings.lingkar.internal", 1),  # a scheme is case-insensitive
    ],
)
async def test_the_service_client_reads_the_bundle_only_when_a_service_url_is_https(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, meetings_url: str, bundle_reads: int
) -> None:
    """The api makes no other outgoing client: on `http://` URLs it reads no CA bundle."""
    reads = _counting_bundle_reads(monkeypatch)
    tls.client_context.cache_clear()
    app = create_api(
        ApiSettings(
            **{**common_settings(tmp_path), "meetings_internal_url": meetings_url},
            api_database_url=f"sqlite:///{tmp_path}/api.db",
            secret_key=SECRET_KEY,
        )
    )
    try:
        async with app.router.lifespan_context(app):
            assert len(reads) == bundle_reads
    finally:
        tls.client_context.cache_clear()


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTPS server answering 200 `{}`, with a certificate for 127.0.0.1; and the
    certificate's file, for a client to trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )

    server = ThreadingHTTPServer(("127.0.0.1", 0), JsonOk)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with serving(server) as port:
        yield f"https://127.0.0.1:{port}", cert_file


async def test_a_client_without_tls_refuses_https_which_the_bundle_would_allow(
    monkeypatch: pytest.MonkeyPatch, https_server: tuple[str, Path]
) -> None:
    url, cert_file = https_server
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))  # httpx's default trusts it
    tls.client_context.cache_clear()
    tokens = ServiceTokens(service="api", secret=SERVICE_SECRET)
    trusting = ServiceClient(caller="api", tokens=tokens)
    refusing = ServiceClient(caller="api", tokens=tokens, tls=False, attempts=1)
    try:
        assert (await trusting.get("meetings", f"{url}/v1/x")).json() == {}
        with pytest.raises(ServiceCallFailed) as refused:
            await refusing.get("meetings", f"{url}/v1/x")
        assert isinstance(refused.value.__cause__, httpx.ConnectError)
        assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value.__cause__)
    finally:
        await trusting.aclose()
        await refusing.aclose()
        tls.client_context.cache_clear()
