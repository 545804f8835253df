"""What product-spec.md and discord-notes.md say to the letter, from real interaction payloads:
the status message is edited only when what it shows changed, and what the bot registers and
sends stays within Discord's limits whatever the settings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tests.support.discord_sim.validation import validate_commands, validate_message
from videojobs.models import GatewayState, TaskSnapshot, TaskState

from .harness import GENERAL, GUILD, Cogs, message_text
from .payloads import ADMINISTRATOR, Place

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


async def poll_when_due(cogs: Cogs, task_id: str) -> None:
    """Move the clock to the task's next poll and run that pass."""
    stored = await cogs.store.get(task_id)
    assert stored is not None
    cogs.clock.t = max(cogs.clock.t, stored.next_poll_at)
    await poll_once(cogs, 0)


async def test_the_status_shows_the_time_left_once_five_tasks_finished(make_cogs: MakeCogs) -> None:
    """After five finished tasks of a kind, the first answer says how long one usually takes
    and the status message of a running one how long is left."""
    cogs = await make_cogs(max_active_tasks_per_user=0, daily_tasks_per_user=0)
    cogs.rest.files["video.mp4"] = b"\x00\x00\x00\x18ftypmp42"
    for i in range(5):  # each done at its third poll: longer than the sixth's first poll
        _, task = await cogs.video(prompt=f"a paper plane, take {i}")
        remote = task.gateway_task_id or ""
        done = TaskSnapshot(
            remote, GatewayState.COMPLETED, 100, video_url=f"{cogs.rest.base}/files/video.mp4"
        )
        queued = cogs.gateway.snapshot(remote, "queued")
        cogs.gateway.remote[remote].script = [queued, queued, done]
        for _ in range(3):
            await poll_when_due(cogs, task.id)
        finished = await cogs.store.get(task.id)
        assert finished is not None and finished.state is TaskState.COMPLETED
    cogs.gateway.default_script = ["running"]
    outcome, task = await cogs.video(prompt="a paper plane, take 6")
    assert task.status_message_id is not None
    assert "usually ready in about" in outcome.text
    assert status_edits(cogs, task.channel_id, task.status_message_id) == []
    await poll_when_due(cogs, task.id)  # running, 30%
    [edit] = status_edits(cogs, task.channel_id, task.status_message_id)
    assert "running" in message_text(edit) and " left" in message_text(edit), edit


async def test_long_model_names_stay_within_discords_limits(make_cogs: MakeCogs) -> None:
    """KLING_MODELS takes 25 names of up to 100 characters: the commands still pass Discord's
    checks on a sync (option descriptions of at most 100 characters), and /help still fits an
    embed field."""
    models = tuple(f"model-{i:02d}-" + "x" * 91 for i in range(25))
    cogs = await make_cogs(kling_models=models)
    sync = [c for c in cogs.rest.calls if c.method == "PUT" and c.path.endswith("/commands")]
    assert sync, "the commands were not synced"
    validate_commands(sync[-1].body)  # raises Discord's 50035 Invalid Form Body
    [video] = [c for c in sync[-1].body if c["name"] == "video"]
    model = next(o for o in video["options"] if o["name"] == "model")
    assert [c["value"] for c in model["choices"]] == list(models)

    shown = await cogs.slash("help")
    assert shown.ephemeral
    validate_message(shown.data, file_count=0, creating=True)
    assert models[0] in shown.text


async def test_a_bot_with_administrator_opens_the_thread(cogs: Cogs) -> None:
    """Administrator grants every permission, Create Public Threads too: the bot whose
    app_permissions has that bit alone opens the thread like any other."""
    where = Place(GUILD, GENERAL.channel_id, app_permissions=ADMINISTRATOR)
    outcome, task = await cogs.video(where=where, prompt="a castle on a hill")
    [thread] = outcome.made("POST", rf"/channels/{GENERAL.channel_id}/messages/\d+/threads")
    assert thread.status == 201
    assert task.thread_id is not None and task.thread_id == task.status_message_id


async def test_a_remixed_prompt_on_several_lines_names_its_thread_on_one_line(
    cogs: Cogs,
) -> None:
    """The Remix form's prompt may hold line breaks; the new task's thread (opened when the
    form is sent from a channel: the result fell back there) is named on one line."""
    cogs.gateway.default_script = ["failed"]
    _, task = await cogs.video(prompt="a fox in the snow")
    await poll_when_due(cogs, task.id)
    [failure] = [
        m for m in cogs.rest.in_channel(task.target_channel_id) if "failed" in m["content"]
    ]
    form = await cogs.click(failure, f"vb:remix:{task.id}")
    assert form.type == 9
    remixed = await cogs.submit(
        form.data["custom_id"],
        {"prompt": "a fox\n\nin the  snow,\nat dawn", "negative_prompt": ""},
        where=GENERAL,
    )
    assert remixed.type == 4 and not remixed.ephemeral, remixed.text
    threads = remixed.made("POST", r"/channels/\d+/messages/\d+/threads")
    assert [t.body["name"] for t in threads] == ["🎬 a fox in the snow, at dawn"]


async def test_a_thread_the_bot_may_not_post_in_gets_the_result_in_the_channel(
    cogs: Cogs,
) -> None:
    """403 50013 on the thread (Send Messages in Threads taken away): the result, with its
    mention and the mp4, goes to the channel instead."""
    cogs.rest.files["video.mp4"] = b"\x00\x00\x00\x18ftypmp42"
    _, task = await cogs.video(prompt="a red kite over the dunes")
    assert task.thread_id is not None
    remote = task.gateway_task_id or ""
    done = TaskSnapshot(
        remote, GatewayState.COMPLETED, 100, video_url=f"{cogs.rest.base}/files/video.mp4"
    )
    cogs.gateway.remote[remote].script = [done]
    in_thread = rf"/channels/{task.thread_id}/messages"
    for _ in range(2):  # the upload, then the link alone
        cogs.rest.fail_next("POST", in_thread, 403, 50013, "Missing Permissions")
    await poll_when_due(cogs, task.id)
    refused = [c for c in cogs.rest.calls if c.method == "POST" and c.path == in_thread]
    assert [c.status for c in refused] == [403, 403]
    [result] = [m for m in cogs.rest.in_channel(task.channel_id) if "is ready" in m["content"]]
    assert f"<@{task.requester_id}>" in result["content"]
    assert [a["filename"] for a in result["attachments"]] == [f"video-{task.short_id}.mp4"]


async def test_a_deleted_status_message_is_left_alone_and_the_result_still_comes(
    cogs: Cogs,
) -> None:
    """A moderator deleted the status message (its edits get 404 10008): the task goes on and
    its result is posted in the thread, once."""
    cogs.gateway.default_script = ["running", "failed"]
    _, task = await cogs.video(prompt="a moth around a lamp")
    assert task.status_message_id is not None and task.thread_id is not None
    del cogs.rest.messages[task.status_message_id]
    await poll_when_due(cogs, task.id)  # running: the edit finds no message
    await poll_when_due(cogs, task.id)  # failed: the last edit, then the message in the thread
    edits = [
        c.status
        for c in cogs.rest.calls
        if c.method == "PATCH" and c.path.endswith(f"/messages/{task.status_message_id}")
    ]
    assert edits == [404, 404]
    told = [m for m in cogs.rest.in_channel(task.thread_id) if "failed" in m["content"]]
    assert len(told) == 1 and f"<@{task.requester_id}>" in told[0]["content"]
