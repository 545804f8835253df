"""`gateway.errors` turns each refusal of the gateway into a GatewayError a member can read."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import aiohttp
import pytest

from gateway.errors import (
    describe_failure,
    error_from_exception,
    error_from_response,
    parse_retry_after,
)

KEY = "sk-unit-9b1f2e7c4d"
SATURATED = "当前分组上游负载已饱和，请稍后再试"


def error_shape(message: str, code: str = "") -> str:
    return json.dumps({"error": {"message": message, "type": "new_api_error", "code": code}})


def code_shape(code: str, message: str) -> str:
    return json.dumps({"code": code, "message": message, "data": None})


def kling(code: int, message: str) -> str:
    return code_shape("fail_to_fetch_task", json.dumps({"code": code, "message": message}))


def test_retry_after_in_seconds() -> None:
    """`Retry-After: 7` is seven seconds."""
    assert parse_retry_after("7") == 7.0


def test_retry_after_as_http_date() -> None:
    """`Retry-After` may be an HTTP-date."""
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=now) == 30.0


@pytest.mark.parametrize("value", ["soon", "", "inf", "nan"])
def test_retry_after_nonsense_is_ignored(value: str) -> None:
    """A value that is neither seconds nor a date is ignored."""
    assert parse_retry_after(value) is None


def test_retry_after_header_name_in_any_case() -> None:
    """Header names are case-insensitive even in a plain dict."""
    error = error_from_response(429, error_shape(SATURATED), {"retry-after": "3"})
    assert error.retry_after == 3.0


def test_chinese_saturation_message_means_busy() -> None:
    """The relay's Chinese 429 message is 'upstream busy', retryable."""
    error = error_from_response(429, code_shape("fail_to_fetch_task", SATURATED), {})
    assert error.retryable
    assert "busy" in str(error)


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (1301, "content policy"),
        (1300, "content policy"),
        (1102, "out of quota"),
        (1103, "cannot use this model"),
    ],
)
def test_kling_codes_inside_the_message(code: int, words: str) -> None:
    """Kling's raw JSON inside the relay's message decides the member's message."""
    error = error_from_response(400, kling(code, "whatever Kling said"), {})
    assert words in str(error)
    assert not error.retryable
    assert f"Kling {code}" in (error.detail or "")


def test_kling_bad_parameter_quotes_the_reason() -> None:
    """A 1201 tells the member which setting was wrong."""
    error = error_from_response(400, kling(1201, "aspect_ratio must be one of 16:9"), {})
    assert str(error) == "The video service rejected the request: aspect_ratio must be one of 16:9."


def test_request_id_is_left_out_of_the_members_message() -> None:
    """The relay's "(request id: …)" suffix stays in the detail only."""
    error = error_from_response(400, error_shape("model is required (request id: 2026X)"), {})
    assert str(error) == "The video service rejected the request: model is required."
    assert "2026X" in (error.detail or "")


def test_long_reasons_are_shortened() -> None:
    """A huge message does not flood the member or the logs."""
    error = error_from_response(400, code_shape("invalid_request", "x" * 5000), {})
    assert len(str(error)) < 250
    assert len(error.detail or "") < 350


def test_proxy_html_page_is_a_retryable_outage() -> None:
    """A proxy's HTML 502 page is read by its title."""
    page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    error = error_from_response(502, page, {"Content-Type": "text/html"})
    assert error.retryable
    assert "down or unreachable" in str(error)
    assert "502 Bad Gateway" in (error.detail or "")


def test_plain_text_body_is_kept_as_detail() -> None:
    """A non-JSON, non-HTML body still reaches the logs."""
    error = error_from_response(500, "upstream exploded", {})
    assert error.retryable
    assert "upstream exploded" in (error.detail or "")


def test_unknown_404_is_not_a_missing_task() -> None:
    """The gateway has no 404 for tasks: a 404 means a wrong base URL, not worth a retry."""
    error = error_from_response(404, "404 page not found", {})
    assert not error.retryable
    assert "unreachable" in str(error)


def test_the_key_is_scrubbed_from_everything() -> None:
    """A server echoing the key does not leak it into messages or details."""
    body = code_shape("invalid_request", f"bad header Authorization: Bearer {KEY}")
    error = error_from_response(400, body, {}, secrets=[KEY])
    assert KEY not in str(error)
    assert KEY not in (error.detail or "")
    assert KEY not in repr(error)


def test_timeout_is_retryable() -> None:
    """No answer in time is worth another try."""
    error = error_from_exception(TimeoutError())
    assert (error.retryable, error.code) == (True, "timeout")
    assert "did not answer in time" in str(error)


def test_disconnect_is_retryable() -> None:
    """A dropped connection is worth another try."""
    error = error_from_exception(aiohttp.ServerDisconnectedError())
    assert (error.retryable, error.code) == (True, "unreachable")


def test_invalid_base_url_is_not_retryable() -> None:
    """A malformed base URL will not fix itself."""
    error = error_from_exception(aiohttp.InvalidURL("not a url"))
    assert not error.retryable
    assert "KLING_API_BASE" in str(error)


def test_describe_failure_plain_text_is_kept() -> None:
    """A readable failure reason is passed on as it is."""
    assert describe_failure("Image resolution too low") == "Image resolution too low"
