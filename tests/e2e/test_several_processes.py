"""Several bot processes: a second one on the same SQLite file refuses to start; on PostgreSQL
a process SIGKILLed mid-task has its work taken over by another running process."""

from __future__ import annotations

from typing import Any

from .scenario import MakeScenario


async def test_a_second_process_on_the_same_sqlite_file_refuses_to_start(
    make_scenario: MakeScenario, start_bot: Any
) -> None:
    """A second `python bot.py` on the same DATABASE_PATH exits with status 2 and one line
    naming the cause; the first keeps working and delivers."""
    scenario = await make_scenario()

    second = await start_bot(scenario.settings, wait_ready=False)

    assert await second.wait_exit(timeout=20) == 2
    lines = [line for line in second.logs.splitlines() if line.strip()]
    assert len(lines) == 1, second.logs
    assert lines[0].startswith("DATABASE_PATH: another bot process (pid ")
    assert "DATABASE_URL" in lines[0]
    inter = await scenario.video(prompt="a paper boat on a river")
    result = await scenario.result(inter)
    assert result.attachments
    assert scenario.bot.running


async def test_a_killed_processs_task_is_finished_by_the_other_one(
    make_scenario: MakeScenario, start_bot: Any, postgres_dsn: str
) -> None:
    """Two processes on one PostgreSQL. The one that sent a task is SIGKILLed while the video
    is being made: the other takes the task over once the lease runs out and delivers it,
    once; the gateway got one create."""
    scenario = await make_scenario(DATABASE_URL=postgres_dsn)
    other = await start_bot(scenario.settings)
    inter = await scenario.video(prompt="[slow] a hot-air balloon at dawn")
    await scenario.discord.wait_for(lambda: scenario.creates(), message="the task was submitted")
    sender = scenario.bot if "sent as gateway task" in scenario.bot.logs else other
    survivor = other if sender is scenario.bot else scenario.bot

    sender.kill()
    await sender.wait_exit()

    result = await scenario.result(inter, timeout=75)
    assert result.attachments
    assert len(scenario.creates()) == 1
    assert len(scenario.results(scenario.where(inter), scenario.short_id(inter))) == 1
    assert survivor.running


async def test_a_process_killed_mid_upload_never_delivers_twice(
    make_scenario: MakeScenario, start_bot: Any, postgres_dsn: str
) -> None:
    """Two processes on one PostgreSQL. The one delivering a video is SIGKILLed while the
    upload is on the wire (Discord keeps the message). Once its lease runs out the other finds
    that message instead of sending a second one: the member sees one result."""
    scenario = await make_scenario(DATABASE_URL=postgres_dsn)
    other = await start_bot(scenario.settings)
    scenario.discord.upload_hold = 4.0
    inter = await scenario.video(prompt="a windmill at dusk")
    await scenario.discord.wait_for(
        lambda: scenario.discord.uploads_started >= 1, timeout=30, message="the upload"
    )
    holder = scenario.bot if "sent as gateway task" in scenario.bot.logs else other
    survivor = other if holder is scenario.bot else scenario.bot

    holder.kill()
    await holder.wait_exit()

    assert " delivered (message" not in holder.logs  # killed mid-upload
    await survivor.wait_for_log("earlier delivery found", timeout=75)
    result = await scenario.result(inter)
    assert result.attachments
    assert len(scenario.results(scenario.where(inter), scenario.short_id(inter))) == 1
    assert len(scenario.creates()) == 1
