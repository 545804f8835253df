"""Turn what the gateway said (or failed to say) into a `GatewayError`.

The gateway is a new-api relay in front of Kling. It refuses in two JSON shapes
(`{"error": {"message", "type", "code"}}` and `{"code", "message", "data"}`), Kling's own error
JSON travels as text inside the relay's message, and a proxy in front may answer with an HTML
page or nothing at all. Everything here is a pure function of the status, body and headers, so
it is tested without a server.

Each error carries a short message a Discord member can read, `retryable`, whether the request
`may_have_reached` the gateway (and so must not be sent again if it was a create),
`task_missing`, the gateway's own words in `detail` (for logs) and, when the gateway asked for
one, `retry_after`. The API key is scrubbed from everything derived from a body, in case a
server echoes it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from videojobs.errors import GatewayError

from .reasons import (
    BAD_ADDRESS,
    BAD_PARAMETER,
    BUSY,
    CODE_REASONS,
    DOWN,
    INVALID_KEY,
    NO_ACCESS,
    NOT_FOUND,
    OUT_OF_QUOTA,
    TIMED_OUT,
    UNREADABLE,
    Reason,
    kling_reason,
)

# "upstream load of this group is saturated, try again later": every 429 from upstream says so.
UPSTREAM_SATURATED = "当前分组上游负载已饱和"

DETAIL_CHARS = 300
REASON_CHARS = 160


@dataclass(frozen=True, slots=True)
class _Said:
    """What an error body said, whatever its shape."""

    message: str
    code: str | None = None
    kling_code: int | None = None
    kling_message: str | None = None
    relay: bool = False  # one of the relay's own JSON error shapes (not a proxy's page)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every non-empty secret replaced by `***`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def shorten(text: str, limit: int) -> str:
    """Whitespace collapsed, cut to `limit` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _without_request_id(text: str) -> str:
    return re.sub(r"\s*\(request id: [^)]*\)", "", text).strip()


def kling_error(text: str) -> tuple[int, str] | None:
    """Kling's raw error JSON (`{"code": 1301, "message": …}`) found inside `text`, if any."""
    start = text.find("{")
    if start < 0:
        return None
    try:
        inner, _ = json.JSONDecoder().raw_decode(text, start)
    except ValueError:
        return None
    if not isinstance(inner, dict):
        return None
    code = inner.get("code")
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    if not isinstance(code, int) or isinstance(code, bool) or code == 0:
        return None
    return code, str(inner.get("message") or "")


def _html_title(text: str) -> str:
    match = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    if match:
        return match.group(1).strip()
    return re.sub(r"<[^>]+>", " ", text)


def _read_body(body: str) -> _Said:
    text = body.strip()
    if not text:
        return _Said("")
    try:
        data: Any = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            message, code = error.get("message"), error.get("code")
        elif isinstance(error, str):
            message, code = error, None
        else:
            message, code = data.get("message"), data.get("code")
        message = "" if message is None else str(message)
        if isinstance(code, int) and not isinstance(code, bool):
            # Kling's own error JSON, not wrapped by the relay.
            return _Said(message, str(code), code or None, message, relay=True)
        said = _Said(message, str(code) if code else None, relay=True)
    elif text.startswith("<"):
        said = _Said(_html_title(text))
    else:
        said = _Said(text)
    inner = kling_error(said.message)
    if inner is None:
        return said
    return _Said(said.message, said.code, inner[0], inner[1], relay=said.relay)


def _reason_for(status: int, said: _Said) -> Reason:
    if said.kling_code is not None and (reason := kling_reason(said.kling_code)):
        return reason
    if said.code and (reason := CODE_REASONS.get(said.code.lower())):
        return reason
    if UPSTREAM_SATURATED in said.message:
        return BUSY
    if status == 401:
        return INVALID_KEY
    if status == 403:
        return OUT_OF_QUOTA if "quota" in said.message.lower() else NO_ACCESS
    if status == 429:
        return BUSY
    if status == 404:  # the gateway has no 404 for tasks: the base URL is wrong
        return Reason(DOWN.message, transient=False)
    if 400 <= status < 500:
        return BAD_PARAMETER
    return DOWN


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value: delay-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _is_retryable_status(status: int) -> bool:
    return status in (408, 429) or status >= 500


# 5xx statuses that say the request never got to the server behind the proxy: 502 bad gateway
# and 503 unavailable (nginx and friends), and Cloudflare's 521 down, 522 connect timed out,
# 523 unreachable, 525 and 526 TLS handshake failed.
_NOT_FORWARDED = frozenset({502, 503, 521, 522, 523, 525, 526})
# ... and those that say it may have: 504 and Cloudflare's 524 (no answer in time), 520
# (the origin answered something unexpected).
_MAYBE_FORWARDED = frozenset({504, 520, 524})


def _relay_5xx(status: int, said: _Said) -> bool:
    """One of the relay's own JSON 5xx refusals. Whatever its code says (even
    `model_not_found`, which the relay also answers while its channels for the model are
    disabled after upstream errors), the same request may be taken later, so a create that
    met one waits (product-spec.md, /video)."""
    return status >= 500 and status not in _MAYBE_FORWARDED and said.relay


def _may_have_reached(status: int, said: _Said) -> bool:
    """Whether a refused request may have been acted on nonetheless.

    An answer below 500 is a refusal: nothing was done. Of the 5xx, those of the relay itself
    (its JSON shapes) are refusals too, as are a proxy's 502/503, which say it could not pass
    the request on; a 504, and any other page the bot cannot read, may hide a request that went
    through."""
    if status < 500 or status in _NOT_FORWARDED:
        return False
    if status in _MAYBE_FORWARDED:
        return True
    return not said.relay


def error_from_response(
    status: int, body: str, headers: Mapping[str, str], *, secrets: Iterable[str] = ()
) -> GatewayError:
    """The error for a response the gateway (or a proxy in front of it) refused with."""
    body = scrub(body, secrets)  # before anything is cut short, so no part of a key survives
    said = _read_body(body)
    reason = _reason_for(status, said)
    message = reason.message
    if reason is BAD_PARAMETER:
        given = said.message if said.kling_code is None else said.kling_message or ""
        why = shorten(_without_request_id(given), REASON_CHARS)
        if why:
            message = f"The video service rejected the request: {why.rstrip('.')}."
    words = said.message or body
    if said.kling_code is not None:
        words = f"Kling {said.kling_code}: {said.kling_message}"
    detail = f"HTTP {status}" + (f" {said.code}" if said.code else "")
    if words.strip():
        detail += f": {shorten(words, DETAIL_CHARS)}"
    return GatewayError(
        message,
        retryable=_is_retryable_status(status) and (reason.transient or _relay_5xx(status, said)),
        may_have_reached=_may_have_reached(status, said),
        task_missing=reason is NOT_FOUND,
        status=status,
        code=said.code,
        retry_after=parse_retry_after(_header(headers, "Retry-After")),
        detail=detail,
    )


# Failures before the request was on the wire: no connection could be made (refused, reset
# while connecting, no route, DNS, TLS), the connection was not made in time, or the transport
# was closing before the request could be written.
_NOT_SENT = (
    aiohttp.ClientConnectorError,
    aiohttp.ConnectionTimeoutError,
    aiohttp.ClientConnectionResetError,
)


def error_from_exception(exc: BaseException, *, secrets: Iterable[str] = ()) -> GatewayError:
    """The error for a call that got no response: a time-out or a connection failure.

    Only a failure to connect (or to start writing) surely kept the request from the gateway;
    a time-out or a connection lost after sending may hide a request that was acted on."""
    may_have_reached = True
    if isinstance(exc, _NOT_SENT):
        reason, code, may_have_reached = DOWN, "unreachable", False
    elif isinstance(exc, TimeoutError):
        reason, code = TIMED_OUT, "timeout"
    elif isinstance(exc, aiohttp.InvalidURL):
        reason, code, may_have_reached = BAD_ADDRESS, "invalid_url", False
    elif isinstance(exc, aiohttp.ClientError | OSError):
        reason, code = DOWN, "connection_lost"
    else:
        reason, code = Reason(DOWN.message, transient=False), "unexpected"
    detail = shorten(scrub(f"{type(exc).__name__}: {exc}", secrets), DETAIL_CHARS)
    return GatewayError(
        reason.message,
        retryable=reason.transient,
        may_have_reached=may_have_reached,
        code=code,
        detail=detail,
    )


def unreadable_response(
    status: int, body: str, problem: str, *, secrets: Iterable[str] = ()
) -> GatewayError:
    """The error for a successful status whose body is not what the API promises (the request
    was handled: a create may have started a task)."""
    shown = shorten(scrub(body, secrets), DETAIL_CHARS) or "(empty body)"
    return GatewayError(
        UNREADABLE.message,
        retryable=True,
        may_have_reached=True,
        status=status,
        code="unreadable_response",
        detail=f"HTTP {status}: {problem}: {shown}",
    )


def describe_failure(reason: str | None) -> str:
    """A failed task's reason, in words a member understands."""
    if not reason or not reason.strip():
        return "The video service did not say why."
    inner = kling_error(reason)
    if inner is None:
        return shorten(_without_request_id(reason), DETAIL_CHARS)
    code, message = inner
    kind = kling_reason(code)
    if kind is None or kind is BAD_PARAMETER:
        why = shorten(_without_request_id(message), REASON_CHARS) or f"Kling error {code}"
        prefix = "The video service rejected the request: " if kind else ""
        return f"{prefix}{why.rstrip('.')}."
    return kind.message
