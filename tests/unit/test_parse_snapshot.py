"""`parse_snapshot` reads every retrieve shape of gateway-notes.md into one TaskSnapshot."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from gateway.snapshots import NO_VIDEO_REASON, parse_snapshot
from videojobs.errors import GatewayError
from videojobs.models import GatewayState

URL = "https://cdn.example.com/out.mp4"


def doc(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "task_a",
        "task_id": "task_a",
        "object": "video",
        "model": "kling-v3",
        "status": status,
        "progress": 0,
        "created_at": 1770000000,
        **extra,
    }


def wrapper(status: str, **data: Any) -> dict[str, Any]:
    return {
        "code": "success",
        "message": "",
        "data": {"task_id": "task_w", "status": status, **data},
    }


def kling_raw(status: str, url: str | None = None, message: str = "") -> dict[str, Any]:
    task: dict[str, Any] = {"task_id": "812345678901234567", "task_status": status}
    task["task_status_msg"] = message
    if url:
        task["task_result"] = {"videos": [{"id": "v1", "url": url, "duration": "5"}]}
    return {"code": 0, "message": "SUCCEED", "data": task}


def test_doc_object_completed_reads_metadata_url() -> None:
    """The doc's object: completed with metadata.url."""
    snapshot = parse_snapshot(doc("completed", progress=100, metadata={"url": URL}), "x")
    assert snapshot.task_id == "task_a"
    assert snapshot.state is GatewayState.COMPLETED
    assert snapshot.progress == 100
    assert snapshot.video_url == URL


def test_doc_object_failed_reads_error_message() -> None:
    """The doc's object: failed with error.message."""
    snapshot = parse_snapshot(doc("failed", error={"message": "Image too dark"}), "x")
    assert snapshot.state is GatewayState.FAILED
    assert snapshot.failure_reason == "Image too dark"


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("queued", GatewayState.PENDING),
        ("in_progress", GatewayState.RUNNING),
        ("NOT_START", GatewayState.PENDING),
        ("SUBMITTED", GatewayState.PENDING),
        ("QUEUED", GatewayState.PENDING),
        ("IN_PROGRESS", GatewayState.RUNNING),
        ("UNKNOWN", GatewayState.PENDING),
        ("unknown", GatewayState.PENDING),
        ("In_Progress", GatewayState.RUNNING),
    ],
)
def test_unfinished_statuses_in_any_case(status: str, state: GatewayState) -> None:
    """Every unfinished status of either shape, whatever its case."""
    assert parse_snapshot(doc(status), "x").state is state
    assert parse_snapshot(wrapper(status), "x").state is state


@pytest.mark.parametrize(
    ("value", "expected"),
    [(30, 30), (30.7, 30), ("30%", 30), ("30", 30), (" 10 % ", 10), (None, 0), ("n/a", 0)],
)
def test_progress_types(value: object, expected: int) -> None:
    """Progress arrives as int, float, "30%", "30" or null."""
    assert parse_snapshot(doc("in_progress", progress=value), "x").progress == expected


@pytest.mark.parametrize(("value", "expected"), [(150, 100), (-5, 0), (True, 0), ("nan", 0)])
def test_progress_is_kept_within_0_100(value: object, expected: int) -> None:
    """Nonsense progress never leaves 0-100."""
    assert parse_snapshot(doc("in_progress", progress=value), "x").progress == expected


def test_wrapper_in_progress_with_percent_string() -> None:
    """The relay's wrapper: status and "30%" progress inside data."""
    snapshot = parse_snapshot(wrapper("IN_PROGRESS", progress="30%"), "x")
    assert (snapshot.task_id, snapshot.state, snapshot.progress) == (
        "task_w",
        GatewayState.RUNNING,
        30,
    )


def test_wrapper_success_reads_result_url() -> None:
    """The wrapper's SUCCESS carries the video in result_url."""
    snapshot = parse_snapshot(wrapper("SUCCESS", progress="100%", result_url=URL), "x")
    assert snapshot.state is GatewayState.COMPLETED
    assert snapshot.video_url == URL


def test_wrapper_success_finds_url_in_kling_raw_task() -> None:
    """Without result_url, the URL is read from data.data.data.task_result.videos[0]."""
    body = wrapper("SUCCESS", result_url="", data=kling_raw("succeed", URL))
    assert parse_snapshot(body, "x").video_url == URL


def test_wrapper_failure_result_url_is_the_reason_not_a_link() -> None:
    """On FAILURE, result_url holds the failure text."""
    body = wrapper("FAILURE", fail_reason="", result_url="The image has no clear subject")
    snapshot = parse_snapshot(body, "x")
    assert snapshot.state is GatewayState.FAILED
    assert snapshot.video_url is None
    assert snapshot.failure_reason == "The image has no clear subject"


def test_failure_with_kling_raw_json_becomes_readable() -> None:
    """Kling's raw error JSON as a reason turns into its message."""
    reason = json.dumps({"code": 1201, "message": "cfg_scale must be between 0 and 1"})
    snapshot = parse_snapshot(wrapper("FAILURE", fail_reason=reason, result_url=reason), "x")
    assert snapshot.failure_reason == (
        "The video service rejected the request: cfg_scale must be between 0 and 1."
    )
    assert "{" not in snapshot.failure_reason


def test_failure_with_kling_content_policy_code() -> None:
    """A 1301 failure says what to do about it."""
    reason = json.dumps({"code": 1301, "message": "Failure to pass the risk control system"})
    snapshot = parse_snapshot(doc("failed", error={"message": reason}), "x")
    assert "content policy" in (snapshot.failure_reason or "")
    assert "Rephrase the prompt" in (snapshot.failure_reason or "")


def test_failure_reason_from_kling_task_status_msg() -> None:
    """When the relay gives no reason, Kling's task_status_msg is used."""
    body = wrapper("FAILURE", data=kling_raw("failed", message="Image resolution too low"))
    assert parse_snapshot(body, "x").failure_reason == "Image resolution too low"


def test_failure_without_any_reason_says_so() -> None:
    """A silent failure still gets a sentence."""
    snapshot = parse_snapshot(doc("failed"), "x")
    assert snapshot.failure_reason == "The video service did not say why."


def test_openai_style_unknown_status_and_empty_model() -> None:
    """OpenAI style: `unknown` before the first update, ms timestamps, empty model."""
    body = {"id": "task_o", "object": "video", "model": "", "status": "unknown", "progress": 0}
    body["created_at"] = 1770000000123
    snapshot = parse_snapshot(body, "x")
    assert (snapshot.task_id, snapshot.state) == ("task_o", GatewayState.PENDING)


def test_kling_task_object_as_sent_to_callbacks() -> None:
    """Kling's own task object (a callback body) parses too."""
    task = kling_raw("succeed", URL)["data"]
    snapshot = parse_snapshot(task, "task_gateway")
    assert snapshot.state is GatewayState.COMPLETED
    assert snapshot.video_url == URL


def test_completed_without_url_is_a_failure() -> None:
    """A completed task with no link cannot be delivered: it is reported as failed."""
    snapshot = parse_snapshot(doc("completed", progress=100), "x")
    assert snapshot.state is GatewayState.FAILED
    assert snapshot.failure_reason == NO_VIDEO_REASON


def test_completed_with_a_non_url_is_a_failure() -> None:
    """A `url` that is not http(s) does not count as a video."""
    snapshot = parse_snapshot(doc("completed", metadata={"url": "pending"}), "x")
    assert snapshot.state is GatewayState.FAILED


def test_unknown_status_is_pending_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    """An unheard-of status keeps the task pending and leaves a warning."""
    with caplog.at_level(logging.WARNING, logger="gateway.client"):
        snapshot = parse_snapshot(doc("PAUSED"), "x")
    assert snapshot.state is GatewayState.PENDING
    assert "PAUSED" in caplog.text


def test_fallback_task_id_when_the_body_has_none() -> None:
    """The id asked for is used when the body does not repeat it."""
    body = {"status": "queued", "progress": 0}
    assert parse_snapshot(body, "task_asked").task_id == "task_asked"


@pytest.mark.parametrize("body", [None, [], "completed", {"progress": 10}, {"data": None}])
def test_unreadable_bodies_raise_a_retryable_error(body: object) -> None:
    """Anything that is not a task is a retryable GatewayError, not a crash."""
    with pytest.raises(GatewayError) as caught:
        parse_snapshot(body, "x")
    assert caught.value.retryable
