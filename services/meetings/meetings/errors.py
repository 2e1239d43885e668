from __future__ import annotations

from shared.problems import Conflict, NotFound, ServiceUnavailable


class MeetingNotFound(NotFound):
    type, title = "meeting-not-found", "Meeting not found"


class MeetingCancelled(Conflict):
    type, title = "meeting-cancelled", "Meeting cancelled"


class MeetingBeingMade(ServiceUnavailable):
    """Another request is creating this meeting at the provider right now: ask again shortly."""

    type, title = "meeting-being-made", "Meeting being made"
