"""/status shows whether a finished task's result message was posted, or why not."""

from __future__ import annotations

from cogs import render
from videojobs.admission import Overview
from videojobs.models import DeliveryState, TaskState, VideoRequest, VideoTask

NOW = 1_770_000_000.0
TASK = VideoTask(
    id="ab12cd34" + "0" * 24,
    requester_id=1,
    guild_id=100,
    channel_id=500,
    request=VideoRequest(prompt="a fox in the snow", model="kling-v3"),
    created_at=NOW - 120,
    deadline_at=NOW + 1800,
    next_poll_at=NOW,
    state=TaskState.COMPLETED,
    finished_at=NOW - 60,
)


def field(embed: object, name: str) -> str | None:
    return next((f.value for f in embed.fields if f.name == name), None)  # type: ignore[attr-defined]


def test_details_say_a_delivery_that_gave_up_was_not_posted() -> None:
    """Details of a GAVE_UP task: not posted, how often it failed, tried again at restart."""
    gave_up = TASK.evolve(delivery=DeliveryState.GAVE_UP, delivery_attempts=6)
    text = field(render.details_embed(gave_up, NOW), "Result message") or ""
    assert "not posted" in text and "6 times" in text and "restarts" in text


def test_details_link_a_delivered_result() -> None:
    delivered = TASK.evolve(delivery=DeliveryState.DELIVERED, delivery_message_id=777)
    text = field(render.details_embed(delivered, NOW), "Result message") or ""
    assert text.startswith("[posted](https://discord.com/channels/100/500/777)")


def test_a_running_task_has_no_result_line() -> None:
    running = TASK.evolve(state=TaskState.RUNNING, finished_at=None)
    assert field(render.details_embed(running, NOW), "Result message") is None


def test_the_overview_marks_a_recent_task_whose_result_was_not_posted() -> None:
    gave_up = TASK.evolve(delivery=DeliveryState.GAVE_UP, delivery_attempts=6)
    view = Overview([], [gave_up], active_left=2, daily_left=19, server_unfinished=0)
    recent = field(render.overview_embed(view, NOW), "Recent") or ""
    assert "`ab12cd34` completed" in recent and "not posted" in recent
