from __future__ import annotations

from shared.problems import Conflict, NotFound


class MeetingNotFound(NotFound):
    type, title = "meeting-not-found", "Meeting not found"


class MeetingCancelled(Conflict):
    type, title = "meeting-cancelled", "Meeting cancelled"
