"""Errors the core knows. Each carries a message a Discord member can read."""

from __future__ import annotations


class VideoJobsError(Exception):
    """Base class: `str(error)` is safe to show to a member."""


class RequestRejected(VideoJobsError):
    """A request broke a rule, an allowlist or a limit; nothing was stored or sent."""


class DuplicateTaskId(VideoJobsError):
    """A new task's id (or its short id) is taken already: draw another."""


class TaskNotFound(VideoJobsError):
    pass


class NotAllowed(VideoJobsError):
    pass


class GatewayError(VideoJobsError):
    """The gateway refused or could not be reached.

    `retryable` says whether the same call may succeed later; `retry_after` is the delay the
    gateway asked for, when it said one. The message never contains the API key.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.code = code
        self.retry_after = retry_after
        self.detail = detail  # the gateway's own words, for logs (already free of secrets)

    @property
    def user_message(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return (
            f"GatewayError({str(self)!r}, status={self.status}, code={self.code!r}, "
            f"retryable={self.retryable})"
        )
