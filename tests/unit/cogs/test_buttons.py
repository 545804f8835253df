"""The result message and its persistent buttons, clicked as Discord sends the clicks: Retry
(same settings, counted against the limits), Remix (a form, then a new task with the edited
text), Details (ephemeral), each for whom the spec allows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from cogs.remix import NEGATIVE_FIELD, PROMPT_FIELD

from .harness import ADMIN, ALICE, BOB, GENERAL, Cogs, custom_ids, message_text

MakeCogs = Callable[..., Awaitable[Cogs]]


async def test_a_finished_video_is_uploaded_in_the_thread_with_its_buttons(cogs: Cogs) -> None:
    _, task = await cogs.video(prompt="a kite over the dunes")
    cogs.completes(task, video=b"v" * 4096)
    await cogs.run_until_idle()
    result = cogs.result_message(task)
    assert result["channel_id"] == str(task.thread_id)
    assert f"<@{ALICE.id}> your video `{task.short_id}` is ready." in result["content"]
    assert [(a["filename"], a["size"]) for a in result["attachments"]] == [
        (f"video-{task.short_id}.mp4", 4096)
    ]
    assert custom_ids(result) == [f"vb:{a}:{task.id}" for a in ("retry", "remix", "details")]
    status = cogs.rest.message(task.status_message_id or 0)
    assert "completed" in message_text(status).lower()


async def test_a_failure_says_why_and_carries_retry_and_remix(cogs: Cogs) -> None:
    _, task = await cogs.video(prompt="an impossible video")
    cogs.fails(task, "The prompt was refused by the safety check.")
    await cogs.run_until_idle()
    result = cogs.result_message(task)
    assert result["content"] == (
        f"<@{ALICE.id}> your video `{task.short_id}` failed. "
        "The prompt was refused by the safety check."
    )
    assert f"vb:retry:{task.id}" in custom_ids(result)
    assert f"vb:remix:{task.id}" in custom_ids(result)


async def test_an_upload_refused_for_lack_of_attach_files_sends_the_link(cogs: Cogs) -> None:
    _, task = await cogs.video(prompt="no attach files here")
    url = cogs.completes(task)
    cogs.rest.fail_next("POST", rf"/channels/{task.thread_id}/messages", 403, 50013, "Missing")
    await cogs.run_until_idle()
    result = cogs.result_message(task)
    assert result["attachments"] == []
    assert "needs the Attach Files permission" in result["content"] and url in result["content"]


async def test_retry_starts_the_same_video_again(cogs: Cogs) -> None:
    _, task = await cogs.video(prompt="a lantern festival", mode="pro", duration=10)
    cogs.fails(task)
    await cogs.run_until_idle()
    outcome = await cogs.click(cogs.result_message(task), f"vb:retry:{task.id}")
    assert outcome.type == 4 and not outcome.ephemeral
    await cogs.service.drain()
    again = max(cogs.store.tasks.values(), key=lambda t: (t.retry_of is not None, t.created_at))
    assert again.retry_of == task.id and again.id != task.id
    assert again.request == task.request
    assert again.short_id in outcome.text
    assert [(r.prompt, r.mode, r.duration) for r in cogs.gateway.created][-1] == (
        "a lantern festival",
        "pro",
        10,
    )
    assert not outcome.made("POST", r"/channels/\d+/messages/\d+/threads"), "in the thread"


async def test_retry_by_another_member_is_refused(cogs: Cogs) -> None:
    _, task = await cogs.video(prompt="alice's video")
    cogs.fails(task)
    await cogs.run_until_idle()
    outcome = await cogs.click(cogs.result_message(task), f"vb:retry:{task.id}", BOB)
    assert outcome.type == 4 and outcome.ephemeral
    assert "Only the member who asked for this video, or an admin, can retry it." in outcome.text
    assert len(cogs.store.tasks) == 1


async def test_retry_by_an_admin_is_allowed(cogs: Cogs) -> None:
    _, task = await cogs.video(prompt="alice's video, retried by an admin")
    cogs.fails(task)
    await cogs.run_until_idle()
    outcome = await cogs.click(cogs.result_message(task), f"vb:retry:{task.id}", ADMIN)
    assert outcome.type == 4 and not outcome.ephemeral
    assert len(cogs.store.tasks) == 2


async def test_retry_counts_against_the_limits(make_cogs: MakeCogs) -> None:
    cogs = await make_cogs(daily_tasks_per_user=1)
    _, task = await cogs.video(prompt="the only one today")
    cogs.fails(task)
    await cogs.run_until_idle()
    outcome = await cogs.click(cogs.result_message(task), f"vb:retry:{task.id}")
    assert outcome.ephemeral and "all 1 videos for today" in outcome.text


async def test_details_shows_every_setting_to_anyone(cogs: Cogs) -> None:
    _, task = await cogs.video(prompt="a glass of water", aspect_ratio="1:1", camera="tilt_up")
    cogs.completes(task)
    await cogs.run_until_idle()
    outcome = await cogs.click(cogs.result_message(task), f"vb:details:{task.id}", BOB)
    assert outcome.type == 4 and outcome.ephemeral
    assert task.id in outcome.text and "a glass of water" in outcome.text
    assert "1:1" in outcome.text and "tilt up" in outcome.text


async def test_remix_opens_a_form_with_the_prompts_filled_in(cogs: Cogs) -> None:
    _, task = await cogs.video(prompt="a snowy owl", negative_prompt="text, watermark")
    cogs.fails(task)
    await cogs.run_until_idle()
    outcome = await cogs.click(cogs.result_message(task), f"vb:remix:{task.id}")
    assert outcome.type == 9
    form = outcome.data
    assert form["custom_id"].startswith(f"vb:remix-form:{task.id}:")
    inputs = {c["custom_id"]: c for row in form["components"] for c in row.get("components", [row])}
    assert inputs[PROMPT_FIELD]["value"] == "a snowy owl"
    assert inputs[NEGATIVE_FIELD]["value"] == "text, watermark"


async def test_a_submitted_remix_starts_a_new_video_with_the_edited_text(cogs: Cogs) -> None:
    _, task = await cogs.video(prompt="a snowy owl", duration=10)
    cogs.fails(task)
    await cogs.run_until_idle()
    form = (await cogs.click(cogs.result_message(task), f"vb:remix:{task.id}")).data
    where = cogs.place_of(task.thread_id or 0)
    outcome = await cogs.submit(
        form["custom_id"], {PROMPT_FIELD: "a snowy owl at night", NEGATIVE_FIELD: ""}, where=where
    )
    assert outcome.type == 4 and not outcome.ephemeral
    await cogs.service.drain()
    sent = cogs.gateway.created[-1]
    assert (sent.prompt, sent.duration, sent.negative_prompt) == ("a snowy owl at night", 10, None)


async def test_a_remix_form_from_before_a_restart_still_works(cogs: Cogs) -> None:
    """A form this process never opened (discord.py forgot it) is handled from its id."""
    _, task = await cogs.video(prompt="before the restart")
    outcome = await cogs.submit(
        f"vb:remix-form:{task.id}:0badcafe", {PROMPT_FIELD: "after the restart"}
    )
    assert outcome.type == 4 and not outcome.ephemeral
    await cogs.service.drain()
    assert cogs.gateway.created[-1].prompt == "after the restart"


async def test_a_remix_with_an_empty_prompt_is_refused(cogs: Cogs) -> None:
    _, task = await cogs.video(prompt="a snowy owl")
    form = (await cogs.click_remix(task)).data
    outcome = await cogs.submit(form["custom_id"], {PROMPT_FIELD: "   ", NEGATIVE_FIELD: ""})
    assert outcome.type == 4 and outcome.ephemeral and "prompt is empty" in outcome.text
    assert len(cogs.gateway.created) == 1


async def test_remix_by_another_member_is_refused_before_the_form(cogs: Cogs) -> None:
    _, task = await cogs.video(prompt="alice's owl")
    outcome = await cogs.click_remix(task, BOB)
    assert outcome.type == 4 and outcome.ephemeral
    assert "can remix it" in outcome.text


async def test_a_video_over_the_upload_limit_that_cannot_be_shrunk_is_sent_as_a_link(
    cogs: Cogs,
) -> None:
    small = replace(GENERAL, upload_limit=64 * 1024)  # the interaction's attachment_size_limit
    _, task = await cogs.video(where=small, prompt="too big for this server")
    url = cogs.completes(task, video=b"not really an mp4" * 10_000)
    await cogs.run_until_idle()
    result = cogs.result_message(task)
    assert result["attachments"] == []
    assert (
        "larger than this server's upload limit (64 KB), so here is the link" in (result["content"])
    )
    assert url in result["content"] and "The link expires" in result["content"]
