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
    """A dropped connection is worth another try (of a read)."""
    error = error_from_exception(aiohttp.ServerDisconnectedError())
    assert (error.retryable, error.code) == (True, "connection_lost")


# --- did the request reach the gateway? -------------------------------------------------------


def refused_connection() -> aiohttp.ClientConnectorError:
    key = aiohttp.client_reqrep.ConnectionKey("127.0.0.1", 9, False, True, None, None, None)
    return aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "Connection refused"))


@pytest.mark.parametrize(
    "exc",
    [
        refused_connection(),
        aiohttp.ConnectionTimeoutError("Connection timeout to host"),
        aiohttp.ClientConnectionResetError("Cannot write to closing transport"),
    ],
    ids=["refused", "connect-timeout", "reset-before-writing"],
)
def test_failures_before_sending_surely_did_not_reach(exc: BaseException) -> None:
    """No connection, or none in time, or a transport closed before writing: the gateway surely
    did nothing, and may take the same request later."""
    error = error_from_exception(exc)
    assert not error.may_have_reached
    assert error.worth_waiting
    assert "down or unreachable" in str(error)


@pytest.mark.parametrize(
    "exc",
    [
        TimeoutError(),
        aiohttp.SocketTimeoutError("Timeout on reading data from socket"),
        aiohttp.ServerDisconnectedError(),
        aiohttp.ClientOSError(104, "Connection reset by peer"),
        aiohttp.ClientPayloadError("Response payload is not completed"),
    ],
    ids=["timeout", "read-timeout", "disconnected", "reset-after-sending", "payload"],
)
def test_failures_after_sending_may_have_reached(exc: BaseException) -> None:
    """No answer, or an answer lost on the way back: the request may have been acted on."""
    error = error_from_exception(exc)
    assert error.may_have_reached
    assert not error.worth_waiting


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (429, error_shape(SATURATED)),
        (429, ""),
        (502, "<html><head><title>502 Bad Gateway</title></head></html>"),
        (503, "<html><head><title>503 Service Temporarily Unavailable</title></head></html>"),
        (503, ""),
        (500, code_shape("do_request_failed", "upstream error: connection refused")),
        (500, error_shape("internal error")),
        (522, "<html><title>522: Connection timed out</title></html>"),
    ],
    ids=[
        "429",
        "429-empty",
        "html-502",
        "html-503",
        "empty-503",
        "json-500",
        "json-500-error",
        "cloudflare-522",
    ],
)
def test_refusals_worth_waiting_for(status: int, body: str) -> None:
    """429, a proxy's 502/503 and the relay's own JSON 5xx: nothing was done, try later."""
    error = error_from_response(status, body, {})
    assert not error.may_have_reached
    assert error.retryable
    assert error.worth_waiting


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (504, "<html><head><title>504 Gateway Time-out</title></head></html>"),
        (504, error_shape("upstream timed out")),
        (524, "<html><title>524: A timeout occurred</title></html>"),
        (500, "<html><head><title>500 Internal Server Error</title></head></html>"),
        (500, ""),
    ],
    ids=["html-504", "json-504", "cloudflare-524", "html-500", "empty-500"],
)
def test_answers_that_may_hide_a_request_that_went_through(status: int, body: str) -> None:
    """A 504, or a 5xx page that is not the relay's own: the request may have been acted on."""
    error = error_from_response(status, body, {})
    assert error.may_have_reached
    assert not error.worth_waiting


@pytest.mark.parametrize("status", [400, 401, 403])
def test_refusals_not_worth_waiting_for(status: int) -> None:
    """A refusal that will not change: nothing was done, and waiting will not help."""
    error = error_from_response(status, error_shape("no"), {})
    assert not error.may_have_reached
    assert not error.worth_waiting


@pytest.mark.parametrize(
    ("code", "status", "words"),
    [
        ("model_not_found", 503, "KLING_MODELS"),
        ("build_request_failed", 500, "rejected the request"),
    ],
)
def test_every_json_5xx_of_the_relay_is_waited_for(code: str, status: int, words: str) -> None:
    """The relay's own JSON 5xx refusals are worth waiting for (product-spec.md), whatever
    their code; the member's message still says what the relay meant, for the end."""
    error = error_from_response(status, code_shape(code, "No available channel for model x"), {})
    assert not error.may_have_reached
    assert error.worth_waiting
    assert words in str(error)


def test_unknown_task_is_task_missing() -> None:
    """The relay's 400 task_not_exist says the gateway does not know the task."""
    error = error_from_response(400, code_shape("task_not_exist", "task_not_exist"), {})
    assert error.task_missing
    assert not error.retryable
    assert not error_from_response(400, code_shape("invalid_request", "no"), {}).task_missing


def test_invalid_base_url_is_not_retryable() -> None:
    """A malformed base URL will not fix itself."""
    error = error_from_exception(aiohttp.InvalidURL("not a url"))
    assert not error.retryable
    assert "KLING_API_BASE" in str(error)


def test_describe_failure_plain_text_is_kept() -> None:
    """A readable failure reason is passed on as it is."""
    assert describe_failure("Image resolution too low") == "Image resolution too low"
