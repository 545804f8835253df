"""Domain model of a video task: requests, states, camera moves and the rules of product-spec.md.

Nothing here knows about Discord, HTTP or SQL.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

MAX_PROMPT_CHARS = 2500
MAX_IMAGE_BYTES = 50 * 1024 * 1024  # what a member may attach (the bot fixes the rest)
MIN_IMAGE_SIDE = 300
MAX_IMAGE_ASPECT = 2.5
IMAGE_CONTENT_TYPES = frozenset({"image/png", "image/jpeg", "image/jpg", "image/webp"})
# Kling's own image rules (gateway-notes.md): what reaches the gateway always meets them.
# "10 MB" is read the stricter way (decimal), so it holds whichever way Kling counts.
KLING_IMAGE_MAX_BYTES = 10 * 1000 * 1000
KLING_IMAGE_TYPES = ("image/png", "image/jpeg")
MODES = ("std", "pro")
DURATIONS = (5, 10)
ASPECT_RATIOS = ("16:9", "9:16", "1:1")
DEFAULT_CAMERA_STRENGTH = 5


class TaskState(enum.StrEnum):
    PENDING = "pending"  # stored, not yet sent to the gateway
    SUBMITTING = "submitting"  # the create call may be on the wire
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def label(self) -> str:
        """The word a member reads."""
        if self in (TaskState.PENDING, TaskState.SUBMITTING):
            return "queued"
        return self.value.replace("_", " ")


TERMINAL_STATES = frozenset(
    {TaskState.COMPLETED, TaskState.FAILED, TaskState.TIMED_OUT, TaskState.CANCELLED}
)
ACTIVE_STATES = frozenset(set(TaskState) - TERMINAL_STATES)
POLLED_STATES = frozenset({TaskState.QUEUED, TaskState.RUNNING})


class DeliveryState(enum.StrEnum):
    NONE = "none"
    CLAIMED = "claimed"  # a delivery is (or was, before a crash) under way, or will be retried
    DELIVERED = "delivered"
    GAVE_UP = "gave_up"  # every attempt failed: not delivered; tried again at the next start

    @property
    def is_owed(self) -> bool:
        """Whether a delivery is still to be made (or retried) in this run."""
        return self in (DeliveryState.NONE, DeliveryState.CLAIMED)


# --- camera moves -----------------------------------------------------------------------------

# A move puts `camera_strength` on one axis, signed by its direction; a preset is a move of its
# own. How each is said to Kling is gateway/wire.py's business.
CAMERA_MOVES = (
    "zoom_in",
    "zoom_out",
    "pan_left",
    "pan_right",
    "tilt_up",
    "tilt_down",
    "roll_left",
    "roll_right",
    "move_left",
    "move_right",
    "move_up",
    "move_down",
)
CAMERA_PRESETS = ("down_back", "forward_up", "right_turn_forward", "left_turn_forward")
CAMERA_CHOICES = (*CAMERA_MOVES, *CAMERA_PRESETS)


def camera_label(camera: str) -> str:
    return camera.replace("_", " ")


# --- requests ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image as Discord describes it: the rules are checked on this metadata alone."""

    url: str
    filename: str
    content_type: str | None
    size: int
    width: int | None
    height: int | None

    @classmethod
    def of(cls, source: Any) -> ImageRef:
        """The description of anything with these attributes (a discord.Attachment)."""
        return cls(**{f.name: getattr(source, f.name) for f in fields(cls)})


@dataclass(frozen=True, slots=True)
class KeptFrames:
    """Where the bot keeps copies of a task's frames (fixed to Kling's rules): one message of
    its own, holding one file per frame. Attachment links expire; the message gives fresh ones."""

    channel_id: int
    message_id: int
    image: str | None = None  # the first frame's filename in that message
    end_image: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeptFrames:
        return cls(**data)


@dataclass(frozen=True, slots=True)
class VideoSettings:
    """What the video is to be, said alike by a member's request and by the create call."""

    prompt: str
    model: str
    mode: str = "std"
    duration: int = 5
    aspect_ratio: str = "16:9"
    negative_prompt: str | None = None
    cfg_scale: float | None = None
    camera: str | None = None  # one of CAMERA_CHOICES
    camera_strength: int = DEFAULT_CAMERA_STRENGTH

    def settings(self) -> dict[str, Any]:
        """These fields alone (not a subclass's), by name."""
        return {f.name: getattr(self, f.name) for f in fields(VideoSettings)}


@dataclass(frozen=True, slots=True)
class VideoRequest(VideoSettings):
    """What a member asked for, as validated by `validate_request`."""

    image: ImageRef | None = None
    end_image: ImageRef | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VideoRequest:
        data = dict(data)
        for key in ("image", "end_image"):
            if data.get(key) is not None:
                data[key] = ImageRef(**data[key])
        return cls(**data)


@dataclass(frozen=True, slots=True)
class GenerationRequest(VideoSettings):
    """One create call, independent of the API style that carries it."""

    image: str | None = None  # public URL or raw base64
    image_tail: str | None = None
    callback_url: str | None = None
    external_task_id: str | None = None

    @classmethod
    def for_task(
        cls,
        request: VideoRequest,
        *,
        external_task_id: str,
        callback_url: str | None,
        frames: tuple[str | None, str | None] | None = None,
    ) -> GenerationRequest:
        """`frames`: the first and last frame as prepared for the gateway (a URL or raw base64);
        without it, the attachments' own links."""
        if frames is None:
            frames = (
                request.image.url if request.image else None,
                request.end_image.url if request.end_image else None,
            )
        return cls(
            **request.settings() | {"negative_prompt": request.negative_prompt or None},
            image=frames[0],
            image_tail=frames[1],
            callback_url=callback_url,
            external_task_id=external_task_id,
        )


class GatewayState(enum.StrEnum):
    """A remote task's state, whatever shape the gateway used to say it."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class TaskSnapshot:
    """One reading of a remote task."""

    task_id: str
    state: GatewayState
    progress: int = 0  # 0-100
    video_url: str | None = None
    failure_reason: str | None = None


# --- tasks ------------------------------------------------------------------------------------


def new_task_id() -> str:
    """32 lowercase hex characters; the first 8 are the short id members type."""
    return secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asked, and where."""

    user_id: int
    guild_id: int | None
    channel_id: int
    parent_channel_id: int | None = None  # the channel a thread belongs to
    role_ids: frozenset[int] = frozenset()
    is_admin: bool = False
    upload_limit: int = 10 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class VideoTask:
    id: str
    requester_id: int
    guild_id: int | None
    channel_id: int
    request: VideoRequest
    created_at: float
    deadline_at: float
    next_poll_at: float
    state: TaskState = TaskState.PENDING
    thread_id: int | None = None
    status_message_id: int | None = None
    upload_limit: int = 10 * 1024 * 1024
    gateway_task_id: str | None = None
    progress: int = 0
    result_url: str | None = None
    failure_reason: str | None = None
    attempts: int = 0
    poll_errors: int = 0
    updated_at: float = 0.0
    finished_at: float | None = None
    delivery: DeliveryState = DeliveryState.NONE
    delivery_message_id: int | None = None
    delivered_at: float | None = None
    delivery_attempts: int = 0  # failed delivery attempts so far
    delivery_retry_at: float | None = None  # when the next delivery attempt is due
    retry_of: str | None = None
    cost: float = 0.0  # credits, fixed at admission (TASK_COSTS then)
    # Waiting for the gateway (a create that surely did not reach it): why, and not before when
    # to send it again. Both None while the task is not waiting.
    wait_reason: str | None = None
    send_after: float | None = None
    frames: KeptFrames | None = None

    @property
    def short_id(self) -> str:
        return self.id[:8]

    @property
    def waiting(self) -> bool:
        """Not sent yet because the gateway could not take it; it is sent again later."""
        return self.state is TaskState.PENDING and self.wait_reason is not None

    @property
    def status_label(self) -> str:
        """The state as a member reads it, saying when the task waits for the gateway."""
        if self.waiting:
            return f"{self.state.label} (waiting for the video service)"
        return self.state.label

    @property
    def target_channel_id(self) -> int:
        """Where everything about the task is said: its thread, else its channel."""
        return self.thread_id or self.channel_id

    def evolve(self, **changes: Any) -> VideoTask:
        return replace(self, **changes)
