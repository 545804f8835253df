"""`GatewayClient`: the bot's only link to the video gateway (a new-api relay in front of Kling).

It speaks both API styles of gateway-api.md:
- `unified`: `POST /v1/video/generations`, `GET /v1/video/generations/{id}`;
- `kling`: `POST /kling/v1/videos/{text2video|image2video}`, `GET` the same path + `/{id}`;
and reads every response shape of gateway-notes.md through `snapshots.parse_snapshot`.

Reads that failed for a reason that may pass (429, most 5xx, time-outs, lost connections) are
retried with exponential backoff and full jitter, honouring `Retry-After`, within both
`max_attempts` and `max_retry_seconds`. A create is sent exactly once per call: whether and
when to send it again is the caller's decision (it keeps the wait in its store), made from the
error's `worth_waiting` / `may_have_reached`. The API key never reaches a log line, an
exception or a repr.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal
from urllib.parse import quote

import aiohttp

from videojobs.errors import GatewayError
from videojobs.models import GenerationRequest, TaskSnapshot, VideoRequest
from videojobs.ports import Metrics
from videojobs.telemetry import NoMetrics

from .errors import (
    error_from_exception,
    error_from_response,
    unreadable_response,
)
from .snapshots import created_snapshot, is_error_body, parse_snapshot
from .wire import kling_body, kling_kind, unified_body

logger = logging.getLogger(__name__)

Style = Literal["unified", "kling"]
STYLES: tuple[Style, ...] = ("unified", "kling")

UNIFIED_PATH = "/v1/video/generations"
KLING_PATH = "/kling/v1/videos"

# Connecting (DNS, a free slot in the pool, the TCP and TLS handshakes) gets its own limit: a
# gateway that never answers the handshake (a firewall dropping packets, a host gone) was surely
# not reached, so a create that met it may wait; a time-out after that may hide a task.
CONNECT_TIMEOUT = 10.0

LOST_CREATE_MESSAGE = (
    "The video gateway took the task but its answer was lost, so the bot cannot follow it. "
    "Please try again."
)


class GatewayClient:
    """Implements `videojobs.ports.VideoGateway` over one shared `aiohttp.ClientSession`."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        api_key: str,
        style: str = "unified",
        timeout: float = 30.0,
        max_attempts: int = 4,
        max_retry_seconds: float = 60.0,
        backoff_base: float = 1.0,
        backoff_cap: float = 20.0,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        metrics: Metrics | None = None,
    ) -> None:
        if style not in STYLES:
            raise ValueError(f"style must be one of {', '.join(STYLES)}, not {style!r}")
        if not api_key:
            raise ValueError("api_key must not be empty")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._style = style
        self._secrets = (api_key,)
        self._headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        self._timeout = aiohttp.ClientTimeout(
            total=timeout, connect=min(CONNECT_TIMEOUT, timeout / 2)
        )
        self._max_attempts = max_attempts
        self._max_retry_seconds = max_retry_seconds
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._sleep = sleep
        self._metrics: Metrics = metrics or NoMetrics()

    def __repr__(self) -> str:
        return f"GatewayClient(base_url={self._base_url!r}, style={self._style!r})"

    async def create(self, request: GenerationRequest) -> TaskSnapshot:
        """Create a remote task and return its first snapshot (normally PENDING).

        One request, never retried here: a GatewayError says whether the gateway surely did
        nothing (`worth_waiting`: the caller may send it again later) or may have started the
        task (`may_have_reached`: it must not be sent again). Should a create be sent again
        anyway, the request's `external_task_id` is unique per account upstream, so a duplicate
        is refused: that raises code `duplicate_external_task_id` (the task exists upstream,
        but its id never reached us).
        """
        if self._style == "kling":
            kind = kling_kind(image=request.image, image_tail=request.image_tail)
            path, body = f"{KLING_PATH}/{kind}", kling_body(request)
        else:
            path, body = UNIFIED_PATH, unified_body(request)
        data = await self._call("POST", path, body, max_attempts=1)
        return created_snapshot(data, self._secrets)

    async def fetch(self, task_id: str, *, request: VideoRequest) -> TaskSnapshot:
        """Read a remote task; `request` is what it was made from (in the kling style, an
        image-to-video task is read on the image2video route)."""
        if not task_id:
            raise ValueError("task_id must not be empty")
        quoted = quote(task_id, safe="")
        if self._style == "kling":
            kind = kling_kind(image=request.image, image_tail=request.end_image)
            path = f"{KLING_PATH}/{kind}/{quoted}"
        else:
            path = f"{UNIFIED_PATH}/{quoted}"
        data = await self._call("GET", path)
        return parse_snapshot(data, task_id)

    # --- transport --------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        max_attempts: int | None = None,
    ) -> Any:
        """One API call with its retries; returns the decoded JSON of a 2xx answer.

        A call that fails in the end is logged once, by its caller (the poll or the send that
        made it, which knows the task and what happens next): here its attempts leave DEBUG
        lines only. The failed attempts of a call that then succeeds are WARNINGs, logged when
        it succeeds: nobody else reports them.
        """
        attempts = max_attempts or self._max_attempts
        spent = 0.0  # seconds used by attempts and waits, counted as the waits were asked for
        retried: list[str] = []  # the failed attempts, logged if the call succeeds
        attempt = 0
        while True:
            attempt += 1
            began = time.monotonic()
            try:
                data = await self._attempt(method, path, body)
            except GatewayError as error:
                if method == "POST" and _is_duplicate_task(error):
                    raise GatewayError(
                        LOST_CREATE_MESSAGE,
                        retryable=False,
                        may_have_reached=True,
                        status=error.status,
                        code="duplicate_external_task_id",
                        detail=error.detail,
                    ) from None
                spent += time.monotonic() - began
                delay = self._retry_delay(error, attempt, attempts, spent)
                said = _attempt_line(method, path, error, attempt, attempts)
                if delay is None:
                    logger.debug("%s; left to the caller", said)
                    raise
                logger.debug("%s; retrying in %.1fs", said, delay)
                retried.append(said)
                await self._sleep(delay)
                spent += delay
            else:
                for said in retried:
                    logger.warning("%s; retried", said)
                return data

    def _retry_delay(
        self, error: GatewayError, attempt: int, attempts: int, spent: float
    ) -> float | None:
        """Seconds to wait before the next attempt, or None to give up now.

        The gateway's `Retry-After` wins over the backoff. A wait that would overrun
        `max_retry_seconds` is not started: the error (with its `retry_after`) goes to the
        caller, which has its own schedule.
        """
        if not error.retryable or attempt >= attempts:
            return None
        if error.retry_after is not None:
            delay = error.retry_after
        else:
            ceiling = min(self._backoff_cap, self._backoff_base * 2 ** (attempt - 1))
            delay = random.uniform(0.0, ceiling)
        if spent + delay > self._max_retry_seconds:
            return None
        return delay

    async def _attempt(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        kind = "create" if method == "POST" else "fetch"
        try:
            async with self._session.request(
                method,
                self._base_url + path,
                json=body,
                headers=self._headers,
                timeout=self._timeout,
            ) as response:
                status, headers = response.status, response.headers
                raw = await response.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self._metrics.gateway_request(kind, "error")
            # `from None`: aiohttp's exceptions carry the request, and so the key.
            raise error_from_exception(exc, secrets=self._secrets) from None
        self._metrics.gateway_request(kind, str(status))
        text = raw.decode("utf-8", errors="replace")
        logger.debug("gateway %s %s -> %d (%d bytes)", method, path, status, len(raw))
        if not 200 <= status < 300:
            raise error_from_response(status, text, headers, secrets=self._secrets)
        try:
            data = json.loads(text)
        except ValueError:
            raise unreadable_response(status, text, "not JSON", secrets=self._secrets) from None
        if is_error_body(data):
            raise error_from_response(status, text, headers, secrets=self._secrets)
        return data


# --- helpers ----------------------------------------------------------------------------------


def _attempt_line(method: str, path: str, error: GatewayError, attempt: int, attempts: int) -> str:
    return (
        f"gateway {method} {path} failed (status={error.status}, code={error.code}), "
        f"attempt {attempt}/{attempts}"
    )


def _is_duplicate_task(error: GatewayError) -> bool:
    """Kling refused a create because its external_task_id already has a task."""
    detail = (error.detail or "").lower()
    return (
        error.status == 400
        and "external_task_id" in detail
        and any(word in detail for word in ("exist", "duplicate", "unique"))
    )
