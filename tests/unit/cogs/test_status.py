"""/status, /cancel and /help: ephemeral answers about the member's tasks and the rules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from .harness import ADMIN, ALICE, BOB, GENERAL, Cogs, message_text
from .payloads import Person, Place, snowflake

MakeCogs = Callable[..., Awaitable[Cogs]]


async def test_status_overview_lists_the_members_tasks_and_limits_left(cogs: Cogs) -> None:
    _, task = await cogs.video(prompt="a lighthouse in a storm")
    await cogs.video(BOB, prompt="bob's own video")
    outcome = await cogs.slash("status")
    assert outcome.type == 4 and outcome.ephemeral
    assert "In progress" in outcome.text
    assert f"`{task.short_id}`" in outcome.text and "a lighthouse in a storm" in outcome.text
    assert "bob's own video" not in outcome.text
    assert "19 new videos today (UTC) · 1 more at the same time" in outcome.text
    assert "2 videos in progress in this server" in outcome.text


async def test_status_in_a_dm_speaks_of_no_server(cogs: Cogs) -> None:
    dm = Place(None, snowflake(), channel_type=1)
    _, task = await cogs.video(where=dm, prompt="a quiet dm")
    outcome = await cogs.slash("status", where=dm)
    assert outcome.ephemeral and f"`{task.short_id}`" in outcome.text
    assert "server" not in outcome.text


async def test_status_with_nothing_running(cogs: Cogs) -> None:
    outcome = await cogs.slash("status")
    assert outcome.ephemeral and "Nothing right now." in outcome.text


async def test_status_of_one_task_shows_its_details_to_anyone_in_the_server(cogs: Cogs) -> None:
    _, task = await cogs.video(prompt="a paper boat on a river", mode="pro")
    outcome = await cogs.slash("status", BOB, task=task.short_id)
    assert outcome.ephemeral
    assert f"Task `{task.short_id}`" in outcome.text
    assert "a paper boat on a river" in outcome.text and "pro" in outcome.text


async def test_status_of_an_unknown_task_says_where_ids_are(cogs: Cogs) -> None:
    outcome = await cogs.slash("status", task="zzzzzzzz")
    assert outcome.ephemeral
    assert "No task `zzzzzzzz` here" in outcome.text and "`/status` lists yours" in outcome.text


async def test_a_task_of_another_server_is_not_shown(cogs: Cogs) -> None:
    _, task = await cogs.video(prompt="private to the first server")
    elsewhere = Place(snowflake(), snowflake())
    outcome = await cogs.slash("status", BOB, elsewhere, task=task.short_id)
    assert outcome.ephemeral and f"No task `{task.short_id}` here" in outcome.text
    assert "private to the first server" not in outcome.text


async def test_cancel_frees_the_slot_and_says_so_in_the_thread(cogs: Cogs) -> None:
    _, task = await cogs.video(prompt="to be cancelled")
    outcome = await cogs.slash("cancel", task=task.short_id)
    assert outcome.ephemeral
    assert f"Cancelled `{task.short_id}`" in outcome.text and "slot is free" in outcome.text
    await cogs.service.drain()
    assert task.thread_id is not None
    said = [message_text(m) for m in cogs.rest.in_channel(task.thread_id)]
    assert any(f"<@{ALICE.id}> your video `{task.short_id}` was cancelled" in s for s in said)


async def test_a_member_cannot_cancel_someone_elses_task(cogs: Cogs) -> None:
    _, task = await cogs.video(prompt="alice's")
    outcome = await cogs.slash("cancel", BOB, task=task.short_id)
    assert outcome.ephemeral and "You can only cancel your own tasks" in outcome.text
    assert (await cogs.store.get(task.id)).state.is_terminal is False


async def test_an_admin_can_cancel_anyones_task(cogs: Cogs) -> None:
    _, task = await cogs.video(prompt="alice's, stopped by an admin")
    outcome = await cogs.slash("cancel", ADMIN, task=task.short_id)
    assert outcome.ephemeral and f"Cancelled `{task.short_id}`" in outcome.text


async def test_cancel_of_a_finished_task_says_there_is_nothing_to_cancel(cogs: Cogs) -> None:
    _, task = await cogs.video(prompt="cancelled once")
    await cogs.slash("cancel", task=task.short_id)
    outcome = await cogs.slash("cancel", task=task.short_id)
    assert outcome.ephemeral and "already cancelled; there is nothing to cancel" in outcome.text


async def test_help_shows_the_limits_in_force_here(make_cogs: MakeCogs) -> None:
    cogs = await make_cogs(
        max_active_tasks_per_user=3, daily_tasks_per_user=7, kling_models=("kling-v3", "kling-v2")
    )
    outcome = await cogs.slash("help", Person(snowflake(), "dave"), GENERAL)
    assert outcome.type == 4 and outcome.ephemeral
    assert "3 videos at a time per member" in outcome.text
    assert "7 per member per day (UTC)" in outcome.text
    assert "`model` kling-v3, kling-v2" in outcome.text
    assert "/video prompt:" in outcome.text
