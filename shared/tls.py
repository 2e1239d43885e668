"""The process's one TLS context for outgoing HTTPS.

Left to itself, httpx builds a context for every client it makes, reading the whole CA bundle
each time (0.8 MB resident per client, measured); a context is safe to share, so every client
of ours is given this one.
"""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def client_context() -> ssl.SSLContext:
    """httpx's own default (the CA bundle, or SSL_CERT_FILE / SSL_CERT_DIR), made once."""
    return httpx.create_ssl_context()
