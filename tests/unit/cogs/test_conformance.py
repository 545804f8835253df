"""What product-spec.md and discord-notes.md say to the letter, from real interaction payloads:
the status message is edited only when what it shows changed, and what the bot registers and
sends stays within Discord's limits whatever the settings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tests.support.discord_sim.validation import validate_commands, validate_message
from videojobs.models import TaskState

from .conftest import Cogs, message_text

MakeCogs = Callable[..., Awaitable[Cogs]]


def status_edits(cogs: Cogs, channel_id: int, message_id: int) -> list[dict[str, Any]]:
    path = f"/channels/{channel_id}/messages/{message_id}"
    return [c.body for c in cogs.rest.calls if c.method == "PATCH" and c.path == path]


async def poll_once(cogs: Cogs, after: float) -> None:
    cogs.clock.advance(after)
    await cogs.service.poll_due()
    await cogs.service.drain()


async def test_the_status_message_is_edited_only_when_what_it_shows_changed(cogs: Cogs) -> None:
    """The gateway taking the task (queued, 0%: what the first answer shows) is no edit; the
    task running is one."""
    cogs.gateway.default_script = ["queued", "running"]
    outcome, task = await cogs.video(prompt="a lighthouse in a storm")
    assert task.state is TaskState.QUEUED and task.status_message_id is not None
    assert "queued" in outcome.text and "0%" in outcome.text
    assert status_edits(cogs, task.channel_id, task.status_message_id) == []

    await poll_once(cogs, 11)  # still queued, 0%
    assert status_edits(cogs, task.channel_id, task.status_message_id) == []

    await poll_once(cogs, 11)  # running, 30%
    [edit] = status_edits(cogs, task.channel_id, task.status_message_id)
    assert "running" in message_text(edit) and "30%" in message_text(edit)
