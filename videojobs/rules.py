"""The rules of product-spec.md, checked before anything is stored or sent.

Each broken rule raises `RequestRejected` with what is wrong and how to fix it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from .errors import RequestRejected
from .models import (
    ASPECT_RATIOS,
    CAMERA_CHOICES,
    DURATIONS,
    IMAGE_CONTENT_TYPES,
    MAX_IMAGE_ASPECT,
    MAX_IMAGE_BYTES,
    MAX_PROMPT_CHARS,
    MIN_IMAGE_SIDE,
    MODES,
    ImageRef,
    Requester,
    VideoRequest,
)


def validate_request(request: VideoRequest, models: Collection[str]) -> VideoRequest:
    """Return the request with text trimmed, or raise RequestRejected."""
    prompt = request.prompt.strip()
    if not prompt:
        raise RequestRejected("The prompt is empty. Describe the video you want, in words.")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise RequestRejected(
            f"The prompt is {len(prompt)} characters long; the limit is {MAX_PROMPT_CHARS}. "
            "Shorten it and try again."
        )
    negative = (request.negative_prompt or "").strip() or None
    if negative and len(negative) > MAX_PROMPT_CHARS:
        raise RequestRejected(
            f"The negative prompt is {len(negative)} characters long; the limit is "
            f"{MAX_PROMPT_CHARS}. Shorten it and try again."
        )
    _one_of("model", request.model, tuple(models))
    _one_of("mode", request.mode, MODES)
    _one_of("duration", request.duration, DURATIONS)
    _one_of("aspect_ratio", request.aspect_ratio, ASPECT_RATIOS)
    if request.cfg_scale is not None and not 0 <= request.cfg_scale <= 1:
        raise RequestRejected("`cfg_scale` must be between 0 and 1 (for example 0.5).")
    if request.camera is not None:
        _one_of("camera", request.camera, CAMERA_CHOICES)
    if not 1 <= request.camera_strength <= 10:
        raise RequestRejected("`camera_strength` must be a whole number from 1 to 10.")
    if request.end_image is not None and request.image is None:
        raise RequestRejected(
            "`end_image` is the last frame and needs a first frame: attach `image` too."
        )
    if request.end_image is not None and request.camera is not None:
        raise RequestRejected(
            "A camera move can't be combined with `end_image`: drop one of the two."
        )
    if request.image is not None:
        check_image("image", request.image)
    if request.end_image is not None:
        check_image("end_image", request.end_image)
    return replace(request, prompt=prompt, negative_prompt=negative)


def check_image(option: str, image: ImageRef) -> None:
    """An attachment's own metadata against the image rules of /video (webp and large images
    are fixed for Kling after the first response)."""
    name = f"`{option}` ({image.filename})"
    content_type = (image.content_type or "").split(";")[0].strip().lower()
    if content_type not in IMAGE_CONTENT_TYPES:
        shown = content_type or "an unknown type"
        raise RequestRejected(f"{name} is {shown}; attach a PNG, JPEG or WebP image instead.")
    if image.size > MAX_IMAGE_BYTES:
        raise RequestRejected(
            f"{name} is {image.size / 1024 / 1024:.1f} MB; the limit is "
            f"{MAX_IMAGE_BYTES // 1024 // 1024} MB. Compress or resize it."
        )
    if not image.width or not image.height:
        raise RequestRejected(
            f"{name} has no readable size; attach a valid PNG, JPEG or WebP image."
        )
    if min(image.width, image.height) < MIN_IMAGE_SIDE:
        raise RequestRejected(
            f"{name} is {image.width}x{image.height} px; both sides must be at least "
            f"{MIN_IMAGE_SIDE} px. Use a larger image."
        )
    ratio = image.width / image.height
    if not 1 / MAX_IMAGE_ASPECT <= ratio <= MAX_IMAGE_ASPECT:
        raise RequestRejected(
            f"{name} is {image.width}x{image.height} px, too narrow or too wide; the aspect "
            "ratio must be between 1:2.5 and 2.5:1. Crop it closer to a square."
        )


def check_access(
    requester: Requester,
    *,
    allowed_channel_ids: Collection[int],
    allowed_role_ids: Collection[int],
) -> None:
    """The channel and role allowlists (empty = everyone, everywhere)."""
    if allowed_channel_ids:
        channel_ok = requester.channel_id in allowed_channel_ids or (
            requester.parent_channel_id is not None
            and requester.parent_channel_id in allowed_channel_ids
        )
        if not channel_ok:
            where = ", ".join(f"<#{cid}>" for cid in sorted(allowed_channel_ids))
            raise RequestRejected(f"`/video` can't be used here. Try it in {where}.")
    if allowed_role_ids and not (requester.role_ids & frozenset(allowed_role_ids)):
        roles = ", ".join(f"<@&{rid}>" for rid in sorted(allowed_role_ids))
        raise RequestRejected(
            f"`/video` is only for members with one of these roles: {roles}. "
            "Ask a server admin if you should have one."
        )


def _one_of(option: str, value: object, allowed: tuple[object, ...]) -> None:
    if value not in allowed:
        choices = ", ".join(str(a) for a in allowed)
        raise RequestRejected(f"`{option}` must be one of: {choices}.")
