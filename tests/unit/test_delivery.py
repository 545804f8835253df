"""Delivery on fakes: retries kept in the store, a delivery that gives up, and the next start."""

from __future__ import annotations

import logging

import pytest

from tests.unit.harness import ALICE, REQUEST, Harness
from videojobs.models import DeliveryState, TaskState

DELAYS = (5.0, 15.0)


@pytest.fixture
def h() -> Harness:
    return Harness(delivery_retry_delays=DELAYS)


async def test_a_delivery_that_keeps_failing_gives_up_and_is_not_delivered(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """After every retry delay is used up, the task is GAVE_UP (not DELIVERED), and logged."""
    h.notifier.fail_next_deliveries = 100
    task = await h.service.admit_and_send(REQUEST, ALICE)
    with caplog.at_level(logging.ERROR):
        await h.run_until_idle()
    stored = await h.store.get(task.id)
    assert stored is not None and stored.state is TaskState.COMPLETED
    assert stored.delivery is DeliveryState.GAVE_UP
    assert stored.delivery_attempts == len(DELAYS) + 1
    assert stored.delivery_message_id is None and stored.delivered_at is None
    assert h.notifier.delivered(task.id) == []
    assert any(task.id in r.getMessage() and "gave up" in r.getMessage() for r in caplog.records)


async def test_the_next_try_is_in_the_store_and_a_restart_keeps_to_it(h: Harness) -> None:
    """A failed attempt is counted in the store with its next try; a new process waits for
    that time, then delivers once."""
    h.notifier.fail_next_deliveries = 1
    task = await h.service.admit_and_send(REQUEST, ALICE)
    for _ in range(10):  # poll until the task completes and its first delivery fails
        stored = await h.store.get(task.id)
        assert stored is not None
        if stored.delivery_attempts:
            break
        h.clock.t = max(h.clock.t, stored.next_poll_at)
        await h.service.run_pass()
        await h.service.drain()
    assert stored.delivery is DeliveryState.CLAIMED and stored.delivery_attempts == 1
    assert stored.delivery_retry_at == pytest.approx(h.clock.t + DELAYS[0])

    h.service = h.new_service()  # a restart
    await h.service.recover()
    await h.service.run_pass()
    await h.service.drain()
    assert h.notifier.delivered(task.id) == []  # not before its time
    assert await h.service.next_wakeup() == stored.delivery_retry_at

    await h.run_until_idle()
    assert h.notifier.delivered(task.id) == [TaskState.COMPLETED]
    done = await h.store.get(task.id)
    assert done is not None and done.delivery is DeliveryState.DELIVERED
    assert done.delivery_retry_at is None


async def test_a_delivery_that_gave_up_is_tried_again_at_the_next_start(h: Harness) -> None:
    """GAVE_UP is retried by the next process: delivered exactly once."""
    h.notifier.fail_next_deliveries = len(DELAYS) + 1
    task = await h.service.admit_and_send(REQUEST, ALICE)
    await h.run_until_idle()
    assert (await h.store.get(task.id)).delivery is DeliveryState.GAVE_UP  # type: ignore[union-attr]

    h.service = h.new_service()
    report = await h.service.recover()
    assert report.redelivering == 1 and report.undelivered == 1
    await h.run_until_idle()
    assert h.notifier.delivered(task.id) == [TaskState.COMPLETED]
    done = await h.store.get(task.id)
    assert done is not None and done.delivery is DeliveryState.DELIVERED


async def test_an_attempt_that_reached_discord_before_giving_up_is_not_sent_again(
    h: Harness,
) -> None:
    """If the message was posted after all, the next start finds it instead of posting twice."""
    h.notifier.fail_next_deliveries = len(DELAYS) + 1
    task = await h.service.admit_and_send(REQUEST, ALICE)
    await h.run_until_idle()
    h.notifier._sent[task.id] = 4242  # it had reached Discord (the answer was lost)

    h.service = h.new_service()
    await h.service.recover()
    await h.run_until_idle()
    assert h.notifier.delivered(task.id) == []
    done = await h.store.get(task.id)
    assert done is not None and done.delivery is DeliveryState.DELIVERED
    assert done.delivery_message_id == 4242
