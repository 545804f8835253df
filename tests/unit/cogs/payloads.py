"""Interaction payloads shaped like the INTERACTION_CREATE events Discord sends (Discord's API
docs, "Interaction Object"; ../shared/discord-notes.md): who acts, where, and `data` for a slash
command (type 2), a component (type 3: button or select) and a modal submit (type 5).

Slash command data is built from the command definitions the bot synced (as the Discord client
does): an option the bot did not register, a value outside its choices or bounds, or a missing
required option is a mistake of the test, not something Discord would ever send.
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


@dataclass(frozen=True)
class Resolvable:
    """A channel or a role picked in an option (resolved in `data.resolved`)."""

    kind: str  # "channels" or "roles"
    id: int
    name: str
    channel_type: int = TEXT


def command_data(
    commands: list[dict[str, Any]],
    path: str,
    values: dict[str, Any],
    where: Place,
) -> dict[str, Any]:
    """The `data` of a CHAT_INPUT interaction for `/path` ("video", "settings limits")."""
    name, *subs = path.split()
    command = next((c for c in commands if c["name"] == name and c.get("type", 1) == 1), None)
    assert command is not None, f"/{name} is not synced; synced: {[c['name'] for c in commands]}"
    definitions: list[dict[str, Any]] = command.get("options") or []
    root: list[dict[str, Any]] = []
    options = root
    for sub in subs:
        found = next((o for o in definitions if o["name"] == sub and o["type"] in (1, 2)), None)
        assert found is not None, f"/{path}: no subcommand {sub!r}"
        entry: dict[str, Any] = {"name": sub, "type": found["type"], "options": []}
        options.append(entry)
        options = entry["options"]
        definitions = found.get("options") or []
    known = {o["name"]: o for o in definitions}
    assert set(values) <= set(known), f"/{path} has no option {set(values) - set(known)}"
    resolved: dict[str, dict[str, Any]] = {}
    for definition in definitions:
        value = values.get(definition["name"])
        if value is None:
            assert not definition.get("required"), f"/{path}: {definition['name']} is required"
            continue
        wire = _wire(definition, value, resolved, where)
        options.append({"name": definition["name"], "type": definition["type"], "value": wire})
    data: dict[str, Any] = {"id": command["id"], "name": name, "type": 1, "options": root}
    if resolved:
        data["resolved"] = resolved
    return data


def _wire(
    definition: dict[str, Any], value: Any, resolved: dict[str, dict[str, Any]], where: Place
) -> Any:
    """An option's value as the Discord client sends it, after the checks the client makes."""
    kind, name = definition["type"], definition["name"]
    if kind == 11:
        assert isinstance(value, Attachment), f"{name}: pass an Attachment"
        resolved.setdefault("attachments", {})[str(value.id)] = value.payload(where.channel_id)
        return str(value.id)
    if kind in (7, 8):
        assert isinstance(value, Resolvable), f"{name}: pass a Resolvable"
        entry: dict[str, Any] = {"id": str(value.id), "name": value.name}
        if kind == 7:
            entry.update(type=value.channel_type, permissions=str(MEMBER))
        else:
            entry.update(
                color=0, hoist=False, position=1, permissions="0", managed=False, mentionable=False
            )
        resolved.setdefault(value.kind, {})[str(value.id)] = entry
        return str(value.id)
    choices = definition.get("choices")
    if choices:
        assert value in [c["value"] for c in choices], f"{name}: {value!r} is not a choice"
    if kind == 3:
        assert isinstance(value, str)
        assert definition.get("min_length", 0) <= len(value) <= definition.get("max_length", 6000)
    if kind in (4, 10):
        assert isinstance(value, int | float) and not isinstance(value, bool)
        assert value >= definition.get("min_value", value), f"{name}: below min_value"
        assert value <= definition.get("max_value", value), f"{name}: above max_value"
    return value


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
