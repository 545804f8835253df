"""Errors the core knows. Each carries a message a Discord member can read."""

from __future__ import annotations


class VideoJobsError(Exception):
    """Base class: `str(error)` is safe to show to a member."""


class RequestRejected(VideoJobsError):
    """A request broke a rule, an allowlist or a limit; nothing was stored or sent."""


class DuplicateTaskId(VideoJobsError):
    """A new task's id (or its short id) is taken already: draw another."""


class InvalidTaskRecord(VideoJobsError):
    """The store refused a task that breaks its schema (an id that is not 32 hex digits, a
    retry of an unknown task): a bug in the caller, never a member's mistake."""


class TaskNotFound(VideoJobsError):
    pass


class FrameUnavailable(VideoJobsError):
    """A frame can't be fetched (gone, expired) or used (not really an image Kling can take,
    even fixed): the task ends before anything is sent to the gateway."""


class NotAllowed(VideoJobsError):
    pass


class GatewayError(VideoJobsError):
    """The gateway refused or could not be reached.

    What the core acts on, so that it never reads HTTP statuses or relay codes:
    - `str(error)` / `user_message`: the reason, in words a member understands;
    - `retryable`: the same call may succeed later (a busy or unreachable gateway);
    - `may_have_reached`: the request may have been acted on although no usable answer came
      back (no answer in time, a 504, a connection dropped after sending, an unreadable
      success). A create that failed this way must never be sent again: it may have started a
      task. When False the gateway surely did nothing (it refused, or was never reached);
    - `task_missing`: the gateway does not know the task asked for;
    - `retry_after`: the delay the gateway asked for, when it said one.
    The message never contains the API key.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        may_have_reached: bool = False,
        task_missing: bool = False,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.may_have_reached = may_have_reached
        self.task_missing = task_missing
        self.status = status
        self.code = code
        self.retry_after = retry_after
        self.detail = detail  # the gateway's own words, for logs (already free of secrets)

    @property
    def user_message(self) -> str:
        return str(self)

    @property
    def worth_waiting(self) -> bool:
        """The gateway surely did nothing and may take the same request later: a create
        that failed so can wait and be sent again."""
        return self.retryable and not self.may_have_reached

    def __repr__(self) -> str:
        return (
            f"GatewayError({str(self)!r}, status={self.status}, code={self.code!r}, "
            f"retryable={self.retryable}, may_have_reached={self.may_have_reached})"
        )
