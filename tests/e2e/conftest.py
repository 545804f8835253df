"""Fixtures for end-to-end tests: a started Discord simulator and a factory that runs the bot."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import pytest

from tests.support.discord_sim import DiscordSimulator, SimChannel, SimGuild, SimMember

from .harness import BotProcess, default_bot_env

E2E_DIR = Path(__file__).parent
DEFAULT_E2E_TIMEOUT = 90


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Everything under tests/e2e is ``e2e`` and has a timeout, so a hung bot fails fast."""
    for item in items:
        if E2E_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.e2e)
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(DEFAULT_E2E_TIMEOUT))


@pytest.fixture
async def discord_sim() -> AsyncIterator[DiscordSimulator]:
    """A started simulator with one guild ("Test Server"), a text channel ("general") and a
    member ("alice"); see ``sim_guild``/``sim_channel``/``sim_member``."""
    sim = DiscordSimulator()
    await sim.start()
    guild = sim.add_guild("Test Server")
    sim.add_text_channel(guild, "general")
    sim.add_member(guild, "alice")
    try:
        yield sim
    finally:
        await sim.stop()


@pytest.fixture
def sim_guild(discord_sim: DiscordSimulator) -> SimGuild:
    return next(iter(discord_sim.guilds.values()))


@pytest.fixture
def sim_channel(sim_guild: SimGuild) -> SimChannel:
    return sim_guild.text_channels()[0]


@pytest.fixture
def sim_member(sim_guild: SimGuild, discord_sim: DiscordSimulator) -> SimMember:
    return next(m for m in sim_guild.members.values() if m.user is not discord_sim.bot_user)


class StartBot(Protocol):
    def __call__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        wait_ready: bool = True,
        timeout: float = 30.0,
        args: Sequence[str] = ("bot.py",),
    ) -> Awaitable[BotProcess]: ...


@pytest.fixture
async def start_bot(discord_sim: DiscordSimulator, tmp_path: Path) -> AsyncIterator[StartBot]:
    """``bot = await start_bot({"KLING_API_BASE": url, ...})`` runs ``python bot.py`` against the
    simulator with ``default_bot_env`` overridden by ``env``, and (by default) waits until it is
    connected and has synced. Every call starts a new process on the same database, so kill +
    start is a restart. All processes are stopped at teardown and their output printed (pytest
    shows it for failing tests)."""
    bots: list[BotProcess] = []

    async def _start(
        env: Mapping[str, str] | None = None,
        *,
        wait_ready: bool = True,
        timeout: float = 30.0,
        args: Sequence[str] = ("bot.py",),
    ) -> BotProcess:
        full_env = default_bot_env(discord_sim, tmp_path) | dict(env or {})
        bot = BotProcess(full_env, sim=discord_sim, args=args)
        bots.append(bot)
        await bot.start()
        if wait_ready:
            await bot.wait_ready(discord_sim, timeout)
        return bot

    try:
        yield _start
    finally:
        for bot in bots:
            await bot.close()
            print(f"===== bot pid {bot.pid} exit {bot.returncode} output =====\n{bot.logs}")


# the scenario suite's fixtures (the gateway simulator and a bot started with settings)
from .scenario import kling, make_scenario, scenario  # noqa: E402, F401
