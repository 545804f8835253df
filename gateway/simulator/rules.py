"""Kling's request rules as the relay and Kling apply them: the relay's strict decoding of
Kling's fields (a field of the wrong JSON type fails with `build_request_failed`), what the
relay makes of a unified request, and Kling's own parameter rules (gateway-notes.md,
"Requests")."""

from __future__ import annotations

from typing import Any

from videojobs.models import ASPECT_RATIOS, CAMERA_PRESETS, MODES

from ..wire import CAMERA_AXES, SIZE_FOR_ASPECT
from .error_bodies import Rejection, code_shape, invalid_request

MAX_PROMPT_CHARS = 2500
KLING_DURATIONS = ("5", "10")

# Kling's request fields and their JSON types, as the relay decodes them (strictly).
_KLING_TYPES: dict[str, tuple[type, ...]] = {
    "model_name": (str,),
    "model": (str,),
    "prompt": (str,),
    "negative_prompt": (str,),
    "mode": (str,),
    "duration": (str,),
    "aspect_ratio": (str,),
    "cfg_scale": (int, float),
    "image": (str,),
    "image_tail": (str,),
    "static_mask": (str,),
    "dynamic_masks": (list,),
    "camera_control": (dict,),
    "callback_url": (str,),
    "external_task_id": (str,),
}
_JSON_TYPE_NAMES = {str: "string", int: "number", float: "number", list: "array", dict: "object"}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def check_strict_decoding(fields: dict[str, Any]) -> None:
    """Refuse, as the relay's Go decoder does, the first field of the wrong JSON type."""
    for name, types in _KLING_TYPES.items():
        value = fields.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, types):
            wanted = _JSON_TYPE_NAMES[types[0]]
            problem = (
                f"json: cannot unmarshal {_json_type(value)} into Go struct field "
                f".{name} of type {wanted}"
            )
            raise Rejection(code_shape(500, "build_request_failed", problem))


def unified_to_kling(body: dict[str, Any]) -> dict[str, Any]:
    """What the relay makes of a unified request: Kling's fields, `metadata` laid on top."""
    duration = body.get("duration", 5)
    if isinstance(duration, bool) or not isinstance(duration, int | float):
        raise invalid_request("duration must be a number")
    for name in ("prompt", "image", "mode", "size"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise invalid_request(f"{name} must be a string")
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise invalid_request("metadata must be an object")
    ratio_for_size = {size: ratio for ratio, size in SIZE_FOR_ASPECT.items()}
    fields: dict[str, Any] = {
        "prompt": body.get("prompt"),
        "mode": body.get("mode") or "std",
        "duration": str(int(duration)),
        "aspect_ratio": ratio_for_size.get(body.get("size") or "", "1:1"),
        "image": body.get("image"),
    }
    check_strict_decoding(metadata)
    fields.update({k: v for k, v in metadata.items() if v is not None})
    return fields


def kling_rule_violation(fields: dict[str, Any]) -> str | None:
    """The first of Kling's own parameter rules that `fields` break, in Kling's words."""
    for name in ("prompt", "negative_prompt"):
        if len(fields.get(name) or "") > MAX_PROMPT_CHARS:
            return f"{name} must not exceed {MAX_PROMPT_CHARS} characters"
    checks = (("mode", MODES), ("aspect_ratio", ASPECT_RATIOS), ("duration", KLING_DURATIONS))
    for name, allowed in checks:
        value = fields.get(name)
        if value not in (None, "") and value not in allowed:
            return f"{name} must be one of {', '.join(allowed)}"
    cfg_scale = fields.get("cfg_scale")
    if cfg_scale is not None and not 0 <= cfg_scale <= 1:
        return "cfg_scale must be between 0 and 1"
    for name in ("image", "image_tail"):
        if str(fields.get(name) or "").startswith("data:"):
            return f"{name} must be a URL or raw base64 without a data: prefix"
    exclusive = [
        name
        for name in ("image_tail", "camera_control", "static_mask", "dynamic_masks")
        if fields.get(name)
    ]
    if len(exclusive) > 1 and not set(exclusive) <= {"static_mask", "dynamic_masks"}:
        return f"{' and '.join(exclusive)} cannot be used together"
    if fields.get("camera_control"):
        return _camera_violation(fields["camera_control"])
    return None


def _camera_violation(camera: dict[str, Any]) -> str | None:
    kind, config = camera.get("type"), camera.get("config")
    if kind in CAMERA_PRESETS:
        return None if not config else f"camera_control type {kind} takes no config"
    if kind != "simple":
        return f"camera_control type {kind!r} is not supported"
    if not isinstance(config, dict):
        return "camera_control.config is required for type simple"
    unknown = set(config) - set(CAMERA_AXES)
    if unknown:
        return f"camera_control.config has unknown axes: {', '.join(sorted(unknown))}"
    values = list(config.values())
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
        return "camera_control.config values must be numbers"
    if any(not -10 <= v <= 10 for v in values):
        return "camera_control.config values must be between -10 and 10"
    if sum(1 for v in values if v != 0) != 1:
        return "camera_control.config must have exactly one non-zero axis"
    return None
