"""What a counselor or admin may see of an address or an error: enough to recognise, no more."""

from __future__ import annotations

import re

_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_LONG_SECRETISH = re.compile(r"\b[A-Za-z0-9_\-]{24,}\b")


def mask_address(address: str) -> str:
    """'s***@sekolah.sch.id', '+62***123': the first letters, the domain or the last digits."""
    local, at, domain = address.partition("@")
    if at:
        return f"{local[:1]}***@{domain}"
    if len(address) < 7:
        return "***"
    return f"{address[:3]}***{address[-3:]}"


def plain_error(error: str | None) -> str | None:
    """An error with links, addresses and token-like strings taken out."""
    if error is None:
        return None
    text = _URL.sub("[link]", error)
    text = _EMAIL.sub(lambda m: mask_address(m.group(0)), text)
    return _LONG_SECRETISH.sub("[redacted]", text)[:500]
