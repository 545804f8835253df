"""Gateway faults, a rejected key, SIGKILL and SIGTERM: the member still gets exactly one
result, and the key is never shown."""

from __future__ import annotations

import collections
import os
import sqlite3
import subprocess
import sys
import time

import aiohttp
import pytest

from gateway.client import GatewayClient
from gateway.simulator import Fault
from storage.task_store import SqliteTaskStore
from videojobs.models import DeliveryState, GatewayState, TaskSnapshot, TaskState

from .harness import REPO_ROOT
from .scenario import KEY, Scenario

BUSY_CN = "当前分组上游负载已饱和，请稍后再试"


def assert_key_never_shown(s: Scenario) -> None:
    assert KEY not in s.visible_text()
    assert KEY not in s.bot.logs


@pytest.mark.parametrize(
    "fault",
    [
        Fault(route="create", status=429, body="error", message=BUSY_CN, retry_after="1", times=2),
        Fault(route="fetch", status=429, body="code", code="rate_limited", times=3),
        Fault(route="fetch", status=500, body="code", code="get_task_failed", times=2),
        Fault(route="fetch", status=502, body="html", times=3),
        Fault(route="create", status=503, body="html", times=1),
    ],
    ids=["429-error-shape-create", "429-code-shape-fetch", "500-fetch", "html-502", "html-503"],
)
async def test_gateway_faults_still_deliver_exactly_once(scenario: Scenario, fault: Fault) -> None:
    """Busy or broken gateway answers are retried; the video arrives once, made once."""
    scenario.kling.add_faults(fault)
    inter = await scenario.video(prompt="a windmill on a hill")
    result = await scenario.result(inter)
    assert result.attachments
    await scenario.discord.wait_for(lambda: "completed" in scenario.status(inter))
    assert scenario.kling.task_count == 1  # retried creates never made a second task
    assert len(scenario.results(scenario.where(inter), scenario.short_id(inter))) == 1
    assert_key_never_shown(scenario)


async def test_rejected_key_is_explained_without_showing_it(scenario: Scenario) -> None:
    """A key the gateway refuses ends the task with a reason for the owner; no key anywhere."""
    scenario.kling.configure(api_key="sk-some-other-key")
    inter = await scenario.video(prompt="a comet over mountains")
    result = await scenario.result(inter)
    assert "failed" in result.content
    assert "KLING_API_KEY" in result.content
    assert not result.attachments
    assert len([r for r in scenario.kling.requests if r.kind == "create"]) == 1  # not retried
    assert_key_never_shown(scenario)


async def test_sigkill_mid_task_then_restart_delivers_exactly_once(scenario: Scenario) -> None:
    """The bot dies (SIGKILL) while a video is being made; restarted on the same database it
    picks the task up and delivers it once, without submitting it again."""
    inter = await scenario.video(prompt="[slow] a train crossing a bridge")
    await scenario.discord.wait_for(lambda: scenario.creates(), message="the task was submitted")
    await scenario.restart(kill=True)
    assert "1 tasks being polled" in scenario.bot.logs
    result = await scenario.result(inter)
    assert result.attachments
    assert len(scenario.creates()) == 1
    await scenario.discord.wait_for(lambda: "completed" in scenario.status(inter))
    assert len(scenario.results(scenario.where(inter), scenario.short_id(inter))) == 1


async def test_sigkill_many_times_never_duplicates(scenario: Scenario) -> None:
    """Several tasks and a SIGKILL at a different moment each time: every task ends with
    exactly one result message and one gateway task."""
    bob = scenario.discord.add_member(scenario.guild, "bob")
    inters = [
        await scenario.video(prompt="[slow] one"),
        await scenario.video(member=bob, prompt="two"),
        await scenario.video(prompt="[fail] three"),
    ]

    def a_result_is_out() -> bool:
        return any(
            scenario.results(scenario.where(i), scenario.short_id(i))
            or scenario.results(scenario.channel, scenario.short_id(i))
            for i in inters
        )

    # killed at a different stage each time: as the third create reaches the gateway (maybe
    # before its id is recorded), while the restarted bot polls, once a first result is out
    await scenario.discord.wait_for(lambda: len(scenario.creates()) >= 3, message="3 creates")
    await scenario.restart(kill=True)
    polled = len(scenario.fetches())
    await scenario.discord.wait_for(
        lambda: len(scenario.fetches()) > polled, message="a poll after restart"
    )
    await scenario.restart(kill=True)
    await scenario.discord.wait_for(a_result_is_out, timeout=30, message="a first result")
    await scenario.restart(kill=True)
    results = [await scenario.result(inter) for inter in inters]
    per_task = collections.Counter(
        r.json["metadata"]["external_task_id"] for r in scenario.creates()
    )
    assert sorted(per_task.values()) == [1, 1, 1]
    for inter, result in zip(inters, results, strict=True):
        short = scenario.short_id(inter)
        everywhere = scenario.results(scenario.where(inter), short) + scenario.results(
            scenario.channel, short
        )
        assert len({m.id for m in everywhere}) == 1, f"{short}: {everywhere}"
        assert result.mentions


async def test_sigterm_stops_cleanly(scenario: Scenario) -> None:
    """SIGTERM stops the bot with exit status 0 after closing what it opened."""
    inter = await scenario.video(prompt="a short one")
    await scenario.result(inter)
    assert await scenario.bot.stop() == 0
    assert "stopped" in scenario.bot.logs
    assert "Traceback" not in scenario.bot.logs


async def test_health_check_follows_the_running_bot(scenario: Scenario) -> None:
    """`python healthcheck.py` passes while the bot runs and fails once it has stopped."""
    env = {**os.environ, "DATABASE_PATH": scenario.bot.env["DATABASE_PATH"]}
    env["POLL_INTERVAL_SECONDS"] = "0.5"

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "healthcheck.py"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )

    await scenario.discord.wait_for(lambda: check().returncode == 0, timeout=10)
    assert await scenario.bot.stop() == 0
    result = check()
    assert result.returncode == 1
    assert "unhealthy" in result.stdout


async def test_sigkill_before_sending_sends_after_restart(scenario: Scenario) -> None:
    """The bot dies after storing a task but before sending it (a slow thread creation keeps it
    there): after the restart the task is sent once and delivered."""
    scenario.discord.inject_rate_limit("/threads", count=1, retry_after=5.0)
    inter = await scenario.video(prompt="a lantern drifting on a lake")
    await scenario.discord.wait_for(
        lambda: scenario.discord.calls("POST", "/threads", status=429),
        message="the rate-limited thread creation (the task is stored, not yet sent)",
    )
    assert scenario.creates() == []
    await scenario.restart(kill=True)
    result = await scenario.result(inter)
    assert result.attachments
    assert len(scenario.creates()) == 1
    # the thread was never opened: the result is in the channel, once
    assert scenario.discord.thread_for(inter.original) is None  # type: ignore[arg-type]
    assert result.channel is scenario.channel
    assert len(scenario.results(scenario.channel, scenario.short_id(inter))) == 1


async def test_sigkill_while_sending_is_not_sent_again(scenario: Scenario) -> None:
    """The bot dies while the create call is on the wire: after the restart the task is not
    sent again (it might charge twice); the member is told and can press Retry."""
    scenario.kling.add_faults(Fault.slow(5.0, route="create"))
    inter = await scenario.video(prompt="a lantern drifting on a lake")
    await scenario.discord.wait_for(lambda: scenario.creates(), message="the create call")
    await scenario.restart(kill=True)
    result = await scenario.result(inter)
    assert "restarted while it was sending" in result.content
    assert not result.attachments
    await scenario.poller_passed(2)
    assert len(scenario.creates()) == 1


async def test_lost_create_answer_never_makes_a_second_task(scenario: Scenario) -> None:
    """The gateway made the task but its answer was lost: the retried create must not make a
    second one (external_task_id), and the member is told to try again."""
    scenario.kling.add_faults(Fault(route="create", lose_answer=True))
    inter = await scenario.video(prompt="a windmill on a hill")
    result = await scenario.result(inter)
    assert "failed" in result.content
    assert scenario.kling.task_count == 1
    assert_key_never_shown(scenario)


async def test_sigkill_after_posting_before_recording_never_duplicates(
    scenario: Scenario,
) -> None:
    """The bot dies after Discord took the result but before the database recorded it: after
    the restart it finds its own message and does not post the result again."""
    inter = await scenario.video(prompt="[slow] a heron taking off")
    thread = await scenario.thread(inter)
    short = scenario.short_id(inter)
    route = f"POST /channels/{thread.id}/messages"
    scenario.discord.inject_rate_limit(route, count=1, retry_after=2.0)
    await scenario.discord.wait_for(
        lambda: scenario.discord.calls("POST", f"/channels/{thread.id}/messages", status=429),
        timeout=30,
        message="the result's first (rate-limited) post",
    )
    lock = sqlite3.connect(scenario.bot.env["DATABASE_PATH"], isolation_level=None, timeout=10)
    lock.execute("BEGIN EXCLUSIVE")  # the bot can post, but not record that it did
    try:
        await scenario.discord.wait_for(lambda: scenario.results(thread, short), timeout=10)
        scenario.bot.kill()
        await scenario.bot.wait_exit()
    finally:
        lock.rollback()
        lock.close()
    scenario.bot = await scenario.start_bot(scenario.settings)
    assert "1 results owed" in scenario.bot.logs  # the crash did land in the window
    await scenario.bot.wait_for_log("earlier delivery found")  # settled at the first pass
    assert len(scenario.results(thread, short)) == 1


async def test_a_delivery_that_gave_up_is_delivered_at_the_next_start(scenario: Scenario) -> None:
    """A result that could not be posted through every retry (GAVE_UP: not delivered) is
    tried again when the bot next starts, and posted once."""
    inter = await scenario.video(prompt="[slow] a kite over the dunes")
    await scenario.discord.wait_for(lambda: scenario.creates(), message="the task was submitted")
    scenario.bot.kill()
    await scenario.bot.wait_exit()
    # What an earlier run leaves when every delivery retry failed (they span ~20 minutes):
    # the video made, its delivery given up.
    store = await SqliteTaskStore.open(scenario.bot.env["DATABASE_PATH"], exclusive=True)
    async with store, aiohttp.ClientSession() as session:
        (task,) = await store.user_tasks(scenario.member.user.id, unfinished=True, limit=5)
        gateway = GatewayClient(session, base_url=scenario.kling.base_url, api_key=KEY)

        async def made() -> TaskSnapshot | None:
            assert task.gateway_task_id is not None
            snapshot = await gateway.fetch(task.gateway_task_id, request=task.request)
            return snapshot if snapshot.state is GatewayState.COMPLETED else None

        snapshot = await scenario.discord.wait_for(
            made, timeout=30, message="the gateway to finish the video", interval=0.3
        )
        now = time.time()
        done = task.evolve(
            state=TaskState.COMPLETED, progress=100, result_url=snapshot.video_url, finished_at=now
        )
        assert await store.update(done)
        assert await store.claim_delivery(task.id, now)
        await store.give_up_delivery(task.id, attempts=5, now=now)
        assert (await store.get(task.id)).delivery is DeliveryState.GAVE_UP  # type: ignore[union-attr]

    scenario.bot = await scenario.start_bot(scenario.settings)
    assert "1 of them gave up before and are tried again" in scenario.bot.logs
    result = await scenario.result(inter)
    assert result.attachments
    await scenario.bot.wait_for_log(f"task {task.id} delivered")
    assert len(scenario.results(scenario.where(inter), scenario.short_id(inter))) == 1
    assert len(scenario.creates()) == 1  # tried again to post, never to make
