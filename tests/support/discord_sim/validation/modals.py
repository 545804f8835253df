"""Discord's checks on a MODAL response, and the Discord client's checks on what a member types."""

from __future__ import annotations

from ..errors import FieldPath, FormErrors
from ..wire import JsonObject
from .components import CUSTOM_ID_LIMIT, check_custom_id

MODAL_TITLE_LIMIT = 45
MODAL_ROWS_LIMIT = 5
TEXT_INPUT_LABEL_LIMIT = 45
TEXT_INPUT_VALUE_LIMIT = 4000
TEXT_INPUT_PLACEHOLDER_LIMIT = 100
LABEL_DESCRIPTION_LIMIT = 100


def validate_modal(data: JsonObject, prefix: FieldPath = ("data",)) -> None:
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
    entry: object, path: list[str | int], errors: FormErrors, seen: set[str]
) -> None:
    """One top-level modal component: an action row with one text input, or a label."""
    item: JsonObject = entry if isinstance(entry, dict) else {}
    kind = item.get("type")
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


def _validate_label(item: JsonObject, path: list[str | int], errors: FormErrors) -> None:
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
    item: JsonObject,
    path: list[str | int],
    errors: FormErrors,
    seen: set[str],
    *,
    labelled: bool,
) -> None:
    """A text input (type 4): custom_id, style, its label (unless a Label wraps it), lengths,
    the pre-filled value and the placeholder, within Discord's limits."""
    check_custom_id(item.get("custom_id"), path, errors, seen)
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


def check_modal_value(text_input: JsonObject, value: str) -> str | None:
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
