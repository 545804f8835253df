"""/video: options -> VideoRequest -> service -> public status embed and thread."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.app_commands import Choice, Range
from discord.ext import commands

from videojobs.credits import credits_text
from videojobs.models import (
    ASPECT_RATIOS,
    CAMERA_CHOICES,
    DEFAULT_CAMERA_STRENGTH,
    MAX_PROMPT_CHARS,
    ImageRef,
    VideoRequest,
    camera_label,
)
from videojobs.policy import BotDefaults

from .front import Front, launch, requester_of
from .render import clip

DESCRIPTION_LIMIT = 100  # Discord refuses the whole command sync over it (50035)


def descriptions(defaults: BotDefaults) -> dict[str, str]:
    """The options' descriptions, with the numbers of the bot's policy (a server may set
    other defaults: /help shows them)."""
    costs = ", ".join(f"{m} {credits_text(c)}" for m, c in defaults.task_costs)
    server = "unless the server set another"
    texts = {
        "prompt": f"What the video shows (1-{MAX_PROMPT_CHARS} characters)",
        "image": "First frame: PNG, JPEG or WebP, up to 50 MB, sides at least 300 px",
        "end_image": "Last frame (needs image): PNG, JPEG or WebP, same rules",
        "mode": f"std is faster, pro better; credits per 5 s: {costs} (default {defaults.mode})",
        "duration": f"Length in seconds (default {defaults.duration} {server})",
        "aspect_ratio": f"Frame shape (default {defaults.aspect_ratio} {server}; an image decides)",
        "negative_prompt": f"What to keep out of the video (up to {MAX_PROMPT_CHARS} characters)",
        "cfg_scale": "How closely to follow the prompt, 0 to 1",
        "camera": "A camera move (not with end_image)",
        "camera_strength": f"How strong the camera move is, 1 to 10 (default "
        f"{DEFAULT_CAMERA_STRENGTH})",
        "model": f"Which model makes the video (default {defaults.model} {server})",
    }
    return {name: clip(text, DESCRIPTION_LIMIT) for name, text in texts.items()}


def normalise_choice(value: str | None) -> str | None:
    """Accept a choice's value or its displayed name ("zoom in", "Zoom-In" -> "zoom_in")."""
    if value is None:
        return None
    return value.strip().lower().replace(" ", "_").replace("-", "_")


def image_ref(attachment: discord.Attachment | None) -> ImageRef | None:
    if attachment is None:
        return None
    return ImageRef.of(attachment)


def build_video_command(front: Front) -> app_commands.Command[commands.Cog, ..., None]:
    """The /video command, built at start-up because its model choices come from settings."""

    @app_commands.command(name="video", description="Make a video from a prompt and images")
    @app_commands.describe(**descriptions(front.defaults))
    @app_commands.choices(  # type: ignore[misc]  # str and int choices side by side
        mode=[Choice(name="std", value="std"), Choice(name="pro", value="pro")],
        duration=[Choice(name="5 seconds", value=5), Choice(name="10 seconds", value=10)],
        aspect_ratio=[Choice(name=a, value=a) for a in ASPECT_RATIOS],
        camera=[Choice(name=camera_label(c), value=c) for c in CAMERA_CHOICES],
        model=[Choice(name=m, value=m) for m in front.models],
    )
    async def video(
        interaction: discord.Interaction,
        prompt: Range[str, 1, MAX_PROMPT_CHARS],
        image: discord.Attachment | None = None,
        end_image: discord.Attachment | None = None,
        mode: str | None = None,
        duration: int | None = None,
        aspect_ratio: str | None = None,
        negative_prompt: Range[str, None, MAX_PROMPT_CHARS] | None = None,
        cfg_scale: Range[float, 0.0, 1.0] | None = None,
        camera: str | None = None,
        camera_strength: Range[int, 1, 10] | None = None,
        model: str | None = None,
    ) -> None:
        # options left out take the server's defaults, then the environment's
        policy = await front.policies.for_guild(interaction.guild_id)
        request = VideoRequest(
            prompt=prompt,
            model=(model or policy.model).strip(),
            mode=normalise_choice(mode) or policy.mode,
            duration=duration or policy.duration,
            aspect_ratio=(aspect_ratio or policy.aspect_ratio).strip(),
            negative_prompt=negative_prompt,
            cfg_scale=cfg_scale,
            image=image_ref(image),
            end_image=image_ref(end_image),
            camera=normalise_choice(camera),
            camera_strength=camera_strength or DEFAULT_CAMERA_STRENGTH,
        )
        with front.inflight.track():
            # Database only before the first response: the rules, allowlists and limits.
            task = await front.service.admit(request, requester_of(interaction))
            interaction.extras["task_id"] = task.id
            await launch(interaction, front, task)

    return video
