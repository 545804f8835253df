"""Callbacks: Kling's POST wakes the service, which confirms with a GET and delivers at once,
long before the next scheduled poll."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp

from gateway.callbacks import start_callback_server
from gateway.client import GatewayClient
from gateway.simulator import GatewaySimulator, SimulatorConfig
from storage.task_store import SqliteTaskStore
from tests.fakes import RecordingNotifier
from videojobs.lifecycle import ServiceConfig
from videojobs.models import Requester, TaskState, VideoRequest
from videojobs.service import VideoJobsService

KEY = "sk-callback-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_callback_brings_the_result_before_the_next_poll(tmp_path: Path) -> None:
    """With polling every 10 minutes, the video is still delivered within seconds of Kling's
    callback, after one confirming GET."""
    port = free_port()
    callback_url = f"http://127.0.0.1:{port}/kling/callback"
    simulator = GatewaySimulator(
        SimulatorConfig(api_key=KEY, queued_seconds=0.2, running_seconds=0.6, update_interval=0.2)
    )
    base = await simulator.start()
    store = await SqliteTaskStore.open(tmp_path / "bot.sqlite3")
    notifier = RecordingNotifier()
    async with aiohttp.ClientSession() as session:
        service = VideoJobsService(
            store,
            GatewayClient(session, base_url=base, api_key=KEY),
            notifier,
            ServiceConfig(poll_interval=600, callback_url=callback_url),
        )
        runner = await start_callback_server(("127.0.0.1", port), callback_url, service.hint)
        try:
            task = await service.admit_and_send(
                VideoRequest(prompt="a heron", model="kling-v3"), Requester(1, 2, 3)
            )
            async with asyncio.timeout(15):
                while not notifier.delivered(task.id):
                    await service.poll_requested.wait()
                    service.poll_requested.clear()
                    await service.run_pass()
                    await service.drain()
        finally:
            await runner.cleanup()
            await store.close()
            await simulator.stop()
    assert notifier.delivered(task.id) == [TaskState.COMPLETED]
    fetches = [r for r in simulator.requests if r.kind == "fetch"]
    assert 1 <= len(fetches) <= 3  # confirmations only: no 10-minute polling in between


async def test_callback_endpoint_rejects_junk_and_ignores_strangers(tmp_path: Path) -> None:
    """Non-JSON gets 400; a well-formed callback for an unknown task is accepted and ignored."""
    port = free_port()
    seen: list[str] = []

    async def hint(task_id: str) -> bool:
        seen.append(task_id)
        return False

    runner = await start_callback_server(("127.0.0.1", port), "http://x/cb", hint)
    try:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{port}/cb"
            async with session.post(url, data=b"<html>") as response:
                assert response.status == 400
            body = {
                "task_id": "8612",
                "task_status": "succeed",
                "task_info": {"external_task_id": "abc"},
            }
            async with session.post(url, json=body) as response:
                assert response.status == 200
    finally:
        await runner.cleanup()
    assert seen == ["abc"]
