"""Frames kept in Discord (cogs/frames.py): after the first response the bot downloads the
attached image, fixes it to Kling's rules in its worker process, posts it in the task's thread,
and sends the gateway that copy's link; a Retry after the attachment's own link expired still
works from the kept copy."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable

import PIL.Image
import pytest

from media.images import ImageFixer

from .harness import Cogs, message_text

MakeCogs = Callable[..., Awaitable[Cogs]]


def image_bytes(kind: str = "PNG", size: tuple[int, int] = (640, 360)) -> bytes:
    out = io.BytesIO()
    PIL.Image.new("RGB", size, (200, 80, 40)).save(out, kind)
    return out.getvalue()


@pytest.fixture
async def cogs(make_cogs: MakeCogs, image_fixer: ImageFixer) -> Cogs:
    return await make_cogs(fixer=image_fixer)


async def test_the_frame_is_kept_in_the_thread_and_its_copy_goes_to_the_gateway(
    cogs: Cogs,
) -> None:
    frame = cogs.attachment(image_bytes(), "harbour.png")
    _, task = await cogs.video(prompt="boats rocking", image=frame)
    [kept] = [m for m in cogs.rest.in_channel(task.thread_id or 0) if m["attachments"]]
    assert message_text(kept).startswith(f"Frames for `{task.short_id}`: first frame")
    [copy] = kept["attachments"]
    assert copy["filename"] == f"image-{task.short_id}.png"
    [sent] = cogs.gateway.created
    assert sent.image == copy["url"]
    assert "harbour.png" not in (sent.image or "")


async def test_a_webp_frame_reaches_the_gateway_as_png(cogs: Cogs) -> None:
    frame = cogs.attachment(image_bytes("WEBP"), "sky.webp", "image/webp")
    _, task = await cogs.video(prompt="clouds", image=frame)
    [sent] = cogs.gateway.created
    assert sent.image is not None
    name = sent.image.split("?")[0].rsplit("/", 1)[1]
    assert name == f"image-{task.short_id}.png"
    data = cogs.rest.served(sent.image)
    assert data is not None
    with PIL.Image.open(io.BytesIO(data)) as png:
        assert png.format == "PNG" and png.size == (640, 360)


async def test_retry_after_the_attachment_expired_uses_the_kept_copy(cogs: Cogs) -> None:
    frame = cogs.attachment(image_bytes(), "statue.png")
    _, task = await cogs.video(prompt="the statue turns", image=frame)
    kept_link = cogs.gateway.created[0].image
    del cogs.rest.cdn[f"{frame.id}/statue.png"]  # Discord's link to the attachment expired
    cogs.fails(task)
    await cogs.run_until_idle()
    outcome = await cogs.click(cogs.result_message(task), f"vb:retry:{task.id}")
    assert outcome.type == 4 and not outcome.ephemeral
    await cogs.service.drain()
    assert len(cogs.gateway.created) == 2
    assert cogs.gateway.created[1].image == kept_link


async def test_a_frame_that_cannot_be_fetched_is_reported_and_nothing_is_sent(
    cogs: Cogs,
) -> None:
    frame = cogs.attachment(image_bytes(), "gone.png")
    del cogs.rest.cdn[f"{frame.id}/gone.png"]
    _, task = await cogs.video(prompt="never fetched", image=frame)
    await cogs.run_until_idle()
    assert cogs.gateway.created == []
    said = message_text(cogs.result_message(task))
    assert f"your video `{task.short_id}` failed" in said
    assert "The first frame (gone.png) is no longer available" in said


async def test_a_file_that_is_not_an_image_is_reported(cogs: Cogs) -> None:
    frame = cogs.attachment(image_bytes(), "fake.png")
    cogs.rest.cdn[f"{frame.id}/fake.png"] = b"this is not a picture at all" * 100
    _, task = await cogs.video(prompt="a fake png", image=frame)
    await cogs.run_until_idle()
    assert cogs.gateway.created == []
    said = message_text(cogs.result_message(task))
    assert "can't be read as an image" in said and "Nothing was sent" in said
