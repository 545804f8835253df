"""The Discord simulator checks modals (response type 9) and what a member may submit in them
the way Discord and its client do."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.discord_sim import DiscordAPIError
from tests.support.discord_sim.validation import check_modal_value, validate_modal


def text_input(**overrides: Any) -> dict[str, Any]:
    return {"type": 4, "custom_id": "prompt", "style": 2, "label": "Prompt"} | overrides


def modal(*inputs: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    rows = [{"type": 1, "components": [item]} for item in inputs]
    return {"title": "Remix", "custom_id": "vb:remix-form:x", "components": rows} | overrides


def errors_of(data: dict[str, Any]) -> str:
    with pytest.raises(DiscordAPIError) as caught:
        validate_modal(data)
    assert caught.value.status == 400 and caught.value.code == 50035
    return str(caught.value.errors)


def test_a_well_formed_modal_passes() -> None:
    """Two labelled paragraph inputs with values within their limits are accepted, also
    wrapped in a Label component."""
    validate_modal(
        modal(
            text_input(value="a cat", max_length=2500, min_length=1),
            text_input(custom_id="negative", required=False, placeholder="optional"),
        )
    )
    labelled = {
        "type": 18,
        "label": "Prompt",
        "component": {"type": 4, "custom_id": "p", "style": 1},
    }
    validate_modal(modal(components=[labelled]))


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (modal(text_input(), title="x" * 46), "title"),
        (modal(text_input(label="x" * 46)), "label"),
        (modal(text_input(label="")), "label"),
        (modal(text_input(max_length=4001)), "max_length"),
        (modal(text_input(min_length=-1)), "min_length"),
        (modal(text_input(min_length=10, max_length=5)), "min_length"),
        (modal(text_input(value="x" * 4001)), "value"),
        (modal(text_input(value="x" * 11, max_length=10)), "value"),
        (modal(text_input(placeholder="x" * 101)), "placeholder"),
        (modal(text_input(style=3)), "style"),
        (modal(text_input(custom_id="x" * 101)), "custom_id"),
        (modal(text_input(), text_input()), "custom_id"),
        (modal(*[text_input(custom_id=str(i)) for i in range(6)]), "components"),
        (modal(components=[]), "components"),
        (modal(components=[{"type": 2, "custom_id": "b", "style": 1, "label": "x"}]), "type"),
    ],
)
def test_what_discord_refuses_in_a_modal(data: dict[str, Any], field: str) -> None:
    """Each broken limit is a 400 Invalid Form Body naming the field."""
    assert field in errors_of(data)


def test_the_client_enforces_required_and_lengths_before_submitting() -> None:
    """A required field can't be empty; min_length and max_length hold; optional may be empty."""
    assert check_modal_value(text_input(), "") == "this field is required"
    assert check_modal_value(text_input(required=False), "") is None
    assert check_modal_value(text_input(min_length=3), "ab") is not None
    assert check_modal_value(text_input(max_length=5), "abcdef") is not None
    assert check_modal_value(text_input(max_length=5), "abcde") is None
    assert check_modal_value(text_input(), "x" * 4001) is not None
