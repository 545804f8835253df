"""What the gateway says about a task: the create answer, the three retrieve shapes (the doc's
object, the relay's wrapper, the OpenAI-style object) and Kling's own task object, which sits
inside the wrapper and is the body of every callback (gateway-notes.md, "Retrieve: three
shapes")."""

from __future__ import annotations

from typing import Any

from .error_bodies import request_id
from .tasks import TERMINAL_PHASES, Phase, SimTask, TaskBook, View

STATUS_WORDS: dict[str, dict[Phase, str]] = {
    "doc": {
        Phase.SUBMITTED: "queued",
        Phase.QUEUED: "queued",
        Phase.RUNNING: "in_progress",
        Phase.SUCCEEDED: "completed",
        Phase.FAILED: "failed",
    },
    "wrapper": {
        Phase.SUBMITTED: "SUBMITTED",
        Phase.QUEUED: "QUEUED",
        Phase.RUNNING: "IN_PROGRESS",
        Phase.SUCCEEDED: "SUCCESS",
        Phase.FAILED: "FAILURE",
    },
    "kling": {
        Phase.SUBMITTED: "submitted",
        Phase.QUEUED: "submitted",
        Phase.RUNNING: "processing",
        Phase.SUCCEEDED: "succeed",
        Phase.FAILED: "failed",
    },
}
STATUS_WORDS["openai"] = {**STATUS_WORDS["doc"], Phase.SUBMITTED: "unknown"}


def video_url(task: SimTask, origin: str) -> str:
    """Where the simulator serves the finished video (standing in for Kling's CDN)."""
    return f"{origin}/files/{task.id}.mp4"


class TaskBodies:
    """The JSON bodies about the tasks of `book`, with its clock turned into Unix times."""

    def __init__(self, book: TaskBook) -> None:
        self._book = book

    def created(self, task: SimTask) -> dict[str, Any]:
        return {
            "id": task.id,
            "task_id": task.id,
            "object": "video",
            "model": task.model,
            "status": "queued",
            "progress": 0,
            "created_at": int(self._book.wall(task.created)),
        }

    def retrieved(self, task: SimTask, shape: str, origin: str) -> dict[str, Any]:
        """The task as the relay shows it now, in retrieve shape "doc", "wrapper" or "openai"."""
        view = self._book.view(task)
        if shape == "wrapper":
            return self._wrapper(task, view, origin)
        return self._doc(task, view, origin, openai=shape == "openai")

    def _doc(self, task: SimTask, view: View, origin: str, *, openai: bool) -> dict[str, Any]:
        scale = 1000 if openai else 1
        wall = self._book.wall
        body: dict[str, Any] = {
            "id": task.id,
            "object": "video",
            "model": "" if openai else task.model,
            "status": STATUS_WORDS["openai" if openai else "doc"][view.phase],
            "progress": view.progress,
            "seconds": task.duration,
            "created_at": int(wall(task.created) * scale),
        }
        if not openai:
            body["task_id"] = task.id
        if view.phase in TERMINAL_PHASES:
            body["completed_at"] = int(wall(task.finishes) * scale)
        if view.phase is Phase.SUCCEEDED:
            body["metadata"] = {"url": video_url(task, origin)}
        elif view.phase is Phase.FAILED:
            body["error"] = {"message": task.failure, "code": "task_failed"}
        return body

    def _wrapper(self, task: SimTask, view: View, origin: str) -> dict[str, Any]:
        wall = self._book.wall
        done = view.phase in TERMINAL_PHASES
        url = video_url(task, origin) if view.phase is Phase.SUCCEEDED else ""
        failure = task.failure if view.phase is Phase.FAILED else ""
        return {
            "code": "success",
            "message": "",
            "data": {
                "task_id": task.id,
                "action": "generate" if task.kind == "image2video" else "textGenerate",
                "status": STATUS_WORDS["wrapper"][view.phase],
                "fail_reason": failure,
                "result_url": url or failure,  # on FAILURE the relay puts the reason here
                "submit_time": int(wall(task.created)),
                "start_time": int(wall(task.created + task.queued_for))
                if view.phase not in (Phase.SUBMITTED, Phase.QUEUED)
                else 0,
                "finish_time": int(wall(task.finishes)) if done else 0,
                "progress": f"{view.progress}%",
                "data": {
                    "code": 0,
                    "message": "SUCCEED",
                    "request_id": request_id(),
                    "data": self.kling_task(task, view, origin),
                },
            },
        }

    def kling_task(self, task: SimTask, view: View, origin: str) -> dict[str, Any]:
        """Kling's own task object: inside the wrapper, and the body of every callback."""
        wall = self._book.wall
        body: dict[str, Any] = {
            "task_id": task.kling_id,
            "task_status": STATUS_WORDS["kling"][view.phase],
            "task_status_msg": (task.failure or "") if view.phase is Phase.FAILED else "",
            "task_info": {"external_task_id": task.external_task_id or ""},
            "created_at": int(wall(task.created) * 1000),
            "updated_at": int(wall(view.seen_at) * 1000),
        }
        if view.phase is Phase.SUCCEEDED:
            video = {"id": f"v_{task.kling_id}", "url": video_url(task, origin)}
            body["task_result"] = {"videos": [{**video, "duration": task.duration}]}
        return body
