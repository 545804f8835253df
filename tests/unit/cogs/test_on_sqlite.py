"""The main paths again with the real SQLite store (a file in tmp_path, opened as bot.py opens
it) behind the service instead of the in-memory fake: what the cogs store and read back goes
through SQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from storage.task_store import SqliteTaskStore
from videojobs.models import TaskState

from .harness import ADMIN, ALICE, GENERAL, Cogs

MakeCogs = Callable[..., Awaitable[Cogs]]


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[SqliteTaskStore]:
    store = await SqliteTaskStore.open(tmp_path / "data" / "bot.sqlite3", exclusive=True)
    async with store:
        yield store


@pytest.fixture
async def cogs(sqlite: SqliteTaskStore, make_cogs: MakeCogs) -> Cogs:
    """(The store is opened first, so it is closed after the bot stopped.)"""
    return await make_cogs(store=sqlite)


async def test_video_stores_the_task_with_its_thread_and_status_message(cogs: Cogs) -> None:
    outcome, task = await cogs.video(prompt="a tram in the rain", mode="pro")
    [thread] = outcome.made("POST", rf"/channels/{GENERAL.channel_id}/messages/\d+/threads")
    assert task.thread_id == task.status_message_id == int(thread.path.split("/")[4])
    assert task.requester_id == ALICE.id and task.request.mode == "pro"
    assert task.state is TaskState.QUEUED and task.gateway_task_id is not None


async def test_a_result_then_retry_from_its_button(cogs: Cogs) -> None:
    _, task = await cogs.video(prompt="a tram at night")
    cogs.completes(task)
    await cogs.run_until_idle()
    done = await cogs.store.get(task.id)
    assert done is not None and done.state is TaskState.COMPLETED
    retried = await cogs.click(cogs.result_message(task), f"vb:retry:{task.id}")
    assert retried.type == 4 and not retried.ephemeral
    again = await cogs.task_in(retried)
    assert again.retry_of == task.id and again.request == task.request


async def test_settings_are_kept_in_the_database_and_applied(cogs: Cogs) -> None:
    saved = await cogs.slash("settings limits", ADMIN, active_per_member=1)
    assert saved.ephemeral and "`active_per_member`: **1**" in saved.text
    await cogs.video(prompt="the one allowed")
    refused = await cogs.slash("video", prompt="one too many")
    assert refused.ephemeral and "(the limit is 1)" in refused.text
    shown = await cogs.slash("settings show", ADMIN)
    assert f"set by <@{ADMIN.id}>" in shown.text


async def test_status_queue_and_history_read_it_back(cogs: Cogs) -> None:
    _, running = await cogs.video(prompt="still going")
    _, stopped = await cogs.video(prompt="stopped early")
    await cogs.slash("cancel", task=stopped.short_id)
    status = await cogs.slash("status")
    assert running.short_id in status.text and "1 more at the same time" in status.text
    queue = await cogs.slash("queue", ADMIN)
    assert "Unfinished videos in this server: 1" in queue.text
    history = await cogs.slash("history")
    assert stopped.short_id in history.text and running.short_id not in history.text
