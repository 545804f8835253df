"""Kling's wire details that the core does not know: which route a task takes, the `size` of
each aspect ratio, the JSON shape of `camera_control`, and the request bodies of both API
styles (gateway-api.md, gateway-notes.md)."""

from __future__ import annotations

from typing import Any, Literal

from videojobs.models import GenerationRequest, ImageRef

KlingKind = Literal["text2video", "image2video"]

# aspect ratio -> the unified route's `size` (an unrecognised size silently becomes 1:1)
SIZE_FOR_ASPECT = {"16:9": "1920x1080", "9:16": "1080x1920", "1:1": "1024x1024"}

# Kling's camera axes, and each simple move's (axis, sign): left, down, out and anticlockwise
# are negative on Kling's -10..10 scale.
CAMERA_AXES = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")
_MOVE_AXIS: dict[str, tuple[str, int]] = {
    "zoom_in": ("zoom", 1),
    "zoom_out": ("zoom", -1),
    "pan_left": ("pan", -1),
    "pan_right": ("pan", 1),
    "tilt_up": ("tilt", 1),
    "tilt_down": ("tilt", -1),
    "roll_left": ("roll", -1),
    "roll_right": ("roll", 1),
    "move_left": ("horizontal", -1),
    "move_right": ("horizontal", 1),
    "move_up": ("vertical", 1),
    "move_down": ("vertical", -1),
}


def kling_kind(*, image: str | ImageRef | None, image_tail: str | ImageRef | None) -> KlingKind:
    """The kling style's route: any frame (even a last frame alone) makes it image2video, for
    the create and for every later GET."""
    return "image2video" if image or image_tail else "text2video"


def camera_control(camera: str, strength: int) -> dict[str, Any]:
    """Kling's `camera_control` object for a camera choice: a preset by its name, a simple move
    as the strength on one axis."""
    if camera not in _MOVE_AXIS:
        return {"type": camera}
    axis, sign = _MOVE_AXIS[camera]
    config = dict.fromkeys(CAMERA_AXES, 0)
    config[axis] = sign * strength
    return {"type": "simple", "config": config}


def unified_body(request: GenerationRequest) -> dict[str, Any]:
    """The body of `POST /v1/video/generations`: Kling's own options go in `metadata`."""
    body: dict[str, Any] = {
        "model": request.model,
        "prompt": request.prompt,
        "mode": request.mode,
        "duration": int(request.duration),
    }
    # An unrecognised or missing size silently becomes 1:1, so send both size and ratio.
    if size := SIZE_FOR_ASPECT.get(request.aspect_ratio):
        body["size"] = size
    if request.image:
        body["image"] = request.image
    metadata: dict[str, Any] = {"aspect_ratio": request.aspect_ratio}
    metadata.update(_kling_options(request))
    body["metadata"] = metadata
    return body


def kling_body(request: GenerationRequest) -> dict[str, Any]:
    """The body of `POST /kling/v1/videos/…`, decoded strictly upstream: types matter."""
    body: dict[str, Any] = {
        "model_name": request.model,
        "prompt": request.prompt,
        "mode": request.mode,
        "duration": str(int(request.duration)),  # a JSON number fails with build_request_failed
        "aspect_ratio": request.aspect_ratio,
    }
    if request.image:
        body["image"] = request.image
    body.update(_kling_options(request))
    return body


def _kling_options(request: GenerationRequest) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if request.negative_prompt:
        options["negative_prompt"] = request.negative_prompt
    if request.image_tail:
        options["image_tail"] = request.image_tail
    if request.cfg_scale is not None:
        options["cfg_scale"] = float(request.cfg_scale)
    if request.camera:
        options["camera_control"] = camera_control(request.camera, request.camera_strength)
    if request.callback_url:
        options["callback_url"] = request.callback_url
    if request.external_task_id:
        options["external_task_id"] = request.external_task_id
    return options
