"""Interactions a test starts (slash commands, clicks, modal submits) and what became of them."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import SimulatorUsageError
from .models import (
    ChannelType,
    SimAttachment,
    SimChannel,
    SimGuild,
    SimMember,
    SimMessage,
    SimRole,
    SimUser,
)

if TYPE_CHECKING:
    from .simulator.queries import SimQueries

RESPONSE_TYPE_NAMES = {
    1: "PONG",
    4: "CHANNEL_MESSAGE_WITH_SOURCE",
    5: "DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE",
    6: "DEFERRED_UPDATE_MESSAGE",
    7: "UPDATE_MESSAGE",
    8: "APPLICATION_COMMAND_AUTOCOMPLETE_RESULT",
    9: "MODAL",
}


@dataclass
class RejectedResponse:
    at: float
    status: int
    code: int
    response_type: int | None


@dataclass(eq=False)
class SimInteraction:
    """One interaction and the bot's handling of it.

    ``messages`` holds every message produced through its token (the original response and
    followups, ephemeral ones included), oldest first.
    """

    sim: SimQueries
    id: int
    token: str
    type: int
    user: SimUser
    member: SimMember | None
    channel: SimChannel
    data: dict[str, Any]
    command_name: str | None = None
    source_message: SimMessage | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    attachment_size_limit: int = 0
    created_at: float = field(default_factory=time.monotonic)
    deadline: float = 0.0
    token_expires_at: float = 0.0
    dispatched_at: float | None = None

    response_type: int | None = None
    response_data: dict[str, Any] | None = None
    responded_at: float | None = None
    late: bool = False
    rejected: list[RejectedResponse] = field(default_factory=list)
    messages: list[SimMessage] = field(default_factory=list)
    original: SimMessage | None = None
    modal: dict[str, Any] | None = None
    _settled: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def guild(self) -> SimGuild | None:
        return self.channel.guild

    @property
    def acknowledged(self) -> bool:
        return self.response_type is not None

    @property
    def response_latency(self) -> float | None:
        """Seconds from the user's action to the accepted first response."""
        return None if self.responded_at is None else self.responded_at - self.created_at

    @property
    def response_type_name(self) -> str | None:
        return None if self.response_type is None else RESPONSE_TYPE_NAMES.get(self.response_type)

    @property
    def ephemeral(self) -> bool | None:
        """Whether the visible response is ephemeral (None before a response or for a modal)."""
        if self.response_type in (4, 5):
            return bool((self.response_data or {}).get("flags", 0) & 64)
        if self.response_type in (6, 7) and self.source_message is not None:
            return self.source_message.ephemeral
        return None

    @property
    def timed_out(self) -> bool:
        """Discord gave up on it: no accepted response within the deadline."""
        return self.response_type is None and time.monotonic() > self.deadline

    @property
    def followups(self) -> list[SimMessage]:
        return [m for m in self.messages if m is not self.original]

    @property
    def token_expired(self) -> bool:
        return time.monotonic() >= self.token_expires_at

    async def wait_response(self, timeout: float = 5.0) -> SimInteraction:
        """Wait for the first response; AssertionError if none was accepted."""
        try:
            await asyncio.wait_for(self._settled.wait(), timeout)
        except TimeoutError:
            why = " (past Discord's deadline: the user saw “The application did not respond”)"
            raise AssertionError(
                f"interaction {self.describe()} got no response within {timeout} s"
                f"{why if self.timed_out else ''}\n{self.sim.dump()}"
            ) from None
        if self.response_type is None:
            raise AssertionError(
                f"interaction {self.describe()} was answered too late or wrongly: {self.rejected}\n"
                + self.sim.dump()
            )
        return self

    def describe(self) -> str:
        what = self.command_name or self.data.get("custom_id") or f"type {self.type}"
        return f"{self.id} ({what!r} by {self.user.name})"

    # -- shapes ---------------------------------------------------------------------------
    def owners(self) -> dict[str, str]:
        if self.channel.guild is not None:
            return {"0": str(self.channel.guild.id)}
        return {"1": str(self.user.id)}

    def metadata_payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "user": self.user.payload(),
            "authorizing_integration_owners": self.owners(),
        }
        if self.type == 2 and self.command_name:
            data["name"] = self.command_name
            data["command_type"] = 1
        if self.original is not None:
            data["original_response_message_id"] = str(self.original.id)
        if self.source_message is not None:
            data["interacted_message_id"] = str(self.source_message.id)
        return data

    def legacy_message_payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "name": self.command_name or "",
            "user": self.user.payload(),
        }
        if self.member is not None:
            data["member"] = self.member.payload(with_user=False)
        return data

    def __repr__(self) -> str:
        state = self.response_type_name or ("timed out" if self.timed_out else "pending")
        return f"<SimInteraction {self.describe()} {state} messages={len(self.messages)}>"


# -- building a slash command's data from the synced definition --------------------------------


def build_command_data(
    command: dict[str, Any],
    path: list[str],
    values: dict[str, Any],
    *,
    guild: SimGuild | None,
    channel: SimChannel,
    channel_permissions: int,
) -> dict[str, Any]:
    """The ``data`` of a CHAT_INPUT interaction, as the Discord client would build it."""
    label = "/" + " ".join([command["name"], *path])
    options_defs: list[dict[str, Any]] = command.get("options") or []
    nested: list[dict[str, Any]] = []
    root: list[dict[str, Any]] = nested
    for part in path:
        sub = next(
            (o for o in options_defs if o.get("type") in (1, 2) and o.get("name") == part), None
        )
        if sub is None:
            names = [o["name"] for o in options_defs if o.get("type") in (1, 2)]
            raise SimulatorUsageError(f"{label}: no subcommand {part!r}; synced: {names}")
        entry: dict[str, Any] = {"name": part, "type": sub["type"], "options": []}
        nested.append(entry)
        nested = entry["options"]
        options_defs = sub.get("options") or []
    if any(o.get("type") in (1, 2) for o in options_defs):
        names = [o["name"] for o in options_defs]
        raise SimulatorUsageError(f"{label} needs a subcommand, one of {names}")

    resolved: dict[str, dict[str, Any]] = {}
    by_name = {o["name"]: o for o in options_defs}
    for name in values:
        if name not in by_name:
            raise SimulatorUsageError(
                f"{label} has no option {name!r}; synced options: {list(by_name)}"
            )
    for definition in options_defs:
        name = definition["name"]
        value = values.get(name)
        if value is None:
            if definition.get("required"):
                raise SimulatorUsageError(f"{label}: option {name!r} is required")
            continue
        wire = _option_value(label, definition, value, resolved, guild, channel_permissions)
        nested.append({"name": name, "type": definition["type"], "value": wire})

    data: dict[str, Any] = {
        "id": command["id"],
        "name": command["name"],
        "type": 1,
        "options": root,
    }
    if resolved:
        data["resolved"] = resolved
    if command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    return data


def _option_value(
    label: str,
    definition: dict[str, Any],
    value: Any,
    resolved: dict[str, dict[str, Any]],
    guild: SimGuild | None,
    channel_permissions: int,
) -> Any:
    name, otype = definition["name"], definition["type"]
    where = f"{label} option {name!r}"

    def fail(message: str) -> SimulatorUsageError:
        return SimulatorUsageError(f"{where}: {message} (got {value!r})")

    if otype == 3:
        if not isinstance(value, str):
            raise fail("expects a string")
        if len(value) < definition.get("min_length", 0):
            raise fail(f"shorter than min_length {definition['min_length']}")
        if len(value) > definition.get("max_length", 6000):
            raise fail(f"longer than max_length {definition.get('max_length', 6000)}")
    elif otype == 4:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail("expects an integer")
    elif otype == 10:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail("expects a number")
    elif otype == 5 and not isinstance(value, bool):
        raise fail("expects a boolean")
    if otype in (4, 10) and "min_value" in definition and value < definition["min_value"]:
        raise fail(f"below min_value {definition['min_value']}")
    if otype in (4, 10) and "max_value" in definition and value > definition["max_value"]:
        raise fail(f"above max_value {definition['max_value']}")
    if otype in (3, 4, 10):
        choices = definition.get("choices")
        if choices and value not in [c["value"] for c in choices]:
            raise fail(f"not one of the choices {[c['value'] for c in choices]}")
        return value
    if otype == 5:
        return value

    if otype == 11:
        if not isinstance(value, SimAttachment):
            raise fail("expects an attachment from sim.add_attachment()")
        resolved.setdefault("attachments", {})[str(value.id)] = value.payload()
        return str(value.id)
    if otype in (6, 9) and isinstance(value, SimUser | SimMember):
        user = value.user if isinstance(value, SimMember) else value
        resolved.setdefault("users", {})[str(user.id)] = user.payload()
        member = guild.members.get(user.id) if guild is not None else None
        if member is not None:
            resolved.setdefault("members", {})[str(user.id)] = member.payload(
                with_user=False, permissions=member.permissions
            )
        return str(user.id)
    if otype in (8, 9) and isinstance(value, SimRole):
        resolved.setdefault("roles", {})[str(value.id)] = value.payload()
        return str(value.id)
    if otype == 7 and isinstance(value, SimChannel):
        types = definition.get("channel_types")
        if types and value.type not in types:
            raise fail(f"channel type {value.type} not in channel_types {types}")
        entry = {
            "id": str(value.id),
            "name": value.name,
            "type": value.type,
            "permissions": str(channel_permissions),
        }
        if value.is_thread:
            thread = value.payload()
            entry.update(parent_id=thread["parent_id"], thread_metadata=thread["thread_metadata"])
        resolved.setdefault("channels", {})[str(value.id)] = entry
        return str(value.id)
    raise fail(f"unsupported value for option type {otype}")


def find_command(commands: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((c for c in commands if c.get("name") == name and c.get("type", 1) == 1), None)


def allowed_in_dm(command: dict[str, Any]) -> bool:
    contexts = command.get("contexts")
    if contexts is not None:
        return 1 in contexts
    return command.get("dm_permission", True) is not False


def channel_type_name(channel: SimChannel) -> str:
    return {ChannelType.TEXT: "text", ChannelType.DM: "DM"}.get(channel.type, "thread")
