"""The one mapping between a VideoTask and a row of `tasks`, shared by every SQL backend.

Both SQLite and PostgreSQL store the same columns with the same meaning (times as seconds since
the epoch, Discord ids as 64-bit integers, the request as JSON text), so a row read from either
(an sqlite3.Row or an asyncpg.Record: anything indexable by column name) maps back the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Protocol

from videojobs.models import (
    ACTIVE_STATES,
    POLLED_STATES,
    TERMINAL_STATES,
    DeliveryState,
    KeptFrames,
    TaskState,
    VideoRequest,
    VideoTask,
)
from videojobs.policy import SettingRecord

COLUMNS = (
    "id",
    "short_id",
    "requester_id",
    "guild_id",
    "channel_id",
    "thread_id",
    "status_message_id",
    "upload_limit",
    "request",
    "gateway_task_id",
    "state",
    "progress",
    "result_url",
    "failure_reason",
    "attempts",
    "poll_errors",
    "next_poll_at",
    "deadline_at",
    "created_at",
    "updated_at",
    "finished_at",
    "delivery",
    "delivery_message_id",
    "delivered_at",
    "delivery_attempts",
    "delivery_retry_at",
    "delivery_gave_up_at",
    "retry_of",
    "cost",
    "wait_reason",
    "send_after",
    "frames",
)
# What `update` writes: everything but the identity, the request, the creation time, the task it
# retries, its cost and the delivery columns (those belong to claim_delivery, mark_delivered and
# the retry writes, so that a stale copy of a task never undoes a claim or a delivery).
_FIXED_COLUMNS = frozenset(
    {"id", "short_id", "requester_id", "guild_id", "channel_id", "request", "created_at"}
    | {"retry_of", "cost"}
    | {c for c in COLUMNS if c.startswith("deliver")}
)
MUTABLE_COLUMNS = tuple(c for c in COLUMNS if c not in _FIXED_COLUMNS)


def state_list(states: Iterable[TaskState]) -> str:
    """An SQL literal list of states, in a fixed order (the partial indexes repeat it)."""
    order = list(TaskState)
    return "(" + ", ".join(f"'{s.value}'" for s in sorted(states, key=order.index)) + ")"


# The state lists below must match the partial indexes of both backends' first migration
# exactly (same values, same order), or SQLite will not use those indexes.
POLLED = state_list(POLLED_STATES)
ACTIVE = state_list(ACTIVE_STATES)
TERMINAL = state_list(TERMINAL_STATES)
UNDELIVERED = "delivery IN ('none', 'claimed')"
# DeliveryState.GAVE_UP is stored as delivery = 'claimed' with delivery_gave_up_at set (SQLite's
# CHECK on `delivery` can't be widened without rebuilding the table); only this module and the
# WHERE clauses built from NOT_GAVE_UP know it.
NOT_GAVE_UP = "delivery_gave_up_at IS NULL"
OWED = f"{UNDELIVERED} AND state IN {TERMINAL} AND {NOT_GAVE_UP}"

_STATES = {state.value: state for state in TaskState}
_DELIVERIES = {delivery.value: delivery for delivery in DeliveryState}


class Row(Protocol):
    def __getitem__(self, key: str, /) -> Any: ...


def mutable_fields(task: VideoTask) -> dict[str, Any]:
    """The id and the MUTABLE_COLUMNS, for `update` (no request JSON to build)."""
    return {
        "id": task.id,
        "thread_id": task.thread_id,
        "status_message_id": task.status_message_id,
        "upload_limit": task.upload_limit,
        "gateway_task_id": task.gateway_task_id,
        "state": task.state.value,
        "progress": task.progress,
        "result_url": task.result_url,
        "failure_reason": task.failure_reason,
        "attempts": task.attempts,
        "poll_errors": task.poll_errors,
        "next_poll_at": float(task.next_poll_at),
        "deadline_at": float(task.deadline_at),
        "updated_at": float(task.updated_at),
        "finished_at": _float(task.finished_at),
        "wait_reason": task.wait_reason,
        "send_after": _float(task.send_after),
        "frames": _frames_to_json(task.frames),
    }


def to_row(task: VideoTask) -> dict[str, Any]:
    """Every column, for the insert."""
    return (
        mutable_fields(task)
        | {
            "short_id": task.short_id,
            "requester_id": task.requester_id,
            "guild_id": task.guild_id,
            "channel_id": task.channel_id,
            "request": json.dumps(
                task.request.to_json(), ensure_ascii=False, separators=(",", ":")
            ),
            "created_at": float(task.created_at),
            "delivery_message_id": task.delivery_message_id,
            "delivered_at": _float(task.delivered_at),
            "delivery_attempts": task.delivery_attempts,
            "delivery_retry_at": _float(task.delivery_retry_at),
            "retry_of": task.retry_of,
            "cost": float(task.cost),
        }
        | _delivery_columns(task)
    )


def _delivery_columns(task: VideoTask) -> dict[str, Any]:
    if task.delivery is DeliveryState.GAVE_UP:
        gave_up_at = task.finished_at or task.updated_at
        return {"delivery": DeliveryState.CLAIMED.value, "delivery_gave_up_at": float(gave_up_at)}
    return {"delivery": task.delivery.value, "delivery_gave_up_at": None}


def _delivery_state(row: Row) -> DeliveryState:
    delivery = _DELIVERIES[row["delivery"]]
    if delivery is DeliveryState.CLAIMED and row["delivery_gave_up_at"] is not None:
        return DeliveryState.GAVE_UP
    return delivery


def _frames_to_json(frames: KeptFrames | None) -> str | None:
    if frames is None:
        return None
    return json.dumps(frames.to_json(), separators=(",", ":"))


def _frames_from_json(text: str | None) -> KeptFrames | None:
    return None if text is None else KeptFrames.from_json(json.loads(text))


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


@lru_cache(maxsize=16_384)
def _request_from_json(text: str) -> VideoRequest:
    """Requests never change and VideoRequest is frozen, so a polled task's is decoded once."""
    return VideoRequest.from_json(json.loads(text))


# Columns read into the task as they are; `from_row` decodes the others.
_DECODED = frozenset({"short_id", "request", "state", "delivery", "delivery_gave_up_at", "frames"})
_AS_STORED = tuple(c for c in COLUMNS if c not in _DECODED)


def from_row(row: Row) -> VideoTask:
    return VideoTask(
        **{column: row[column] for column in _AS_STORED},
        request=_request_from_json(row["request"]),
        state=_STATES[row["state"]],
        delivery=_delivery_state(row),
        frames=_frames_from_json(row["frames"]),
    )


def by_finish(task: VideoTask) -> tuple[bool, float, float]:
    """The order of owed deliveries: the longest finished first (no finish time first)."""
    return (task.finished_at is not None, task.finished_at or 0.0, task.created_at)


def from_rows(rows: Iterable[Row]) -> list[VideoTask]:
    return [from_row(row) for row in rows]


def setting_from_row(row: Any) -> SettingRecord:
    """A guild_settings row (key, value, changed_by, changed_at) as the policy's record."""
    return SettingRecord(key=row[0], value=row[1], changed_by=int(row[2]), changed_at=float(row[3]))
