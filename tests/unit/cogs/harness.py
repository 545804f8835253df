"""The harness of the cog tests: the real bot (bot.VideoBot: its setup_hook, cogs and command
tree) logged in against a local Discord REST (discord_rest.DiscordRest) without a gateway
connection, and fed interaction payloads as discord.py's ConnectionState receives
INTERACTION_CREATE. Behind the cogs: the real service on the in-memory store and the scripted
gateway of tests/fakes.py; `Cogs.slash`, `click`, `pick` and `submit` play a member's
interactions and return what the bot sent back (`Outcome`)."""

from __future__ import annotations

import asyncio
import io
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import discord
import PIL.Image

from bot import VideoBot, bot_defaults
from cogs.delivery import DiscordNotifier
from cogs.frames import DiscordFrameKeeper
from cogs.front import Front
from config import Settings
from media.images import ImageFixer
from observability.prometheus import PrometheusMetrics
from storage.task_store import SqliteTaskStore
from tests.fakes import FakeGateway, MemoryStore
from tests.support.clock import FakeClock
from tests.support.passes import run_until_idle
from videojobs.estimates import Estimates
from videojobs.history import History
from videojobs.lifecycle import Lifecycle, ServiceConfig
from videojobs.models import GatewayState, TaskSnapshot, VideoTask
from videojobs.policy import Policies
from videojobs.service import VideoJobsService

from .discord_rest import EPHEMERAL, Call, DiscordRest
from .payloads import (
    MANAGE_GUILD,
    MEMBER,
    Attachment,
    Person,
    Place,
    button_data,
    command_data,
    guild_create,
    interaction,
    modal_data,
    select_data,
    snowflake,
)

TOKEN = "MTAx.bot-token.for-tests-only"
KLING_KEY = "kling-key-for-tests-only"
GUILD = snowflake()
GENERAL = Place(GUILD, snowflake(), name="general")
ALICE = Person(snowflake(), "alice")
BOB = Person(snowflake(), "bob")
ADMIN = Person(snowflake(), "admin", permissions=MEMBER | MANAGE_GUILD)
TRACEBACK_MARKS = ("Traceback (most recent call last)", 'File "/')


@dataclass
class Outcome:
    """What the bot sent to Discord while handling one interaction."""

    payload: dict[str, Any]
    calls: list[Call]
    rest: DiscordRest

    @property
    def response(self) -> Call:
        found = [c for c in self.calls if c.interaction_id == int(self.payload["id"])]
        assert found, f"no response to the interaction; requests: {self.describe()}"
        assert len(found) == 1, f"{len(found)} first responses"
        return found[0]

    @property
    def type(self) -> int:
        return int(self.response.body["type"])

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.response.body.get("data") or {})

    @property
    def ephemeral(self) -> bool:
        return bool(self.data.get("flags", 0) & EPHEMERAL)

    @property
    def text(self) -> str:
        """The response's content and embed text, as a member reads it."""
        return message_text(self.data)

    @property
    def custom_ids(self) -> list[str]:
        return custom_ids(self.data)

    @property
    def message(self) -> dict[str, Any]:
        """The message the response made (4) or updated (7), as Discord now shows it."""
        if self.type == 7:
            return self.rest.message(self.payload["message"]["id"])
        mid = self.rest.originals.get(self.payload["token"])
        assert mid is not None, "the response made no message"
        return self.rest.message(mid)

    def made(self, method: str, pattern: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and re.fullmatch(pattern, c.path)]

    def describe(self) -> str:
        return ", ".join(f"{c.method} {c.path} -> {c.status}" for c in self.calls) or "none"


def message_text(message: dict[str, Any]) -> str:
    parts = [str(message.get("content") or "")]
    for embed in message.get("embeds") or []:
        parts += [embed.get("title", ""), embed.get("description", "")]
        parts += [embed.get("footer", {}).get("text", ""), embed.get("author", {}).get("name", "")]
        for f in embed.get("fields", []):
            parts += [f.get("name", ""), f.get("value", "")]
    return "\n".join(p for p in parts if p)


def custom_ids(message: dict[str, Any]) -> list[str]:
    found: list[str] = []

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            if "custom_id" in item:
                found.append(item["custom_id"])
            walk(item.get("components") or [])

    walk(message.get("components") or [])
    return found


class Cogs:
    """One bot, its REST peer and its service; `slash`, `click`, `pick` and `submit` play a
    member's interactions and return what the bot sent."""

    def __init__(
        self,
        tmp_path: Path,
        fixer: ImageFixer | None = None,
        store: MemoryStore | SqliteTaskStore | None = None,
        **settings: Any,
    ) -> None:
        """`fixer`: keep frames as the bot does (download, fix, post them); without it the
        gateway gets the attachments' own links. `store`: the database of an earlier run."""
        self.tmp_path = tmp_path
        self.fixer = fixer
        self.settings = Settings(
            discord_token=TOKEN,
            kling_api_key=KLING_KEY,
            database_path=tmp_path / "bot.sqlite3",
            **settings,
        )
        self.bot_user = Person(snowflake(), "klingbot")
        self.rest = DiscordRest(self.bot_user, application_id=snowflake(), guild_id=GUILD)
        self.clock = FakeClock(start=time.time())
        self.store = store or MemoryStore(clock=self.clock.now)
        self.gateway = FakeGateway()
        self.metrics = PrometheusMetrics()
        self.session: aiohttp.ClientSession | None = None
        self.bot: VideoBot | None = None

    async def start(self) -> None:
        api = await self.rest.start()
        discord.http.Route.BASE = api
        self.session = aiohttp.ClientSession()
        self.bot = bot = VideoBot(
            self.settings, self.tmp_path / "heartbeat.json", self.store.key_values, self.metrics
        )
        estimates = Estimates(self.store, self.clock)
        keeper = None if self.fixer is None else DiscordFrameKeeper(bot, self.session, self.fixer)
        self.service = VideoJobsService(
            Lifecycle(
                self.store,
                self.gateway,
                DiscordNotifier(bot, self.session, self.metrics, estimates=estimates),
                ServiceConfig(
                    poll_interval=self.settings.poll_interval_seconds,
                    task_timeout=self.settings.task_timeout_seconds,
                ),
                clock=self.clock,
                metrics=self.metrics,
                frames=keeper,
            ),
            policies=Policies(self.store, bot_defaults(self.settings), self.clock),
        )
        bot.front = Front(service=self.service, estimates=estimates, history=History(self.store))
        await bot.login(TOKEN)  # GET /users/@me, /oauth2/applications/@me; setup_hook; sync

    async def stop(self) -> None:
        if self.bot is not None:
            await self.bot.shutdown()
            if not self.bot.is_closed():  # a test stopped it from accepting: shutdown is a no-op
                await self.bot.close()
        if self.session is not None:
            await self.session.close()
        await self.rest.stop()

    # --- a member's interactions --------------------------------------------------------------

    async def slash(
        self, path: str, who: Person = ALICE, where: Place = GENERAL, **values: Any
    ) -> Outcome:
        data = command_data(self.rest.commands, path, values, where)
        return await self.dispatch(interaction(2, data, who, where, application_id=self.app_id))

    async def click(self, message: dict[str, Any], custom_id: str, who: Person = ALICE) -> Outcome:
        assert custom_id in custom_ids(message), f"no {custom_id} on {custom_ids(message)}"
        return await self._component(message, button_data(custom_id), who)

    async def pick(
        self, message: dict[str, Any], custom_id: str, values: list[str], who: Person = ADMIN
    ) -> Outcome:
        assert custom_id in custom_ids(message), f"no {custom_id} on {custom_ids(message)}"
        return await self._component(message, select_data(custom_id, values), who)

    async def submit(
        self, custom_id: str, fields: dict[str, str], who: Person = ALICE, where: Place = GENERAL
    ) -> Outcome:
        data = modal_data(custom_id, fields)
        return await self.dispatch(interaction(5, data, who, where, application_id=self.app_id))

    async def _component(
        self, message: dict[str, Any], data: dict[str, Any], who: Person
    ) -> Outcome:
        where = self.place_of(int(message["channel_id"]))
        payload = interaction(3, data, who, where, application_id=self.app_id, message=message)
        return await self.dispatch(payload, source=int(message["id"]))

    def place_of(self, channel_id: int) -> Place:
        if channel_id in self.rest.threads:
            return GENERAL.thread(channel_id)
        return replace(GENERAL, channel_id=channel_id)

    async def dispatch(self, payload: dict[str, Any], source: int | None = None) -> Outcome:
        """Hand the payload to discord.py as the gateway would (INTERACTION_CREATE) and wait
        until every task it started has finished."""
        assert self.bot is not None
        self.rest.expect(payload["token"], int(payload["channel_id"]), source)
        start = len(self.rest.calls)
        known = asyncio.all_tasks()
        self.bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
        await settle(known)
        return Outcome(payload, self.rest.calls[start:], self.rest)

    # --- shortcuts ----------------------------------------------------------------------------

    @property
    def app_id(self) -> int:
        return self.rest.application_id

    async def video(
        self, who: Person = ALICE, where: Place = GENERAL, **values: Any
    ) -> tuple[Outcome, VideoTask]:
        """/video that is accepted; the task it stored, once it was sent."""
        outcome = await self.slash("video", who, where, **values)
        assert outcome.type == 4 and not outcome.ephemeral, outcome.text
        await self.service.drain()
        return outcome, await self.task_in(outcome)

    async def task_in(self, outcome: Outcome) -> VideoTask:
        """The task whose status embed the response is (found by the short id shown)."""
        [title] = [e["title"] for e in outcome.data.get("embeds", [])]
        short = re.search(r"`([0-9a-f]{8})`", title)
        assert short is not None, title
        task = await self.store.find_by_short_id(short[1])
        assert task is not None
        return task

    def guild_available(self, roles: dict[int, str]) -> None:
        """Discord sends the server (GUILD_CREATE): its roles and channels are cached, as in a
        bot connected to the gateway. Without it, interactions come from a guild not cached."""
        assert self.bot is not None
        data = guild_create(GUILD, self.bot_user, [GENERAL], roles)
        self.bot._connection.parse_guild_create(data)  # type: ignore[arg-type]
        assert self.bot.get_guild(GUILD) is not None

    def attachment(
        self, data: bytes, filename: str = "frame.png", content_type: str = "image/png"
    ) -> Attachment:
        """A file the member attached, served by this CDN with its real size and shape."""
        with PIL.Image.open(io.BytesIO(data)) as image:
            width, height = image.size
        found = Attachment(filename, content_type, len(data), width, height, cdn=self.rest.base)
        self.rest.cdn[f"{found.id}/{filename}"] = data
        return found

    async def run_until_idle(self) -> None:
        """Poll and deliver, moving the clock to each next wake-up, until nothing is left."""
        await run_until_idle(self.service, self.store, self.clock)

    def script(self, task: VideoTask, *steps: TaskSnapshot) -> None:
        """What the gateway answers for `task` from now on (the last step repeats)."""
        assert task.gateway_task_id is not None
        remote = self.gateway.remote[task.gateway_task_id]
        remote.script, remote.fetches = list(steps), 0

    def completes(self, task: VideoTask, video: bytes = b"\x00\x00\x00\x18ftypmp42" * 64) -> str:
        """The gateway finishes `task` with a video this REST side serves; its URL."""
        assert task.gateway_task_id is not None
        name = f"{task.gateway_task_id}.mp4"
        self.rest.files[name] = video
        url = f"{self.rest.base}/files/{name}"
        self.script(task, TaskSnapshot(task.gateway_task_id, GatewayState.COMPLETED, 100, url))
        return url

    def fails(self, task: VideoTask, reason: str = "Kling refused the image.") -> None:
        assert task.gateway_task_id is not None
        failed = TaskSnapshot(task.gateway_task_id, GatewayState.FAILED, failure_reason=reason)
        self.script(task, failed)

    async def click_remix(self, task: VideoTask, who: Person = ALICE) -> Outcome:
        """Remix on `task`'s result message, once it failed."""
        self.fails(task)
        await self.run_until_idle()
        return await self.click(self.result_message(task), f"vb:remix:{task.id}", who)

    def result_message(self, task: VideoTask) -> dict[str, Any]:
        """The message that told the requester how `task` ended (the last with its buttons)."""
        mine = [m for m in self.rest.messages.values() if f"vb:details:{task.id}" in custom_ids(m)]
        assert mine, f"no result message for {task.short_id}"
        return mine[-1]


async def settle(known: set[asyncio.Task[Any]], timeout: float = 10.0) -> None:
    """Wait for the tasks started since `known` and those they start (see `_lingers`)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        fresh = [
            t
            for t in asyncio.all_tasks() - known
            if t is not asyncio.current_task() and not _lingers(t)
        ]
        if not fresh:
            return
        assert loop.time() < deadline, f"still running: {fresh}"
        await asyncio.wait(fresh, timeout=deadline - loop.time())


def _lingers(task: asyncio.Task[Any]) -> bool:
    """A task that outlives the interaction by design: a view's timeout, or the REST side's
    handler of a kept-alive connection."""
    name = getattr(task.get_coro(), "__qualname__", "")
    return "timeout_task_impl" in name or name.startswith("RequestHandler.")
