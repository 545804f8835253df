"""Discord's server-side checks on what a bot sends: messages, embeds, components, commands."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

from .errors import CANNOT_SEND_EMPTY_MESSAGE, DiscordAPIError, FieldPath, FormErrors
from .models import MessageFlag

CONTENT_LIMIT = 2000
EMBEDS_LIMIT = 10
EMBED_TOTAL_LIMIT = 6000
FILES_LIMIT = 10
ROWS_LIMIT = 5
ROW_WIDTH = 5
CUSTOM_ID_LIMIT = 100
BUTTON_LABEL_LIMIT = 80

_EMBED_TEXT_LIMITS = {"title": 256, "description": 4096}
_COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")


def validate_message(
    payload: dict[str, Any],
    *,
    file_count: int,
    creating: bool,
    prefix: FieldPath = (),
    kept_attachments: int = 0,
) -> None:
    """Raise 50035 (or 50006 for an empty new message) like Discord does."""
    errors = FormErrors(prefix)
    content = payload.get("content")
    if content is not None and not isinstance(content, str):
        errors.add(["content"], "BASE_TYPE_STRING", "Must be a string.")
    elif isinstance(content, str) and len(content) > CONTENT_LIMIT:
        errors.max_length(["content"], CONTENT_LIMIT)

    embeds = payload.get("embeds") or []
    if len(embeds) > EMBEDS_LIMIT:
        errors.max_length(["embeds"], EMBEDS_LIMIT)
    total = 0
    for index, embed in enumerate(embeds):
        total += _validate_embed(embed, ["embeds", index], errors)
    if total > EMBED_TOTAL_LIMIT:
        errors.add(
            ["embeds"],
            "MAX_EMBED_SIZE_EXCEEDED",
            f"Embed size exceeds maximum size of {EMBED_TOTAL_LIMIT}",
        )

    flags = payload.get("flags") or 0
    components = payload.get("components") or []
    _validate_components(components, errors, v2=bool(flags & MessageFlag.IS_COMPONENTS_V2))
    if flags & MessageFlag.IS_COMPONENTS_V2 and (content or embeds):
        errors.add(
            ["content" if content else "embeds"],
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            "The 'content' and 'embeds' fields cannot be used with IS_COMPONENTS_V2",
        )

    if file_count > FILES_LIMIT:
        errors.max_length(["files"], FILES_LIMIT)
    errors.raise_if_any()

    if creating and not (
        content
        or embeds
        or components
        or file_count
        or kept_attachments
        or payload.get("sticker_ids")
        or payload.get("poll")
    ):
        raise DiscordAPIError(400, CANNOT_SEND_EMPTY_MESSAGE, "Cannot send an empty message")


def _text_len(value: Any) -> int:
    return len(value) if isinstance(value, str) else 0


def _check_url(
    value: Any, path: list[str | int], errors: FormErrors, *, allow_attachment: bool
) -> None:
    if value is None:
        return
    schemes = ("http", "https", "attachment") if allow_attachment else ("http", "https")
    scheme = urlparse(str(value)).scheme
    if scheme not in schemes:
        errors.add(
            path,
            "URL_TYPE_INVALID_SCHEME",
            f'Scheme "{scheme}" is not supported. Scheme must be one of {schemes}.',
        )


def _validate_embed(embed: dict[str, Any], path: list[str | int], errors: FormErrors) -> int:
    total = 0
    for key, limit in _EMBED_TEXT_LIMITS.items():
        n = _text_len(embed.get(key))
        total += n
        if n > limit:
            errors.max_length([*path, key], limit)
    _check_url(embed.get("url"), [*path, "url"], errors, allow_attachment=False)
    for key in ("image", "thumbnail"):
        if isinstance(embed.get(key), dict):
            _check_url(embed[key].get("url"), [*path, key, "url"], errors, allow_attachment=True)
    footer = embed.get("footer") or {}
    n = _text_len(footer.get("text"))
    total += n
    if n > 2048:
        errors.max_length([*path, "footer", "text"], 2048)
    author = embed.get("author") or {}
    n = _text_len(author.get("name"))
    total += n
    if n > 256:
        errors.max_length([*path, "author", "name"], 256)
    if author:
        _check_url(author.get("url"), [*path, "author", "url"], errors, allow_attachment=False)
    fields = embed.get("fields") or []
    if len(fields) > 25:
        errors.max_length([*path, "fields"], 25)
    for i, fld in enumerate(fields):
        for key, limit in (("name", 256), ("value", 1024)):
            value = fld.get(key)
            if value is None or (isinstance(value, str) and not value.strip()):
                errors.required([*path, "fields", i, key])
            elif _text_len(value) > limit:
                errors.max_length([*path, "fields", i, key], limit)
            total += _text_len(value)
    return total


def _validate_components(components: list[dict[str, Any]], errors: FormErrors, *, v2: bool) -> None:
    seen: set[str] = set()

    def check_custom_id(item: dict[str, Any], path: list[str | int]) -> None:
        custom_id = item.get("custom_id")
        if custom_id is None:
            return
        if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= CUSTOM_ID_LIMIT:
            errors.max_length([*path, "custom_id"], CUSTOM_ID_LIMIT)
        elif custom_id in seen:
            errors.add(
                [*path, "custom_id"],
                "COMPONENT_CUSTOM_ID_DUPLICATED",
                "Component custom id cannot be duplicated",
            )
        seen.add(custom_id)

    def walk_any(items: list[dict[str, Any]], path: list[str | int]) -> None:
        for i, item in enumerate(items):
            check_custom_id(item, [*path, i])
            if item.get("type") == 2:
                _validate_button(item, [*path, i], errors)
            walk_any(item.get("components") or [], [*path, i, "components"])
            for key in ("component", "accessory"):
                if isinstance(item.get(key), dict):
                    walk_any([item[key]], [*path, i, key])

    if v2:
        walk_any(components, ["components"])
        return
    if len(components) > ROWS_LIMIT:
        errors.max_length(["components"], ROWS_LIMIT)
    for r, row in enumerate(components):
        path: list[str | int] = ["components", r]
        if row.get("type") != 1:
            errors.add(
                [*path, "type"],
                "UNION_TYPE_CHOICES",
                'Value of field "type" must be one of (1,).',
            )
            continue
        children = row.get("components") or []
        width = 0
        if not children:
            errors.add(
                [*path, "components"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
            )
        for c, child in enumerate(children):
            child_path: list[str | int] = [*path, "components", c]
            check_custom_id(child, child_path)
            ctype = child.get("type")
            if ctype == 2:
                width += 1
                _validate_button(child, child_path, errors)
            elif ctype in (3, 5, 6, 7, 8):
                width += ROW_WIDTH
                if ctype == 3 and not 1 <= len(child.get("options") or []) <= 25:
                    errors.add(
                        [*child_path, "options"],
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 25 in length.",
                    )
            else:
                errors.add(
                    [*child_path, "type"],
                    "COMPONENT_INVALID_TYPE",
                    f"Component type {ctype} is not allowed in a message action row",
                )
        if width > ROW_WIDTH:
            errors.add(
                [*path, "components"],
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            )


def _validate_button(item: dict[str, Any], path: list[str | int], errors: FormErrors) -> None:
    style = item.get("style")
    if style == 5:
        if not item.get("url"):
            errors.required([*path, "url"])
        if "custom_id" in item:
            errors.add(
                [*path, "custom_id"],
                "BUTTON_CANNOT_HAVE_CUSTOM_ID",
                "A link button cannot have a custom id",
            )
    elif style in (1, 2, 3, 4):
        if not item.get("custom_id"):
            errors.required([*path, "custom_id"])
        if not item.get("label") and not item.get("emoji"):
            errors.add(
                [*path, "label"],
                "BUTTON_LABEL_OR_EMOJI_REQUIRED",
                "A button needs a label or an emoji",
            )
    elif style != 6:
        errors.add(
            [*path, "style"], "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6}."
        )
    label = item.get("label")
    if isinstance(label, str) and len(label) > BUTTON_LABEL_LIMIT:
        errors.max_length([*path, "label"], BUTTON_LABEL_LIMIT)


MODAL_TITLE_LIMIT = 45
MODAL_ROWS_LIMIT = 5
TEXT_INPUT_LABEL_LIMIT = 45
TEXT_INPUT_VALUE_LIMIT = 4000
TEXT_INPUT_PLACEHOLDER_LIMIT = 100
LABEL_DESCRIPTION_LIMIT = 100


def validate_modal(data: dict[str, Any], prefix: FieldPath = ("data",)) -> None:
    """A MODAL response (type 9): title, custom_id, 1-5 top-level components, each an action
    row holding one text input or a label (type 18) wrapping one; custom ids unique."""
    errors = FormErrors(prefix)
    title = data.get("title")
    if not isinstance(title, str) or not 1 <= len(title) <= MODAL_TITLE_LIMIT:
        errors.add(
            ["title"],
            "BASE_TYPE_BAD_LENGTH",
            f"Must be between 1 and {MODAL_TITLE_LIMIT} in length.",
        )
    custom_id = data.get("custom_id")
    if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= CUSTOM_ID_LIMIT:
        errors.max_length(["custom_id"], CUSTOM_ID_LIMIT)
    components = data.get("components") or []
    if not 1 <= len(components) <= MODAL_ROWS_LIMIT:
        errors.add(
            ["components"],
            "BASE_TYPE_BAD_LENGTH",
            f"Must be between 1 and {MODAL_ROWS_LIMIT} in length.",
        )
    seen: set[str] = set()
    for index, item in enumerate(components):
        _validate_modal_item(item, ["components", index], errors, seen)
    errors.raise_if_any()


def _validate_modal_item(
    item: Any, path: list[str | int], errors: FormErrors, seen: set[str]
) -> None:
    """One top-level modal component: an action row with one text input, or a label."""
    kind = item.get("type") if isinstance(item, dict) else None
    if kind == 1:
        children = item.get("components") or []
        if len(children) != 1 or children[0].get("type") != 4:
            errors.add(
                [*path, "components"],
                "BASE_TYPE_BAD_LENGTH",
                "A modal action row holds exactly one text input.",
            )
            return
        _validate_text_input(children[0], [*path, "components", 0], errors, seen, labelled=False)
    elif kind == 18:
        _validate_label(item, path, errors)
        inner = item.get("component")
        if not isinstance(inner, dict):
            errors.required([*path, "component"])
        elif inner.get("type") == 4:
            _validate_text_input(inner, [*path, "component"], errors, seen, labelled=True)
    else:
        errors.add(
            [*path, "type"],
            "COMPONENT_INVALID_TYPE",
            f"Component type {kind} is not allowed at the top of a modal",
        )


def _validate_label(item: dict[str, Any], path: list[str | int], errors: FormErrors) -> None:
    label = item.get("label")
    if not isinstance(label, str) or not 1 <= len(label) <= TEXT_INPUT_LABEL_LIMIT:
        errors.add(
            [*path, "label"],
            "BASE_TYPE_BAD_LENGTH",
            f"Must be between 1 and {TEXT_INPUT_LABEL_LIMIT} in length.",
        )
    description = item.get("description")
    if isinstance(description, str) and len(description) > LABEL_DESCRIPTION_LIMIT:
        errors.max_length([*path, "description"], LABEL_DESCRIPTION_LIMIT)


def _validate_text_input(
    item: dict[str, Any],
    path: list[str | int],
    errors: FormErrors,
    seen: set[str],
    *,
    labelled: bool,
) -> None:
    """A text input (type 4): custom_id, style, its label (unless a Label wraps it), lengths,
    the pre-filled value and the placeholder, within Discord's limits."""
    custom_id = item.get("custom_id")
    if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= CUSTOM_ID_LIMIT:
        errors.max_length([*path, "custom_id"], CUSTOM_ID_LIMIT)
    elif custom_id in seen:
        errors.add(
            [*path, "custom_id"],
            "COMPONENT_CUSTOM_ID_DUPLICATED",
            "Component custom id is duplicated",
        )
    else:
        seen.add(custom_id)
    if item.get("style") not in (1, 2):
        errors.add([*path, "style"], "BASE_TYPE_CHOICES", "Value must be one of {1, 2}.")
    label = item.get("label")
    if not labelled and (
        not isinstance(label, str) or not 1 <= len(label) <= TEXT_INPUT_LABEL_LIMIT
    ):
        errors.add(
            [*path, "label"],
            "BASE_TYPE_BAD_LENGTH",
            f"Must be between 1 and {TEXT_INPUT_LABEL_LIMIT} in length.",
        )
    low, high = item.get("min_length"), item.get("max_length")
    if low is not None and not (isinstance(low, int) and 0 <= low <= TEXT_INPUT_VALUE_LIMIT):
        errors.add(
            [*path, "min_length"],
            "NUMBER_TYPE_MAX",
            f"int value should be between 0 and {TEXT_INPUT_VALUE_LIMIT}.",
        )
    if high is not None and not (isinstance(high, int) and 1 <= high <= TEXT_INPUT_VALUE_LIMIT):
        errors.add(
            [*path, "max_length"],
            "NUMBER_TYPE_MAX",
            f"int value should be between 1 and {TEXT_INPUT_VALUE_LIMIT}.",
        )
    if isinstance(low, int) and isinstance(high, int) and low > high:
        errors.add([*path, "min_length"], "BASE_TYPE_BAD_VALUE", "min_length exceeds max_length.")
    value = item.get("value")
    most = min(high, TEXT_INPUT_VALUE_LIMIT) if isinstance(high, int) else TEXT_INPUT_VALUE_LIMIT
    if value is not None and (not isinstance(value, str) or len(value) > most):
        errors.max_length([*path, "value"], most)
    placeholder = item.get("placeholder")
    if placeholder is not None and (
        not isinstance(placeholder, str) or len(placeholder) > TEXT_INPUT_PLACEHOLDER_LIMIT
    ):
        errors.max_length([*path, "placeholder"], TEXT_INPUT_PLACEHOLDER_LIMIT)


def check_modal_value(text_input: dict[str, Any], value: str) -> str | None:
    """What the Discord client says before it lets a member submit `value` in `text_input`
    (required, min_length, max_length), or None when it may be sent."""
    if text_input.get("required", True) and not value:
        return "this field is required"
    low = text_input.get("min_length")
    if value and isinstance(low, int) and len(value) < low:
        return f"shorter than min_length {low}"
    high = text_input.get("max_length")
    most = min(high, TEXT_INPUT_VALUE_LIMIT) if isinstance(high, int) else TEXT_INPUT_VALUE_LIMIT
    if len(value) > most:
        return f"longer than max_length {most}"
    return None


# -- application commands ---------------------------------------------------------------------

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


def validate_commands(commands: Any) -> None:
    """Bulk-overwrite checks Discord makes on ``PUT .../commands``."""
    errors = FormErrors()
    if not isinstance(commands, list):
        errors.add([], "BASE_TYPE_ARRAY", "Must be an array.")
        errors.raise_if_any()
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


def _check_name(name: Any, path: list[str | int], errors: FormErrors) -> None:
    if not isinstance(name, str) or not _COMMAND_NAME.match(name) or name != name.lower():
        errors.add(path, "APPLICATION_COMMAND_INVALID_NAME", f"Command name is invalid: {name!r}")


def _check_description(desc: Any, path: list[str | int], errors: FormErrors) -> None:
    if not isinstance(desc, str) or not 1 <= len(desc) <= 100:
        errors.add(path, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")


def _validate_options(
    options: list[dict[str, Any]], path: list[str | int], errors: FormErrors, *, depth: int
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
