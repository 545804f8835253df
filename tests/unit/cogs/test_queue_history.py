"""/queue (server admins: every unfinished video, a menu to cancel any, pages) and /history
(the member's finished videos, ten to a page): the lists and their buttons, as clicked."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from videojobs.models import TaskState, VideoTask

from .harness import ADMIN, ALICE, BOB, Cogs, message_text

MakeCogs = Callable[..., Awaitable[Cogs]]
NOT_ADMIN = "`/queue` is for server admins: it needs the Manage Server permission."


async def test_queue_lists_every_unfinished_video_oldest_first_without_pinging(
    cogs: Cogs,
) -> None:
    _, first = await cogs.video(prompt="alice's lighthouse")
    cogs.clock.advance(5)
    _, second = await cogs.video(BOB, prompt="bob's windmill")
    outcome = await cogs.slash("queue", ADMIN)
    assert outcome.type == 4 and outcome.ephemeral
    assert "Unfinished videos in this server: 2" in outcome.text
    text = outcome.text
    assert text.index(first.short_id) < text.index(second.short_id)
    assert f"<@{ALICE.id}>" in text and f"<@{BOB.id}>" in text
    assert outcome.data["allowed_mentions"]["parse"] == []
    assert outcome.custom_ids == ["vb:queue-cancel:0"]


async def test_queue_is_for_admins(cogs: Cogs) -> None:
    await cogs.video(prompt="something")
    outcome = await cogs.slash("queue", BOB)
    assert outcome.type == 4 and outcome.ephemeral and outcome.text == NOT_ADMIN


async def test_an_empty_queue(cogs: Cogs) -> None:
    outcome = await cogs.slash("queue", ADMIN)
    assert outcome.ephemeral and "Nothing is waiting." in outcome.text
    assert outcome.custom_ids == []


async def test_the_menu_cancels_a_video_and_tells_its_requester(cogs: Cogs) -> None:
    _, task = await cogs.video(prompt="stopped from the queue")
    listed = await cogs.slash("queue", ADMIN)
    outcome = await cogs.pick(listed.message, "vb:queue-cancel:0", [task.short_id], ADMIN)
    assert outcome.type == 7
    assert f"Cancelled `{task.short_id}` (asked by <@{ALICE.id}>)" in outcome.text
    assert "Unfinished videos in this server: 0" in outcome.text
    assert (await cogs.store.get(task.id)).state is TaskState.CANCELLED
    await cogs.service.drain()
    told = [message_text(m) for m in cogs.rest.in_channel(task.thread_id or 0)]
    assert any("was cancelled. Cancelled by Admin (a server admin)" in t for t in told), told


async def test_the_menu_checks_the_permission_again(cogs: Cogs) -> None:
    _, task = await cogs.video(prompt="not bob's to stop")
    listed = await cogs.slash("queue", ADMIN)
    outcome = await cogs.pick(listed.message, "vb:queue-cancel:0", [task.short_id], BOB)
    assert outcome.type == 4 and outcome.ephemeral and outcome.text == NOT_ADMIN
    assert (await cogs.store.get(task.id)).state is not TaskState.CANCELLED


async def test_a_long_queue_has_pages(make_cogs: MakeCogs) -> None:
    cogs = await make_cogs(max_active_tasks_per_user=0)
    for n in range(11):
        await cogs.video(prompt=f"video number {n}")
        cogs.clock.advance(1)
    first = await cogs.slash("queue", ADMIN)
    assert "Page 1 of 2" in first.text and "video number 0" in first.text
    assert "video number 10" not in first.text
    second = await cogs.click(first.message, "vb:queue:next:1", ADMIN)
    assert second.type == 7
    assert "Page 2 of 2" in second.text and "video number 10" in second.text
    assert "vb:queue-cancel:1" in second.custom_ids


async def finished(cogs: Cogs, count: int) -> list[VideoTask]:
    """`count` videos of alice's, each cancelled (finished), a second apart."""
    tasks = []
    for n in range(count):
        _, task = await cogs.video(prompt=f"finished video {n}")
        await cogs.slash("cancel", task=task.short_id)
        cogs.clock.advance(1)
        tasks.append(task)
    return tasks


async def test_history_with_nothing_finished(cogs: Cogs) -> None:
    await cogs.video(prompt="still running")
    outcome = await cogs.slash("history")
    assert outcome.type == 4 and outcome.ephemeral
    assert "You have no finished videos here yet" in outcome.text


async def test_history_shows_the_members_finished_videos_newest_first(cogs: Cogs) -> None:
    older, newer = await finished(cogs, 2)
    await cogs.video(BOB, prompt="bob's is not listed")
    outcome = await cogs.slash("history")
    assert outcome.ephemeral
    assert outcome.text.index(newer.short_id) < outcome.text.index(older.short_id)
    assert "**cancelled**" in outcome.text and "bob's" not in outcome.text
    assert "Page 1 of 1 · 2 videos" in outcome.text


async def test_history_pages_with_previous_and_next(make_cogs: MakeCogs) -> None:
    cogs = await make_cogs(max_active_tasks_per_user=0, daily_tasks_per_user=0)
    tasks = await finished(cogs, 11)
    first = await cogs.slash("history")
    assert "Page 1 of 2 · 11 videos" in first.text
    assert tasks[0].short_id not in first.text
    buttons = {b["custom_id"]: b for row in first.data["components"] for b in row["components"]}
    assert buttons["vb:history:prev:-1"].get("disabled") is True
    assert not buttons["vb:history:next:1"].get("disabled")
    second = await cogs.click(first.message, "vb:history:next:1")
    assert second.type == 7
    assert "Page 2 of 2" in second.text and tasks[0].short_id in second.text
    back = await cogs.click(second.message, "vb:history:prev:0")
    assert "Page 1 of 2" in back.text
