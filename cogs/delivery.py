"""DiscordNotifier: progress edits, the result (mp4 upload or link), failure messages, and the
persistent Retry, Remix and Details buttons on the result.

Everything here uses the bot's own token (channel messages by id), never an interaction token,
which dies after 15 minutes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import discord

from media.files import TooLarge, download, workspace
from media.video import VideoFitter
from videojobs.estimates import Estimates
from videojobs.models import TaskState, VideoTask
from videojobs.ports import Metrics
from videojobs.telemetry import NoMetrics

from . import render
from .errors import reply_error
from .front import TaskButton, front_of, launch, requester_of
from .remix import RemixButton

log = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=300, sock_connect=15, sock_read=60)
MAX_VIDEO_BYTES = 1 << 30  # a result larger than this is not downloaded: the link is sent
HISTORY_DEPTH = 50
MENTION_REQUESTER = discord.AllowedMentions(users=True, roles=False, everyone=False)
GONE = (discord.NotFound, discord.Forbidden)  # a deleted thread or one we may not post in


@dataclass(frozen=True, slots=True)
class Upload:
    """The mp4 to attach: the original, or a smaller copy (then the link goes with it)."""

    path: Path
    smaller_copy: bool = False


class DiscordNotifier:
    def __init__(
        self,
        client: discord.Client,
        session: aiohttp.ClientSession,
        metrics: Metrics | None = None,
        fitter: VideoFitter | None = None,
        estimates: Estimates | None = None,
    ) -> None:
        self.client = client
        self.session = session
        self.metrics: Metrics = metrics or NoMetrics()
        self.fitter = fitter or VideoFitter()
        self.estimates = estimates

    async def progress(self, task: VideoTask) -> None:
        await self._edit_status(task)

    async def find_delivery(self, task: VideoTask) -> int | None:
        """Look through the recent messages where the result would be for one of ours that
        carries this task's buttons."""
        marker = DetailsButton.custom_id_for(task.id)
        me = self.client.user
        for channel_id in dict.fromkeys((task.target_channel_id, task.channel_id)):
            channel = self.client.get_partial_messageable(channel_id)
            try:
                async for message in channel.history(limit=HISTORY_DEPTH):
                    if me is not None and message.author.id != me.id:
                        continue
                    if any(
                        marker == _custom_id(c)
                        for row in message.components
                        for c in _children(row)
                    ):
                        return message.id
            except GONE:
                continue
        return None

    async def deliver(self, task: VideoTask) -> int | None:
        await self._edit_status(task)
        if task.state is not TaskState.COMPLETED or not task.result_url:
            return (await self._send_result(task, None)).id
        async with workspace() as folder:  # removed with the video in it, whatever happens
            upload = await self._upload_for(task, task.result_url, folder)
            message = await self._send_result(task, upload)
        return message.id

    def upload_limit(self, task: VideoTask) -> int:
        return upload_limit(self.client, task)

    async def _upload_for(self, task: VideoTask, url: str, folder: Path) -> Upload | None:
        """Download the result; over the upload limit, re-encode it to fit. None: send the
        link alone."""
        original = folder / "original.mp4"
        try:
            size = await download(
                self.session,
                url,
                original,
                max_bytes=MAX_VIDEO_BYTES,
                client_timeout=DOWNLOAD_TIMEOUT,
                on_status=lambda status: self.metrics.gateway_request("download", status),
            )
        except TooLarge:
            log.info("task %s: video too large to download, sending the link", task.id)
            return None
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("task %s: download failed (%s), sending the link", task.id, exc)
            return None
        limit = self.upload_limit(task)
        if size <= limit:
            return Upload(original)
        log.info("task %s: video of %d bytes is over the upload limit of %d", task.id, size, limit)
        fitted = await self.fitter.fit(original, limit, folder)
        if fitted is None:
            log.info("task %s: no copy fits the upload limit, sending the link", task.id)
            return None
        return Upload(fitted.path, smaller_copy=True)

    async def _send_result(self, task: VideoTask, upload: Upload | None) -> discord.Message:
        """Post in the thread; a removed thread falls back to the channel, an upload over the
        limit (413) falls back to the link."""
        targets = list(dict.fromkeys((task.target_channel_id, task.channel_id)))
        for i, channel_id in enumerate(targets):
            channel = self.client.get_partial_messageable(channel_id)
            try:
                return await self._post(channel, task, upload)
            except GONE as exc:
                if i + 1 == len(targets):
                    raise
                log.info(
                    "task %s: can't post in %s (%s), using the channel", task.id, channel_id, exc
                )
        raise AssertionError("unreachable")

    async def _post(
        self, channel: discord.PartialMessageable, task: VideoTask, upload: Upload | None
    ) -> discord.Message:
        view = ResultView(task)
        nonce = task.id[:25]  # Discord drops a repeat of the same nonce for a few minutes
        limit = self.upload_limit(task)
        cannot_attach = False
        if upload is not None:
            text = render.result_text(task, smaller_copy=upload.smaller_copy, limit=limit)
            try:
                return await channel.send(
                    render.clip(text, 2000),
                    file=discord.File(upload.path, filename=f"video-{task.short_id}.mp4"),
                    view=view,
                    allowed_mentions=MENTION_REQUESTER,
                    nonce=nonce,
                )
            except discord.HTTPException as exc:
                if exc.status not in (403, 413):
                    raise
                # 403: no Attach Files here (if the bot may not post at all, the link fails
                # the same way and the next channel is tried)
                cannot_attach = exc.status == 403
                log.info("task %s: upload refused (%s), sending the link", task.id, exc.status)
        link_instead = task.state is TaskState.COMPLETED
        text = render.result_text(
            task, link_instead=link_instead, limit=limit, cannot_attach=cannot_attach
        )
        return await channel.send(
            render.clip(text, 2000), view=view, allowed_mentions=MENTION_REQUESTER, nonce=nonce
        )

    async def _edit_status(self, task: VideoTask) -> None:
        if task.status_message_id is None:
            return
        message = self.client.get_partial_messageable(task.channel_id).get_partial_message(
            task.status_message_id
        )
        estimate = None
        if self.estimates is not None and not task.state.is_terminal:
            try:
                estimate = await self.estimates.for_task(task)
            except Exception:
                log.warning("task %s: no estimate (store error)", task.id, exc_info=True)
        try:
            await message.edit(embed=render.status_embed(task, render.now_utc(), estimate))
        except GONE:
            log.info("task %s: status message is gone; not updating it", task.id)


def upload_limit(client: discord.Client, task: VideoTask) -> int:
    """The interaction's limit (stored with the task), or the server's own when that is lower
    now (a boost lost since; the interaction's token is gone by then)."""
    guild = client.get_guild(task.guild_id) if task.guild_id is not None else None
    if guild is None:
        return task.upload_limit
    return min(task.upload_limit, guild.filesize_limit)


def _children(row: Any) -> list[Any]:
    return list(getattr(row, "children", []))


def _custom_id(component: Any) -> str | None:
    return getattr(component, "custom_id", None)


# --- persistent buttons -------------------------------------------------------------------------


class ResultView(discord.ui.View):
    def __init__(self, task: VideoTask) -> None:
        super().__init__(timeout=None)
        self.add_item(RetryButton(task.id))
        self.add_item(RemixButton(task.id))
        self.add_item(DetailsButton(task.id))


class RetryButton(TaskButton, template=r"vb:retry:(?P<task_id>[0-9a-f]{32})"):
    """Same settings again, as a new task counted against the limits."""

    action, button_label, button_emoji = "retry", "Retry", "🔁"
    button_style = discord.ButtonStyle.primary

    async def callback(self, interaction: discord.Interaction) -> None:
        front = front_of(interaction.client)
        interaction.extras["task_id"] = self.task_id
        with front.inflight.track():
            try:
                task = await front.service.retry(self.task_id, requester_of(interaction))
                await launch(interaction, front, task)
            except Exception as exc:
                await reply_error(interaction, exc)


class DetailsButton(TaskButton, template=r"vb:details:(?P<task_id>[0-9a-f]{32})"):
    """Every setting and id, for whoever asks."""

    action, button_label, button_emoji = "details", "Details", "ℹ️"

    async def callback(self, interaction: discord.Interaction) -> None:
        interaction.extras["task_id"] = self.task_id
        try:
            task = await front_of(interaction.client).service.get(self.task_id)
            await interaction.response.send_message(
                embed=render.details_embed(task, render.now_utc()), ephemeral=True
            )
        except Exception as exc:
            await reply_error(interaction, exc)
