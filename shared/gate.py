"""The ethics gate for one member, defined once for both services.

A member is cleared when they have active consent covering the session's platform and the
current consent-text version, and, under the school's guardian age, a guardian's consent too.
The api service computes the gate with it; the clearance it sends to the meetings service is
validated with it again on arrival.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from functools import lru_cache
from typing import Protocol

from shared.problems import Unmet

POLICY_VERSION = "2026-11"


class Signer(StrEnum):
    student = "student"
    guardian = "guardian"


class ConsentLike(Protocol):
    @property
    def signer(self) -> Signer: ...
    @property
    def platform(self) -> str: ...
    @property
    def text_version(self) -> str: ...
    @property
    def granted(self) -> bool: ...
    @property
    def withdrawn(self) -> bool: ...


def member_missing(
    consents: Iterable[ConsentLike],
    *,
    platform: str,
    text_version: str,
    needs_guardian: bool,
) -> list[Unmet]:
    """What this member still lacks; an empty list means cleared."""
    covering = [
        c
        for c in consents
        if c.granted
        and not c.withdrawn
        and c.platform == platform
        and c.text_version == text_version
    ]
    signers = {c.signer for c in covering}
    missing = []
    if Signer.student not in signers:
        missing.append(_student_consent_missing(platform, text_version))
    if needs_guardian and Signer.guardian not in signers:
        missing.append(_guardian_consent_missing(platform, text_version))
    return missing


# One per platform and text version (a handful), shared: Unmet is immutable, and a page of
# sessions asks for the same few hundreds of times.
@lru_cache(maxsize=256)
def _student_consent_missing(platform: str, text_version: str) -> Unmet:
    return Unmet(
        "student_consent_missing",
        f"The student's own consent for {platform} (text version {text_version}) is missing.",
    )


@lru_cache(maxsize=256)
def _guardian_consent_missing(platform: str, text_version: str) -> Unmet:
    return Unmet(
        "guardian_consent_missing",
        f"A guardian's consent for {platform} (text version {text_version}) is missing.",
    )
