"""The commands as the bot registers them at start-up (the PUT Discord receives), checked
against product-spec.md's names, options and rules, which members and the Discord client rely
on; and a restart with the same commands does not sync again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .harness import Cogs

MakeCogs = Callable[..., Awaitable[Cogs]]
STRING, INTEGER, CHANNEL, ROLE, NUMBER, ATTACHMENT = 3, 4, 7, 8, 10, 11
CAMERA = [
    "zoom_in", "zoom_out", "pan_left", "pan_right", "tilt_up", "tilt_down", "roll_left",
    "roll_right", "move_left", "move_right", "move_up", "move_down",
    "down_back", "forward_up", "right_turn_forward", "left_turn_forward",
]  # fmt: skip


def synced(cogs: Cogs) -> dict[str, dict[str, Any]]:
    [put] = [c for c in cogs.rest.calls if c.method == "PUT" and c.path.endswith("/commands")]
    return {c["name"]: c for c in put.body}


def options(command: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {o["name"]: o for o in command.get("options") or []}


def choices(option: dict[str, Any]) -> list[Any]:
    return [c["value"] for c in option.get("choices") or []]


async def test_every_command_of_the_spec_is_registered(cogs: Cogs) -> None:
    assert set(synced(cogs)) == {
        "video", "status", "cancel", "help", "history", "settings", "queue",
    }  # fmt: skip


async def test_video_options_follow_the_spec(make_cogs: MakeCogs) -> None:
    cogs = await make_cogs(kling_models=("kling-v3", "kling-v2-master"))
    video = options(synced(cogs)["video"])
    assert list(video) == [
        "prompt", "image", "end_image", "mode", "duration", "aspect_ratio", "negative_prompt",
        "cfg_scale", "camera", "camera_strength", "model",
    ]  # fmt: skip
    prompt = video["prompt"]
    assert (prompt["type"], prompt["required"]) == (STRING, True)
    assert (prompt["min_length"], prompt["max_length"]) == (1, 2500)
    assert video["image"]["type"] == video["end_image"]["type"] == ATTACHMENT
    assert choices(video["mode"]) == ["std", "pro"]
    assert (video["duration"]["type"], choices(video["duration"])) == (INTEGER, [5, 10])
    assert choices(video["aspect_ratio"]) == ["16:9", "9:16", "1:1"]
    assert video["negative_prompt"]["max_length"] == 2500
    cfg = video["cfg_scale"]
    assert (cfg["type"], cfg["min_value"], cfg["max_value"]) == (NUMBER, 0, 1)
    assert choices(video["camera"]) == CAMERA
    strength = video["camera_strength"]
    assert (strength["type"], strength["min_value"], strength["max_value"]) == (INTEGER, 1, 10)
    assert choices(video["model"]) == ["kling-v3", "kling-v2-master"]
    assert not any(o.get("required") for name, o in video.items() if name != "prompt")


async def test_status_and_cancel_take_a_task_id(cogs: Cogs) -> None:
    commands = synced(cogs)
    assert options(commands["status"])["task"].get("required", False) is False
    assert options(commands["cancel"])["task"]["required"] is True


async def test_settings_has_the_subcommands_of_the_spec(cogs: Cogs) -> None:
    settings = options(synced(cogs)["settings"])
    assert list(settings) == ["show", "defaults", "limits", "channels", "roles", "reset"]
    assert list(options(settings["defaults"])) == ["mode", "duration", "aspect_ratio", "model"]
    assert list(options(settings["limits"])) == [
        "active_per_member", "daily_per_member", "daily_server_credits",
    ]  # fmt: skip
    channels, roles = options(settings["channels"]), options(settings["roles"])
    assert choices(channels["action"]) == choices(roles["action"]) == ["allow", "remove", "clear"]
    assert (channels["channel"]["type"], roles["role"]["type"]) == (CHANNEL, ROLE)


async def test_a_restart_with_the_same_commands_does_not_sync_again(
    make_cogs: MakeCogs,
) -> None:
    first = await make_cogs()
    assert synced(first)
    again = await make_cogs(store=first.store)
    assert not [c for c in again.rest.calls if c.method == "PUT"]
    changed = await make_cogs(store=first.store, kling_models=("kling-v3", "kling-v9"))
    assert choices(options(synced(changed)["video"])["model"]) == ["kling-v3", "kling-v9"]
