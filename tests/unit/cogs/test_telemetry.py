"""What the Discord side measures from discord.py's own HTTP traffic (cogs/telemetry.py): the
time to each interaction's first response, and every 429; a rate-limited request is still
made once the bucket resets."""

from __future__ import annotations

from .harness import Cogs


def sample(cogs: Cogs, name: str) -> float:
    value = cogs.metrics.registry.get_sample_value(name)
    return 0.0 if value is None else value


async def test_each_first_response_is_timed(cogs: Cogs) -> None:
    await cogs.video(prompt="timed")
    await cogs.slash("status")
    assert sample(cogs, "klingbot_ack_seconds_count") == 2
    assert 0 <= sample(cogs, "klingbot_ack_seconds_sum") < 60
    assert sample(cogs, "klingbot_tasks_admitted_total") == 1


async def test_a_refusal_is_a_first_response_too(cogs: Cogs) -> None:
    await cogs.slash("video", prompt="   ")
    assert sample(cogs, "klingbot_ack_seconds_count") == 1
    assert sample(cogs, "klingbot_tasks_admitted_total") == 0


async def test_a_429_is_counted_and_the_request_made_after_it(cogs: Cogs) -> None:
    cogs.rest.rate_limit_next("POST", r"/channels/\d+/messages/\d+/threads")
    outcome, task = await cogs.video(prompt="rate limited thread")
    threads = outcome.made("POST", r"/channels/\d+/messages/\d+/threads")
    assert [c.status for c in threads] == [429, 201]
    assert task.thread_id is not None
    assert sample(cogs, "klingbot_discord_rate_limited_total") == 1
