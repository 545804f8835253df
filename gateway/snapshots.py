"""Reading a task from whatever the gateway answered: the doc's object, the relay's wrapper,
the OpenAI style or Kling's own task object (gateway-notes.md), with every spelling of a state,
progress as a number or a string, and the video's link or the failure's words wherever the
shape keeps them."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from videojobs.models import GatewayState, TaskSnapshot

from .errors import describe_failure, unreadable_response

logger = logging.getLogger(__name__)

NO_VIDEO_REASON = "The video service said the video was ready but gave no link to it."

# Every spelling of a state seen across the doc's object, the relay's wrapper, the OpenAI
# style and Kling's own task object, lower-cased.
_STATES = {
    "not_start": GatewayState.PENDING,
    "submitted": GatewayState.PENDING,
    "queued": GatewayState.PENDING,
    "pending": GatewayState.PENDING,
    "unknown": GatewayState.PENDING,
    "in_progress": GatewayState.RUNNING,
    "processing": GatewayState.RUNNING,
    "running": GatewayState.RUNNING,
    "success": GatewayState.COMPLETED,
    "succeed": GatewayState.COMPLETED,
    "succeeded": GatewayState.COMPLETED,
    "completed": GatewayState.COMPLETED,
    "failure": GatewayState.FAILED,
    "failed": GatewayState.FAILED,
}


def is_error_body(data: Any) -> bool:
    """A 2xx body that is one of the error shapes rather than a task."""
    if not isinstance(data, dict) or any(key in data for key in ("status", "id", "task_id")):
        return False
    if isinstance(data.get("error"), dict):
        return True
    return data.get("data") is None and data.get("code") not in (None, "", "success", 0)


def created_snapshot(data: Any, secrets: tuple[str, ...]) -> TaskSnapshot:
    if not isinstance(data, dict):
        raise unreadable_response(200, str(data), "not a JSON object", secrets=secrets)
    task = _unwrap(data)
    task_id = task.get("task_id") or task.get("id")
    if not task_id:
        raise unreadable_response(200, str(data), "no task id", secrets=secrets)
    if _status_of(task) is None:
        return TaskSnapshot(task_id=str(task_id), state=GatewayState.PENDING)
    return parse_snapshot(data, str(task_id))


def _unwrap(data: dict[str, Any]) -> dict[str, Any]:
    """The task object itself: the relay's wrapper and Kling's envelope keep it in `data`."""
    inner = data.get("data")
    if _status_of(data) is None and isinstance(inner, dict):
        return inner
    return data


def _status_of(task: dict[str, Any]) -> Any:
    return task.get("status", task.get("task_status"))


def parse_snapshot(data: Any, fallback_task_id: str) -> TaskSnapshot:
    """Read a task from any retrieve shape: the doc's object, the relay's wrapper, the OpenAI
    style or Kling's own task object. Raises a retryable GatewayError when it is none of them.
    """
    if not isinstance(data, dict):
        raise unreadable_response(200, str(data), "not a JSON object")
    task = _unwrap(data)
    status = _status_of(task)
    if status is None:
        raise unreadable_response(200, str(data), "no task status")
    task_id = str(task.get("task_id") or task.get("id") or fallback_task_id)
    state = _state(status, task_id)
    progress = _progress(task.get("progress"))
    kling_task = _kling_task(task)

    if state is GatewayState.COMPLETED:
        url = _video_url(task, kling_task)
        if url is None:
            return TaskSnapshot(task_id, GatewayState.FAILED, progress, None, NO_VIDEO_REASON)
        return TaskSnapshot(task_id, state, 100, url)
    if state is GatewayState.FAILED:
        return TaskSnapshot(
            task_id, state, progress, None, describe_failure(_failure_text(task, kling_task))
        )
    return TaskSnapshot(task_id, state, progress)


def _state(status: Any, task_id: str) -> GatewayState:
    key = str(status).strip().lower().replace("-", "_").replace(" ", "_")
    state = _STATES.get(key)
    if state is None:
        logger.warning("gateway task %s has unknown status %r; taken as pending", task_id, status)
        return GatewayState.PENDING
    return state


def _progress(value: Any) -> int:
    """0-100 from an int, a float, "30%", "30" or nothing."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, str):
        value = value.strip().rstrip("%").strip()
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0
    if not math.isfinite(number):
        return 0
    return max(0, min(100, int(number)))


def _kling_task(task: dict[str, Any]) -> dict[str, Any] | None:
    """Kling's own task object (`task_status`, `task_result`), wherever the shape keeps it."""
    candidate: Any = task
    for _ in range(3):
        if not isinstance(candidate, dict):
            return None
        if "task_result" in candidate or "task_status" in candidate:
            return candidate
        candidate = candidate.get("data")
    return None


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://"))


def _video_url(task: dict[str, Any], kling_task: dict[str, Any] | None) -> str | None:
    candidates: list[Any] = []
    metadata = task.get("metadata")
    if isinstance(metadata, Mapping):
        candidates.append(metadata.get("url"))
    candidates += [task.get("url"), task.get("result_url")]
    if kling_task is not None:
        result = kling_task.get("task_result")
        videos = result.get("videos") if isinstance(result, dict) else None
        if isinstance(videos, list) and videos and isinstance(videos[0], dict):
            candidates.append(videos[0].get("url"))
    return next((str(url) for url in candidates if _is_url(url)), None)


def _failure_text(task: dict[str, Any], kling_task: dict[str, Any] | None) -> str | None:
    error = task.get("error")
    candidates: list[Any] = [
        error.get("message") if isinstance(error, dict) else error,
        task.get("fail_reason"),
        # On FAILURE the wrapper's result_url holds the failure text, not a URL.
        None if _is_url(task.get("result_url")) else task.get("result_url"),
        kling_task.get("task_status_msg") if kling_task else None,
    ]
    return next((str(text) for text in candidates if isinstance(text, str) and text.strip()), None)
