"""The gateway's API routes: create (unified and Kling-compatible), retrieve (three shapes),
the video content and the result files that stand in for Kling's CDN. Every refusal a create
can meet is checked here, in the relay's order: model, quota, prompt, Kling's rules."""

from __future__ import annotations

import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from .callbacks import CallbackSender
from .error_bodies import (
    Rejection,
    code_shape,
    error_shape,
    invalid_request,
    json_response,
    kling_json,
    kling_rejection,
    task_not_exist,
)
from .rules import check_strict_decoding, kling_rule_violation, unified_to_kling
from .task_bodies import TaskBodies
from .tasks import Phase, SimTask, TaskBook

SAMPLE_MP4 = Path(__file__).parent.parent / "assets" / "sample.mp4"
POLICY_MESSAGE = "Failure to pass the risk control system"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Videos:
    """The mp4 every finished task serves: the bundled sample, or one padded to a size."""

    def __init__(self) -> None:
        self.sample = SAMPLE_MP4.read_bytes()
        self._big: tuple[int, bytes] | None = None  # (size, padded mp4)

    def replace(self, data: bytes | None) -> None:
        """Serve `data` from now on (None: the bundled sample again)."""
        self.sample = SAMPLE_MP4.read_bytes() if data is None else data
        self._big = None

    def padded(self, size: int) -> bytes:
        """The sample with a trailing `free` box up to `size` bytes: still playable."""
        if self._big is None or self._big[0] != size:
            video, padding = self.sample, size - len(self.sample)
            if padding >= 8:  # a box is at least its 8-byte header
                video += struct.pack(">I4s", padding, b"free") + bytes(padding - 8)
            self._big = (size, video)
        return self._big[1]


class ApiRoutes:
    """The routes a client of the gateway calls; `table` lists them with their kind."""

    def __init__(self, book: TaskBook, videos: Videos, callbacks: CallbackSender) -> None:
        self._book = book
        self._videos = videos
        self._callbacks = callbacks
        self._bodies = TaskBodies(book)

    @property
    def table(self) -> list[tuple[str, str, Handler, str]]:
        """(method, path, handler, kind) of every route; kind is what faults aim at."""
        return [
            ("POST", "/v1/video/generations", self._create_unified, "create"),
            ("GET", "/v1/video/generations/{task_id}", self._fetch, "fetch"),
            ("POST", "/kling/v1/videos/text2video", self._create_kling, "create"),
            ("POST", "/kling/v1/videos/image2video", self._create_kling, "create"),
            ("GET", "/kling/v1/videos/text2video/{task_id}", self._fetch, "fetch"),
            ("GET", "/kling/v1/videos/image2video/{task_id}", self._fetch, "fetch"),
            ("GET", "/v1/videos/{task_id}", self._fetch_openai, "fetch"),
            ("GET", "/v1/videos/{task_id}/content", self._content, "content"),
            ("GET", "/files/{name}", self._file, "file"),
        ]

    # --- create -------------------------------------------------------------------------------

    async def _create_unified(self, request: web.Request) -> web.Response:
        return await self._create(request, "model", unified_to_kling)

    async def _create_kling(self, request: web.Request) -> web.Response:
        return await self._create(request, "model_name", _strictly_decoded)

    async def _create(
        self,
        request: web.Request,
        model_field: str,
        kling_fields: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> web.Response:
        try:
            body = await _json_object(request)
            model = self._check_model(body.get(model_field) or body.get("model"))
            task = self._new_task(request, model, kling_fields(body))
        except Rejection as rejection:
            return rejection.response
        self._callbacks.watch(task)
        return json_response(self._bodies.created(task))

    def _check_model(self, model: Any) -> str:
        if not model or not isinstance(model, str):
            raise Rejection(error_shape(400, "model is required"))
        config = self._book.config
        if config.allowed_models is not None and model not in config.allowed_models:
            raise Rejection(error_shape(403, f"This token has no access to model {model}"))
        if model not in config.models:
            message = f"No available channel for model {model} under group default"
            raise Rejection(error_shape(503, message, code="model_not_found"))
        if self._book.quota_left is not None and self._book.quota_left <= 0:
            raise Rejection(code_shape(403, "insufficient_user_quota", "user quota is not enough"))
        return model

    def _new_task(self, request: web.Request, model: str, fields: dict[str, Any]) -> SimTask:
        prompt = fields.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise invalid_request("prompt is required")
        if "[policy]" in prompt.lower():
            raise kling_rejection(1301, POLICY_MESSAGE)
        external_id = fields.get("external_task_id") or None
        if self._book.knows_external_id(external_id):
            raise kling_rejection(1201, f"external_task_id {external_id} already exists")
        violation = kling_rule_violation(fields)
        if violation and self._book.config.kling_errors == "reject":
            raise kling_rejection(1201, violation)
        rule_failure = kling_json(1201, violation) if violation else None
        return self._book.create(model, fields, _origin(request), rule_failure)

    # --- retrieve -----------------------------------------------------------------------------

    async def _fetch(self, request: web.Request) -> web.Response:
        return self._retrieve(request, self._book.config.retrieve_shape)

    async def _fetch_openai(self, request: web.Request) -> web.Response:
        return self._retrieve(request, "openai")

    def _retrieve(self, request: web.Request, shape: str) -> web.Response:
        task = self._book.get(request.match_info["task_id"])
        if task is None:
            return task_not_exist()
        return json_response(self._bodies.retrieved(task, shape, _origin(request)))

    # --- videos -------------------------------------------------------------------------------

    async def _content(self, request: web.Request) -> web.Response:
        task = self._book.get(request.match_info["task_id"])
        if task is None:
            return task_not_exist()
        if self._book.view(task).phase is not Phase.SUCCEEDED:
            return code_shape(400, "invalid_request", "the video is not ready")
        return self._mp4(task)

    async def _file(self, request: web.Request) -> web.Response:
        task = self._book.get(request.match_info["name"].removesuffix(".mp4"))
        if task is None or not self._book.finished(task):
            raise web.HTTPNotFound
        return self._mp4(task)

    def _mp4(self, task: SimTask) -> web.Response:
        videos = self._videos
        body = videos.padded(self._book.config.big_video_bytes) if task.big else videos.sample
        return web.Response(body=body, content_type="video/mp4")


def _origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _strictly_decoded(body: dict[str, Any]) -> dict[str, Any]:
    """The Kling-compatible route: the whole body is Kling's fields, decoded strictly."""
    check_strict_decoding(body)
    return body


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise Rejection(error_shape(400, "invalid request body: not JSON")) from None
    if not isinstance(body, dict):
        raise Rejection(error_shape(400, "invalid request body: not a JSON object"))
    return body
