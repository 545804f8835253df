"""/status, /cancel, /help and the result's Retry and Details buttons."""

from __future__ import annotations

from .scenario import MakeScenario, Scenario


def embed_text(inter: object) -> str:
    data = getattr(inter, "response_data", None) or {}
    return str(data.get("content", "")) + str(data.get("embeds", ""))


async def test_status_overview_and_one_task(scenario: Scenario) -> None:
    """/status lists the member's unfinished and recent tasks and limits; with a task id, its
    details, also for another member of the server."""
    done = await scenario.video(prompt="a finished video")
    await scenario.result(done)
    running = await scenario.video(prompt="[stuck] an unfinished video")
    bob = scenario.discord.add_member(scenario.guild, "bob")
    await scenario.video(member=bob, prompt="[stuck] bob's unfinished video")
    overview = await scenario.command("status")
    assert overview.ephemeral
    text = embed_text(overview)
    assert scenario.short_id(running) in text
    assert scenario.short_id(done) in text
    assert "Left today" in text
    assert "18 new videos today" in text
    assert "2 videos in progress in this server" in text  # alice's and bob's

    details = await scenario.command("status", member=bob, task=scenario.short_id(done))
    assert details.ephemeral
    text = embed_text(details)
    assert "a finished video" in text
    assert "completed" in text
    assert "Gateway task id" in text


async def test_status_of_an_unknown_task(scenario: Scenario) -> None:
    """A wrong id gets a helpful ephemeral answer."""
    inter = await scenario.command("status", task="zzzzzzzz")
    assert inter.ephemeral
    assert "No task `zzzzzzzz`" in embed_text(inter)


async def test_cancel_frees_the_slot_and_says_so_in_the_thread(
    make_scenario: MakeScenario,
) -> None:
    """/cancel stops a stuck task: the thread is told, and a new video fits the limit again."""
    s = await make_scenario(MAX_ACTIVE_TASKS_PER_USER="1")
    stuck = await s.video(prompt="[stuck] waiting forever")
    short = s.short_id(stuck)
    blocked = await s.video(prompt="another one")
    assert blocked.ephemeral
    answer = await s.command("cancel", task=short)
    assert answer.ephemeral
    assert f"Cancelled `{short}`" in embed_text(answer)
    told = await s.result(stuck)
    assert "cancelled" in told.content
    assert f"<@{s.member.user.id}>" in told.content
    again = await s.video(prompt="now it fits")
    assert not again.ephemeral


async def test_only_the_requester_or_an_admin_can_cancel(scenario: Scenario) -> None:
    """Another member can't cancel a task; an admin can."""
    inter = await scenario.video(prompt="[stuck] mine")
    short = scenario.short_id(inter)
    bob = scenario.discord.add_member(scenario.guild, "bob")
    refused = await scenario.command("cancel", member=bob, task=short)
    assert "only cancel your own" in embed_text(refused)
    admin = scenario.discord.add_member(scenario.guild, "ada", admin=True)
    ok = await scenario.command("cancel", member=admin, task=short)
    assert f"Cancelled `{short}`" in embed_text(ok)
    told = await scenario.result(inter)
    assert "an admin" in told.content


async def test_help_lists_commands_examples_and_limits(scenario: Scenario) -> None:
    """/help is ephemeral and shows each command, examples and the limits in force."""
    inter = await scenario.command("help")
    assert inter.ephemeral
    text = embed_text(inter)
    for words in ("/video", "/status", "/cancel", "Image to video", "First and last frame"):
        assert words in text
    assert "Camera move" in text
    assert "2 videos at a time" in text
    assert "20 per member per day" in text


async def test_details_and_retry_buttons_work_also_after_a_restart(scenario: Scenario) -> None:
    """Details shows every setting and id; Retry starts the same request again — before and
    after the bot restarts."""
    inter = await scenario.video(prompt="a kite over the dunes", mode="pro", duration=10)
    result = await scenario.result(inter)
    short = scenario.short_id(inter)
    details_id = next(c for c in result.custom_ids if c.startswith("vb:details:"))
    retry_id = next(c for c in result.custom_ids if c.startswith("vb:retry:"))

    details = await (
        await scenario.discord.click(scenario.member, result, details_id)
    ).wait_response()
    assert details.ephemeral
    assert short in embed_text(details)
    fields = {f["name"]: f["value"] for f in details.response_data["embeds"][0]["fields"]}
    assert fields["Mode"] == "pro"
    assert fields["Duration"] == "10 s"

    await scenario.restart(kill=False)

    bob = scenario.discord.add_member(scenario.guild, "bob")
    denied = await (await scenario.discord.click(bob, result, retry_id)).wait_response()
    assert denied.ephemeral
    assert "Only the member who asked" in embed_text(denied)

    details = await (await scenario.discord.click(bob, result, details_id)).wait_response()
    assert short in embed_text(details)

    retry = await (await scenario.discord.click(scenario.member, result, retry_id)).wait_response()
    assert not retry.ephemeral
    assert "a kite over the dunes" in scenario.status(retry)
    second = await scenario.result(retry)
    assert second.attachments
    first_body, second_body = (r.json for r in scenario.creates())
    assert first_body["prompt"] == second_body["prompt"]
    assert first_body["mode"] == second_body["mode"] == "pro"
    assert first_body["metadata"]["external_task_id"] != second_body["metadata"]["external_task_id"]


async def test_longest_prompts_fit_discords_embed_limits(scenario: Scenario) -> None:
    """A 2500-character prompt and negative prompt still give a status message, a result and
    Details that Discord accepts (embed limits), with the texts cut visibly, not dropped."""
    prompt = "a very long description of a mountain lake " * 58
    negative = "blur, noise, distortion, " * 100
    inter = await scenario.video(prompt=prompt[:2500], negative_prompt=negative[:2500])
    assert not inter.ephemeral
    result = await scenario.result(inter)
    details_id = next(c for c in result.custom_ids if c.startswith("vb:details:"))
    details = await (
        await scenario.discord.click(scenario.member, result, details_id)
    ).wait_response()
    assert details.ephemeral
    assert "…" in embed_text(details)
    rejected = [c for c in scenario.discord.calls() if c.status == 400]
    assert rejected == []


async def test_retry_counts_against_the_limits(make_scenario: MakeScenario) -> None:
    """Retry is a new task: with the active limit reached it is refused like /video."""
    s = await make_scenario(MAX_ACTIVE_TASKS_PER_USER="1")
    first = await s.video(prompt="a kite over the dunes")
    result = await s.result(first)
    retry_id = next(c for c in result.custom_ids if c.startswith("vb:retry:"))
    await s.video(prompt="[stuck] fills the only slot")
    await s.discord.wait_for(lambda: len(s.creates()) == 2, message="both tasks sent")
    retry = await (await s.discord.click(s.member, result, retry_id)).wait_response()
    assert retry.ephemeral
    assert "`/cancel`" in embed_text(retry)
