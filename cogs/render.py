"""How tasks look in Discord: embeds, progress bars, result texts. Pure functions, no I/O."""

from __future__ import annotations

import time

import discord

from videojobs.admission import Overview
from videojobs.credits import credits_text, credits_word
from videojobs.estimates import Estimate
from videojobs.models import DeliveryState, TaskState, VideoRequest, VideoTask, camera_label

COLOURS = {
    TaskState.PENDING: discord.Colour.light_grey(),
    TaskState.SUBMITTING: discord.Colour.light_grey(),
    TaskState.QUEUED: discord.Colour.light_grey(),
    TaskState.RUNNING: discord.Colour.blurple(),
    TaskState.COMPLETED: discord.Colour.green(),
    TaskState.FAILED: discord.Colour.red(),
    TaskState.TIMED_OUT: discord.Colour.orange(),
    TaskState.CANCELLED: discord.Colour.dark_grey(),
}
BAR_CELLS = 12


def progress_bar(percent: int) -> str:
    percent = max(0, min(100, percent))
    filled = round(percent / 100 * BAR_CELLS)
    return f"{'▰' * filled}{'▱' * (BAR_CELLS - filled)} {percent}%"


def duration_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def elapsed(task: VideoTask, now: float) -> float:
    return (task.finished_at or now) - task.created_at


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def settings_text(request: VideoRequest) -> str:
    parts = [
        request.model,
        request.mode,
        f"{request.duration}s",
        "follows the image" if request.image else request.aspect_ratio,
    ]
    if request.camera:
        parts.append(f"camera {camera_label(request.camera)} ({request.camera_strength})")
    if request.cfg_scale is not None:
        parts.append(f"cfg {request.cfg_scale:g}")
    return " · ".join(parts)


def status_embed(task: VideoTask, now: float, estimate: Estimate | None = None) -> discord.Embed:
    """The public status message: prompt, settings, short id, state, progress, elapsed time,
    and the estimate of the time left once the bot has learnt one."""
    request = task.request
    embed = discord.Embed(
        title=f"Video `{task.short_id}` · {task.status_label}",
        description=clip(request.prompt, 1500),
        colour=COLOURS[task.state],
    )
    embed.add_field(name="Settings", value=settings_text(request), inline=False)
    if request.negative_prompt:
        embed.add_field(name="Avoid", value=clip(request.negative_prompt, 500), inline=False)
    frames = [f"first frame: {request.image.filename}"] if request.image else []
    if request.end_image:
        frames.append(f"last frame: {request.end_image.filename}")
    if frames:
        embed.add_field(name="Images", value=clip(" · ".join(frames), 500), inline=False)
    progress = 100 if task.state is TaskState.COMPLETED else task.progress
    embed.add_field(name="Progress", value=progress_bar(progress), inline=True)
    embed.add_field(name="Elapsed", value=duration_text(elapsed(task, now)), inline=True)
    if estimate is not None and not task.state.is_terminal:
        embed.add_field(name="Estimate", value=estimate.text, inline=True)
    if task.failure_reason and task.state.is_terminal:
        embed.add_field(name="Why", value=clip(task.failure_reason, 1000), inline=False)
    if task.waiting:
        embed.add_field(
            name="Waiting for the video service", value=waiting_text(task), inline=False
        )
    embed.set_footer(
        text=f"Task {task.short_id} · /status {task.short_id} · /cancel {task.short_id}"
    )
    return embed


def waiting_text(task: VideoTask) -> str:
    """Why a task waits, and until when the bot keeps trying."""
    return (
        "The video service is down or busy right now. Your video keeps its place and is sent "
        f"as soon as the service answers; the bot keeps trying until "
        f"{timestamp(task.deadline_at, 't')}."
    )


def details_embed(task: VideoTask, now: float) -> discord.Embed:
    """Every setting and id of a task (the Details button and `/status task`)."""
    request = task.request
    embed = discord.Embed(
        title=f"Task `{task.short_id}` · {task.status_label}",
        description=clip(request.prompt, 2000),
        colour=COLOURS[task.state],
    )
    fields: list[tuple[str, str]] = [
        ("Model", request.model),
        ("Mode", request.mode),
        ("Duration", f"{request.duration} s"),
        ("Aspect ratio", request.aspect_ratio + (" (follows the image)" if request.image else "")),
        ("Negative prompt", clip(request.negative_prompt or "—", 500)),
        ("cfg_scale", "default" if request.cfg_scale is None else f"{request.cfg_scale:g}"),
        (
            "Camera",
            f"{camera_label(request.camera)}, strength {request.camera_strength}"
            if request.camera
            else "—",
        ),
        ("First frame", request.image.filename if request.image else "—"),
        ("Last frame", request.end_image.filename if request.end_image else "—"),
        ("Requested by", f"<@{task.requester_id}>"),
        ("Progress", progress_bar(100 if task.state is TaskState.COMPLETED else task.progress)),
        ("Elapsed", duration_text(elapsed(task, now))),
        ("Task id", f"`{task.id}`"),
        ("Gateway task id", f"`{task.gateway_task_id}`" if task.gateway_task_id else "not yet"),
        ("Started", timestamp(task.created_at)),
        ("Finished", timestamp(task.finished_at) if task.finished_at else "—"),
    ]
    delivery = delivery_text(task)
    if delivery:
        fields.append(("Result message", delivery))
    if task.cost:
        refunded = " (given back: it failed)" if task.state is TaskState.FAILED else ""
        fields.append(("Credits", credits_word(task.cost) + refunded))
    if task.retry_of:
        fields.append(("Made from", f"`{task.retry_of[:8]}` (Retry or Remix)"))
    if task.result_url:
        fields.append(("Video link", f"[open]({task.result_url}) (expires within 30 days)"))
    if task.failure_reason:
        fields.append(("Why", clip(task.failure_reason, 1000)))
    for name, value in fields:
        embed.add_field(name=name, value=value, inline=len(value) < 40)
    return embed


def timestamp(when: float, style: str = "f") -> str:
    return f"<t:{int(when)}:{style}>"


def jump_url(task: VideoTask) -> str | None:
    if task.guild_id is None or task.delivery_message_id is None:
        return None
    return (
        f"https://discord.com/channels/{task.guild_id}/{task.target_channel_id}/"
        f"{task.delivery_message_id}"
    )


def delivery_text(task: VideoTask) -> str | None:
    """Whether the message telling the requester how the task ended was posted (None while the
    task runs)."""
    if not task.state.is_terminal:
        return None
    if task.delivery is DeliveryState.DELIVERED:
        link = jump_url(task)
        return f"[posted]({link})" if link else "posted"
    if task.delivery is DeliveryState.GAVE_UP:
        return (
            f"not posted: Discord refused it {task.delivery_attempts} times; the bot tries "
            "again when it restarts"
        )
    if task.delivery_attempts:
        return f"not posted yet: {task.delivery_attempts} attempts failed, trying again"
    return "being posted"


def overview_embed(view: Overview, now: float) -> discord.Embed:
    embed = discord.Embed(title="Your videos", colour=discord.Colour.blurple())
    if view.unfinished:
        lines = [
            f"`{t.short_id}` {t.status_label} {progress_bar(t.progress)} · "
            f"{duration_text(elapsed(t, now))} · {clip(t.request.prompt, 40)}"
            for t in view.unfinished
        ]
        embed.add_field(name="In progress", value=clip("\n".join(lines), 1024), inline=False)
    else:
        embed.add_field(name="In progress", value="Nothing right now.", inline=False)
    if view.recent:
        lines = []
        for t in view.recent:
            link = jump_url(t)
            where = f" · [result]({link})" if link else ""
            if t.delivery is DeliveryState.GAVE_UP:
                where = " · result not posted (tried again when the bot restarts)"
            lines.append(f"`{t.short_id}` {t.state.label}{where} · {clip(t.request.prompt, 40)}")
        embed.add_field(name="Recent", value=clip("\n".join(lines), 1024), inline=False)
    embed.add_field(
        name="Left today",
        value=(
            f"{_left(view.daily_left)} new videos today (UTC) · "
            f"{_left(view.active_left)} more at the same time"
            + (
                ""
                if view.credits_left is None
                else f" · this server has {credits_text(view.credits_left)} credits left today"
            )
        ),
        inline=False,
    )
    if view.server_unfinished is not None:
        embed.set_footer(text=f"{view.server_unfinished} videos in progress in this server")
    return embed


def _left(value: int | None) -> str:
    return "unlimited" if value is None else str(value)


def result_text(
    task: VideoTask,
    *,
    link_instead: bool = False,
    smaller_copy: bool = False,
    limit: int = 0,
    cannot_attach: bool = False,
) -> str:
    """The content of the message that tells the requester how the task ended."""
    who = f"<@{task.requester_id}>"
    tag = f"`{task.short_id}`"
    if task.state is TaskState.COMPLETED:
        size = f" ({size_text(limit)})" if limit else ""
        expiry = "The link expires (Kling deletes videos after at most 30 days): download it soon."
        if smaller_copy:
            return (
                f"{who} your video {tag} is ready. It is larger than this server's upload "
                f"limit{size}, so this is a smaller copy; the original is here: "
                f"{task.result_url}\n{expiry}"
            )
        if not link_instead:
            return f"{who} your video {tag} is ready."
        if cannot_attach:
            return (
                f"{who} your video {tag} is ready. The bot may not upload files here (it "
                f"needs the Attach Files permission), so here is the link: {task.result_url}\n"
                f"{expiry}"
            )
        return (
            f"{who} your video {tag} is ready. It is larger than this server's upload "
            f"limit{size}, so here is the link: {task.result_url}\n{expiry}"
        )
    reason = task.failure_reason or "No reason was given."
    if task.state is TaskState.TIMED_OUT:
        return f"{who} your video {tag} timed out. {reason}"
    if task.state is TaskState.CANCELLED:
        return f"{who} your video {tag} was cancelled. {reason}"
    return f"{who} your video {tag} failed. {reason}"


def size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.0f} MB"
    return f"{max(1, round(size / 1024))} KB"


def now_utc() -> float:
    return time.time()
