"""DiscordFrameKeeper: a task's frames fetched, fixed to Kling's rules and kept in Discord.

After the first response the bot downloads each frame (streamed to a temporary folder), fixes it
in a worker process (WebP to PNG, over 10 MB scaled down), and posts the result in the task's
thread (or channel): the frames are shown with the task, and that message is where later
links come from. The gateway gets the posted files' links. Discord's attachment links expire
after about a day, so a Retry or Remix days later asks Discord for the message again, which
answers with fresh links. Where no message can be posted, the gateway gets the bytes (base64).
"""

from __future__ import annotations

import asyncio
import base64
import logging
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import discord

from media.files import TooLarge, download, workspace
from media.images import FixedImage, ImageFixer, ImageProblem
from videojobs.errors import FrameUnavailable
from videojobs.models import (
    KLING_IMAGE_MAX_BYTES,
    MAX_IMAGE_BYTES,
    ImageRef,
    KeptFrames,
    VideoTask,
)
from videojobs.ports import PreparedFrames

from .delivery import upload_limit

log = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=120, sock_connect=15, sock_read=30)
# base64 grows 4/3: bytes sent inline stay under Kling's limit even if it counts the text
BASE64_MAX_BYTES = KLING_IMAGE_MAX_BYTES * 3 // 4
UPLOAD_RESERVE = 64 * 1024  # the message's text and multipart headers
MIN_FRAME_BUDGET = 1024 * 1024  # a tiny upload limit: keeping fails, the frames go inline
SLOTS = (("image", "first frame"), ("end_image", "last frame"))
GONE = (discord.NotFound, discord.Forbidden)


@dataclass(frozen=True, slots=True)
class _Frame:
    slot: str  # "image" or "end_image"
    words: str  # "first frame"
    ref: ImageRef


class DiscordFrameKeeper:
    """Implements `videojobs.ports.FrameKeeper` with the bot's token, aiohttp and Pillow."""

    def __init__(
        self, client: discord.Client, session: aiohttp.ClientSession, fixer: ImageFixer
    ) -> None:
        self.client = client
        self.session = session
        self.fixer = fixer

    async def prepare(self, task: VideoTask, kept: KeptFrames | None) -> PreparedFrames:
        frames = [
            _Frame(slot, words, ref)
            for slot, words in SLOTS
            if (ref := getattr(task.request, slot)) is not None
        ]
        kept_message = await self._kept_message(kept)
        if (
            kept is not None
            and kept_message is not None
            and kept.channel_id == task.target_channel_id
        ):
            links = _links(kept_message, kept)  # kept for this very task: not posted again
            if all(links.get(f.slot) for f in frames):
                return PreparedFrames(links.get("image"), links.get("end_image"), kept)
        # each frame within Kling's limit, and all of them within one upload to keep them
        budget = min(KLING_IMAGE_MAX_BYTES, (upload_limit(self.client, task) - UPLOAD_RESERVE))
        budget = max(MIN_FRAME_BUDGET, budget // len(frames))
        async with workspace() as folder:
            fixed = {}
            for frame in frames:
                source = _links(kept_message, kept).get(frame.slot) if kept_message else None
                fixed[frame.slot] = await self._fetch_and_fix(task, frame, source, folder, budget)
            posted = await self._post(task, frames, fixed)
            if posted is not None:
                message, new_kept = posted
                links = _links(message, new_kept)
                return PreparedFrames(links.get("image"), links.get("end_image"), new_kept)
            inline = {
                slot: await self._inline(task, image, folder) for slot, image in fixed.items()
            }
            return PreparedFrames(inline.get("image"), inline.get("end_image"), kept)

    async def _kept_message(self, kept: KeptFrames | None) -> discord.Message | None:
        """The message holding the kept copies, fetched now (so its links are fresh)."""
        if kept is None:
            return None
        channel = self.client.get_partial_messageable(kept.channel_id)
        try:
            return await channel.fetch_message(kept.message_id)
        except GONE:
            log.info("kept frames message %s is gone", kept.message_id)
            return None
        except discord.HTTPException as exc:
            log.warning("could not fetch the kept frames message %s: %s", kept.message_id, exc)
            return None

    async def _fetch_and_fix(
        self, task: VideoTask, frame: _Frame, source: str | None, folder: Path, budget: int
    ) -> FixedImage:
        """Download the frame (the kept copy's fresh link, else the attachment's own) and fix
        it. Raises FrameUnavailable."""
        original = folder / f"{frame.slot}.source"
        for url in dict.fromkeys(u for u in (source, frame.ref.url) if u):
            try:
                await download(
                    self.session,
                    url,
                    original,
                    max_bytes=MAX_IMAGE_BYTES,
                    client_timeout=DOWNLOAD_TIMEOUT,
                )
                break
            except TooLarge:
                raise FrameUnavailable(
                    f"The {frame.words} ({frame.ref.filename}) is larger than "
                    f"{MAX_IMAGE_BYTES // 1024 // 1024} MB. Attach a smaller image."
                ) from None
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.info(
                    "task %s: %s not available at %s (%s)", task.id, frame.slot, _host(url), exc
                )
        else:
            raise FrameUnavailable(
                f"The {frame.words} ({frame.ref.filename}) is no longer available: Discord's "
                "link to it expired and the bot's copy is gone. Nothing was sent to the video "
                "service; start a new `/video` with the image attached."
            )
        try:
            return await self.fixer.fix(original, folder / frame.slot, budget)
        except ImageProblem as exc:
            raise FrameUnavailable(
                f"The {frame.words} ({frame.ref.filename}) {exc}. Nothing was sent to the video "
                "service; attach a PNG, JPEG or WebP image that meets the rules (see `/help`)."
            ) from None

    async def _post(
        self, task: VideoTask, frames: list[_Frame], fixed: dict[str, FixedImage]
    ) -> tuple[discord.Message, KeptFrames] | None:
        """Post the fixed frames where the task is discussed; None if the bot can't."""
        names = {
            f.slot: f"{f.slot.replace('_', '-')}-{task.short_id}{_suffix(fixed[f.slot])}"
            for f in frames
        }
        files = [discord.File(fixed[f.slot].path, filename=names[f.slot]) for f in frames]
        words = " and ".join(f"{f.words} ({f.ref.filename})" for f in frames)
        channel = self.client.get_partial_messageable(task.target_channel_id)
        try:
            message = await channel.send(
                f"Frames for `{task.short_id}`: {words}. Retry and Remix use these.",
                files=files,
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.HTTPException as exc:
            log.info(
                "task %s: can't keep the frames in Discord (%s); sending them inline", task.id, exc
            )
            return None
        kept = KeptFrames(
            channel_id=task.target_channel_id,
            message_id=message.id,
            image=names.get("image"),
            end_image=names.get("end_image"),
        )
        return message, kept

    async def _inline(self, task: VideoTask, image: FixedImage, folder: Path) -> str:
        """Raw base64 (no data: prefix), small enough however Kling counts."""
        if image.size > BASE64_MAX_BYTES:
            stem = folder / f"inline-{image.path.stem}"
            try:
                image = await self.fixer.fix(image.path, stem, BASE64_MAX_BYTES)
            except ImageProblem as exc:
                raise FrameUnavailable(f"A frame {exc}; attach a smaller image.") from None
        data = await asyncio.to_thread(image.path.read_bytes)
        log.info("task %s: frame sent inline (%d bytes)", task.id, image.size)
        return base64.b64encode(data).decode("ascii")


def _links(message: discord.Message, kept: KeptFrames | None) -> dict[str, str]:
    """The kept frames' current links, by slot."""
    if kept is None:
        return {}
    by_name = {a.filename: a.url for a in message.attachments}
    links = {}
    for slot in ("image", "end_image"):
        name = getattr(kept, slot)
        if name and name in by_name:
            links[slot] = by_name[name]
    return links


def _suffix(image: FixedImage) -> str:
    return ".png" if image.content_type == "image/png" else ".jpg"


def _host(url: str) -> str:
    """For logs: where, without the signed query."""
    return url.split("?", 1)[0]
