"""The gateway simulator behaves like the gateway of gateway-notes.md, over real HTTP.

These tests speak raw HTTP, so they check the simulator itself, not the client's reading of it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import struct
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gateway.simulator import SAMPLE_MP4, Fault, GatewaySimulator, SimulatorConfig
from tests.support.clock import FakeClock
from tests.support.ports import free_port
from tests.support.waiting import wait_until

from .conftest import GATEWAY_KEY as KEY

AUTH = {"Authorization": f"Bearer {KEY}"}
REPO = Path(__file__).resolve().parents[2]


async def call(
    http: aiohttp.ClientSession, method: str, url: str, body: Any = None, **options: Any
) -> tuple[int, Any]:
    headers = options.pop("headers", AUTH)
    async with http.request(method, url, json=body, headers=headers, **options) as response:
        text = await response.text()
    try:
        return response.status, json.loads(text)
    except ValueError:
        return response.status, text


def kling_body(**changes: Any) -> dict[str, Any]:
    body = {"model_name": "kling-v3", "prompt": "a fox", "duration": "5", "aspect_ratio": "16:9"}
    return body | changes


async def create_kling(http: aiohttp.ClientSession, sim: GatewaySimulator, **changes: Any) -> Any:
    return await call(
        http, "POST", f"{sim.base_url}/kling/v1/videos/text2video", kling_body(**changes)
    )


async def create_unified(http: aiohttp.ClientSession, sim: GatewaySimulator, **changes: Any) -> str:
    body = {"model": "kling-v3", "prompt": "a fox", "duration": 5, "size": "1920x1080"} | changes
    status, created = await call(http, "POST", f"{sim.base_url}/v1/video/generations", body)
    assert status == 200, created
    task_id: str = created["id"]
    return task_id


def kling_error(body: Any) -> dict[str, Any]:
    """Kling's raw error JSON that the relay put in `message`."""
    assert body["code"] == "fail_to_fetch_task"
    inner: dict[str, Any] = json.loads(body["message"])
    return inner


# --- create -----------------------------------------------------------------------------------


async def test_create_answers_the_docs_object(
    http: aiohttp.ClientSession, sim: GatewaySimulator
) -> None:
    """Both routes answer {id, task_id, object, model, status, progress, created_at}."""
    status, body = await create_kling(http, sim)
    assert status == 200
    assert body["id"] == body["task_id"]
    assert body["id"].startswith("task_") and len(body["id"]) == 37
    assert body["id"][5:].isalnum()
    assert (body["object"], body["model"], body["status"], body["progress"]) == (
        "video",
        "kling-v3",
        "queued",
        0,
    )


async def test_wrong_key_is_401_in_the_error_shape(
    http: aiohttp.ClientSession, sim: GatewaySimulator
) -> None:
    """A wrong bearer key: 401 `{"error":{…,"type":"new_api_error"}}`, recorded unauthorized."""
    url = f"{sim.base_url}/v1/video/generations"
    status, body = await call(http, "POST", url, {}, headers={"Authorization": "Bearer nope"})
    assert status == 401
    assert body["error"]["type"] == "new_api_error"
    assert sim.requests[-1].authorized is False


async def test_numeric_duration_on_kling_route_is_build_request_failed(
    http: aiohttp.ClientSession, sim: GatewaySimulator
) -> None:
    """The Kling route decodes strictly: `"duration": 5` is a 500 build_request_failed."""
    status, body = await create_kling(http, sim, duration=5)
    assert status == 500
    assert body["code"] == "build_request_failed"
    assert ".duration of type string" in body["message"]


async def test_string_cfg_scale_is_build_request_failed(
    http: aiohttp.ClientSession, sim: GatewaySimulator
) -> None:
    """A cfg_scale of the wrong JSON type is a 500 build_request_failed, on either route."""
    status, body = await create_kling(http, sim, cfg_scale="0.5")
    assert (status, body["code"]) == (500, "build_request_failed")
    url = f"{sim.base_url}/v1/video/generations"
    unified = {"model": "kling-v3", "prompt": "a fox", "metadata": {"cfg_scale": "0.5"}}
    status, body = await call(http, "POST", url, unified)
    assert (status, body["code"]) == (500, "build_request_failed")


async def test_unified_route_accepts_int_duration(
    http: aiohttp.ClientSession, sim: GatewaySimulator
) -> None:
    """The unified route takes `"duration": 5` as the doc shows."""
    task_id = await create_unified(http, sim, duration=10)
    task = sim.task(task_id)
    assert task is not None and task.duration == "10"


@pytest.mark.parametrize(
    ("size", "metadata", "ratio"),
    [
        ("1080x1920", {}, "9:16"),
        ("800x600", {}, "1:1"),
        (None, {}, "1:1"),
        (None, {"aspect_ratio": "16:9"}, "16:9"),
    ],
)
async def test_unified_size_decides_the_ratio_unless_metadata_says(
    http: aiohttp.ClientSession,
    sim: GatewaySimulator,
    size: str | None,
    metadata: dict[str, str],
    ratio: str,
) -> None:
    """An unrecognised or missing size silently becomes 1:1; metadata.aspect_ratio wins."""
    task_id = await create_unified(http, sim, size=size, metadata=metadata)
    task = sim.task(task_id)
    assert task is not None and task.aspect_ratio == ratio


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"prompt": "x" * 2501}, "prompt must not exceed 2500"),
        ({"negative_prompt": "x" * 2501}, "negative_prompt must not exceed 2500"),
        ({"mode": "ultra"}, "mode must be one of"),
        ({"aspect_ratio": "4:3"}, "aspect_ratio must be one of"),
        ({"duration": "7"}, "duration must be one of"),
        ({"cfg_scale": 1.5}, "cfg_scale must be between 0 and 1"),
        ({"image": "data:image/png;base64,AAAA"}, "without a data: prefix"),
        (
            {"image_tail": "https://i/b.png", "camera_control": {"type": "down_back"}},
            "cannot be used together",
        ),
        (
            {"camera_control": {"type": "simple", "config": {"zoom": 2, "pan": 3}}},
            "exactly one non-zero axis",
        ),
        ({"camera_control": {"type": "simple", "config": {"zoom": 11}}}, "between -10 and 10"),
        ({"camera_control": {"type": "simple", "config": {"spin": 1}}}, "unknown axes"),
        ({"camera_control": {"type": "spin_around"}}, "is not supported"),
        ({"camera_control": {"type": "down_back", "config": {"zoom": 1}}}, "takes no config"),
    ],
)
async def test_kling_rules_are_400_with_klings_1201(
    http: aiohttp.ClientSession, sim: GatewaySimulator, changes: dict[str, Any], words: str
) -> None:
    """Kling's rules: a 400 fail_to_fetch_task carrying `{"code":1201,…}`; no task made."""
    status, body = await create_kling(http, sim, **changes)
    assert status == 400
    inner = kling_error(body)
    assert inner["code"] == 1201
    assert words in inner["message"]
    assert sim.task_count == 0


@pytest.mark.parametrize(
    "camera",
    [
        {"type": "simple", "config": {"horizontal": 0, "vertical": 0, "zoom": -10}},
        {"type": "forward_up"},
    ],
)
async def test_valid_camera_controls_are_accepted(
    http: aiohttp.ClientSession, sim: GatewaySimulator, camera: dict[str, Any]
) -> None:
    """One non-zero axis within [-10, 10], or a preset without config, is fine."""
    status, _ = await create_kling(http, sim, camera_control=camera)
    assert status == 200


async def test_policy_word_is_refused_with_1301(
    http: aiohttp.ClientSession, sim: GatewaySimulator
) -> None:
    """`[policy]` in the prompt: 400 with Kling's content-policy code 1301."""
    status, body = await create_kling(http, sim, prompt="something [POLICY]")
    assert status == 400
    assert kling_error(body)["code"] == 1301


async def test_external_task_id_must_be_unique(
    http: aiohttp.ClientSession, sim: GatewaySimulator
) -> None:
    """A second create with the same external_task_id is refused; one task exists."""
    first, _ = await create_kling(http, sim, external_task_id="ext-1")
    second, body = await create_kling(http, sim, external_task_id="ext-1")
    assert (first, second) == (200, 400)
    assert "external_task_id" in kling_error(body)["message"]
    assert sim.task_count == 1


async def test_model_checks(http: aiohttp.ClientSession, sim: GatewaySimulator) -> None:
    """Unknown model: 503 model_not_found; not allowed: 403; missing: 400."""
    status, body = await create_kling(http, sim, model_name="kling-v9")
    assert (status, body["error"]["code"]) == (503, "model_not_found")
    sim.configure(models=("kling-v3", "kling-v2"), allowed_models=["kling-v2"])
    status, body = await create_kling(http, sim)
    assert (status, body["error"]["type"]) == (403, "new_api_error")
    status, body = await create_kling(http, sim, model_name="")
    assert status == 400


# --- timing -----------------------------------------------------------------------------------


async def visible(http: aiohttp.ClientSession, url: str) -> tuple[str, Any]:
    status, body = await call(http, "GET", url)
    assert status == 200, body
    task = body.get("data", body)
    return task["status"], task["progress"]


async def test_relay_shows_state_as_of_its_last_global_tick(
    http: aiohttp.ClientSession, sim: GatewaySimulator, clock: FakeClock
) -> None:
    """Queued 10 s, running 50 s, refreshed every 15 s from start: 0 -> 10 -> 30 -> 100."""
    clock.advance(1)  # created 1 s after the relay's tick
    task_id = await create_unified(http, sim)
    url = f"{sim.base_url}/v1/video/generations/{task_id}"
    seen = []
    for _ in range(6):
        seen.append(await visible(http, url))
        clock.advance(15)
    assert seen == [
        ("queued", 0),  # not refreshed yet
        ("in_progress", 10),  # tick at 15: 14 s old
        ("in_progress", 10),
        ("in_progress", 30),
        ("in_progress", 30),  # tick at 60: the task finishes at 61, unseen until 75
        ("completed", 100),
    ]


async def test_openai_route_says_unknown_before_the_first_update(
    http: aiohttp.ClientSession, sim: GatewaySimulator, clock: FakeClock
) -> None:
    """GET /v1/videos/{id}: `unknown` first, ms timestamps, empty model, metadata.url at the end."""
    clock.advance(1)
    task_id = await create_unified(http, sim)
    status, body = await call(http, "GET", f"{sim.base_url}/v1/videos/{task_id}")
    assert status == 200
    assert (body["status"], body["model"]) == ("unknown", "")
    assert body["created_at"] > 10**12
    clock.advance(120)
    _, body = await call(http, "GET", f"{sim.base_url}/v1/videos/{task_id}")
    assert body["status"] == "completed"
    assert body["metadata"]["url"].endswith(f"/files/{task_id}.mp4")


async def test_wrapper_shape(
    http: aiohttp.ClientSession, sim: GatewaySimulator, clock: FakeClock
) -> None:
    """The wrapper: upper-case status, "30%" progress, Kling's raw task inside."""
    sim.configure(retrieve_shape="wrapper")
    task_id = await create_unified(http, sim, prompt="a fox [fail]")
    url = f"{sim.base_url}/v1/video/generations/{task_id}"
    clock.advance(45)
    status, body = await call(http, "GET", url)
    assert (status, body["code"]) == (200, "success")
    assert (body["data"]["status"], body["data"]["progress"]) == ("IN_PROGRESS", "30%")
    assert body["data"]["data"]["data"]["task_status"] == "processing"
    clock.advance(60)
    _, body = await call(http, "GET", url)
    assert body["data"]["status"] == "FAILURE"
    assert "simulated failure" in body["data"]["result_url"]


async def test_magic_words(
    http: aiohttp.ClientSession, sim: GatewaySimulator, clock: FakeClock
) -> None:
    """[stuck] never finishes, [slow] takes three times longer, others complete."""
    ids = {
        word: await create_unified(http, sim, prompt=f"fox {word}")
        for word in ("", "[stuck]", "[slow]")
    }
    clock.advance(90)  # past a normal task's 60 s, short of a slow one's 180 s
    states = {
        word: (await visible(http, f"{sim.base_url}/v1/video/generations/{task_id}"))[0]
        for word, task_id in ids.items()
    }
    assert states == {"": "completed", "[stuck]": "in_progress", "[slow]": "in_progress"}
    clock.advance(10_000)
    stuck = await visible(http, f"{sim.base_url}/v1/video/generations/{ids['[stuck]']}")
    assert stuck[0] == "in_progress"


async def test_kling_errors_can_fail_the_task_later(
    http: aiohttp.ClientSession, sim: GatewaySimulator, clock: FakeClock
) -> None:
    """With kling_errors="fail_task", a broken rule is accepted and fails with 1201 JSON."""
    sim.configure(kling_errors="fail_task")
    status, created = await create_kling(http, sim, cfg_scale=2.0)
    assert status == 200
    clock.advance(30)
    url = f"{sim.base_url}/kling/v1/videos/text2video/{created['id']}"
    _, body = await call(http, "GET", url)
    assert body["status"] == "failed"
    assert json.loads(body["error"]["message"])["code"] == 1201


async def test_unknown_task_is_400_task_not_exist(
    http: aiohttp.ClientSession, sim: GatewaySimulator
) -> None:
    """There is no 404 for tasks: 400 in the code shape."""
    status, body = await call(http, "GET", f"{sim.base_url}/v1/video/generations/task_nope")
    assert (status, body) == (
        400,
        {"code": "task_not_exist", "message": "task_not_exist", "data": None},
    )


# --- videos -----------------------------------------------------------------------------------


def top_level_boxes(video: bytes) -> list[tuple[bytes, int]]:
    boxes, offset = [], 0
    while offset < len(video):
        size, kind = struct.unpack(">I4s", video[offset : offset + 8])
        assert size >= 8
        boxes.append((kind, size))
        offset += size
    assert offset == len(video)
    return boxes


def test_sample_is_a_small_faststart_mp4() -> None:
    """The committed sample: small, ftyp first, moov before mdat (faststart)."""
    video = SAMPLE_MP4.read_bytes()
    assert len(video) < 50 * 1024
    kinds = [kind for kind, _ in top_level_boxes(video)]
    assert kinds[0] == b"ftyp"
    assert kinds.index(b"moov") < kinds.index(b"mdat")


async def test_files_are_served_once_done(
    http: aiohttp.ClientSession, sim: GatewaySimulator, clock: FakeClock
) -> None:
    """/files/{id}.mp4: 404 before the video exists, the sample mp4 after, without a key."""
    task_id = await create_unified(http, sim)
    url = f"{sim.base_url}/files/{task_id}.mp4"
    async with http.get(url) as response:
        assert response.status == 404
    clock.advance(61)
    async with http.get(url) as response:
        assert (response.status, response.content_type) == (200, "video/mp4")
        assert await response.read() == SAMPLE_MP4.read_bytes()


async def test_big_video_is_padded_and_still_well_formed(
    http: aiohttp.ClientSession, sim: GatewaySimulator, clock: FakeClock
) -> None:
    """[big]: exactly big_video_bytes, the sample's boxes then one trailing `free` box."""
    sim.configure(big_video_bytes=3 * 1024 * 1024)
    task_id = await create_unified(http, sim, prompt="fox [big]")
    clock.advance(75)
    async with http.get(f"{sim.base_url}/files/{task_id}.mp4") as response:
        video = await response.read()
    assert len(video) == 3 * 1024 * 1024
    boxes = top_level_boxes(video)
    assert boxes[: len(top_level_boxes(SAMPLE_MP4.read_bytes()))] == top_level_boxes(
        SAMPLE_MP4.read_bytes()
    )
    assert boxes[-1][0] == b"free"


async def test_content_route_needs_the_key(
    http: aiohttp.ClientSession, sim: GatewaySimulator, clock: FakeClock
) -> None:
    """GET /v1/videos/{id}/content streams the mp4 with the key, 401 without."""
    task_id = await create_unified(http, sim)
    clock.advance(75)
    url = f"{sim.base_url}/v1/videos/{task_id}/content"
    status, _ = await call(http, "GET", url, headers={})
    assert status == 401
    async with http.get(url, headers=AUTH) as response:
        assert response.status == 200
        assert (await response.read())[4:8] == b"ftyp"


# --- control over HTTP ------------------------------------------------------------------------


async def test_control_endpoints(http: aiohttp.ClientSession, sim: GatewaySimulator) -> None:
    """Config, faults, requests, tasks and reset, as a test in another process would use them."""
    base = sim.base_url
    status, config = await call(http, "POST", f"{base}/_sim/config", {"retrieve_shape": "wrapper"})
    assert (status, config["retrieve_shape"]) == (200, "wrapper")
    assert "api_key" not in config
    status, _ = await call(http, "POST", f"{base}/_sim/config", {"retrieve_shape": "xml"})
    assert status == 400

    task_id = await create_unified(http, sim)
    fault = {"route": "fetch", "status": 503, "body": "html", "times": 1}
    status, faults = await call(http, "POST", f"{base}/_sim/faults", [fault])
    assert (status, len(faults["faults"])) == (200, 1)
    url = f"{base}/v1/video/generations/{task_id}"
    status, page = await call(http, "GET", url)
    assert status == 503 and "<title>503 Service Unavailable</title>" in page
    status, body = await call(http, "GET", url)
    assert (status, body["code"]) == (200, "success")

    _, recorded = await call(http, "GET", f"{base}/_sim/requests")
    assert recorded["counts"] == {
        "POST /v1/video/generations": 1,
        "GET /v1/video/generations/{task_id}": 2,
    }
    assert recorded["requests"][0]["json"]["prompt"] == "a fox"
    assert all(r["authorized"] for r in recorded["requests"])
    assert KEY not in json.dumps(recorded)

    _, tasks = await call(http, "GET", f"{base}/_sim/tasks")
    assert tasks["count"] == 1 and tasks["tasks"][0]["id"] == task_id

    await call(http, "POST", f"{base}/_sim/reset")
    status, body = await call(http, "GET", url)
    assert (status, body["code"]) == (400, "task_not_exist")


async def test_code_shape_429_with_retry_after(
    http: aiohttp.ClientSession, sim: GatewaySimulator
) -> None:
    """A busy fault in the code shape carries the Chinese message and Retry-After."""
    sim.add_faults(Fault.busy(body="code", retry_after="4", route="create"))
    async with http.post(f"{sim.base_url}/v1/video/generations", json={}, headers=AUTH) as response:
        assert response.status == 429
        assert response.headers["Retry-After"] == "4"
        body = await response.json()
    assert body["message"] == "当前分组上游负载已饱和，请稍后再试"
    assert body["data"] is None


# --- callbacks --------------------------------------------------------------------------------


async def test_a_failed_callback_is_logged_without_its_path(
    http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """A callback URL's path carries the bot's per-task secret (product-spec.md, Callbacks): a
    callback that can't be delivered is logged with the receiver's host only."""
    secret = "0123456789abcdef0123456789abcdef"
    callback_url = f"http://127.0.0.1:{free_port()}/kling/callback/{secret}"  # nobody listens
    config = SimulatorConfig(api_key=KEY, time_factor=0.004)

    def failures() -> list[str]:
        return [r.getMessage() for r in caplog.records if "callback to" in r.getMessage()]

    with caplog.at_level(logging.DEBUG, logger="gateway.simulator"):
        async with GatewaySimulator(config) as sim:
            status, _ = await create_kling(http, sim, callback_url=callback_url)
            assert status == 200
            await wait_until(failures, 10, what="a failed callback logged")
    assert "http://127.0.0.1:" in failures()[0]
    assert not [line for line in failures() if secret in line or "/kling/callback" in line]


async def test_callbacks_follow_each_status_change(http: aiohttp.ClientSession) -> None:
    """Kling's task object is POSTed to callback_url once per status change."""
    received: list[dict[str, Any]] = []
    done = asyncio.Event()

    async def receive(request: web.Request) -> web.Response:
        received.append(await request.json())
        if received[-1]["task_status"] in ("succeed", "failed"):
            done.set()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/cb", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    callback_url = f"http://127.0.0.1:{runner.addresses[0][1]}/cb"
    try:
        config = SimulatorConfig(api_key=KEY, time_factor=0.004)
        async with GatewaySimulator(config) as sim:
            body = kling_body(callback_url=callback_url, external_task_id="ext-cb")
            status, created = await call(
                http, "POST", f"{sim.base_url}/kling/v1/videos/text2video", body
            )
            assert status == 200
            await asyncio.wait_for(done.wait(), timeout=10)
    finally:
        await runner.cleanup()

    statuses = [r["task_status"] for r in received]
    assert len(statuses) == len(set(statuses))  # one callback per change
    assert set(statuses) <= {"submitted", "processing", "succeed"}
    (last,) = [r for r in received if r["task_status"] == "succeed"]
    assert last["task_id"].isdigit() and last["task_id"] != created["id"]
    assert last["task_info"] == {"external_task_id": "ext-cb"}
    assert last["task_result"]["videos"][0]["url"].endswith(f"/files/{created['id']}.mp4")
    assert last["updated_at"] >= last["created_at"] > 10**12


# --- command line -----------------------------------------------------------------------------


async def test_runs_as_a_module(http: aiohttp.ClientSession) -> None:
    """`python -m gateway.simulator --port N --api-key K` serves the gateway."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "gateway.simulator", "--port", str(port), "--api-key", KEY],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"

        async def answered() -> tuple[int, Any] | None:
            try:
                return await call(http, "GET", f"{base}/v1/video/generations/task_x")
            except aiohttp.ClientConnectionError:
                return None

        status, body = await wait_until(answered, 10, what="the simulator to answer on its port")
        assert (status, body["code"]) == (400, "task_not_exist")
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=10)
    assert process.returncode == 0


# --- outages ------------------------------------------------------------------------------------


def unified_create_url(sim: GatewaySimulator) -> str:
    return f"{sim.base_url}/v1/video/generations"


UNIFIED_BODY = {
    "model": "kling-v3",
    "prompt": "a fox",
    "metadata": {"external_task_id": "ext-outage"},
}


async def test_refused_connections_then_back_on_the_same_port(
    http: aiohttp.ClientSession, sim: GatewaySimulator
) -> None:
    """While refusing, nothing listens on the port; afterwards the same URL works again and
    the tasks made before are still known."""
    status, created = await create_kling(http, sim)
    assert status == 200
    base = sim.base_url
    await sim.refuse_connections()
    assert not sim.listening
    with pytest.raises(aiohttp.ClientConnectorError):
        await call(http, "GET", f"{base}/v1/video/generations/{created['id']}")
    await sim.accept_connections()
    assert sim.base_url == base
    status, task = await call(http, "GET", f"{base}/v1/video/generations/{created['id']}")
    assert (status, task["id"]) == (200, created["id"])


async def test_refused_connections_for_a_while(
    http: aiohttp.ClientSession, sim: GatewaySimulator
) -> None:
    """With seconds, the port opens again by itself."""
    await sim.refuse_connections(seconds=0.2)
    with pytest.raises(aiohttp.ClientConnectorError):
        await create_kling(http, sim)
    await wait_until(lambda: sim.listening, 5, what="the port to open again")
    status, _ = await create_kling(http, sim)
    assert status == 200


async def test_html_503_outage_until_its_end(
    http: aiohttp.ClientSession, sim: GatewaySimulator, clock: FakeClock
) -> None:
    """Every API request meets a proxy's HTML 503 until the outage's time is up; nothing is
    made meanwhile, and each request is still recorded."""
    sim.start_outage("html_503", seconds=20)
    status, page = await call(http, "POST", unified_create_url(sim), UNIFIED_BODY)
    assert status == 503 and "<title>503 Service Unavailable</title>" in page
    status, _ = await call(http, "GET", f"{sim.base_url}/v1/video/generations/task_x")
    assert status == 503
    assert sim.task_count == 0
    assert len(sim.requests) == 2
    clock.advance(20)
    status, _ = await call(http, "POST", unified_create_url(sim), UNIFIED_BODY)
    assert status == 200 and sim.task_count == 1


async def test_busy_429_outage_says_when_to_come_back(
    http: aiohttp.ClientSession, sim: GatewaySimulator
) -> None:
    """The relay's 429 with the saturation message and Retry-After, until ended."""
    sim.start_outage("busy_429", retry_after="5", routes=("create",))
    async with http.post(unified_create_url(sim), json=UNIFIED_BODY, headers=AUTH) as response:
        assert response.status == 429
        assert response.headers["Retry-After"] == "5"
        assert "当前分组上游负载已饱和" in (await response.json())["error"]["message"]
    sim.end_outage()
    status, _ = await call(http, "POST", unified_create_url(sim), UNIFIED_BODY)
    assert status == 200


async def test_timeout_504_outage_makes_the_task_then_loses_the_answer(
    http: aiohttp.ClientSession, sim: GatewaySimulator
) -> None:
    """A create is taken (its task exists, its id known by external_task_id) but answered with
    a proxy's 504; reads are not affected when the outage covers creates only."""
    sim.start_outage("timeout_504", routes=("create",))
    status, page = await call(http, "POST", unified_create_url(sim), UNIFIED_BODY)
    assert status == 504 and "504 Gateway Timeout" in page
    (task,) = sim.tasks
    assert task.external_task_id == "ext-outage"
    status, _ = await call(http, "GET", f"{sim.base_url}/v1/video/generations/{task.id}")
    assert status == 200


async def test_outage_over_http(http: aiohttp.ClientSession, sim: GatewaySimulator) -> None:
    """A simulator in another process is put into an outage and out of it over HTTP."""
    control = f"{sim.base_url}/_sim/outage"
    status, body = await call(http, "POST", control, {"mode": "html_503", "routes": ["fetch"]})
    assert status == 200 and body["outage"]["mode"] == "html_503"
    status, _ = await call(http, "GET", f"{sim.base_url}/v1/video/generations/task_x")
    assert status == 503
    status, body = await call(http, "DELETE", control)
    assert (status, body["outage"]) == (200, None)
    status, body = await call(http, "POST", control, {"mode": "refuse"})
    assert status == 400 and "seconds" in body["error"]
    status, _ = await call(http, "POST", control, {"mode": "refuse", "seconds": 0.2})
    assert status == 200
    await wait_until(lambda: not sim.listening, 0.4, what="the port to close", interval=0.02)
    await wait_until(lambda: sim.listening, 5, what="the port to open again")
    status, _ = await create_kling(http, sim)
    assert status == 200
