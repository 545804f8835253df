"""GatewayClient against the gateway simulator, over real HTTP on 127.0.0.1.

The simulator runs on a fake clock where a test needs a task to move; retries use a recording
`sleep`, so nothing here waits for real except the one full run with a tiny time factor.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from typing import Any

import aiohttp
import pytest

from gateway.client import GatewayClient
from gateway.simulator import Fault, GatewaySimulator, SimulatorConfig
from gateway.wire import camera_control
from tests.fakes import MemoryStore, RecordingNotifier
from tests.support.clock import FakeClock
from tests.support.ports import free_port
from tests.support.waiting import wait_until
from videojobs.errors import GatewayError
from videojobs.lifecycle import Lifecycle, ServiceConfig
from videojobs.models import (
    GatewayState,
    GenerationRequest,
    ImageRef,
    Requester,
    TaskSnapshot,
    VideoRequest,
)
from videojobs.policy import BotDefaults, Policies
from videojobs.service import VideoJobsService

from .conftest import GATEWAY_KEY as KEY

SATURATED = "当前分组上游负载已饱和，请稍后再试"


class RecordingSleep:
    """Stands in for asyncio.sleep: remembers the delays, waits for nothing."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def make_client(http: aiohttp.ClientSession, sim: GatewaySimulator, sleep: RecordingSleep) -> Any:
    def make(**options: Any) -> GatewayClient:
        settings: dict[str, Any] = {"base_url": sim.base_url, "api_key": KEY, "sleep": sleep}
        return GatewayClient(http, **(settings | options))

    return make


TEXT = VideoRequest(prompt="A cubic city at sunrise", model="kling-v3")
IMAGE = VideoRequest(
    prompt="A cubic city at sunrise",
    model="kling-v3",
    image=ImageRef("https://img.example/a.png", "a.png", "image/png", 1000, 640, 480),
)


def text_request(**changes: Any) -> GenerationRequest:
    settings: dict[str, Any] = {"prompt": "A cubic city at sunrise", "model": "kling-v3"}
    return GenerationRequest(**(settings | changes))


def sent_bodies(sim: GatewaySimulator) -> list[Any]:
    return [r.json for r in sim.requests if r.method == "POST"]


def paths(sim: GatewaySimulator) -> list[str]:
    return [f"{r.method} {r.path}" for r in sim.requests]


# --- requests ---------------------------------------------------------------------------------


async def test_unified_create_sends_size_and_metadata(
    make_client: Any, sim: GatewaySimulator
) -> None:
    """Unified style: size and metadata.aspect_ratio, Kling's options in metadata."""
    camera = camera_control("zoom_in", 5)
    request = text_request(
        aspect_ratio="9:16",
        mode="pro",
        duration=10,
        negative_prompt="blur",
        cfg_scale=0.5,
        camera="zoom_in",
        callback_url="https://bot.example/cb",
        external_task_id="ext-1",
    )
    snapshot = await make_client().create(request)

    assert snapshot.state is GatewayState.PENDING
    assert snapshot.task_id.startswith("task_")
    assert paths(sim) == ["POST /v1/video/generations"]
    assert sent_bodies(sim) == [
        {
            "model": "kling-v3",
            "prompt": "A cubic city at sunrise",
            "mode": "pro",
            "duration": 10,
            "size": "1080x1920",
            "metadata": {
                "aspect_ratio": "9:16",
                "negative_prompt": "blur",
                "cfg_scale": 0.5,
                "camera_control": camera,
                "callback_url": "https://bot.example/cb",
                "external_task_id": "ext-1",
            },
        }
    ]
    assert sim.requests[0].authorized


async def test_unified_image_to_video_puts_first_frame_on_top(
    make_client: Any, sim: GatewaySimulator
) -> None:
    """Unified style: `image` at the top, `image_tail` in metadata, unset options left out."""
    request = text_request(
        image="https://img.example/a.png", image_tail="https://img.example/b.png"
    )
    await make_client().create(request)

    assert sent_bodies(sim) == [
        {
            "model": "kling-v3",
            "prompt": "A cubic city at sunrise",
            "mode": "std",
            "duration": 5,
            "size": "1920x1080",
            "image": "https://img.example/a.png",
            "metadata": {"aspect_ratio": "16:9", "image_tail": "https://img.example/b.png"},
        }
    ]


async def test_kling_text2video_sends_duration_as_string(
    make_client: Any, sim: GatewaySimulator
) -> None:
    """Kling style: model_name, duration "5" (a number fails upstream), flat options."""
    request = text_request(negative_prompt="blur", cfg_scale=0.0, external_task_id="ext-2")
    snapshot = await make_client(style="kling").create(request)

    assert snapshot.state is GatewayState.PENDING
    assert paths(sim) == ["POST /kling/v1/videos/text2video"]
    assert sent_bodies(sim) == [
        {
            "model_name": "kling-v3",
            "prompt": "A cubic city at sunrise",
            "mode": "std",
            "duration": "5",
            "aspect_ratio": "16:9",
            "negative_prompt": "blur",
            "cfg_scale": 0.0,
            "external_task_id": "ext-2",
        }
    ]


async def test_kling_image_request_uses_image2video_for_create_and_fetch(
    make_client: Any, sim: GatewaySimulator
) -> None:
    """Kling style: an image makes it image2video, and so does the GET."""
    client = make_client(style="kling")
    request = text_request(image="https://img.example/a.png", camera="down_back")
    created = await client.create(request)
    await client.fetch(created.task_id, request=IMAGE)

    assert paths(sim) == [
        "POST /kling/v1/videos/image2video",
        f"GET /kling/v1/videos/image2video/{created.task_id}",
    ]
    body = sent_bodies(sim)[0]
    assert body["image"] == "https://img.example/a.png"
    assert body["camera_control"] == {"type": "down_back"}


async def test_kling_last_frame_alone_is_image_to_video(
    make_client: Any, sim: GatewaySimulator
) -> None:
    """Kling style: image_tail without image still goes to image2video."""
    await make_client(style="kling").create(text_request(image_tail="https://img.example/b.png"))
    assert paths(sim) == ["POST /kling/v1/videos/image2video"]


async def test_kling_text_fetch_path(make_client: Any, sim: GatewaySimulator) -> None:
    """Kling style: a text task is read from the text2video GET."""
    client = make_client(style="kling")
    created = await client.create(text_request())
    await client.fetch(created.task_id, request=TEXT)
    assert paths(sim)[-1] == f"GET /kling/v1/videos/text2video/{created.task_id}"


# --- retrieve shapes --------------------------------------------------------------------------


async def follow(
    client: GatewayClient, clock: FakeClock, task_id: str, steps: int = 8
) -> list[TaskSnapshot]:
    """One snapshot per relay tick (15 simulated seconds)."""
    seen = []
    for _ in range(steps):
        seen.append(await client.fetch(task_id, request=TEXT))
        clock.advance(15)
    return seen


@pytest.mark.parametrize("style", ["unified", "kling"])
@pytest.mark.parametrize("shape", ["doc", "wrapper", "openai"])
async def test_every_shape_reads_from_queued_to_completed(
    make_client: Any, sim: GatewaySimulator, clock: FakeClock, style: str, shape: str
) -> None:
    """Each retrieve shape, on each route, reads as pending, running, then completed."""
    sim.configure(retrieve_shape=shape)
    client = make_client(style=style)
    created = await client.create(text_request())

    seen = await follow(client, clock, created.task_id)

    states = [s.state for s in seen]
    assert states[0] is GatewayState.PENDING
    assert GatewayState.RUNNING in states
    assert [s.progress for s in seen if s.state is GatewayState.RUNNING] == sorted(
        s.progress for s in seen if s.state is GatewayState.RUNNING
    )
    final = seen[-1]
    assert final.state is GatewayState.COMPLETED
    assert final.task_id == created.task_id
    assert final.progress == 100
    assert final.video_url == f"{sim.base_url}/files/{created.task_id}.mp4"


@pytest.mark.parametrize("shape", ["doc", "wrapper", "openai"])
async def test_every_shape_reads_a_failure_and_its_reason(
    make_client: Any, sim: GatewaySimulator, clock: FakeClock, shape: str
) -> None:
    """A failed task comes back failed, with the reason in words, in every shape."""
    sim.configure(retrieve_shape=shape)
    client = make_client()
    created = await client.create(text_request(prompt="A storm [fail]"))

    final = (await follow(client, clock, created.task_id))[-1]

    assert final.state is GatewayState.FAILED
    assert final.video_url is None
    assert "simulated failure" in (final.failure_reason or "")


@pytest.mark.parametrize("shape", ["doc", "wrapper"])
async def test_kling_rule_broken_later_fails_with_klings_words(
    make_client: Any, sim: GatewaySimulator, clock: FakeClock, shape: str
) -> None:
    """A Kling rule broken after acceptance fails the task with Kling's reason, not its JSON."""
    sim.configure(retrieve_shape=shape, kling_errors="fail_task")
    client = make_client()
    created = await client.create(text_request(cfg_scale=3.0))

    final = (await follow(client, clock, created.task_id))[-1]

    assert final.state is GatewayState.FAILED
    assert final.failure_reason == (
        "The video service rejected the request: cfg_scale must be between 0 and 1."
    )


# --- refusals ---------------------------------------------------------------------------------


async def rejected(call: Any) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        await call
    return caught.value


async def test_invalid_key(sim: GatewaySimulator, http: aiohttp.ClientSession) -> None:
    """401: tell the owner to check KLING_API_KEY; no retry."""
    sleep = RecordingSleep()
    client = GatewayClient(http, base_url=sim.base_url, api_key="sk-wrong", sleep=sleep)
    error = await rejected(client.create(text_request()))
    assert error.status == 401
    assert "KLING_API_KEY" in str(error)
    assert not error.retryable
    assert len(sim.requests) == 1
    assert sleep.delays == []


async def test_no_access_to_model(make_client: Any, sim: GatewaySimulator) -> None:
    """403 for a model the key may not use."""
    sim.configure(models=("kling-v3", "kling-v2"), allowed_models=("kling-v2",))
    error = await rejected(make_client().create(text_request()))
    assert error.status == 403
    assert "cannot use this model" in str(error)
    assert not error.retryable
    assert len(sim.requests) == 1


async def test_out_of_quota(make_client: Any, sim: GatewaySimulator) -> None:
    """403 insufficient_user_quota: out of quota."""
    sim.configure(quota=0)
    error = await rejected(make_client().create(text_request()))
    assert (error.status, error.code) == (403, "insufficient_user_quota")
    assert "out of quota" in str(error)
    assert len(sim.requests) == 1


async def test_quota_runs_out(make_client: Any, sim: GatewaySimulator) -> None:
    """A quota of one allows one task, then refuses."""
    sim.configure(quota=1)
    client = make_client()
    await client.create(text_request())
    error = await rejected(client.create(text_request()))
    assert error.code == "insufficient_user_quota"


async def test_missing_prompt(make_client: Any) -> None:
    """400 invalid_request: the gateway's reason reaches the member."""
    error = await rejected(make_client().create(text_request(prompt="")))
    assert (error.status, error.code) == (400, "invalid_request")
    assert str(error) == "The video service rejected the request: prompt is required."


async def test_unknown_task(make_client: Any) -> None:
    """400 task_not_exist: the gateway does not know the task (there is no 404)."""
    error = await rejected(make_client().fetch("task_nope", request=TEXT))
    assert (error.status, error.code) == (400, "task_not_exist")
    assert "does not know this task" in str(error)
    assert not error.retryable


@pytest.mark.parametrize("style", ["unified", "kling"])
async def test_content_policy(make_client: Any, style: str) -> None:
    """400 with Kling's 1301 inside: content policy, rephrase."""
    error = await rejected(make_client(style=style).create(text_request(prompt="x [policy]")))
    assert (error.status, error.code) == (400, "fail_to_fetch_task")
    assert "content policy" in str(error)
    assert "Rephrase the prompt" in str(error)
    assert not error.retryable


@pytest.mark.parametrize("style", ["unified", "kling"])
async def test_bad_parameter_carries_klings_reason(make_client: Any, style: str) -> None:
    """400 with Kling's 1201 inside: the member learns which setting."""
    request = text_request(image_tail="https://img.example/b.png", camera="down_back")
    error = await rejected(make_client(style=style).create(request))
    assert error.status == 400
    assert str(error) == (
        "The video service rejected the request: "
        "image_tail and camera_control cannot be used together."
    )


async def test_build_request_failed_is_reported_with_its_reason(
    make_client: Any, sim: GatewaySimulator, sleep: RecordingSleep
) -> None:
    """500 build_request_failed: one create, the relay's words for the member, worth waiting
    for like any JSON 5xx of the relay (the caller decides)."""
    message = "json: cannot unmarshal number into Go struct field .duration of type string"
    sim.add_faults(Fault(status=500, body="code", code="build_request_failed", message=message))
    error = await rejected(make_client(style="kling").create(text_request()))
    assert (error.status, error.code, error.worth_waiting) == (500, "build_request_failed", True)
    assert "cannot unmarshal" in str(error)
    assert sleep.delays == []


async def test_unknown_model_names_the_setting(
    make_client: Any, sim: GatewaySimulator, sleep: RecordingSleep
) -> None:
    """503 model_not_found: one create, a message naming KLING_MODELS, worth waiting for (the
    relay says the same while its channels for the model are disabled)."""
    error = await rejected(make_client().create(text_request(model="kling-v9")))
    assert (error.status, error.code, error.worth_waiting) == (503, "model_not_found", True)
    assert "KLING_MODELS" in str(error)
    assert len(sim.requests) == 1


@pytest.mark.parametrize("body", ["error", "code"])
async def test_busy_429_in_either_shape_is_retried(
    make_client: Any, sim: GatewaySimulator, sleep: RecordingSleep, body: str
) -> None:
    """429 with the Chinese saturation message, in either shape: busy, retried, then fine."""
    created = await make_client().create(text_request())
    sim.add_faults(Fault.busy(body=body, times=2))
    snapshot = await make_client().fetch(created.task_id, request=TEXT)
    assert snapshot.task_id == created.task_id
    assert len(sim.requests) == 4
    assert len(sleep.delays) == 2


@pytest.mark.parametrize("body", ["error", "code"])
async def test_busy_429_on_create_is_left_to_the_caller(
    make_client: Any, sim: GatewaySimulator, sleep: RecordingSleep, body: str
) -> None:
    """A create is sent once: a 429 comes back at once, as worth waiting for, with the
    gateway's Retry-After, and nothing was made."""
    sim.add_faults(Fault.busy(body=body, retry_after="5", times=2))
    error = await rejected(make_client().create(text_request()))
    assert (error.status, error.worth_waiting, error.retry_after) == (429, True, 5.0)
    assert len(sim.requests) == 1
    assert sleep.delays == []
    assert sim.task_count == 0


@pytest.mark.parametrize("body", ["error", "code"])
async def test_busy_429_reported_when_it_lasts(
    make_client: Any, sim: GatewaySimulator, body: str
) -> None:
    """A lasting 429 ends as 'busy, try again in a few minutes'."""
    sim.add_faults(Fault.busy(body=body, times=10))
    error = await rejected(make_client(max_attempts=2).create(text_request()))
    assert error.status == 429
    assert error.retryable
    assert str(error) == "The video service is busy right now. Try again in a few minutes."
    assert SATURATED in (error.detail or "")


@pytest.mark.parametrize(("status", "body"), [(502, "html"), (503, "html"), (504, "html")])
async def test_proxy_html_pages(
    make_client: Any, sim: GatewaySimulator, status: int, body: str
) -> None:
    """A proxy's HTML 502/503/504 page: gateway down, retryable."""
    sim.add_faults(Fault(status=status, body=body, times=10))
    error = await rejected(make_client(max_attempts=2).fetch("task_x", request=TEXT))
    assert error.status == status
    assert error.retryable
    assert "down or unreachable" in str(error)
    assert f"{status} " in (error.detail or "")


async def test_empty_error_body(make_client: Any, sim: GatewaySimulator) -> None:
    """A 500 with an empty body is still a readable, retryable error."""
    sim.add_faults(Fault(status=500, body="empty", times=10))
    error = await rejected(make_client(max_attempts=2).create(text_request()))
    assert (error.status, error.retryable) == (500, True)
    assert "down or unreachable" in str(error)


# --- retries and their bounds -----------------------------------------------------------------


async def test_attempts_are_bounded(
    make_client: Any, sim: GatewaySimulator, sleep: RecordingSleep
) -> None:
    """A lasting 500 is tried max_attempts times, with a wait between each."""
    sim.add_faults(Fault.server_error(500, times=10))
    error = await rejected(make_client(max_attempts=3).fetch("task_x", request=TEXT))
    assert error.retryable
    assert len(sim.requests) == 3
    assert len(sleep.delays) == 2


async def test_backoff_grows_within_its_cap(
    make_client: Any, sim: GatewaySimulator, sleep: RecordingSleep
) -> None:
    """Full jitter: each wait lies between 0 and min(cap, base * 2^n)."""
    sim.add_faults(Fault.server_error(502, times=10))
    client = make_client(max_attempts=6, backoff_base=1.0, backoff_cap=4.0, max_retry_seconds=99)
    await rejected(client.fetch("task_x", request=TEXT))
    ceilings = [1.0, 2.0, 4.0, 4.0, 4.0]
    assert len(sleep.delays) == len(ceilings)
    assert all(0 <= d <= c for d, c in zip(sleep.delays, ceilings, strict=True))


async def test_retry_after_is_honoured(
    make_client: Any, sim: GatewaySimulator, sleep: RecordingSleep
) -> None:
    """The gateway's Retry-After is the wait, not the backoff."""
    created = await make_client().create(text_request())
    sim.add_faults(Fault.busy(retry_after="7"))
    await make_client().fetch(created.task_id, request=TEXT)
    assert sleep.delays == [7.0]


async def test_total_retry_time_is_bounded(
    make_client: Any, sim: GatewaySimulator, sleep: RecordingSleep
) -> None:
    """No wait starts that would overrun max_retry_seconds; the caller learns retry_after."""
    sim.add_faults(Fault.busy(retry_after="3", times=10))
    client = make_client(max_attempts=10, max_retry_seconds=5)
    error = await rejected(client.fetch("task_x", request=TEXT))
    assert sleep.delays == [3.0]
    assert len(sim.requests) == 2
    assert error.retry_after == 3.0


async def test_long_retry_after_is_left_to_the_caller(
    make_client: Any, sim: GatewaySimulator, sleep: RecordingSleep
) -> None:
    """A Retry-After beyond the budget is not slept through."""
    sim.add_faults(Fault.busy(retry_after="120"))
    error = await rejected(make_client(max_retry_seconds=60).create(text_request()))
    assert sleep.delays == []
    assert error.retry_after == 120.0


@pytest.mark.parametrize("status", [400, 401, 403])
async def test_4xx_faults_are_never_retried(
    make_client: Any, sim: GatewaySimulator, sleep: RecordingSleep, status: int
) -> None:
    """400, 401 and 403 are final whatever their body says."""
    sim.add_faults(Fault(status=status, message=SATURATED, times=5))
    error = await rejected(make_client().create(text_request()))
    assert (error.status, error.retryable) == (status, False)
    assert len(sim.requests) == 1
    assert sleep.delays == []


async def test_timeout_then_success(
    make_client: Any, sim: GatewaySimulator, sleep: RecordingSleep
) -> None:
    """A slow answer times out and the retry gets through."""
    created = await make_client().create(text_request())
    sim.add_faults(Fault.slow(5.0, route="fetch"))
    snapshot = await make_client(timeout=0.2).fetch(created.task_id, request=TEXT)
    assert snapshot.task_id == created.task_id
    assert len(sleep.delays) == 1


async def test_timeout_reported(make_client: Any, sim: GatewaySimulator) -> None:
    """A lasting slow gateway ends as a retryable time-out."""
    sim.add_faults(Fault.slow(5.0, times=3))
    error = await rejected(make_client(timeout=0.2, max_attempts=2).create(text_request()))
    assert (error.code, error.retryable, error.status) == ("timeout", True, None)
    assert "did not answer in time" in str(error)


async def test_dropped_connection_then_success(
    make_client: Any, sim: GatewaySimulator, sleep: RecordingSleep
) -> None:
    """A read whose connection was dropped without an answer is retried."""
    created = await make_client().create(text_request())
    sim.add_faults(Fault.dropped(route="fetch"))
    snapshot = await make_client().fetch(created.task_id, request=TEXT)
    assert snapshot.task_id == created.task_id
    assert len([r for r in sim.requests if r.kind == "fetch"]) == 2


async def test_dropped_create_is_never_sent_again(
    make_client: Any, sim: GatewaySimulator, sleep: RecordingSleep
) -> None:
    """A create whose connection was dropped after sending may have reached the gateway: it
    is not sent again, and the error says so."""
    sim.add_faults(Fault.dropped(route="create"))
    error = await rejected(make_client().create(text_request()))
    assert error.may_have_reached
    assert not error.worth_waiting
    assert len(sim.requests) == 1
    assert sleep.delays == []


async def test_timed_out_create_is_never_sent_again(
    make_client: Any, sim: GatewaySimulator
) -> None:
    """No answer in time to a create: it may have been taken, so it is not sent again."""
    sim.add_faults(Fault.slow(2.0, route="create", times=3))
    error = await rejected(make_client(timeout=0.2).create(text_request()))
    assert (error.code, error.may_have_reached) == ("timeout", True)
    assert len([r for r in sim.requests if r.kind == "create"]) == 1


async def test_closed_port(http: aiohttp.ClientSession) -> None:
    """Nobody listening: unreachable, retryable, tried max_attempts times."""
    sleep = RecordingSleep()
    client = GatewayClient(
        http, base_url=f"http://127.0.0.1:{free_port()}", api_key=KEY, sleep=sleep
    )
    error = await rejected(client.fetch("task_x", request=TEXT))
    assert (error.code, error.retryable) == ("unreachable", True)
    assert "unreachable" in str(error)
    assert len(sleep.delays) == 3


async def test_create_to_a_gateway_that_never_answers_the_handshake_may_wait(
    http: aiohttp.ClientSession,
) -> None:
    """A host that drops the connection attempt (a firewall, a machine gone; here a port whose
    backlog is full) was surely not reached: the create is worth waiting for, not reported as
    one that may have started a task."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        fillers = [socket.socket() for _ in range(4)]  # never accepted: the backlog is full
        try:
            for filler in fillers:
                filler.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    filler.connect(("127.0.0.1", port))
            client = GatewayClient(
                http, base_url=f"http://127.0.0.1:{port}", api_key=KEY, timeout=2.0
            )
            error = await rejected(client.create(text_request()))
        finally:
            for filler in fillers:
                filler.close()
    assert error.code == "unreachable"
    assert error.worth_waiting and not error.may_have_reached


async def test_lost_create_answer_is_not_sent_again(
    make_client: Any, sim: GatewaySimulator
) -> None:
    """A create whose answer was lost made its task; it is not sent again."""
    sim.add_faults(Fault(route="create", lose_answer=True))
    error = await rejected(make_client().create(text_request(external_task_id="ext-9")))
    assert sim.task_count == 1
    assert len(sim.requests) == 1
    assert error.may_have_reached


async def test_resubmitted_create_reports_the_duplicate(
    make_client: Any, sim: GatewaySimulator
) -> None:
    """A create sent again later with the same external_task_id (say after a restart)."""
    client = make_client()
    await client.create(text_request(external_task_id="ext-10"))
    error = await rejected(client.create(text_request(external_task_id="ext-10")))
    assert error.code == "duplicate_external_task_id"
    assert error.may_have_reached
    assert not error.retryable
    assert "answer was lost" in str(error)
    assert sim.task_count == 1


async def test_success_status_with_an_error_body(make_client: Any, sim: GatewaySimulator) -> None:
    """A 200 that carries an error body is that error, not a task."""
    sim.add_faults(Fault(status=200, body="code", code="task_not_exist", message="task_not_exist"))
    error = await rejected(make_client().fetch("task_x", request=TEXT))
    assert error.code == "task_not_exist"
    assert not error.retryable


async def test_success_status_with_an_unreadable_body_is_retried(
    make_client: Any, sim: GatewaySimulator, sleep: RecordingSleep
) -> None:
    """A 200 whose body is not JSON is retried, then reported as unreadable."""
    sim.add_faults(Fault(status=200, body="html", times=10))
    error = await rejected(make_client(max_attempts=2).fetch("task_x", request=TEXT))
    assert (error.code, error.retryable) == ("unreadable_response", True)
    assert "could not read" in str(error)
    assert len(sleep.delays) == 1


async def test_retries_are_logged_without_headers(
    make_client: Any, sim: GatewaySimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Each retry leaves a WARNING naming method, path, status and attempt."""
    created = await make_client().create(text_request())
    sim.add_faults(Fault.busy())
    with caplog.at_level(logging.WARNING, logger="gateway.client"):
        await make_client().fetch(created.task_id, request=TEXT)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "gateway.client"]
    assert f"GET /v1/video/generations/{created.task_id}" in line
    assert "status=429" in line
    assert "attempt 1/4" in line
    assert "Authorization" not in line


async def test_a_poll_that_fails_after_retries_leaves_one_log_line(
    make_client: Any,
    sim: GatewaySimulator,
    sleep: RecordingSleep,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The bot's poll through the real client: the gateway answers 503 to every attempt. The
    client retries, and the failed poll leaves one log line, naming the task, the reason and
    when it is tried again; the attempts themselves stay at DEBUG."""
    store = MemoryStore()
    rules = Policies(store, BotDefaults(max_active=0, max_daily=0), clock)
    service = VideoJobsService(
        Lifecycle(store, make_client(), RecordingNotifier(), ServiceConfig(), clock),
        policies=rules,
    )
    task = await service.admit_and_send(TEXT, Requester(user_id=1, guild_id=100, channel_id=500))
    sim.add_faults(Fault.server_error(503, route="fetch", times=4))
    clock.t = task.next_poll_at
    sim.clear_requests()
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        polled, _, failed = await service.poll_due()
    assert (polled, failed) == (1, 1)
    assert sim.request_counts == {"GET /v1/video/generations/{task_id}": 4}
    assert len(sleep.delays) == 3
    ours = [r for r in caplog.records if not r.name.startswith("gateway.simulator")]
    (line,) = [r.getMessage() for r in ours if r.levelno >= logging.INFO]
    assert task.id in line and "status=503" in line and "next try in" in line
    assert sum("attempt" in r.getMessage() for r in ours) == 4  # the client's DEBUG lines


# --- secrets ----------------------------------------------------------------------------------


async def test_the_key_never_leaks(
    make_client: Any,
    sim: GatewaySimulator,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Not in logs (aiohttp's included, at DEBUG), errors, reprs, even when echoed back."""
    caplog.set_level(logging.DEBUG)
    client = make_client(max_attempts=2)
    errors: list[GatewayError] = []

    created = await client.create(text_request(external_task_id="ext-k"))
    await client.fetch(created.task_id, request=TEXT)
    echo = f"Authorization: Bearer {KEY} is not allowed"
    sim.add_faults(
        Fault.busy(times=2),
        Fault(status=500, body="code", message=echo, times=2),
        Fault(status=401, message=echo),
        Fault(status=400, body="code", message=echo),
        Fault(status=502, body="html", times=2),
        Fault.dropped(times=2),
    )
    for _ in range(6):
        with pytest.raises(GatewayError) as caught:
            await client.create(text_request())
        errors.append(caught.value)
    unreachable = GatewayClient(
        http, base_url=f"http://127.0.0.1:{free_port()}", api_key=KEY, sleep=RecordingSleep()
    )
    with pytest.raises(GatewayError) as caught:
        await unreachable.fetch("task_x", request=TEXT)
    errors.append(caught.value)

    assert len(errors) == 7
    assert caplog.records  # the run did log
    assert KEY not in caplog.text
    for error in errors:
        assert KEY not in str(error)
        assert KEY not in repr(error)
        assert KEY not in (error.detail or "")
        assert error.__cause__ is None
    assert any("***" in (error.detail or "") for error in errors)
    assert KEY not in repr(client)
    assert KEY not in str(client)


# --- a whole run ------------------------------------------------------------------------------


async def test_full_run_with_a_real_download(http: aiohttp.ClientSession) -> None:
    """Create, poll until done, download a real mp4 (it starts with an ftyp box)."""
    config = SimulatorConfig(api_key=KEY, time_factor=0.002)  # ~0.1 s for a task
    async with GatewaySimulator(config) as sim:
        client = GatewayClient(http, base_url=sim.base_url, api_key=KEY)
        created = await client.create(text_request(prompt="A cat surfing [big]"))

        async def finished() -> TaskSnapshot | None:
            snapshot = await client.fetch(created.task_id, request=TEXT)
            done = snapshot.state in (GatewayState.COMPLETED, GatewayState.FAILED)
            return snapshot if done else None

        snapshot = await wait_until(finished, 10, what="the task to finish", interval=0.01)
        assert snapshot.state is GatewayState.COMPLETED
        assert snapshot.video_url is not None
        async with http.get(snapshot.video_url) as response:
            assert response.status == 200
            assert response.content_type == "video/mp4"
            video = await response.read()
    assert video[4:8] == b"ftyp"
    assert len(video) == config.big_video_bytes
