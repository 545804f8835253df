"""Slash commands as the Discord client sees them: finding the synced command a member types,
and building the ``data`` of its CHAT_INPUT interaction from the command's definition."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .errors import SimulatorUsageError
from .models import SimAttachment, SimChannel, SimGuild, SimMember, SimRole, SimUser
from .wire import JsonObject

OptionValue = str | int | float | bool | SimAttachment | SimUser | SimMember | SimRole | SimChannel
"""What a test may pass for an option: a scalar, or an entity of the simulated world."""
WireValue = str | int | float | bool
"""An option's ``value`` in the interaction: the scalar, or the entity's id."""


def find_command(commands: list[JsonObject], name: str) -> JsonObject | None:
    return next((c for c in commands if c.get("name") == name and c.get("type", 1) == 1), None)


def allowed_in_dm(command: JsonObject) -> bool:
    contexts = command.get("contexts")
    if contexts is not None:
        return 1 in contexts
    return command.get("dm_permission", True) is not False


def build_command_data(
    command: JsonObject,
    path: list[str],
    values: Mapping[str, OptionValue],
    *,
    guild: SimGuild | None,
    channel: SimChannel,
    channel_permissions: int,
) -> JsonObject:
    """The ``data`` of a CHAT_INPUT interaction, as the Discord client would build it."""
    label = "/" + " ".join([command["name"], *path])
    options_defs: list[JsonObject] = command.get("options") or []
    nested: list[JsonObject] = []
    root: list[JsonObject] = nested
    for part in path:
        sub = next(
            (o for o in options_defs if o.get("type") in (1, 2) and o.get("name") == part), None
        )
        if sub is None:
            names = [o["name"] for o in options_defs if o.get("type") in (1, 2)]
            raise SimulatorUsageError(f"{label}: no subcommand {part!r}; synced: {names}")
        entry: JsonObject = {"name": part, "type": sub["type"], "options": []}
        nested.append(entry)
        nested = entry["options"]
        options_defs = sub.get("options") or []
    if any(o.get("type") in (1, 2) for o in options_defs):
        names = [o["name"] for o in options_defs]
        raise SimulatorUsageError(f"{label} needs a subcommand, one of {names}")

    resolved: dict[str, JsonObject] = {}
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

    data: JsonObject = {
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
    definition: JsonObject,
    value: OptionValue,
    resolved: dict[str, JsonObject],
    guild: SimGuild | None,
    channel_permissions: int,
) -> WireValue:
    where = f"{label} option {definition['name']!r}"

    def fail(message: str) -> SimulatorUsageError:
        return SimulatorUsageError(f"{where}: {message} (got {value!r})")

    if definition["type"] in (3, 4, 5, 10):
        return _scalar_value(definition, value, fail)
    return _entity_value(definition, value, resolved, guild, channel_permissions, fail)


def _scalar_value(
    definition: JsonObject, value: OptionValue, fail: Callable[[str], SimulatorUsageError]
) -> WireValue:
    """A string (3), integer (4), boolean (5) or number (10), within the definition's limits
    and among its choices."""
    otype = definition["type"]
    if otype == 5:
        if not isinstance(value, bool):
            raise fail("expects a boolean")
        return value
    scalar: str | int | float
    if otype == 3:
        if not isinstance(value, str):
            raise fail("expects a string")
        if len(value) < definition.get("min_length", 0):
            raise fail(f"shorter than min_length {definition['min_length']}")
        if len(value) > definition.get("max_length", 6000):
            raise fail(f"longer than max_length {definition.get('max_length', 6000)}")
        scalar = value
    else:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (otype == 4 and not isinstance(value, int))
        ):
            raise fail("expects an integer" if otype == 4 else "expects a number")
        if "min_value" in definition and value < definition["min_value"]:
            raise fail(f"below min_value {definition['min_value']}")
        if "max_value" in definition and value > definition["max_value"]:
            raise fail(f"above max_value {definition['max_value']}")
        scalar = value
    choices = definition.get("choices")
    if choices and scalar not in [c["value"] for c in choices]:
        raise fail(f"not one of the choices {[c['value'] for c in choices]}")
    return scalar


def _entity_value(
    definition: JsonObject,
    value: OptionValue,
    resolved: dict[str, JsonObject],
    guild: SimGuild | None,
    channel_permissions: int,
    fail: Callable[[str], SimulatorUsageError],
) -> str:
    """An attachment (11), user (6), channel (7), role (8) or mentionable (9): its id, and its
    payload under ``resolved``."""
    otype = definition["type"]
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
