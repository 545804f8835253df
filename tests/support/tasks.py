"""A task as the store receives it at admission, for the store tests of every layer."""

from __future__ import annotations

from typing import Any

from videojobs.models import VideoRequest, VideoTask, new_task_id
from videojobs.ports import AdmissionLimits

DAY = 1_700_006_400.0  # a UTC midnight
NOW = DAY + 3600.0  # when the tasks of make_task are admitted
NO_LIMITS = AdmissionLimits(day_start=DAY)


def make_task(**changes: Any) -> VideoTask:
    """A new task (a fresh id) of member 111 in channel 333 of server 222, admitted at NOW with
    30 minutes to run; `changes` sets any other field."""
    fields: dict[str, Any] = {
        "id": new_task_id(),
        "requester_id": 111,
        "guild_id": 222,
        "channel_id": 333,
        "request": VideoRequest(prompt="a cat on a skateboard", model="kling-v3"),
        "created_at": NOW,
        "deadline_at": NOW + 1800,
        "next_poll_at": NOW,
        "updated_at": NOW,
    }
    fields.update(changes)
    return VideoTask(**fields)
