"""The few parts of iCalendar (RFC 5545) an invite is written with: content lines, their
values and parameters, folding. Written out directly, as `mime` writes the message: the
icalendar package was a sixth of a worker's CPU per invite, to make these same lines.

Every value is made safe here, whatever it holds: control characters are dropped (a line
break in a name or title can never start a property of its own), TEXT is escaped, and a
parameter's value is quoted or caret-encoded (RFC 6868) as it needs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

# Control characters other than the line breaks TEXT keeps as \n and the tab it allows.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_TEXT_SPECIAL = re.compile(r"([\\;,])")
# Quoted in a parameter's value: the delimiters, and what lenient readers trim around them.
_PARAM_UNSAFE = frozenset(':;,="\t\\')
LINE_OCTETS = 75  # a content line's longest, CRLF excluded (RFC 5545, 3.1)


def text(value: str) -> str:
    """A TEXT value: backslash, semicolon and comma escaped, every line break as \\n."""
    value = _TEXT_SPECIAL.sub(r"\\\1", _CONTROL.sub("", value))
    return _LINE_BREAK.sub(r"\\n", value)


def uri(value: str) -> str:
    """A URI or CAL-ADDRESS value: written as it is, without what could break the line."""
    return _CONTROL.sub("", _LINE_BREAK.sub("", value))


def date_time(value: datetime) -> str:
    """A DATE-TIME in UTC, with its Z (form 2)."""
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def param(value: str) -> str:
    """A parameter's value: caret-encoded (RFC 6868: ^ ^^, " ^', a line break ^n), and in
    double quotes when it holds a delimiter (colon, semicolon, comma, equals sign) or a tab, or
    starts or ends with a space: lenient readers trim blanks around those outside quotes."""
    value = _CONTROL.sub("", value).replace("^", "^^").replace('"', "^'")
    value = _LINE_BREAK.sub("^n", value)
    if any(c in _PARAM_UNSAFE for c in value) or value != value.strip(" "):
        return f'"{value}"'
    return value


def line(name: str, value: str, params: Iterable[tuple[str, str]] = ()) -> str:
    """One content line, folded: `value` already written by `text`, `uri` or `date_time`."""
    head = "".join(f";{key}={param(v)}" for key, v in params)
    return fold(f"{name}{head}:{value}")


def fold(content: str) -> str:
    """Lines of at most 75 octets, each continuation starting with a space; a UTF-8
    character is never cut in two (RFC 5545, 3.1)."""
    data = content.encode()
    if len(data) <= LINE_OCTETS:
        return content
    pieces, start, limit = [], 0, LINE_OCTETS
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # inside a character: back up
            end -= 1
        pieces.append(data[start:end].decode())
        start, limit = end, LINE_OCTETS - 1  # the leading space is an octet of the line
    return "\r\n ".join(pieces)


def calendar(lines: Iterable[str]) -> str:
    """Lines joined with the CRLF iCalendar requires, the last one ended too."""
    return "".join(f"{one}\r\n" for one in lines)
