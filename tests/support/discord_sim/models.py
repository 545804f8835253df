"""The simulator's state model and its JSON shapes (as Discord sends them, ids as strings)."""

from __future__ import annotations

import datetime as dt
import mimetypes
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .interactions import SimInteraction

DISCORD_EPOCH_MS = 1_420_070_400_000
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024


class Perm:
    """Permission bits (https://discord.com/developers/docs/topics/permissions)."""

    CREATE_INSTANT_INVITE = 1 << 0
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CONNECT = 1 << 20
    SPEAK = 1 << 21
    CHANGE_NICKNAME = 1 << 26
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    SEND_MESSAGES_IN_THREADS = 1 << 38

    ALL = (1 << 51) - 1
    DEFAULT_EVERYONE = (
        CREATE_INSTANT_INVITE
        | ADD_REACTIONS
        | VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | USE_EXTERNAL_EMOJIS
        | CONNECT
        | SPEAK
        | CHANGE_NICKNAME
        | USE_APPLICATION_COMMANDS
        | CREATE_PUBLIC_THREADS
        | CREATE_PRIVATE_THREADS
        | SEND_MESSAGES_IN_THREADS
    )


class ChannelType:
    TEXT = 0
    DM = 1
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12


class MessageFlag:
    CROSSPOSTED = 1 << 0
    SUPPRESS_EMBEDS = 1 << 2
    HAS_THREAD = 1 << 5
    EPHEMERAL = 1 << 6
    LOADING = 1 << 7
    SUPPRESS_NOTIFICATIONS = 1 << 12
    IS_COMPONENTS_V2 = 1 << 15


class SnowflakeFactory:
    """Real-looking, strictly increasing snowflakes (timestamp in the top bits)."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        stamp = int(time.time() * 1000) - DISCORD_EPOCH_MS
        candidate = (stamp << 22) | (1 << 17)
        if candidate <= self._last:
            candidate = self._last + 1
        self._last = candidate
        return candidate


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat()


@dataclass(eq=False)
class SimUser:
    id: int
    name: str
    bot: bool = False
    global_name: str | None = None

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
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

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
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

    def base_payload(self) -> dict[str, Any]:
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

    def gateway_payload(self) -> dict[str, Any]:
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

    def payload(self, *, with_user: bool = True, permissions: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
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

    def payload(self) -> dict[str, Any]:
        if self.is_dm:
            assert self.recipient is not None
            return {
                "id": str(self.id),
                "type": ChannelType.DM,
                "last_message_id": _opt_id(self.last_message_id),
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
                "last_message_id": _opt_id(self.last_message_id),
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
            "last_message_id": _opt_id(self.last_message_id),
            "default_auto_archive_duration": 1440,
            "permission_overwrites": overwrites,
            "flags": 0,
        }

    def __repr__(self) -> str:
        kind = {0: "text", 1: "dm", 11: "thread", 12: "private-thread"}.get(self.type, self.type)
        return f"<SimChannel {self.id} {kind} {self.name!r}{' deleted' if self.deleted else ''}>"


@dataclass(eq=False)
class SimAttachment:
    """A file: one a test hands to a slash command, or one the bot uploaded.

    ``size``, ``content_type``, ``width`` and ``height`` are the *declared* metadata (what the
    interaction payload says); ``data`` is what the CDN serves.
    """

    id: int
    filename: str
    data: bytes
    content_type: str | None = None
    size: int = 0
    width: int | None = None
    height: int | None = None
    description: str | None = None
    url: str = ""
    proxy_url: str = ""
    ephemeral: bool = False
    url_expired: bool = False  # the CDN answers 404 (signed link expired)

    @staticmethod
    def guess_type(filename: str) -> str | None:
        return mimetypes.guess_type(filename)[0]

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.proxy_url,
        }
        if self.content_type is not None:
            data["content_type"] = self.content_type
        if self.width is not None and self.height is not None:
            data["width"] = self.width
            data["height"] = self.height
        if self.description is not None:
            data["description"] = self.description
        if self.ephemeral:
            data["ephemeral"] = True
        return data

    def __repr__(self) -> str:
        return f"<SimAttachment {self.id} {self.filename!r} {self.size} bytes {self.content_type}>"


@dataclass
class MessageEdit:
    at: float
    payload: dict[str, Any]
    via: str


@dataclass(eq=False)
class SimMessage:
    id: int
    channel: SimChannel
    author: SimUser
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[SimAttachment] = field(default_factory=list)
    flags: int = 0
    type: int = 0
    mentions: list[SimUser] = field(default_factory=list)
    mention_roles: list[int] = field(default_factory=list)
    mention_everyone: bool = False
    message_reference: dict[str, Any] | None = None
    interaction: SimInteraction | None = None
    webhook_id: int | None = None
    created_at: float = field(default_factory=time.time)
    created_monotonic: float = field(default_factory=time.monotonic)
    edited_at: float | None = None
    edits: list[MessageEdit] = field(default_factory=list)
    deleted: bool = False
    via: str = "channel"
    thread: SimChannel | None = None  # the thread opened on this message, if any

    # -- conveniences for assertions -------------------------------------------------------
    @property
    def channel_id(self) -> int:
        return self.channel.id

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & MessageFlag.EPHEMERAL)

    @property
    def loading(self) -> bool:
        return bool(self.flags & MessageFlag.LOADING)

    @property
    def embed(self) -> dict[str, Any] | None:
        return self.embeds[0] if self.embeds else None

    def iter_components(self) -> list[dict[str, Any]]:
        """Every component, depth first (rows, their children, containers...)."""
        found: list[dict[str, Any]] = []

        def walk(items: list[dict[str, Any]]) -> None:
            for item in items:
                found.append(item)
                walk(item.get("components", []))
                if isinstance(item.get("component"), dict):
                    walk([item["component"]])
                if isinstance(item.get("accessory"), dict):
                    walk([item["accessory"]])

        walk(self.components)
        return found

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [c for c in self.iter_components() if c.get("type") == 2]

    @property
    def custom_ids(self) -> list[str]:
        return [c["custom_id"] for c in self.iter_components() if "custom_id" in c]

    def find_component(self, custom_id: str) -> dict[str, Any] | None:
        return next((c for c in self.iter_components() if c.get("custom_id") == custom_id), None)

    @property
    def text(self) -> str:
        """Content plus every embed text field, for loose ``in`` assertions."""
        parts = [self.content]
        for embed in self.embeds:
            parts += [embed.get("title", ""), embed.get("description", "")]
            parts += [
                embed.get("author", {}).get("name", ""),
                embed.get("footer", {}).get("text", ""),
            ]
            for f in embed.get("fields", []):
                parts += [f.get("name", ""), f.get("value", "")]
        return "\n".join(p for p in parts if p)

    # -- wire shape ----------------------------------------------------------------------------
    def payload(self) -> dict[str, Any]:
        guild = self.channel.guild
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "channel_id": str(self.channel.id),
            "author": self.author.payload(),
            "content": self.content,
            "timestamp": iso(self.created_at),
            "edited_timestamp": iso(self.edited_at),
            "tts": False,
            "mention_everyone": self.mention_everyone,
            "mentions": [u.payload() for u in self.mentions],
            "mention_roles": [str(r) for r in self.mention_roles],
            "attachments": [a.payload() for a in self.attachments],
            "embeds": self.embeds,
            "components": self.components,
            "pinned": False,
            "flags": self.flags,
        }
        if guild is not None:
            data["guild_id"] = str(guild.id)
            member = guild.members.get(self.author.id)
            if member is not None and not self.webhook_id:
                data["member"] = member.payload(with_user=False)
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
            data["application_id"] = str(self.webhook_id)
        if self.message_reference is not None:
            data["message_reference"] = self.message_reference
        if self.interaction is not None:
            data["interaction_metadata"] = self.interaction.metadata_payload()
            data["interaction"] = self.interaction.legacy_message_payload()
        if self.thread is not None and not self.thread.deleted:
            data["thread"] = self.thread.payload()
        return data

    def __repr__(self) -> str:
        text = self.text.replace("\n", " | ")
        if len(text) > 60:
            text = text[:57] + "..."
        extra = " ephemeral" if self.ephemeral else ""
        extra += " deleted" if self.deleted else ""
        files = f" files={[a.filename for a in self.attachments]}" if self.attachments else ""
        return f"<SimMessage {self.id} in {self.channel.id}{extra} {text!r}{files}>"


def _opt_id(value: int | None) -> str | None:
    return str(value) if value is not None else None
