"""Users, roles, guilds and members, with their JSON shapes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..wire import JsonObject
from .primitives import DEFAULT_UPLOAD_LIMIT, Perm, iso

if TYPE_CHECKING:
    from .channels import SimChannel


@dataclass(eq=False)
class SimUser:
    id: int
    name: str
    bot: bool = False
    global_name: str | None = None

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def payload(self) -> JsonObject:
        data: JsonObject = {
            "id": str(self.id),
            "username": self.name,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "avatar_decoration_data": None,
            "banner": None,
            "accent_color": None,
            "public_flags": 0,
            "flags": 0,
        }
        if self.bot:
            data["bot"] = True
        return data

    def __repr__(self) -> str:
        return f"<SimUser {self.id} {self.name!r}{' bot' if self.bot else ''}>"


@dataclass(eq=False)
class SimRole:
    id: int
    guild_id: int
    name: str
    permissions: int = 0
    position: int = 1
    bot_id: int | None = None

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"

    def payload(self) -> JsonObject:
        data: JsonObject = {
            "id": str(self.id),
            "name": self.name,
            "description": None,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.bot_id is not None,
            "mentionable": False,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data

    def __repr__(self) -> str:
        return f"<SimRole {self.id} {self.name!r}>"


@dataclass(eq=False)
class SimGuild:
    id: int
    name: str
    owner_id: int
    upload_limit: int = DEFAULT_UPLOAD_LIMIT
    locale: str = "en-US"
    joined_at: float = field(default_factory=time.time)
    roles: dict[int, SimRole] = field(default_factory=dict)
    members: dict[int, SimMember] = field(default_factory=dict)
    channels: dict[int, SimChannel] = field(default_factory=dict)
    bot_user_id: int = 0
    deleted: bool = False

    @property
    def everyone(self) -> SimRole:
        return self.roles[self.id]

    @property
    def premium_tier(self) -> int:
        """The boost tier whose upload limit matches ``upload_limit`` (discord.py derives
        ``Guild.filesize_limit`` from it)."""
        if self.upload_limit >= 100 * 1024 * 1024:
            return 3
        if self.upload_limit >= 50 * 1024 * 1024:
            return 2
        return 0

    def text_channels(self) -> list[SimChannel]:
        return [c for c in self.channels.values() if not c.deleted and not c.is_thread]

    def threads(self) -> list[SimChannel]:
        return [c for c in self.channels.values() if not c.deleted and c.is_thread]

    def base_payload(self) -> JsonObject:
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "icon_hash": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [r.payload() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_members": 500000,
            "vanity_url_code": None,
            "premium_tier": self.premium_tier,
            "premium_subscription_count": 0,
            "preferred_locale": self.locale,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
        }

    def gateway_payload(self) -> JsonObject:
        """GUILD_CREATE: the guild with its channels, threads, members and roles."""
        data = self.base_payload()
        data.update(
            {
                "joined_at": iso(self.joined_at),
                "large": False,
                "unavailable": False,
                "lazy": True,
                "member_count": len(self.members),
                "voice_states": [],
                "presences": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
                "members": [m.payload() for m in self.members.values()],
                "channels": [c.payload() for c in self.text_channels()],
                "threads": [c.payload() for c in self.threads()],
            }
        )
        return data

    def __repr__(self) -> str:
        return f"<SimGuild {self.id} {self.name!r}>"


@dataclass(eq=False)
class SimMember:
    user: SimUser
    guild: SimGuild
    roles: list[SimRole] = field(default_factory=list)
    admin: bool = False
    nick: str | None = None
    joined_at: float = field(default_factory=time.time)

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def mention(self) -> str:
        return self.user.mention

    @property
    def permissions(self) -> int:
        """Guild-level permissions: @everyone, then the member's roles; administrators get all."""
        value = self.guild.everyone.permissions
        for role in self.roles:
            value |= role.permissions
        if self.admin or value & Perm.ADMINISTRATOR:
            return Perm.ALL
        return value

    def payload(self, *, with_user: bool = True, permissions: int | None = None) -> JsonObject:
        data: JsonObject = {
            "roles": [str(r.id) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": iso(self.joined_at),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.payload()
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data

    def __repr__(self) -> str:
        return f"<SimMember {self.id} {self.name!r} guild={self.guild.id}>"
