"""The process's one TLS context for outgoing HTTPS.

Left to itself, httpx builds a context for every client it makes, reading the whole CA bundle
each time (0.8 MB resident per client, measured); a context is safe to share, so every client
of ours is given this one.

A client that never speaks HTTPS (the calls between our services, when their URLs are
`http://` inside the deployment) is given `trusting_nothing()` instead: the bundle is not read
at all (1.8 MB resident, measured), and should an `https://` URL reach it after all, the call
fails on the certificate rather than going out unverified.
"""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def client_context() -> ssl.SSLContext:
    """httpx's own default (the CA bundle, or SSL_CERT_FILE / SSL_CERT_DIR), made once."""
    return httpx.create_ssl_context()


@cache
def trusting_nothing() -> ssl.SSLContext:
    """A client context that verifies certificates and trusts no authority: every HTTPS
    connection made with it is refused."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
