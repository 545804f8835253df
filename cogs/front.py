"""What the cogs share: the service, the settings they show, and turning an interaction into a
`Requester`. Also the one launch flow used by /video and the Retry button."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self, cast

import discord

from videojobs.errors import NotAllowed
from videojobs.estimates import Estimates
from videojobs.history import History
from videojobs.models import Requester, VideoTask
from videojobs.policy import BotDefaults, Policies
from videojobs.service import VideoJobsService

from . import render

log = logging.getLogger(__name__)


class Inflight:
    """Counts command handlers under way, so shutdown can let them finish."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        self.count += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.count -= 1
            if self.count == 0:
                self._idle.set()

    async def wait_idle(self, grace: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), grace)


class OpenForms:
    """The Remix forms this process opened (their custom ids), so that a form submitted after
    a restart, which discord.py no longer knows, is still handled (by the Remix cog)."""

    LIMIT = 10_000

    def __init__(self) -> None:
        self._ids: dict[str, None] = {}

    def add(self, custom_id: str) -> None:
        self._ids[custom_id] = None
        while len(self._ids) > self.LIMIT:
            del self._ids[next(iter(self._ids))]

    def discard(self, custom_id: str) -> None:
        self._ids.pop(custom_id, None)

    def __contains__(self, custom_id: object) -> bool:
        return custom_id in self._ids


@dataclass(frozen=True, slots=True)
class Front:
    """Everything the Discord side needs, built once in bot.py."""

    service: VideoJobsService
    estimates: Estimates
    history: History
    inflight: Inflight = field(default_factory=Inflight)
    remix_forms: OpenForms = field(default_factory=OpenForms)

    @property
    def policies(self) -> Policies:
        """Which rules apply in a guild (the environment merged with /settings)."""
        return self.service.policies

    @property
    def defaults(self) -> BotDefaults:
        """The environment's rules (for what is fixed at registration: option descriptions)."""
        return self.service.policies.defaults

    @property
    def models(self) -> tuple[str, ...]:
        return self.defaults.models


def front_of(client: discord.Client) -> Front:
    return cast(Front, client.front)  # type: ignore[attr-defined]


def requester_of(interaction: discord.Interaction) -> Requester:
    channel = interaction.channel
    parent_id = channel.parent_id if isinstance(channel, discord.Thread) else None
    user = interaction.user
    # the role ids of the interaction's own member payload: `Member.roles` keeps only the roles
    # in the guild cache, empty while the guild is unavailable
    roles = frozenset(user._roles) if isinstance(user, discord.Member) else frozenset()
    perms = interaction.permissions
    return Requester(
        user_id=user.id,
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id or user.id,
        parent_channel_id=parent_id,
        role_ids=roles,
        is_admin=interaction.guild_id is not None and (perms.administrator or perms.manage_guild),
        upload_limit=interaction.filesize_limit,
    )


def require_manager(interaction: discord.Interaction, command: str) -> Requester:
    """The bot's own check behind `default_member_permissions`: Manage Server, in a server."""
    requester = requester_of(interaction)
    if interaction.guild_id is None:
        raise NotAllowed(f"`{command}` works in a server only.")
    if not requester.is_admin:
        raise NotAllowed(
            f"`{command}` is for server admins: it needs the Manage Server permission."
        )
    return requester


def can_open_thread(interaction: discord.Interaction) -> bool:
    """A thread on the status message needs a server text channel (not a thread, not a DM)
    and the permission to create public threads there (Administrator grants every one)."""
    channel = interaction.channel
    perms = interaction.app_permissions
    return (
        interaction.guild_id is not None
        and isinstance(channel, discord.TextChannel | discord.PartialMessageable)
        and getattr(channel, "type", None) in (discord.ChannelType.text, discord.ChannelType.news)
        and (perms.administrator or perms.create_public_threads)
    )


async def launch(interaction: discord.Interaction, front: Front, task: VideoTask) -> None:
    """Answer publicly with the status embed (the first response: no network call before it),
    open a thread on it where possible, remember both, then send the task to the gateway."""
    try:
        embed = render.status_embed(task, render.now_utc(), await front.estimates.for_task(task))
        callback = await interaction.response.send_message(embed=embed)
        message = callback.resource
        if not isinstance(message, discord.Message):
            message = await interaction.original_response()
        threaded = can_open_thread(interaction)
        # A thread opened on a message has the message's id: stored before it is opened, so a
        # process that dies right after opening it still leaves the task pointing at it (a
        # thread that never came is found missing at delivery, which then uses the channel).
        await front.service.set_location(
            task.id, thread_id=message.id if threaded else None, status_message_id=message.id
        )
        if threaded:
            try:
                thread = await message.create_thread(
                    name=thread_name(task), auto_archive_duration=1440
                )
            except Exception as exc:  # refused, or the request failed: the channel will do
                log.info("task %s: no thread (%s); using the channel", task.id, exc)
                thread = None
            thread_id = None if thread is None else thread.id
            if thread_id != message.id:
                await front.service.set_location(
                    task.id, thread_id=thread_id, status_message_id=message.id
                )
    finally:
        # stored already: it runs and is reported in the channel even if Discord failed us here
        front.service.send_in_background(task.id)


def thread_name(task: VideoTask) -> str:
    """The task's prompt on one line (a Remix form's may have several), within Discord's 100
    characters."""
    return render.clip(f"🎬 {' '.join(task.request.prompt.split())}", 100)


class TaskButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"vb:[a-z]+:(?P<task_id>[0-9a-f]{32})"
):
    """A button about one task that keeps working after a restart: its custom id is
    `vb:<action>:<task id>`. Each kind names its action, look and template (its own
    `template=`, registered in bot.py) and handles `callback`."""

    action: ClassVar[str]
    button_label: ClassVar[str]
    button_emoji: ClassVar[str]
    button_style: ClassVar[discord.ButtonStyle] = discord.ButtonStyle.secondary

    def __init__(self, task_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label=self.button_label,
                emoji=self.button_emoji,
                style=self.button_style,
                custom_id=self.custom_id_for(task_id),
            )
        )
        self.task_id = task_id

    @classmethod
    def custom_id_for(cls, task_id: str) -> str:
        return f"vb:{cls.action}:{task_id}"

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: Any, /
    ) -> Self:
        return cls(match["task_id"])
