"""Signed callbacks, over real HTTP: the gateway simulator calls back the URL the bot gave it
(CALLBACK_PUBLIC_URL plus the task's secret). A callback with the secret is trusted and
delivers at once; one without it is refused and changes nothing; a lost one is made up for by
the polling safety net."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.callbacks import start_callback_server
from gateway.client import GatewayClient
from gateway.simulator import GatewaySimulator, SimulatorConfig
from storage.task_store import SqliteTaskStore
from tests.fakes import RecordingNotifier
from tests.support.ports import free_port
from videojobs.callbacks import CallbackNews
from videojobs.lifecycle import Lifecycle, ServiceConfig
from videojobs.models import GatewayState, Requester, TaskState, VideoRequest, VideoTask
from videojobs.service import VideoJobsService
from videojobs.signing import KEY_META, CallbackSigner

KEY = "sk-callback-test"
REQUEST = VideoRequest(prompt="a heron", model="kling-v3")


@dataclass
class World:
    simulator: GatewaySimulator
    store: SqliteTaskStore
    notifier: RecordingNotifier
    service: VideoJobsService
    callback_url: str  # CALLBACK_PUBLIC_URL
    session: aiohttp.ClientSession

    def fetches(self) -> int:
        return sum(1 for r in self.simulator.requests if r.kind == "fetch")

    async def post(self, url: str, body: Any) -> int:
        data = body if isinstance(body, bytes) else None
        json_body = None if isinstance(body, bytes) else body
        async with self.session.post(url, data=data, json=json_body) as response:
            return response.status

    async def delivered(self, task: VideoTask, timeout: float = 15.0) -> list[TaskState]:
        """Run the poller (as cogs/poller.py does) until the task is delivered."""
        service = self.service
        async with asyncio.timeout(timeout):
            while not self.notifier.delivered(task.id):
                await service.run_pass()
                wake = await service.next_wakeup()
                now = service.lifecycle.clock.now()
                delay = 0.05 if wake is None else max(0.01, min(wake - now, 0.2))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(service.poll_requested.wait(), delay)
                service.poll_requested.clear()
        await service.drain()
        return self.notifier.delivered(task.id)


MakeWorld = Callable[..., Awaitable[World]]


@pytest.fixture
async def make_world(tmp_path: Path) -> AsyncIterator[MakeWorld]:
    cleanups: list[Callable[[], Awaitable[object]]] = []

    async def make(
        *, poll_interval: float, drop: Callable[[CallbackNews], bool] | None = None, **sim: Any
    ) -> World:
        port = free_port()
        callback_url = f"http://127.0.0.1:{port}/kling/callback"
        timing = {"queued_seconds": 0.2, "running_seconds": 0.6, "update_interval": 0.2}
        simulator = GatewaySimulator(SimulatorConfig(api_key=KEY, **{**timing, **sim}))
        base = await simulator.start()
        cleanups.append(simulator.stop)
        store = await SqliteTaskStore.open(tmp_path / "bot.sqlite3")
        cleanups.append(store.close)
        session = aiohttp.ClientSession()
        cleanups.append(session.close)
        notifier = RecordingNotifier()
        service = VideoJobsService(
            Lifecycle(
                store,
                GatewayClient(session, base_url=base, api_key=KEY),
                notifier,
                ServiceConfig(poll_interval=poll_interval, callback_url=callback_url),
            )
        )

        async def receive(news: CallbackNews) -> bool:
            if drop is not None and drop(news):
                return True  # lost on the way: never applied
            return await service.receive_callback(news)

        runner = await start_callback_server(
            ("127.0.0.1", port), callback_url, service.verify_callback, receive
        )
        cleanups.insert(0, runner.cleanup)
        return World(simulator, store, notifier, service, callback_url, session)

    yield make
    for cleanup in cleanups:
        await cleanup()


async def test_a_signed_callback_delivers_before_any_poll_could(make_world: MakeWorld) -> None:
    """With polling every 10 minutes, Kling's callback alone brings the video: no GET at all."""
    world = await make_world(poll_interval=600)
    task = await world.service.admit_and_send(REQUEST, Requester(1, 2, 3))
    (create,) = [r for r in world.simulator.requests if r.kind == "create"]
    sent_url = create.json["metadata"]["callback_url"]
    assert sent_url.startswith(world.callback_url + "/")
    assert len(sent_url.rsplit("/", 1)[1]) == 32  # the task's secret

    assert await world.delivered(task) == [TaskState.COMPLETED]
    assert world.fetches() == 0
    stored = await world.store.get(task.id)
    assert stored is not None and stored.result_url and stored.result_url.endswith(".mp4")


async def test_a_signed_failed_callback_is_reported_at_once(make_world: MakeWorld) -> None:
    """A task Kling fails is reported from the callback, with the reason, and no poll."""
    world = await make_world(poll_interval=600)
    task = await world.service.admit_and_send(
        VideoRequest(prompt="[fail] a storm", model="kling-v3"), Requester(1, 2, 3)
    )
    assert await world.delivered(task) == [TaskState.FAILED]
    assert world.fetches() == 0
    stored = await world.store.get(task.id)
    assert stored is not None and stored.failure_reason


async def test_forged_callbacks_are_refused_and_change_nothing(make_world: MakeWorld) -> None:
    """No secret, a wrong one, another task's, a secret for a changed id: 403, and the task
    stays as it was (not finished, not delivered, not polled)."""
    world = await make_world(poll_interval=600, running_seconds=3600)  # never done by itself
    service = world.service
    mine = await service.admit_and_send(REQUEST, Requester(1, 2, 3))
    other = await service.admit_and_send(REQUEST, Requester(4, 2, 3))
    before = await world.store.get(mine.id)
    signer = CallbackSigner(world.callback_url, await world.store.key_values.get(KEY_META) or "")
    port_url = world.callback_url
    succeed = {
        "task_id": "860000000001",
        "task_status": "succeed",
        "task_info": {"external_task_id": mine.id},
        "task_result": {"videos": [{"id": "v", "url": "https://evil.example/x.mp4"}]},
    }
    forged = [
        port_url,  # no secret
        port_url + "/",  # no secret either
        f"{port_url}/{'0' * 32}",  # a wrong secret
        f"{port_url}/{signer.secret(other.id)}",  # another task's secret
        f"{port_url}/{signer.secret(mine.id)[:-1]}",  # almost
        signer.url_for(other.id),
    ]
    for url in forged:
        assert await world.post(url, succeed) == 403, url
    no_id = {k: v for k, v in succeed.items() if k != "task_info"}
    assert await world.post(signer.url_for(mine.id), no_id) == 403
    assert await world.post(port_url, b"not json") == 403  # no secret: refused before reading

    await service.run_pass()
    await service.drain()
    assert await world.store.get(mine.id) == before
    assert world.notifier.deliveries == []
    assert world.fetches() == 0
    # the real secret is accepted: the same body now finishes the task
    assert await world.post(signer.url_for(mine.id), succeed) == 200
    assert await world.delivered(mine) == [TaskState.COMPLETED]


async def test_a_lost_result_callback_is_found_by_the_safety_net(make_world: MakeWorld) -> None:
    """Callbacks reach the bot (the task is polled only as a safety net), but the one with
    the video is lost: a poll finds the video all the same."""
    lost: list[CallbackNews] = []
    applied: list[CallbackNews] = []

    def drop(news: CallbackNews) -> bool:
        (lost if news.state is GatewayState.COMPLETED else applied).append(news)
        return news.state is GatewayState.COMPLETED

    world = await make_world(poll_interval=0.2, drop=drop)
    task = await world.service.admit_and_send(REQUEST, Requester(1, 2, 3))
    assert await world.delivered(task) == [TaskState.COMPLETED]
    assert lost and lost[0].task_id == task.id  # the result's callback came, and was lost
    assert any(news.task_id == task.id for news in applied)  # earlier ones were heard
    assert world.fetches() >= 1


async def test_without_any_callback_polling_delivers(make_world: MakeWorld) -> None:
    """A callback URL that Kling never reaches (every callback lost): the task is polled as
    without callbacks, and delivered."""
    world = await make_world(poll_interval=0.2, callback_loss=1.0)
    task = await world.service.admit_and_send(REQUEST, Requester(1, 2, 3))
    assert await world.delivered(task) == [TaskState.COMPLETED]
    assert world.fetches() >= 1


async def test_junk_is_refused(unused_tcp_port: int) -> None:
    """A POST with a secret but no JSON names no task, so the secret can't be shown to be its:
    403, like any POST without the right secret (product-spec.md, Callbacks); a signed
    callback for a task that is not ours (not in the database) is accepted and ignored."""
    received: list[CallbackNews] = []

    async def verify(task_id: str, secret: str) -> bool:
        return secret == "s3cret"

    async def receive(news: CallbackNews) -> bool:
        received.append(news)
        return False

    runner = await start_callback_server(
        ("127.0.0.1", unused_tcp_port), "http://x/cb", verify, receive
    )
    try:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{unused_tcp_port}/cb/s3cret"
            async with session.post(url, data=b"<html>") as response:
                assert response.status == 403
            body = {"task_status": "processing", "task_info": {"external_task_id": "abc"}}
            async with session.post(url, json=body) as response:
                assert response.status == 200
    finally:
        await runner.cleanup()
    assert received == [CallbackNews("abc", GatewayState.RUNNING)]
