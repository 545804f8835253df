"""The task lifecycle on fakes: milliseconds each, one behaviour per test."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from videojobs.errors import GatewayError, NotAllowed, RequestRejected, TaskNotFound
from videojobs.models import (
    DeliveryState,
    GatewayState,
    GenerationRequest,
    ImageRef,
    Requester,
    TaskSnapshot,
    TaskState,
)
from videojobs.sending import INTERRUPTED_REASON

from .harness import ADMIN, ALICE, BOB, REQUEST, Harness


async def test_task_is_stored_before_the_gateway_sees_it(h: Harness) -> None:
    """When create is called, the task already exists in the store as SUBMITTING."""
    seen: list[TaskState] = []
    create = h.gateway.create

    async def spying_create(request: GenerationRequest) -> TaskSnapshot:
        task = await h.store.get(request.external_task_id or "")
        assert task is not None
        seen.append(task.state)
        return await create(request)

    h.gateway.create = spying_create  # type: ignore[method-assign]
    await h.service.admit_and_send(REQUEST, ALICE)
    assert seen == [TaskState.SUBMITTING]


async def test_gateway_id_and_external_id_are_recorded(h: Harness) -> None:
    """The gateway's id is stored at once and our own id travels as external_task_id."""
    task = await h.service.admit_and_send(REQUEST, ALICE)
    stored = await h.store.get(task.id)
    assert stored is not None and stored.gateway_task_id == "task_" + "1".zfill(32)
    assert stored.state is TaskState.QUEUED
    assert h.gateway.created[0].external_task_id == task.id


async def test_broken_rule_stores_and_sends_nothing(h: Harness) -> None:
    """An invalid request is rejected with a readable reason; nothing is stored or sent."""
    bad = dataclasses.replace(REQUEST, cfg_scale=1.5)
    with pytest.raises(RequestRejected, match="cfg_scale"):
        await h.service.admit_and_send(bad, ALICE)
    assert h.store.tasks == {} and h.gateway.created == []


async def test_channel_allowlist_lets_threads_inherit_their_parent() -> None:
    """A thread of an allowed channel is allowed; another channel is not."""
    h = Harness(allowed_channel_ids=frozenset({500}))
    in_thread = Requester(user_id=1, guild_id=100, channel_id=900, parent_channel_id=500)
    await h.service.admit_and_send(REQUEST, in_thread)
    elsewhere = Requester(user_id=1, guild_id=100, channel_id=901)
    with pytest.raises(RequestRejected, match="<#500>"):
        await h.service.admit_and_send(REQUEST, elsewhere)
    assert len(h.gateway.created) == 1


async def test_role_allowlist_needs_one_of_the_roles() -> None:
    """A member without an allowed role is told which roles may use /video."""
    h = Harness(allowed_role_ids=frozenset({77}))
    with pytest.raises(RequestRejected, match="<@&77>"):
        await h.service.admit_and_send(REQUEST, ALICE)
    await h.service.admit_and_send(REQUEST, dataclasses.replace(ALICE, role_ids=frozenset({77})))
    assert len(h.gateway.created) == 1


async def test_active_limit_holds_under_a_burst(h: Harness) -> None:
    """Twenty concurrent requests from one member start exactly MAX_ACTIVE tasks."""
    results = await asyncio.gather(
        *(h.service.admit_and_send(REQUEST, ALICE) for _ in range(20)), return_exceptions=True
    )
    started = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, RequestRejected)]
    assert len(started) == 2 and len(refused) == 18
    assert "/cancel" in str(refused[0])
    assert len(h.gateway.created) == 2


async def test_daily_limit_counts_finished_tasks_and_resets_at_midnight() -> None:
    """The daily limit counts every task started today (UTC) and frees up the next day."""
    h = Harness(max_active=0, max_daily=2)
    h.clock.t = 1_770_000_000.0 - (1_770_000_000.0 % 86400) + 3600  # 01:00 UTC
    for _ in range(2):
        await h.service.admit_and_send(REQUEST, ALICE)
    with pytest.raises(RequestRejected, match="midnight UTC"):
        await h.service.admit_and_send(REQUEST, ALICE)
    h.clock.advance(23 * 3600)
    await h.service.admit_and_send(REQUEST, ALICE)
    assert len(h.gateway.created) == 3


async def test_zero_means_no_limit() -> None:
    """MAX_ACTIVE_TASKS_PER_USER=0 and DAILY_TASKS_PER_USER=0 allow any number."""
    h = Harness(max_active=0, max_daily=0)
    for _ in range(30):
        await h.service.admit_and_send(REQUEST, ALICE)
    assert len(h.gateway.created) == 30


async def test_task_runs_to_completion_and_is_delivered_once(h: Harness) -> None:
    """queued -> running -> completed ends with exactly one delivery of the video."""
    task = await h.service.admit_and_send(REQUEST, ALICE)
    await h.run_until_idle()
    done = await h.store.get(task.id)
    assert done is not None and done.state is TaskState.COMPLETED
    assert done.result_url == f"https://cdn.test/{done.gateway_task_id}.mp4"
    assert done.delivery is DeliveryState.DELIVERED and done.delivery_message_id is not None
    assert h.notifier.delivered(task.id) == [TaskState.COMPLETED]


async def test_failed_task_reports_the_reason(h: Harness) -> None:
    """A task the gateway fails is delivered as failed with the gateway's reason."""
    h.gateway.default_script = ["running", "failed"]
    task = await h.service.admit_and_send(REQUEST, ALICE)
    await h.run_until_idle()
    done = await h.store.get(task.id)
    assert done is not None and done.state is TaskState.FAILED
    assert done.failure_reason == "Kling refused the image."
    assert h.notifier.delivered(task.id) == [TaskState.FAILED]


async def test_rejected_create_fails_the_task_with_a_readable_reason(h: Harness) -> None:
    """A create the gateway refuses ends the task at once and tells the member why."""
    h.gateway.create_errors = [GatewayError("Your prompt was refused.", retryable=False)]
    task = await h.service.admit_and_send(REQUEST, ALICE)
    await h.service.drain()
    assert task.state is TaskState.FAILED and task.failure_reason == "Your prompt was refused."
    assert h.notifier.delivered(task.id) == [TaskState.FAILED]


async def test_stuck_task_times_out_at_the_deadline() -> None:
    """A task still running after TASK_TIMEOUT_MINUTES is reported as timed out."""
    h = Harness(task_timeout=90.0)
    h.gateway.default_script = ["running"]
    task = await h.service.admit_and_send(REQUEST, ALICE)
    await h.run_until_idle()
    done = await h.store.get(task.id)
    assert done is not None and done.state is TaskState.TIMED_OUT
    assert "1.5 minutes" in (done.failure_reason or "")
    assert done.finished_at is not None and done.finished_at - done.created_at < 91
    assert h.notifier.delivered(task.id) == [TaskState.TIMED_OUT]


async def test_poll_errors_back_off_and_honour_retry_after(h: Harness) -> None:
    """A busy gateway pushes the next poll back by at least its Retry-After."""
    task = await h.service.admit_and_send(REQUEST, ALICE)
    remote = h.gateway.remote[task.gateway_task_id or ""]
    remote.script = [GatewayError("busy", retryable=True, status=429, retry_after=120.0)]
    h.clock.t = task.next_poll_at
    await h.service.poll_due()
    stored = await h.store.get(task.id)
    assert stored is not None and stored.poll_errors == 1
    assert stored.next_poll_at - h.clock.t >= 120 * 0.9
    assert stored.state is TaskState.QUEUED


async def test_unknown_remote_task_fails_instead_of_polling_forever(h: Harness) -> None:
    """task_not_exist from the gateway ends the task with a reason."""
    task = await h.service.admit_and_send(REQUEST, ALICE)
    h.gateway.remote.clear()
    await h.run_until_idle()
    done = await h.store.get(task.id)
    assert done is not None and done.state is TaskState.FAILED
    assert "no longer knows" in (done.failure_reason or "")


async def test_progress_is_shown_only_on_change_and_throttled() -> None:
    """Unchanged progress is not re-sent (queued, 0%: the first answer shows it already); a
    change too soon after the last one is held back."""
    h = Harness(progress_min_interval=15.0)
    task = await h.service.admit_and_send(REQUEST, ALICE)
    gateway_id = task.gateway_task_id or ""
    h.gateway.remote[gateway_id].script = [
        h.gateway.snapshot(gateway_id, "queued"),
        TaskSnapshot(gateway_id, GatewayState.RUNNING, 10),
        TaskSnapshot(gateway_id, GatewayState.RUNNING, 30),
    ]
    for _ in range(3):  # polls ~10 s apart: queued (same), running 10 (shown), 30 (too soon)
        stored = await h.store.get(task.id)
        assert stored is not None
        h.clock.t = stored.next_poll_at
        await h.service.poll_due()
    await h.service.drain()
    assert [p[1:] for p in h.notifier.progress_updates] == [(TaskState.RUNNING, 10)]


async def test_cancel_stops_polling_frees_the_slot_and_says_so(h: Harness) -> None:
    """A member cancels their task: no more polls, a new task fits, the thread is told."""
    first = await h.service.admit_and_send(REQUEST, ALICE)
    await h.service.admit_and_send(REQUEST, ALICE)
    cancelled = await h.service.cancel(first.short_id, ALICE)
    await h.service.drain()
    assert cancelled.state is TaskState.CANCELLED
    assert h.notifier.delivered(first.id) == [TaskState.CANCELLED]
    assert first.id not in {t.id for t in await h.store.due_for_poll(h.clock.t + 1e6, 10)}
    await h.service.admit_and_send(REQUEST, ALICE)  # the slot is free again


async def test_only_the_requester_or_an_admin_may_cancel(h: Harness) -> None:
    """Bob can't cancel Alice's task; an admin can."""
    task = await h.service.admit_and_send(REQUEST, ALICE)
    with pytest.raises(NotAllowed):
        await h.service.cancel(task.short_id, BOB)
    assert (await h.service.cancel(task.short_id, ADMIN)).state is TaskState.CANCELLED


async def test_finished_task_cannot_be_cancelled(h: Harness) -> None:
    """Cancelling a completed task says it is already completed."""
    task = await h.service.admit_and_send(REQUEST, ALICE)
    await h.run_until_idle()
    with pytest.raises(RequestRejected, match="already completed"):
        await h.service.cancel(task.short_id, ALICE)


async def test_tasks_of_another_server_are_not_found(h: Harness) -> None:
    """/status and /cancel only see tasks of the member's own server."""
    task = await h.service.admit_and_send(REQUEST, ALICE)
    stranger = Requester(user_id=9, guild_id=999, channel_id=1)
    with pytest.raises(TaskNotFound):
        await h.service.find(task.short_id, stranger)
    assert (await h.service.find(task.short_id.upper(), BOB)).id == task.id


async def test_failed_delivery_is_retried_and_happens_once(h: Harness) -> None:
    """Discord down at delivery time: the delivery is retried later and sent exactly once."""
    h.notifier.fail_next_deliveries = 2
    task = await h.service.admit_and_send(REQUEST, ALICE)
    await h.run_until_idle()
    assert h.notifier.delivered(task.id) == [TaskState.COMPLETED]
    done = await h.store.get(task.id)
    assert done is not None and done.delivery is DeliveryState.DELIVERED


async def test_restart_reports_a_task_interrupted_while_submitting(h: Harness) -> None:
    """A task left in SUBMITTING is never sent again but reported to its requester."""
    task = await h.service.admit(REQUEST, ALICE)
    await h.store.update(task.evolve(state=TaskState.SUBMITTING))
    service = h.new_service()
    report = await service.recover()
    h.service = service
    await h.run_until_idle()
    done = await h.store.get(task.id)
    assert report.interrupted == 1
    assert done is not None and done.state is TaskState.FAILED
    assert done.failure_reason == INTERRUPTED_REASON
    assert h.gateway.created == []
    assert h.notifier.delivered(task.id) == [TaskState.FAILED]


async def test_restart_sends_a_pending_task_once(h: Harness) -> None:
    """A task stored but never sent is sent after a restart, exactly once."""
    task = await h.service.admit(REQUEST, ALICE)
    service = h.new_service()
    assert (await service.recover()).pending == 1
    h.service = service
    await h.run_until_idle()
    assert len(h.gateway.created) == 1
    assert h.notifier.delivered(task.id) == [TaskState.COMPLETED]


async def test_restart_after_a_delivery_that_was_sent_does_not_send_again(h: Harness) -> None:
    """A delivery claimed and sent, but not recorded before a crash, is found, not repeated."""
    task = await h.service.admit_and_send(REQUEST, ALICE)
    await h.run_until_idle()
    stored = await h.store.get(task.id)
    assert stored is not None
    h.store.tasks[task.id] = stored.evolve(delivery=DeliveryState.CLAIMED)  # the crash
    service = h.new_service()
    await service.recover()
    h.service = service
    await h.run_until_idle()
    assert h.notifier.delivered(task.id) == [TaskState.COMPLETED]
    again = await h.store.get(task.id)
    assert again is not None and again.delivery is DeliveryState.DELIVERED


async def test_callback_hint_makes_the_task_due_now(h: Harness) -> None:
    """A callback for one of our tasks schedules an immediate confirming poll."""
    task = await h.service.admit_and_send(REQUEST, ALICE)
    assert task.next_poll_at > h.clock.t
    assert await h.service.hint(task.id)
    assert h.service.poll_requested.is_set()
    assert [t.id for t in await h.store.due_for_poll(h.clock.t, 10)] == [task.id]
    assert not await h.service.hint("0" * 32)


async def test_retry_uses_the_same_settings_and_counts_against_limits(h: Harness) -> None:
    """Retry makes a new task with the same request; only the requester or an admin may."""
    image = ImageRef("https://cdn.test/a.png", "a.png", "image/png", 1000, 640, 480)
    original = await h.service.admit_and_send(dataclasses.replace(REQUEST, image=image), ALICE)
    await h.run_until_idle()
    with pytest.raises(NotAllowed):
        await h.service.retry(original.id, BOB)
    again = await h.service.retry(original.id, ALICE)
    assert again.request == original.request and again.retry_of == original.id
    assert again.id != original.id


async def test_overview_shows_unfinished_recent_and_limits_left(h: Harness) -> None:
    """/status's overview: unfinished and recent tasks, what is left, the server's count."""
    done = await h.service.admit_and_send(REQUEST, ALICE)
    await h.run_until_idle()
    running = await h.service.admit_and_send(REQUEST, ALICE)
    await h.service.admit_and_send(REQUEST, BOB)
    view = await h.service.overview(ALICE)
    assert [t.id for t in view.unfinished] == [running.id]
    assert [t.id for t in view.recent] == [done.id]
    assert view.active_left == 1 and view.daily_left == 18
    assert view.server_unfinished == 2
