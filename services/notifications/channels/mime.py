"""An email's MIME bytes, written directly.

The standard library's `EmailMessage` parses every header it is given and every part it adds
(its header registry), then flattens it all again: about 6 ms of CPU per message on the
loaded bench machine, most of a worker's time per email. Lingkar's emails have one fixed
shape, so they are written here, in about 0.3 ms: text and HTML as alternatives, and with an
invite the calendar as a third alternative plus the same file as an attachment
(multipart/mixed). Headers are folded and RFC 2047-encoded by the standard library's `Header`
and `formataddr`; a text that is not short ASCII lines is quoted-printable or base64, so
nothing needs more than 7 bits. tests/notifications/test_mime.py holds it to what
`EmailMessage` would have written.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr, parseaddr

CRLF = "\r\n"
# Beyond this a text line is sent as base64, as the standard library decides (RFC 5322 asks
# for at most 78 characters a line).
LONGEST_7BIT_LINE = 78


@dataclass(frozen=True)
class Part:
    """One leaf of the message: its content type (with parameters), its bytes, whether they
    go as base64 whatever they hold, and the file name when it is an attachment."""

    content_type: str
    content: bytes
    binary: bool = False
    filename: str | None = None


def one_line(value: str) -> str:
    """A header value on one logical line: a line break in it would start a header of its own."""
    return value.replace("\r", " ").replace("\n", " ")


def header(name: str, value: str) -> str:
    """`Name: value`, folded, and encoded as RFC 2047 words when it is not ASCII."""
    value = one_line(value)
    charset = "us-ascii" if value.isascii() else "utf-8"
    folded = Header(value, charset, header_name=name).encode(linesep=CRLF)
    return f"{name}: {folded}"


def address(display: str) -> str:
    """`Name <address>` as a header value: the name quoted, or encoded when it is not ASCII."""
    name, mailbox = parseaddr(one_line(display))
    return formataddr((name, mailbox), charset="utf-8")


def mailbox(name: str, mailbox_address: str) -> str:
    return formataddr((one_line(name), one_line(mailbox_address)), charset="utf-8")


def text_part(content_type: str, text: str) -> Part:
    return Part(f'{content_type}; charset="utf-8"', text.encode())


def _encoded(part: Part) -> tuple[str, bytes]:
    """The part's Content-Transfer-Encoding and body, as the standard library chooses for
    text: 7bit for short ASCII lines, else the shorter of quoted-printable and base64."""
    as_base64 = base64.encodebytes(part.content)
    if part.binary:
        return "base64", as_base64.replace(b"\n", b"\r\n")
    text = part.content.replace(b"\r\n", b"\n")
    if text.isascii() and all(len(line) <= LONGEST_7BIT_LINE for line in text.split(b"\n")):
        return "7bit", (text if text.endswith(b"\n") else text + b"\n").replace(b"\n", b"\r\n")
    quoted = binascii.b2a_qp(text, istext=True)
    if len(quoted) <= len(as_base64):
        quoted = quoted if quoted.endswith(b"\n") else quoted + b"\n"
        return "quoted-printable", quoted.replace(b"\n", b"\r\n")
    return "base64", as_base64.replace(b"\n", b"\r\n")


def _boundary(bodies: Iterable[bytes]) -> str:
    """A boundary no body holds: "=_" occurs in neither base64 nor quoted-printable,
    and the rest is random."""
    while True:
        boundary = f"=_{uuid.uuid4().hex}"
        if not any(boundary.encode() in body for body in bodies):
            return boundary


def _leaf(part: Part) -> bytes:
    encoding, body = _encoded(part)
    head = [f"Content-Type: {part.content_type}", f"Content-Transfer-Encoding: {encoding}"]
    if part.filename is not None:
        head.append(f'Content-Disposition: attachment; filename="{part.filename}"')
    return (CRLF.join(head) + CRLF + CRLF).encode() + body


def multipart(subtype: str, entities: list[bytes]) -> bytes:
    """A multipart entity of already written entities (each its headers, a blank line, a body)."""
    boundary = _boundary(entities)
    out = [f'Content-Type: multipart/{subtype}; boundary="{boundary}"{CRLF}'.encode()]
    for entity in entities:
        # The line break before a delimiter belongs to the delimiter, not to the body before.
        out.append(f"{CRLF}--{boundary}{CRLF}".encode())
        out.append(entity)
    out.append(f"{CRLF}--{boundary}--{CRLF}".encode())
    return b"".join(out)


def message(headers: list[str], alternatives: list[Part], attachments: list[Part]) -> bytes:
    """The whole message: the headers (written by `header`), then the alternatives, with the
    attachments beside them in a multipart/mixed when there are any."""
    body = multipart("alternative", [_leaf(p) for p in alternatives])
    if attachments:
        body = multipart("mixed", [body, *(_leaf(p) for p in attachments)])
    top = CRLF.join([*headers, "MIME-Version: 1.0"]) + CRLF
    return top.encode() + body
