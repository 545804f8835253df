"""The vocabulary of the end-to-end scenarios: what a member does and what they then see.

The bot runs as `python bot.py` against the Discord simulator and a gateway simulator started in
the test process (fast timing), so a test can inject gateway faults and read what was sent.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from gateway.simulator import GatewaySimulator, RecordedRequest, SimulatorConfig
from tests.support.discord_sim import DiscordSimulator, SimChannel, SimGuild, SimMember
from tests.support.discord_sim.interactions import SimInteraction
from tests.support.discord_sim.models import SimAttachment, SimMessage

from .harness import BotProcess

KEY = "sk-e2e-SECRET-7d1f2c"
SHORT_ID = re.compile(r"`([0-9a-f]{8})`")
RESULT_TIMEOUT = 30.0


def png_bytes(width: int, height: int) -> bytes:
    """A real PNG of that size (plain colour: a few KB)."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (40, 90, 160)).save(out, "PNG")
    return out.getvalue()


@dataclass
class Scenario:
    discord: DiscordSimulator
    kling: GatewaySimulator
    guild: SimGuild
    channel: SimChannel
    member: SimMember
    bot: BotProcess
    settings: dict[str, str]
    start_bot: Any

    async def restart(self, *, kill: bool = True) -> None:
        """SIGKILL (or SIGTERM) the bot and start it again on the same database."""
        if kill:
            self.bot.kill()
            await self.bot.wait_exit()
        else:
            assert await self.bot.stop() == 0, self.bot.log_tail()
        self.bot = await self.start_bot(self.settings)

    # --- acting ---------------------------------------------------------------------------------

    async def video(
        self, member: SimMember | None = None, channel: SimChannel | None = None, **options: Any
    ) -> SimInteraction:
        """`/video` with these options; waits for the first response."""
        inter = await self.discord.slash(
            member or self.member, channel or self.channel, "video", **options
        )
        return await inter.wait_response(timeout=5)

    async def command(
        self, name: str, member: SimMember | None = None, **options: Any
    ) -> SimInteraction:
        inter = await self.discord.slash(member or self.member, self.channel, name, **options)
        return await inter.wait_response(timeout=5)

    def image(
        self, name: str = "frame.png", width: int = 1280, height: int = 720, **meta: Any
    ) -> SimAttachment:
        return self.discord.add_attachment(
            name, png_bytes(width, height), width=width, height=height, **meta
        )

    # --- seeing ---------------------------------------------------------------------------------

    @staticmethod
    def short_id(inter: SimInteraction) -> str:
        assert inter.original is not None, "no public status message"
        match = SHORT_ID.search(inter.original.text)
        assert match, f"no task id in {inter.original.text!r}"
        return match.group(1)

    def where(self, inter: SimInteraction) -> SimChannel:
        """The task's thread, or the channel when no thread was opened."""
        assert inter.original is not None
        return self.discord.thread_for(inter.original) or inter.original.channel

    async def thread(self, inter: SimInteraction) -> SimChannel:
        """Wait for the thread the bot opens on the status message."""
        assert inter.original is not None
        status = inter.original
        return await self.discord.wait_for(
            lambda: self.discord.thread_for(status), timeout=5, message="a thread on the status"
        )

    def results(self, channel: SimChannel, short_id: str) -> list[SimMessage]:
        """Messages that tell the outcome of task `short_id` (they carry its buttons)."""
        return [
            m
            for m in self.discord.channel_messages(channel)
            if f"`{short_id}`" in m.content and any("vb:details:" in c for c in m.custom_ids)
        ]

    async def result(self, inter: SimInteraction, *, timeout: float = RESULT_TIMEOUT) -> SimMessage:
        """Wait for the outcome message of the task started by `inter`."""
        short = self.short_id(inter)
        assert inter.original is not None
        channel = inter.original.channel
        found = await self.discord.wait_for(
            lambda: self.results(self.where(inter), short) or self.results(channel, short),
            timeout=timeout,
            message=f"the result of task {short}",
        )
        return found[0]

    def heartbeat(self) -> dict[str, Any]:
        """What the running bot's poller wrote after its last pass (heartbeat.json beside the
        database: its `passes` and the `time` of that pass); empty before the first pass."""
        path = Path(self.bot.env["DATABASE_PATH"]).parent / "heartbeat.json"
        try:
            beat = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        return beat if isinstance(beat, dict) else {}

    def poller_passes(self) -> int:
        """How many passes the running bot's poller has made."""
        return int(self.heartbeat().get("passes", 0))

    async def poller_passed(self, more: int) -> None:
        """Wait until the poller has made `more` passes after now: proof that time went by in
        the bot, for checks that something did not happen meanwhile."""
        target = self.poller_passes() + more
        await self.discord.wait_for(
            lambda: self.poller_passes() >= target, message=f"{more} more passes of the poller"
        )

    @staticmethod
    def status(inter: SimInteraction) -> str:
        """The task's public status message as it reads now ("" before there is one)."""
        return inter.original.text if inter.original else ""

    def creates(self) -> list[RecordedRequest]:
        return [r for r in self.kling.requests if r.kind == "create"]

    def fetches(self) -> list[RecordedRequest]:
        return [r for r in self.kling.requests if r.kind == "fetch"]

    def visible_text(self) -> str:
        """Everything the bot said on Discord, for 'the key is never shown' checks."""
        parts = []
        for message in self.discord.messages.values():
            parts.append(message.text)
            parts.extend(str(e) for e in message.embeds)
        for inter in self.discord.interactions.values():
            parts.append(str(inter.response_data))
        return "\n".join(parts)


# --- fixtures (exported through conftest.py) -----------------------------------------------------

FAST_GATEWAY = {
    "queued_seconds": 0.4,
    "running_seconds": 1.2,
    "update_interval": 0.4,
}


def bot_env(kling: GatewaySimulator, **overrides: str) -> dict[str, str]:
    return {
        "KLING_API_BASE": kling.base_url,
        "KLING_API_KEY": KEY,
        "POLL_INTERVAL_SECONDS": "0.5",
        **overrides,
    }


@pytest.fixture
async def kling() -> AsyncIterator[GatewaySimulator]:
    """The gateway simulator, in the test process, with tasks that take about two seconds."""
    simulator = GatewaySimulator(SimulatorConfig(api_key=KEY, **FAST_GATEWAY))  # type: ignore[arg-type]
    await simulator.start(host="127.0.0.1", port=0)
    try:
        yield simulator
    finally:
        await simulator.stop()


MakeScenario = Callable[..., Awaitable[Scenario]]


@pytest.fixture
def make_scenario(
    discord_sim: DiscordSimulator,
    kling: GatewaySimulator,
    start_bot: Any,
    sim_guild: SimGuild,
    sim_channel: SimChannel,
    sim_member: SimMember,
) -> MakeScenario:
    """`s = await make_scenario(MAX_ACTIVE_TASKS_PER_USER="1")` starts the bot with settings."""

    async def make(**env: str) -> Scenario:
        settings = bot_env(kling, **env)
        bot = await start_bot(settings)
        return Scenario(
            discord_sim, kling, sim_guild, sim_channel, sim_member, bot, settings, start_bot
        )

    return make


@pytest.fixture
async def scenario(make_scenario: MakeScenario) -> Scenario:
    return await make_scenario()
