"""Channels: text channels, DMs and threads, with their JSON shapes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..wire import JsonObject
from .guilds import SimGuild, SimUser
from .primitives import ChannelType, Perm, iso, opt_id


@dataclass(eq=False)
class SimChannel:
    id: int
    type: int
    name: str = ""
    guild: SimGuild | None = None
    parent_id: int | None = None
    position: int = 0
    topic: str | None = None
    allow_threads: bool = True
    allow_send: bool = True
    allow_attach: bool = True
    owner_id: int | None = None
    recipient: SimUser | None = None
    auto_archive_duration: int = 1440
    archived: bool = False
    locked: bool = False
    message_count: int = 0
    last_message_id: int | None = None
    created_at: float = field(default_factory=time.time)
    deleted: bool = False

    @property
    def is_thread(self) -> bool:
        return self.type in (ChannelType.PUBLIC_THREAD, ChannelType.PRIVATE_THREAD)

    @property
    def is_dm(self) -> bool:
        return self.type == ChannelType.DM

    @property
    def guild_id(self) -> int | None:
        return self.guild.id if self.guild is not None else None

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    def bot_denied(self) -> int:
        """Bits denied to the bot here by the channel's switches (a member overwrite)."""
        deny = 0
        if not self.allow_threads:
            deny |= Perm.CREATE_PUBLIC_THREADS | Perm.CREATE_PRIVATE_THREADS
        if not self.allow_send:
            deny |= Perm.SEND_MESSAGES | Perm.SEND_MESSAGES_IN_THREADS
        if not self.allow_attach:
            deny |= Perm.ATTACH_FILES
        return deny

    def payload(self) -> JsonObject:
        if self.is_dm:
            assert self.recipient is not None
            return {
                "id": str(self.id),
                "type": ChannelType.DM,
                "last_message_id": opt_id(self.last_message_id),
                "flags": 0,
                "recipients": [self.recipient.payload()],
            }
        assert self.guild is not None
        if self.is_thread:
            return {
                "id": str(self.id),
                "type": self.type,
                "guild_id": str(self.guild.id),
                "parent_id": str(self.parent_id),
                "owner_id": str(self.owner_id),
                "name": self.name,
                "last_message_id": opt_id(self.last_message_id),
                "rate_limit_per_user": 0,
                "message_count": self.message_count,
                "member_count": 1,
                "total_message_sent": self.message_count,
                "flags": 0,
                "applied_tags": [],
                "thread_metadata": {
                    "archived": self.archived,
                    "auto_archive_duration": self.auto_archive_duration,
                    "archive_timestamp": iso(self.created_at),
                    "locked": self.locked,
                    "create_timestamp": iso(self.created_at),
                    "invitable": True,
                },
            }
        overwrites = []
        deny = self.bot_denied()
        if deny:
            overwrites.append(
                {"id": str(self.guild.bot_user_id), "type": 1, "allow": "0", "deny": str(deny)}
            )
        return {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild.id),
            "name": self.name,
            "position": self.position,
            "parent_id": None,
            "topic": self.topic,
            "nsfw": False,
            "rate_limit_per_user": 0,
            "last_message_id": opt_id(self.last_message_id),
            "default_auto_archive_duration": 1440,
            "permission_overwrites": overwrites,
            "flags": 0,
        }

    def __repr__(self) -> str:
        kind = {0: "text", 1: "dm", 11: "thread", 12: "private-thread"}.get(self.type, self.type)
        return f"<SimChannel {self.id} {kind} {self.name!r}{' deleted' if self.deleted else ''}>"
