"""Remix: the form under a result or a failure, with the prompt and negative prompt filled in;
the edited text goes to the gateway with the same settings and frames."""

from __future__ import annotations

from typing import Any

from tests.support.discord_sim.interactions import SimInteraction
from tests.support.discord_sim.models import SimMember, SimMessage

from .scenario import MakeScenario, Scenario
from .test_frames import gateway_image
from .test_settings import manager, settings

TEXT_KEYS = {"prompt", "negative_prompt", "external_task_id", "callback_url"}


def text(inter: SimInteraction) -> str:
    data = inter.response_data or {}
    return str(data.get("content", "")) + str(data.get("embeds", ""))


def button(message: SimMessage, prefix: str) -> str:
    return next(c for c in message.custom_ids if c.startswith(prefix))


def form_fields(inter: SimInteraction) -> dict[str, dict[str, Any]]:
    """The text inputs of the modal the bot answered with, by custom id."""
    assert inter.response_type == 9 and inter.modal is not None, text(inter)
    fields: dict[str, dict[str, Any]] = {}
    for row in inter.modal["components"]:
        for item in row.get("components") or [row.get("component")]:
            fields[item["custom_id"]] = item
    return fields


def without_text(body: Any) -> Any:
    """A create body without the prompt texts and the per-task ids: the settings and frames."""
    if isinstance(body, dict):
        return {k: without_text(v) for k, v in body.items() if k not in TEXT_KEYS}
    return body


async def open_form(s: Scenario, result: SimMessage, member: SimMember | None = None) -> Any:
    click = await s.discord.click(member or s.member, result, button(result, "vb:remix:"))
    return await click.wait_response()


async def test_remix_sends_the_edited_text_with_the_same_settings_and_frames(
    scenario: Scenario,
) -> None:
    """The form shows the prompt and negative prompt; the edited ones reach the gateway with
    the same model, mode, duration, cfg_scale and both frames, as a new task."""
    s = scenario
    first, last = s.image("day.png"), s.image("night.png", 1024, 1024)
    inter = await s.video(
        prompt="a lighthouse in the fog",
        negative_prompt="people",
        image=first,
        end_image=last,
        mode="pro",
        duration=10,
        cfg_scale=0.3,
    )
    result = await s.result(inter)
    assert {b.get("label") for b in result.buttons} == {"Retry", "Remix", "Details"}

    form = await open_form(s, result)
    fields = form_fields(form)
    assert fields["prompt"]["value"] == "a lighthouse in the fog"
    assert fields["negative_prompt"]["value"] == "people"
    assert fields["prompt"]["max_length"] == 2500

    remix = await (
        await s.discord.submit_modal(
            s.member, form, {"prompt": "a lighthouse in a storm", "negative_prompt": "boats"}
        )
    ).wait_response()
    assert not remix.ephemeral, text(remix)
    assert remix.original is not None and "a lighthouse in a storm" in remix.original.text
    assert s.short_id(remix) != s.short_id(inter)
    done = await s.result(remix)
    assert done.attachments

    original, remixed = (r.json for r in s.creates())
    assert remixed["prompt"] == "a lighthouse in a storm"
    assert remixed["metadata"]["negative_prompt"] == "boats"
    assert original["metadata"]["negative_prompt"] == "people"
    assert without_text(remixed) == without_text(original)
    # the same frames: the copies the bot keeps with the first task, byte for byte
    assert remixed["image"] == original["image"]
    assert remixed["metadata"]["image_tail"] == original["metadata"]["image_tail"]
    assert await gateway_image(remixed["image"]) == first.data
    assert await gateway_image(remixed["metadata"]["image_tail"]) == last.data
    assert remixed["mode"] == "pro" and remixed["duration"] == 10
    assert remixed["metadata"]["cfg_scale"] == 0.3


async def test_remix_works_after_a_restart(scenario: Scenario) -> None:
    """The Remix button of a result from before a restart opens the form and starts the
    task; a form opened before the restart and sent after it works too."""
    s = scenario
    inter = await s.video(prompt="a red kite over a hill", mode="pro")
    result = await s.result(inter)
    opened_before = await open_form(s, result)

    await s.restart()

    late = await (
        await s.discord.submit_modal(s.member, opened_before, {"prompt": "a blue kite"})
    ).wait_response()
    assert not late.ephemeral, text(late)
    assert (await s.result(late)).attachments

    form = await open_form(s, result)
    assert form_fields(form)["prompt"]["value"] == "a red kite over a hill"
    remix = await (
        await s.discord.submit_modal(s.member, form, {"prompt": "a green kite"})
    ).wait_response()
    assert not remix.ephemeral, text(remix)
    assert (await s.result(remix)).attachments
    prompts = [(r.json["prompt"], r.json["mode"]) for r in s.creates()]
    assert prompts == [
        ("a red kite over a hill", "pro"),
        ("a blue kite", "pro"),
        ("a green kite", "pro"),
    ]


async def test_remix_works_after_discords_links_expired(scenario: Scenario) -> None:
    """Days later Discord's attachment links are dead: the Remix still sends the same frames,
    through fresh links to the copies the bot keeps."""
    s = scenario
    frame = s.image("harbour.png", 1024, 768)
    inter = await s.video(prompt="a harbour at dawn", image=frame)
    result = await s.result(inter)
    s.discord.expire_cdn_links()

    form = await open_form(s, result)
    remix = await (
        await s.discord.submit_modal(s.member, form, {"prompt": "a harbour at dusk"})
    ).wait_response()
    assert not remix.ephemeral, text(remix)
    assert (await s.result(remix)).attachments
    original, remixed = (r.json for r in s.creates())
    assert remixed["prompt"] == "a harbour at dusk"
    assert remixed["image"] != original["image"]  # a fresh link
    assert await gateway_image(remixed["image"]) == frame.data


async def test_remix_by_another_member_is_refused(scenario: Scenario) -> None:
    """Only the requester or an admin may remix: another member gets an ephemeral refusal
    and no form; an admin gets the form."""
    s = scenario
    result = await s.result(await s.video(prompt="alice's garden at noon"))
    bob = s.discord.add_member(s.guild, "bob")
    refused = await open_form(s, result, bob)
    assert refused.response_type == 4 and refused.ephemeral
    assert "Only the member who asked for this video, or an admin, can remix it." in text(refused)
    assert refused.modal is None

    admin = s.discord.add_member(s.guild, "ada", admin=True)
    form = await open_form(s, result, admin)
    assert form_fields(form)["prompt"]["value"] == "alice's garden at noon"
    assert len(s.creates()) == 1


async def test_remix_of_a_failure_and_bad_input_in_the_form(make_scenario: MakeScenario) -> None:
    """A failure carries Remix too. A blank prompt and a reached limit get the same ephemeral
    messages as /video, and nothing is sent; a fixed prompt then goes through."""
    s = await make_scenario(MAX_ACTIVE_TASKS_PER_USER="1")
    failed = await s.result(await s.video(prompt="[fail] a storm at sea"))
    assert "failed" in failed.content
    assert "Remix" in {b.get("label") for b in failed.buttons}

    form = await open_form(s, failed)
    blank = await (await s.discord.submit_modal(s.member, form, {"prompt": "   "})).wait_response()
    assert blank.ephemeral
    assert "The prompt is empty" in text(blank)

    stuck = await s.video(prompt="[stuck] fills the only slot")
    await s.discord.wait_for(lambda: len(s.creates()) == 2, message="the stuck task sent")
    form = await open_form(s, failed)
    full = await (
        await s.discord.submit_modal(s.member, form, {"prompt": "a calm sea"})
    ).wait_response()
    assert full.ephemeral
    assert "`/cancel`" in text(full)
    assert len(s.creates()) == 2

    await s.command("cancel", task=s.short_id(stuck))
    form = await open_form(s, failed)
    fixed = await (
        await s.discord.submit_modal(s.member, form, {"prompt": "a calm sea"})
    ).wait_response()
    assert not fixed.ephemeral, text(fixed)
    assert (await s.result(fixed)).attachments
    assert s.creates()[-1].json["prompt"] == "a calm sea"


async def test_remix_counts_against_the_servers_budget(make_scenario: MakeScenario) -> None:
    """With a daily budget of 2 credits and a pro video of 5 s costing 2, a Remix of it is
    refused before anything is sent, saying the cost, what is left and when it resets."""
    s = await make_scenario(TASK_COSTS="std:1,pro:2")
    await settings(s, manager(s), "limits", daily_server_credits=2.0)
    result = await s.result(await s.video(prompt="a glass city at noon", mode="pro"))
    form = await open_form(s, result)
    refused = await (
        await s.discord.submit_modal(s.member, form, {"prompt": "a glass city at night"})
    ).wait_response()
    assert refused.ephemeral
    assert "costs 2 credits" in text(refused) and "midnight UTC" in text(refused), text(refused)
    assert [r.json["prompt"] for r in s.creates()] == ["a glass city at noon"]
