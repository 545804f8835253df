"""The bot on PostgreSQL (DATABASE_URL): the same flow, the same crash safety, clear errors."""

from __future__ import annotations

from typing import Any

from tests.support.ports import free_port

from .scenario import MakeScenario


async def test_a_video_on_postgresql_survives_a_sigkill(
    make_scenario: MakeScenario, postgres_dsn: str
) -> None:
    """With DATABASE_URL the bot stores its tasks in PostgreSQL: killed mid-task and started
    again, it resumes the task from there and delivers it once, made once."""
    scenario = await make_scenario(DATABASE_URL=postgres_dsn)
    assert "store: PostgreSQL" in scenario.bot.logs
    inter = await scenario.video(prompt="[slow] a lighthouse in a storm")
    await scenario.discord.wait_for(lambda: scenario.creates(), message="the task was submitted")

    await scenario.restart(kill=True)

    assert "1 tasks being polled" in scenario.bot.logs
    # the killed process's lease on the task runs out (30 s) before the new one polls it
    result = await scenario.result(inter, timeout=75)
    assert result.attachments
    assert len(scenario.creates()) == 1
    await scenario.discord.wait_for(lambda: "completed" in scenario.status(inter))
    assert len(scenario.results(scenario.where(inter), scenario.short_id(inter))) == 1


async def test_an_unreachable_database_url_stops_with_one_line(start_bot: Any) -> None:
    """Nothing listening at DATABASE_URL: exit status 2, one line naming the setting, and the
    password of the URL is not shown."""
    url = f"postgresql://bot:hunter2-secret@127.0.0.1:{free_port()}/bot"
    bot = await start_bot({"DATABASE_URL": url}, wait_ready=False)

    assert await bot.wait_exit(timeout=20) == 2
    lines = [line for line in bot.logs.splitlines() if line.strip()]
    assert lines[-1].startswith("DATABASE_URL: can't open the PostgreSQL database"), bot.logs
    assert "hunter2-secret" not in bot.logs
    assert "Traceback" not in bot.logs
