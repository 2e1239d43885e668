"""What staff may see of an address or an error: enough to recognise it, nothing to use."""

from __future__ import annotations

import pytest

from services.notifications.deliveries.masking import mask_address, plain_error


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("siti@sekolah.sch.id", "s***@sekolah.sch.id"),
        ("+6281234567123", "+62***123"),
        ("123456789", "123***789"),
        ("12345", "***"),
    ],
)
def test_an_address_is_shown_masked(address: str, shown: str) -> None:
    assert mask_address(address) == shown


def test_an_error_loses_its_links_addresses_and_token_like_strings() -> None:
    error = (
        "cannot send to siti@sekolah.sch.id: https://api.telegram.org/bot123:AAH-secret/sendMessage"
        " answered 401 for token AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    )

    shown = plain_error(error)

    assert shown == "cannot send to s***@sekolah.sch.id: [link] answered 401 for token [redacted]"
