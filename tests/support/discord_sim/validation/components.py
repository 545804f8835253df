"""Discord's checks on message components: action rows, buttons, selects, custom ids."""

from __future__ import annotations

from ..errors import FormErrors
from ..wire import JsonObject

ROWS_LIMIT = 5
ROW_WIDTH = 5
CUSTOM_ID_LIMIT = 100
BUTTON_LABEL_LIMIT = 80


def check_custom_id(
    custom_id: object, path: list[str | int], errors: FormErrors, seen: set[str]
) -> None:
    """1 to 100 characters, and unique among the components of one message or modal."""
    if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= CUSTOM_ID_LIMIT:
        errors.max_length([*path, "custom_id"], CUSTOM_ID_LIMIT)
    elif custom_id in seen:
        errors.add(
            [*path, "custom_id"],
            "COMPONENT_CUSTOM_ID_DUPLICATED",
            "Component custom id cannot be duplicated",
        )
    else:
        seen.add(custom_id)


def check_id(custom_id: object, path: list[str | int], errors: FormErrors, seen: set[str]) -> None:
    """A message component's custom id, when it has one (link buttons have none)."""
    if custom_id is not None:
        check_custom_id(custom_id, path, errors, seen)


def validate_components(components: list[JsonObject], errors: FormErrors, *, v2: bool) -> None:
    seen: set[str] = set()

    def walk_any(items: list[JsonObject], path: list[str | int]) -> None:
        for i, item in enumerate(items):
            check_id(item.get("custom_id"), [*path, i], errors, seen)
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
            check_id(child.get("custom_id"), child_path, errors, seen)
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


def _validate_button(item: JsonObject, path: list[str | int], errors: FormErrors) -> None:
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
