"""The request rules of product-spec.md, each with a message that says how to fix it."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.wire import camera_control
from videojobs.errors import RequestRejected
from videojobs.models import ImageRef, VideoRequest
from videojobs.rules import validate_request

MODELS = ("kling-v3",)
PNG = ImageRef("https://cdn.test/a.png", "a.png", "image/png", 2_000_000, 1280, 720)


def check(**changes: object) -> VideoRequest:
    request = dataclasses.replace(VideoRequest(prompt="a boat", model="kling-v3"), **changes)
    return validate_request(request, MODELS)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"prompt": "   "}, "prompt is empty"),
        ({"prompt": "x" * 2501}, "2501 characters"),
        ({"negative_prompt": "y" * 2501}, "negative prompt is 2501"),
        ({"model": "kling-v9"}, "`model` must be one of: kling-v3"),
        ({"mode": "ultra"}, "`mode` must be one of: std, pro"),
        ({"duration": 7}, "`duration` must be one of: 5, 10"),
        ({"aspect_ratio": "4:3"}, "`aspect_ratio` must be one of"),
        ({"cfg_scale": -0.1}, "between 0 and 1"),
        ({"camera": "spin"}, "`camera` must be one of"),
        ({"camera": "zoom_in", "camera_strength": 11}, "1 to 10"),
        ({"end_image": PNG}, "needs a first frame"),
        ({"image": PNG, "end_image": PNG, "camera": "pan_left"}, "can't be combined"),
        ({"image": dataclasses.replace(PNG, content_type="image/gif")}, "PNG, JPEG or WebP"),
        ({"image": dataclasses.replace(PNG, size=51 * 1024 * 1024)}, "the limit is 50 MB"),
        ({"image": dataclasses.replace(PNG, width=299)}, "at least 300 px"),
        ({"image": dataclasses.replace(PNG, width=2600, height=1000)}, "between 1:2.5 and 2.5:1"),
        ({"image": dataclasses.replace(PNG, width=None, height=None)}, "no readable size"),
    ],
)
def test_each_broken_rule_is_explained(changes: dict[str, object], fragment: str) -> None:
    """Every rule of the spec rejects with a message naming the problem."""
    with pytest.raises(RequestRejected, match=None) as caught:
        check(**changes)
    assert fragment in str(caught.value)


def test_webp_and_large_images_are_accepted_for_fixing() -> None:
    """WebP and images over Kling's 10 MB pass: the bot fixes them after the first response."""
    webp = dataclasses.replace(PNG, filename="a.webp", content_type="image/webp", size=30_000_000)
    assert check(image=webp).image == webp


def test_edges_of_the_rules_are_allowed() -> None:
    """Exactly 2500 characters, 300 px sides, a 2.5:1 image and 50 MB are all fine."""
    edge = ImageRef("u", "e.jpg", "image/jpeg", 50 * 1024 * 1024, 750, 300)
    ok = check(prompt="x" * 2500, image=edge, end_image=edge, cfg_scale=0.0)
    assert ok.image == edge and ok.cfg_scale == 0.0


def test_text_is_trimmed_and_empty_negative_prompt_dropped() -> None:
    """Surrounding spaces are removed; a blank negative prompt is no negative prompt."""
    ok = check(prompt="  a boat  ", negative_prompt="   ")
    assert ok.prompt == "a boat" and ok.negative_prompt is None


@pytest.mark.parametrize(
    ("camera", "axis", "value"),
    [
        ("zoom_in", "zoom", 7),
        ("pan_left", "pan", -7),
        ("move_down", "vertical", -7),
        ("tilt_up", "tilt", 7),
        ("roll_right", "roll", 7),
        ("move_right", "horizontal", 7),
    ],
)
def test_camera_move_puts_the_strength_on_one_axis(camera: str, axis: str, value: int) -> None:
    """A simple move has exactly one non-zero axis, signed by its direction."""
    control = camera_control(camera, 7)
    assert control["type"] == "simple"
    assert {k: v for k, v in control["config"].items() if v} == {axis: value}


def test_camera_preset_has_no_config() -> None:
    """A preset is sent as its type alone."""
    assert camera_control("forward_up", 5) == {"type": "forward_up"}
