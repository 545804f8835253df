"""Kling's wire details, kept in gateway/wire.py: every camera choice of /video has a shape."""

from __future__ import annotations

import pytest

from gateway.wire import SIZE_FOR_ASPECT, camera_control, kling_kind
from videojobs.models import ASPECT_RATIOS, CAMERA_MOVES, CAMERA_PRESETS


@pytest.mark.parametrize("move", CAMERA_MOVES)
def test_every_move_is_a_simple_move_on_one_axis(move: str) -> None:
    control = camera_control(move, 4)
    assert control["type"] == "simple"
    assert sorted(abs(v) for v in control["config"].values() if v) == [4]


@pytest.mark.parametrize("preset", CAMERA_PRESETS)
def test_every_preset_is_sent_by_its_name(preset: str) -> None:
    assert camera_control(preset, 4) == {"type": preset}


def test_every_aspect_ratio_has_a_size() -> None:
    """The unified route turns an unknown size into 1:1, so every ratio needs its size."""
    assert set(SIZE_FOR_ASPECT) == set(ASPECT_RATIOS)


def test_any_frame_takes_the_image_route() -> None:
    assert kling_kind(image=None, image_tail=None) == "text2video"
    assert kling_kind(image="https://i/a.png", image_tail=None) == "image2video"
    assert kling_kind(image=None, image_tail="https://i/b.png") == "image2video"
