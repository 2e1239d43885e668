"""The consent text's version and its items, as the gate needs them.

The texts themselves (Indonesian and English, versioned per school) come with the consent
issue; until then the version is this constant, and a consent must name it to count.
"""

from __future__ import annotations

CURRENT_TEXT_VERSION = "1"

STUDENT_ITEMS = (
    "service_and_method",
    "benefits_and_limits",
    "confidentiality",
    "voluntary",
    "technology_failure",
    "alternatives",
    "no_recording",
    "data_protection",
    "emergency_contact",
)
GUARDIAN_ITEMS = (*STUDENT_ITEMS, "guardian_informed")
