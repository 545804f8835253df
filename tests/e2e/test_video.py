"""/video from a member's point of view: the status message, its thread, progress, the video."""

from __future__ import annotations

import pytest

from gateway.simulator import FAILURE_MESSAGE
from tests.support.discord_sim.interactions import SimInteraction
from tests.support.discord_sim.models import SimMessage

from .scenario import KEY, MakeScenario, Scenario


async def test_text_to_video_ends_with_the_mp4_in_a_thread(scenario: Scenario) -> None:
    """A prompt gets a public status embed at once, a thread on it, and the mp4 with a mention."""
    inter = await scenario.video(prompt="a red fox running through snow at dawn")
    assert inter.response_type == 4
    assert not inter.ephemeral
    status = inter.original
    assert status is not None
    assert "a red fox running through snow at dawn" in status.text
    assert "kling-v3" in status.text
    thread = await scenario.thread(inter)

    result = await scenario.result(inter)
    assert result.channel is thread
    assert [c.status for c in scenario.discord.calls(path_contains="/threads")] == [201]
    assert f"<@{scenario.member.user.id}>" in result.content
    assert scenario.member.user.id in {u.id for u in result.mentions}
    assert len(result.attachments) == 1
    video = result.attachments[0]
    assert video.filename.endswith(".mp4")
    assert video.data[4:8] == b"ftyp"
    assert {b.get("label") for b in result.buttons} == {"Retry", "Remix", "Details"}
    await scenario.discord.wait_for(lambda: "completed" in status.text, timeout=10)
    assert "100%" in status.text
    assert len(scenario.results(thread, scenario.short_id(inter))) == 1


@pytest.mark.parametrize("style", ["unified", "kling"])
@pytest.mark.parametrize("shape", ["doc", "wrapper", "openai"])
async def test_both_api_styles_and_every_retrieve_shape(
    make_scenario: MakeScenario, style: str, shape: str
) -> None:
    """Whatever route and retrieve shape the gateway uses, the video arrives."""
    s = await make_scenario(KLING_API_STYLE=style)
    s.kling.configure(retrieve_shape=shape)
    inter = await s.video(prompt="a paper boat on a rainy street", duration=10, mode="pro")
    result = await s.result(inter)
    assert result.attachments
    (create,) = s.creates()
    if style == "unified":
        assert create.path == "/v1/video/generations"
        assert create.json["duration"] == 10
        assert create.json["size"] == "1920x1080"
        assert create.json["metadata"]["aspect_ratio"] == "16:9"
        assert create.json["mode"] == "pro"
    else:
        assert create.path == "/kling/v1/videos/text2video"
        assert create.json["duration"] == "10"
        assert create.json["model_name"] == "kling-v3"
    fetches = s.fetches()
    assert fetches
    assert all(r.authorized for r in s.kling.requests if r.kind in ("create", "fetch"))


async def test_image_to_video_sends_the_first_frame(make_scenario: MakeScenario) -> None:
    """An attached first frame goes to the gateway as the image; the kling route is image2video."""
    s = await make_scenario(KLING_API_STYLE="kling")
    frame = s.image("statue.png", 1024, 1024)
    inter = await s.video(prompt="the statue turns its head", image=frame, aspect_ratio="1:1")
    assert "statue.png" in s.status(inter)
    result = await s.result(inter)
    assert result.attachments
    (create,) = s.creates()
    assert create.path == "/kling/v1/videos/image2video"
    kept = _kept_frames(s, inter)  # the copy shown in the thread, fixed for Kling
    assert create.json["image"] == kept.attachments[0].url
    assert kept.attachments[0].data == frame.data  # a PNG that meets the rules: as it came
    assert any("/image2video/" in r.path for r in s.fetches())


async def test_first_and_last_frame(scenario: Scenario) -> None:
    """Both frames travel: the first as image, the last as metadata.image_tail."""
    first = scenario.image("day.png")
    last = scenario.image("night.jpg", content_type="image/jpeg")
    inter = await scenario.video(prompt="day turns into night", image=first, end_image=last)
    await scenario.result(inter)
    (create,) = scenario.creates()
    kept = _kept_frames(scenario, inter)
    assert [a.data for a in kept.attachments] == [first.data, last.data]
    assert create.json["image"] == kept.attachments[0].url
    assert create.json["metadata"]["image_tail"] == kept.attachments[1].url


@pytest.mark.parametrize(
    ("camera", "strength", "expected"),
    [
        ("zoom_in", 7, {"type": "simple", "axis": ("zoom", 7)}),
        ("pan_left", None, {"type": "simple", "axis": ("pan", -5)}),
        ("forward_up", None, {"type": "forward_up"}),
    ],
)
async def test_camera_moves(
    scenario: Scenario, camera: str, strength: int | None, expected: dict[str, object]
) -> None:
    """A camera move becomes Kling's camera_control: one axis with the strength, or a preset."""
    options = {"camera_strength": strength} if strength else {}
    inter = await scenario.video(prompt="a quiet harbour at dusk", camera=camera, **options)
    await scenario.result(inter)
    (create,) = scenario.creates()
    control = create.json["metadata"]["camera_control"]
    assert control["type"] == expected["type"]
    if "axis" in expected:
        axis, value = expected["axis"]  # type: ignore[misc]
        assert {k: v for k, v in control["config"].items() if v} == {axis: value}
    else:
        assert "config" not in control


async def test_failed_task_is_explained_to_the_requester(scenario: Scenario) -> None:
    """A task the gateway fails ends with a mention and the reason, and no video."""
    inter = await scenario.video(prompt="[fail] a storm over the sea")
    result = await scenario.result(inter)
    assert f"<@{scenario.member.user.id}>" in result.content
    assert "failed" in result.content
    assert FAILURE_MESSAGE in result.content  # the reason itself
    assert not result.attachments
    assert "failed" in scenario.status(inter)


async def test_stuck_task_times_out(make_scenario: MakeScenario) -> None:
    """A task still unfinished at TASK_TIMEOUT_MINUTES is reported as timed out."""
    s = await make_scenario(TASK_TIMEOUT_MINUTES="0.05")
    inter = await s.video(prompt="[stuck] a clock with no hands")
    result = await s.result(inter)
    assert "timed out" in result.content
    assert "0.05 minutes" in result.content
    await s.discord.wait_for(lambda: "timed out" in s.status(inter))


async def test_video_over_the_upload_limit_comes_smaller_with_the_link(scenario: Scenario) -> None:
    """A video larger than the server's upload limit is re-encoded to fit and sent with the
    original's link and an expiry note."""
    inter = await scenario.video(prompt="[big] a waterfall in slow motion")
    result = await scenario.result(inter)
    assert len(result.attachments) == 1
    assert len(result.attachments[0].data) <= 10 * 1024 * 1024
    assert result.attachments[0].data[4:8] == b"ftyp"
    assert "http://127.0.0.1" in result.content
    assert "expires" in result.content
    assert f"<@{scenario.member.user.id}>" in result.content
    assert not scenario.discord.calls(method="POST", status=413)  # judged before uploading


async def test_without_thread_permission_the_channel_is_used(scenario: Scenario) -> None:
    """No permission to create threads: everything about the task happens in the channel."""
    scenario.discord.set_channel_permissions(scenario.channel, allow_threads=False)
    inter = await scenario.video(prompt="a hot air balloon over hills")
    assert inter.original is not None
    assert scenario.discord.thread_for(inter.original) is None
    result = await scenario.result(inter)
    assert result.channel is scenario.channel
    assert result.attachments
    assert not scenario.discord.calls(path_contains="/threads")  # not even tried
    assert "went wrong" not in scenario.visible_text()


async def test_in_a_thread_the_thread_is_used(scenario: Scenario) -> None:
    """/video inside a thread answers in that thread and opens no thread of its own."""
    first = await scenario.video(prompt="a lighthouse")
    thread = await scenario.thread(first)
    await scenario.result(first)
    inter = await scenario.video(channel=thread, prompt="the same lighthouse at night")
    assert inter.original is not None
    assert inter.original.channel is thread
    result = await scenario.result(inter)
    assert result.channel is thread
    assert [c.status for c in scenario.discord.calls(path_contains="/threads")] == [201]


async def test_deleted_thread_falls_back_to_the_channel(scenario: Scenario) -> None:
    """If the thread is removed while the video is made, the result still reaches the member."""
    inter = await scenario.video(prompt="[slow] a glacier calving")
    scenario.discord.delete_channel(await scenario.thread(inter))
    short = scenario.short_id(inter)
    found = await scenario.discord.wait_for(
        lambda: scenario.results(scenario.channel, short), timeout=30
    )
    assert f"<@{scenario.member.user.id}>" in found[0].content
    assert KEY not in scenario.bot.logs


async def test_in_a_direct_message_the_dm_is_used(make_scenario: MakeScenario) -> None:
    """/video in a DM with the bot answers there and delivers there (no thread in a DM)."""
    s = await make_scenario(DISCORD_GUILD_IDS="")  # global commands: the ones a DM can use
    dm = s.discord.dm_channel(s.member.user)
    inter = await s.video(channel=dm, prompt="a snowman melting in spring")
    assert not inter.ephemeral
    result = await s.result(inter)
    assert result.channel is dm
    assert result.attachments


async def test_results_after_the_interaction_token_expired(scenario: Scenario) -> None:
    """Interaction tokens die after 15 minutes; progress and the result use the bot's token."""
    inter = await scenario.video(prompt="[slow] a sunrise over a desert")
    await scenario.thread(inter)
    scenario.discord.expire_interaction_tokens()
    result = await scenario.result(inter)
    assert result.attachments
    late_webhook_calls = [
        c for c in scenario.discord.calls(path_contains="/webhooks/") if c.status >= 400
    ]
    assert late_webhook_calls == []


async def test_upload_refused_as_too_large_falls_back_to_the_link(scenario: Scenario) -> None:
    """If Discord answers 413 (the server lost a boost since the command), the link is sent."""
    inter = await scenario.video(prompt="[slow] a river delta from above")
    await scenario.thread(inter)
    scenario.discord.set_upload_limit(scenario.guild, 1024)  # smaller than the 14 KB video
    result = await scenario.result(inter)
    assert not result.attachments
    assert "http://127.0.0.1" in result.content
    assert any(c.status == 413 for c in scenario.discord.calls(method="POST"))


def _kept_frames(s: Scenario, inter: SimInteraction) -> SimMessage:
    """The bot's message in the task's thread with the frames it sent."""
    short = s.short_id(inter)
    (message,) = [
        m
        for m in s.discord.channel_messages(s.where(inter))
        if m.content.startswith(f"Frames for `{short}`")
    ]
    return message


async def test_the_built_in_simulator_serves_every_model_offered(
    make_scenario: MakeScenario,
) -> None:
    """KLING_API_BASE=simulator (an owner trying the bot without credits) with KLING_MODELS
    naming other models: the built-in gateway takes a video with the default model at once
    instead of leaving it waiting on a 503 model_not_found until the timeout."""
    s = await make_scenario(KLING_API_BASE="simulator", KLING_MODELS="kling-v2-master,kling-v3")
    inter = await s.video(prompt="a kite over the dunes")
    await s.bot.wait_for_log("sent as gateway task", timeout=15)
    assert "waiting for the gateway" not in s.bot.logs
    assert inter.original is not None and "kling-v2-master" in inter.original.text
