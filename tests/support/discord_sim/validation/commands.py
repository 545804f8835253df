"""Discord's checks on the application commands a bot syncs (bulk overwrite)."""

from __future__ import annotations

import re

from ..errors import FormErrors
from ..wire import JsonObject

_COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")

OPTION_TYPES = {
    1: "SUB_COMMAND",
    2: "SUB_COMMAND_GROUP",
    3: "STRING",
    4: "INTEGER",
    5: "BOOLEAN",
    6: "USER",
    7: "CHANNEL",
    8: "ROLE",
    9: "MENTIONABLE",
    10: "NUMBER",
    11: "ATTACHMENT",
}


def validate_commands(commands: object) -> None:
    """Bulk-overwrite checks Discord makes on ``PUT .../commands``."""
    errors = FormErrors()
    if not isinstance(commands, list):
        errors.add([], "BASE_TYPE_ARRAY", "Must be an array.")
        raise errors.error()
    if len(commands) > 100:
        errors.max_length([], 100)
    seen: set[tuple[int, str]] = set()
    for index, command in enumerate(commands):
        ctype = command.get("type", 1)
        name = command.get("name")
        path: list[str | int] = [index]
        if ctype == 1:
            _check_name(name, [*path, "name"], errors)
            _check_description(command.get("description"), [*path, "description"], errors)
            _validate_options(command.get("options") or [], [*path, "options"], errors, depth=0)
        elif not isinstance(name, str) or not 1 <= len(name) <= 32:
            errors.add(
                [*path, "name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length."
            )
        key = (ctype, str(name))
        if key in seen:
            errors.add(
                [*path, "name"],
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                f"Application command names must be unique ({name})",
            )
        seen.add(key)
    errors.raise_if_any()


def _check_name(name: object, path: list[str | int], errors: FormErrors) -> None:
    if not isinstance(name, str) or not _COMMAND_NAME.match(name) or name != name.lower():
        errors.add(path, "APPLICATION_COMMAND_INVALID_NAME", f"Command name is invalid: {name!r}")


def _check_description(desc: object, path: list[str | int], errors: FormErrors) -> None:
    if not isinstance(desc, str) or not 1 <= len(desc) <= 100:
        errors.add(path, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")


def _validate_options(
    options: list[JsonObject], path: list[str | int], errors: FormErrors, *, depth: int
) -> None:
    if len(options) > 25:
        errors.max_length(path, 25)
    names: set[str] = set()
    optional_seen = False
    for i, option in enumerate(options):
        opath: list[str | int] = [*path, i]
        otype = option.get("type")
        if otype not in OPTION_TYPES:
            errors.add(
                [*opath, "type"],
                "BASE_TYPE_CHOICES",
                f"Value must be one of {sorted(OPTION_TYPES)}.",
            )
            continue
        _check_name(option.get("name"), [*opath, "name"], errors)
        _check_description(option.get("description"), [*opath, "description"], errors)
        if option.get("name") in names:
            errors.add(
                [*opath, "name"],
                "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                "Option names must be unique",
            )
        names.add(option.get("name", ""))
        if otype in (1, 2):
            if depth >= 2 or (otype == 2 and depth >= 1):
                errors.add(
                    [*opath, "type"],
                    "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "Sub-command nesting too deep",
                )
            _validate_options(
                option.get("options") or [], [*opath, "options"], errors, depth=depth + 1
            )
            continue
        if option.get("required"):
            if optional_seen:
                errors.add(
                    [*opath, "required"],
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            optional_seen = True
        choices = option.get("choices") or []
        if len(choices) > 25:
            errors.max_length([*opath, "choices"], 25)
        for c, choice in enumerate(choices):
            cname = choice.get("name")
            if not isinstance(cname, str) or not 1 <= len(cname) <= 100:
                errors.add(
                    [*opath, "choices", c, "name"],
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 100 in length.",
                )
            value = choice.get("value")
            ok = (
                (otype == 3 and isinstance(value, str) and 1 <= len(value) <= 100)
                or (otype == 4 and isinstance(value, int) and not isinstance(value, bool))
                or (otype == 10 and isinstance(value, int | float) and not isinstance(value, bool))
            )
            if not ok:
                errors.add(
                    [*opath, "choices", c, "value"],
                    "BASE_TYPE_INVALID",
                    f"Invalid choice value {value!r} for option type {otype}",
                )
        for key in ("min_length", "max_length"):
            if key in option and not 0 <= int(option[key]) <= 6000:
                errors.add(
                    [*opath, key],
                    "NUMBER_TYPE_MAX",
                    "int value should be less than or equal to 6000.",
                )
