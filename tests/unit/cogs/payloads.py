"""Interaction payloads shaped like the INTERACTION_CREATE events Discord sends (Discord's API
docs, "Interaction Object"; ../shared/discord-notes.md): who acts, where, and `data` for a slash
command (type 2), a component (type 3: button or select) and a modal submit (type 5).

Slash command data is built from the command definitions the bot synced, by the Discord
simulator's own builder (tests/support/discord_sim/commands.py), as the Discord client does: an
option the bot did not register, a value outside its choices or bounds, or a missing required
option is a mistake of the test, not something Discord would ever send.
"""

from __future__ import annotations

import base64
import itertools
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from discord.utils import time_snowflake

from tests.support.discord_sim.commands import build_command_data, find_command
from tests.support.discord_sim.models import SimAttachment, SimChannel

# permission bits (Discord's API docs, "Permissions")
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_APPLICATION_COMMANDS = 1 << 31
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38
MEMBER = VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY | USE_APPLICATION_COMMANDS
BOT = MEMBER | EMBED_LINKS | ATTACH_FILES | CREATE_PUBLIC_THREADS | SEND_MESSAGES_IN_THREADS

TEXT, PUBLIC_THREAD, CATEGORY, VOICE = 0, 11, 4, 2
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024  # a server without boosts

_ids = itertools.count(1)


def snowflake() -> int:
    """A new id, shaped like Discord's (time in the high bits)."""
    return time_snowflake(datetime.now(UTC)) + next(_ids)


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


@dataclass(frozen=True)
class Person:
    """A server member (or, with `guild_id` None on the place, a user in a DM)."""

    id: int
    name: str
    roles: tuple[int, ...] = ()
    permissions: int = MEMBER  # computed in the channel, as Discord sends them

    def user(self, *, bot: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.name,
            "discriminator": "0",
            "global_name": self.name.title(),
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
        }
        if bot:
            data["bot"] = True
        return data

    def member(self) -> dict[str, Any]:
        return {
            "user": self.user(),
            "roles": [str(r) for r in self.roles],
            "nick": None,
            "avatar": None,
            "joined_at": iso(time.time() - 86_400),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
            "permissions": str(self.permissions),
        }


@dataclass(frozen=True)
class Place:
    """Where the interaction happens: a server text channel, a thread in one, or a DM."""

    guild_id: int | None
    channel_id: int
    channel_type: int = TEXT
    parent_id: int | None = None
    name: str = "general"
    app_permissions: int = BOT  # the bot's permissions in the channel
    upload_limit: int = DEFAULT_UPLOAD_LIMIT

    def thread(self, thread_id: int, name: str = "a thread") -> Place:
        return Place(
            self.guild_id,
            thread_id,
            PUBLIC_THREAD,
            parent_id=self.channel_id,
            name=name,
            app_permissions=self.app_permissions,
            upload_limit=self.upload_limit,
        )

    def channel(self, permissions: int) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.channel_id),
            "type": self.channel_type,
            "name": self.name,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
            "permissions": str(permissions),
        }
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        if self.channel_type == PUBLIC_THREAD:
            data.update(
                parent_id=str(self.parent_id),
                owner_id=str(self.channel_id),
                message_count=1,
                member_count=1,
                thread_metadata={
                    "archived": False,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": iso(time.time()),
                    "locked": False,
                },
            )
        else:
            data.update(
                position=0,
                parent_id=None,
                topic=None,
                nsfw=False,
                permission_overwrites=[],
                default_auto_archive_duration=1440,
            )
        return data


def interaction(
    kind: int,
    data: dict[str, Any],
    who: Person,
    where: Place,
    *,
    application_id: int,
    message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An INTERACTION_CREATE payload of type `kind` (2 command, 3 component, 5 modal submit)."""
    inter_id = snowflake()
    raw = f"interaction:{inter_id}:{secrets.token_urlsafe(32)}"
    payload: dict[str, Any] = {
        "id": str(inter_id),
        "application_id": str(application_id),
        "type": kind,
        "data": data,
        "token": base64.urlsafe_b64encode(raw.encode()).decode().rstrip("="),
        "version": 1,
        "locale": "en-US",
        "channel_id": str(where.channel_id),
        "entitlements": [],
        "attachment_size_limit": where.upload_limit,
        "app_permissions": str(where.app_permissions),
    }
    if where.guild_id is not None:
        payload.update(
            guild_id=str(where.guild_id),
            guild={"id": str(where.guild_id), "locale": "en-US", "features": []},
            guild_locale="en-US",
            channel=where.channel(who.permissions),
            member=who.member(),
            authorizing_integration_owners={"0": str(where.guild_id)},
            context=0,
        )
    else:
        payload.update(
            channel={
                "id": str(where.channel_id),
                "type": 1,
                "last_message_id": None,
                "flags": 0,
                "recipients": [who.user()],
            },
            user=who.user(),
            authorizing_integration_owners={"1": str(who.id)},
            context=1,
        )
    if message is not None:
        payload["message"] = message
    return payload


@dataclass
class Attachment:
    """An uploaded file as a slash command's attachment option resolves it."""

    filename: str = "frame.png"
    content_type: str | None = "image/png"
    size: int = 200_000
    width: int | None = 1280
    height: int | None = 720
    id: int = field(default_factory=snowflake)
    cdn: str = "https://cdn.discordapp.com"  # a test that downloads it serves it on 127.0.0.1

    def payload(self, channel_id: int) -> dict[str, Any]:
        now = int(time.time())
        sig = f"?ex={now + 86_400:x}&is={now:x}&hm={secrets.token_hex(32)}&"
        url = f"{self.cdn}/attachments/{channel_id}/{self.id}/{self.filename}{sig}"
        data: dict[str, Any] = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": url,
            "proxy_url": url.replace("cdn.discordapp.com", "media.discordapp.net"),
            "ephemeral": True,
        }
        if self.content_type is not None:
            data["content_type"] = self.content_type
        if self.width is not None and self.height is not None:
            data.update(width=self.width, height=self.height)
        return data

    def sim(self, where: Place) -> SimAttachment:
        """The same attachment for the simulator's command-data builder."""
        data = self.payload(where.channel_id)
        return SimAttachment(
            id=self.id,
            filename=self.filename,
            data=b"",
            content_type=self.content_type,
            size=self.size,
            width=self.width,
            height=self.height,
            url=data["url"],
            proxy_url=data["proxy_url"],
            ephemeral=True,
        )


def command_data(
    commands: list[dict[str, Any]],
    path: str,
    values: dict[str, Any],
    where: Place,
) -> dict[str, Any]:
    """The `data` of a CHAT_INPUT interaction for `/path` ("video", "settings limits"), built
    by the Discord simulator's builder (the client's checks: known options, required ones,
    lengths, bounds, choices, channel types). Values: scalars, an `Attachment`, or the
    simulator's `SimChannel` / `SimRole` for a channel or role option."""
    name, *subs = path.split()
    command = find_command(commands, name)
    assert command is not None, f"/{name} is not synced; synced: {[c['name'] for c in commands]}"
    channel = SimChannel(where.channel_id, where.channel_type, where.name)
    given = {k: v.sim(where) if isinstance(v, Attachment) else v for k, v in values.items()}
    return build_command_data(
        command, subs, given, guild=None, channel=channel, channel_permissions=MEMBER
    )


def button_data(custom_id: str) -> dict[str, Any]:
    return {"custom_id": custom_id, "component_type": 2}


def select_data(custom_id: str, values: list[str]) -> dict[str, Any]:
    return {"custom_id": custom_id, "component_type": 3, "values": values}


def modal_data(custom_id: str, fields: dict[str, str]) -> dict[str, Any]:
    """A MODAL_SUBMIT's data: each text input in its action row, as the client sends them."""
    rows = [
        {
            "type": 1,
            "id": i * 2 + 1,
            "components": [{"type": 4, "id": i * 2 + 2, "custom_id": k, "value": v}],
        }
        for i, (k, v) in enumerate(fields.items())
    ]
    return {"custom_id": custom_id, "components": rows}


def guild_create(
    guild_id: int, bot: Person, channels: list[Place], roles: dict[int, str]
) -> dict[str, Any]:
    """The GUILD_CREATE a bot with the guilds intent receives for a server: its roles (the
    @everyone role has the server's id) and channels, and the bot's own member."""
    everyone = {guild_id: "@everyone", **roles}
    return {
        "id": str(guild_id),
        "name": "Test server",
        "icon": None,
        "owner_id": str(snowflake()),
        "unavailable": False,
        "member_count": 3,
        "large": False,
        "features": [],
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "joined_at": iso(time.time() - 86_400),
        "roles": [
            {
                "id": str(rid),
                "name": name,
                "color": 0,
                "hoist": False,
                "position": 0 if rid == guild_id else 1,
                "permissions": str(MEMBER),
                "managed": False,
                "mentionable": False,
                "flags": 0,
            }
            for rid, name in everyone.items()
        ],
        "channels": [
            {k: v for k, v in place.channel(MEMBER).items() if k != "permissions"}
            for place in channels
        ],
        "threads": [],
        "members": [{**bot.member(), "user": bot.user(bot=True)}],
        "emojis": [],
        "stickers": [],
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
    }
