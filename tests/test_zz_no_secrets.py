"""No secret anywhere the suite's apps spoke: not in a log line, not in a response body.

Runs after every other test (named to sort last) over what tests/conftest.py captured: each log
record any logger made and each response body of the in-process apps. The secrets are the ones
the tests hand the system (provider credentials, access tokens, a Zoom host's zak, private keys,
our own signing keys), and shapes no answer or log line may ever carry.
"""

from __future__ import annotations

import re

from shared.observability import JsonFormatter
from tests.capture import BODIES as CAPTURED_BODIES
from tests.capture import RECORDS as CAPTURED_RECORDS
from tests.conftest import SECRET_KEY, SERVICE_SECRET

KNOWN = (
    SECRET_KEY,
    SERVICE_SECRET,
    "zoom-client-secret",
    "zoom-webhook-token",
    "zoom-webhook-secret-token",
    "zoom-access-token",
    "host-secret-zak",
    "fresh-zak",
    "ya29.a-fake-access-token",
    "eyJ6bV9za20iOiJ6bV9vMm0iLCJ6YWsiOiJob3N0LXphay1zZWNyZXQifQ",  # the Zoom tests' zak
    "a-long-app-secret-shared-with-prosody",
    "AAtelegram-bot-token-secret-XYZ",  # the Telegram tests' bot token (it sits in the URL)
    "whatsapp-access-token-secret",
    "whatsapp-app-secret",
    "whatsapp-verify-token",
)
SHAPES = (
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"[?&]zak="),
    re.compile(r'"client_secret"\s*:\s*"[^"*]'),
    re.compile(r"whsec_[A-Za-z0-9+/=]{8}"),
)


# The one answer that hands a secret over on purpose: a new school's admin client, shown once
# to the operator who made it (POST /v1/platform/schools); only its hash is kept.
ISSUED_ONCE = re.compile(
    r'^\{"school":\{.*\},"admin_client":\{"client_id":"lk_[0-9a-f]+","client_secret":'
)


# And a webhook subscription's signing secret, shown once to the school admin who made it or
# rotated it (POST /v1/school/webhooks, .../rotate-secret); it is kept sealed.
WEBHOOK_SECRET_ISSUED = re.compile(r'^\{"id":"[0-9a-f-]{36}","url":.*,"secret":"whsec_[^"]+"\}$')


def _leaks(text: str) -> list[str]:
    found = [s for s in KNOWN if s in text]
    shapes = [p.pattern for p in SHAPES if p.search(text)]
    if shapes == [SHAPES[2].pattern] and ISSUED_ONCE.match(text):
        shapes = []
    if shapes == [SHAPES[3].pattern] and WEBHOOK_SECRET_ISSUED.match(text):
        shapes = []
    return found + shapes


def _as_text(record: object) -> str:
    try:
        return JsonFormatter("check").format(record)  # type: ignore[arg-type]
    except Exception:  # a record whose arguments do not format: its message as given
        return str(getattr(record, "msg", ""))


def test_no_secret_reached_a_log_line_or_a_response_body() -> None:
    assert len(CAPTURED_BODIES) > 100 and len(CAPTURED_RECORDS) > 100, (
        "run with the whole suite: this checks what the other tests made the system say"
    )
    in_bodies = {i: _leaks(body) for i, body in enumerate(CAPTURED_BODIES) if _leaks(body)}
    in_logs = [
        (_as_text(r)[:300], _leaks(_as_text(r))) for r in CAPTURED_RECORDS if _leaks(_as_text(r))
    ]
    assert not in_bodies, {i: (CAPTURED_BODIES[i][:300], found) for i, found in in_bodies.items()}
    assert not in_logs, in_logs[:5]
