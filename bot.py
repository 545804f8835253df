"""Entry point and the one composition root: settings, logging, one aiohttp session, the
database, the gateway client, the service and the Discord bot. Run it with `python bot.py`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import discord
from discord.ext import commands

import storage
from cogs import errors
from cogs.delivery import DetailsButton, DiscordNotifier, RetryButton
from cogs.frames import DiscordFrameKeeper
from cogs.front import Front
from cogs.history import HistoryButton, HistoryCog
from cogs.poller import PollerCog
from cogs.queue import CancelMenu, QueueCog, QueuePageButton
from cogs.remix import RemixButton, RemixCog
from cogs.settings import ResetButton, build_settings_group
from cogs.status import StatusCog
from cogs.sync import sync_commands_if_changed
from cogs.telemetry import discord_trace
from cogs.video import build_video_command
from config import Settings, SettingsError, load_settings
from gateway.callbacks import start_callback_server
from gateway.client import GatewayClient
from gateway.simulator import GatewaySimulator, SimulatorConfig
from media.files import remove_stale_workspaces
from media.images import ImageFixer
from observability import logs
from observability.prometheus import PrometheusMetrics
from observability.server import Health, ops_app, start_ops_server
from storage import PostgresTaskStore, SqliteTaskStore, StoreUnavailable
from videojobs.background import Background
from videojobs.estimates import Estimates
from videojobs.history import History
from videojobs.identity import process_id
from videojobs.lifecycle import Lifecycle, ServiceConfig, SystemClock
from videojobs.policy import BotDefaults, Policies
from videojobs.ports import KeyValues, Metrics
from videojobs.service import VideoJobsService

log = logging.getLogger("bot")

SHUTDOWN_GRACE = 20.0
HEALTH_MIN_AGE = 60.0  # the poller counts as stalled after max(this, 3 poll intervals)
EXIT_BAD_SETTINGS = 2


def configure_logging(settings: Settings) -> None:
    secrets = [settings.discord_token, settings.kling_api_key, settings.database_url or ""]
    logs.configure_logging(settings.log_level, settings.log_format, secrets)


class VideoBot(commands.Bot):
    def __init__(
        self,
        settings: Settings,
        heartbeat_path: Path,
        key_values: KeyValues,
        metrics: Metrics | None = None,
        **shards: Any,
    ) -> None:
        options: dict[str, Any] = dict(shards)
        if metrics is not None:  # 429s and first responses, seen in discord.py's own traffic
            options["http_trace"] = discord_trace(metrics)
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents(guilds=True),
            help_command=None,
            allowed_mentions=discord.AllowedMentions(users=True, roles=False, everyone=False),
            **options,
        )
        self.settings = settings
        self.heartbeat_path = heartbeat_path
        self.key_values = key_values  # remembers the command tree last synced
        self.front: Front | None = None
        self.accepting = True

    async def setup_hook(self) -> None:
        assert self.front is not None
        service = self.front.service
        stale = await asyncio.to_thread(remove_stale_workspaces)
        if stale:
            log.info("removed %d temporary media folders left by an earlier run", stale)
        report = await service.recover()
        log.info(
            "resuming: %d tasks being polled, %d never sent (sending now; %d of them waiting "
            "for the video service), %d interrupted while sending (reported), %d results owed "
            "(%d of them gave up before and are tried again); next poll %s",
            report.polling,
            report.pending,
            report.waiting,
            report.interrupted,
            report.undelivered,
            report.redelivering,
            "now" if report.next_poll_at is None else f"at {report.next_poll_at:.0f}",
        )
        errors.install(self.tree)
        self.tree.interaction_check = self._accepting  # type: ignore[method-assign]
        self.tree.add_command(build_video_command(self.front))
        self.tree.add_command(build_settings_group(self.front))
        await self.add_cog(StatusCog(self.front))
        await self.add_cog(QueueCog(self.front))
        await self.add_cog(HistoryCog(self.front))
        await self.add_cog(RemixCog(self.front))
        await self.add_cog(
            PollerCog(
                self,
                service,
                max_sleep=self.settings.poll_interval_seconds,
                heartbeat_path=self.heartbeat_path,
            )
        )
        self.add_dynamic_items(RetryButton, RemixButton, DetailsButton, HistoryButton)
        self.add_dynamic_items(ResetButton, QueuePageButton, CancelMenu)
        guild_ids = self.settings.discord_guild_ids
        await sync_commands_if_changed(self.tree, guild_ids, service.store, self.key_values)

    def health(self) -> Health:
        """Healthy while connected to Discord and the poller ran recently (GET /healthz)."""
        if not self.accepting or self.is_closed():
            return Health(False, "the bot is stopping")
        if not self.is_ready() or not self.connected():
            return Health(False, "not connected to Discord")
        poller = self.get_cog("PollerCog")
        last_pass = poller.last_pass if isinstance(poller, PollerCog) else None
        if last_pass is None:
            return Health(False, "the poller has not run yet")
        age = time.monotonic() - last_pass
        if age > max(HEALTH_MIN_AGE, 3 * self.settings.poll_interval_seconds):
            return Health(False, f"the poller's last pass was {age:.0f} s ago")
        return Health(True, f"connected; the poller's last pass was {age:.0f} s ago")

    def connected(self) -> bool:
        return self.ws is not None and self.ws.open

    async def _accepting(self, interaction: discord.Interaction) -> bool:
        if not self.accepting:
            await interaction.response.send_message(
                "The bot is restarting; try again in a minute.", ephemeral=True
            )
        return self.accepting

    async def on_ready(self) -> None:
        log.info(
            "connected as %s (%s) to %d servers",
            self.user,
            getattr(self.user, "id", "?"),
            len(self.guilds),
        )

    async def shutdown(self) -> None:
        """Stop taking commands, stop polling, let in-flight work finish, then disconnect."""
        if not self.accepting:
            return
        self.accepting = False
        log.info("shutting down: finishing in-flight work (up to %.0f s)", SHUTDOWN_GRACE)
        if self.get_cog("PollerCog") is not None:
            await self.remove_cog("PollerCog")
        if self.front is not None:
            await self.front.inflight.wait_idle(SHUTDOWN_GRACE)
            await self.front.service.drain(SHUTDOWN_GRACE)
        await self.close()


def bot_defaults(settings: Settings) -> BotDefaults:
    """The environment's rules, which apply wherever a server set nothing in /settings."""
    return BotDefaults(
        models=settings.kling_models,
        max_active=settings.max_active_tasks_per_user,
        max_daily=settings.daily_tasks_per_user,
        daily_server_credits=settings.daily_server_credits,
        task_costs=settings.task_costs,
        allowed_channel_ids=settings.allowed_channel_ids,
        allowed_role_ids=settings.allowed_role_ids,
        task_timeout_minutes=settings.task_timeout_minutes,
    )


class ShardedVideoBot(VideoBot, commands.AutoShardedBot):
    """The bot running this process's shards (SHARD_IDS of SHARD_COUNT)."""

    def connected(self) -> bool:  # one connection per shard; `ws` stays None
        return bool(self.shards) and not any(s.is_closed() for s in self.shards.values())


def make_bot(
    settings: Settings, heartbeat: Path, key_values: KeyValues, metrics: Metrics | None
) -> VideoBot:
    """One connection when SHARD_COUNT is empty; else this process's shards of SHARD_COUNT
    (all of them when SHARD_IDS is empty)."""
    if settings.shard_count is None:
        return VideoBot(settings, heartbeat, key_values, metrics)
    shard_ids = list(settings.shard_ids) if settings.shard_ids else None
    log.info(
        "running shards %s of %d (this process is %s)",
        ",".join(map(str, shard_ids)) if shard_ids else "all",
        settings.shard_count,
        process_id(),
    )
    return ShardedVideoBot(
        settings,
        heartbeat,
        key_values,
        metrics,
        shard_count=settings.shard_count,
        shard_ids=shard_ids,
    )


@contextlib.asynccontextmanager
async def gateway_base(settings: Settings) -> AsyncIterator[str]:
    """The gateway's base URL: the configured one, or an in-process simulator."""
    if not settings.use_simulator:
        yield settings.kling_api_base
        return
    # it serves the models the bot offers (any other would wait on 503 model_not_found)
    config = SimulatorConfig(api_key=settings.kling_api_key, models=settings.kling_models)
    simulator = GatewaySimulator(config)
    base = await simulator.start(host="127.0.0.1", port=0)
    log.info("using the built-in gateway simulator at %s (no credits are spent)", base)
    try:
        yield base
    finally:
        await simulator.stop()


def lease_seconds(settings: Settings) -> float:
    """How long a process holds work it took: well past one poll pass, short enough that a
    dead process's work is taken over within about a minute."""
    return max(30.0, 3 * settings.poll_interval_seconds)


async def open_store(settings: Settings) -> SqliteTaskStore | PostgresTaskStore | None:
    """The store (see storage/opening.py), or None after one line on stderr naming the setting."""
    try:
        store = await storage.open_store(
            database_url=settings.database_url,
            database_path=settings.database_path,
            lease_seconds=lease_seconds(settings),
        )
    except StoreUnavailable as exc:
        print(exc, file=sys.stderr)
        return None
    if settings.database_url:
        log.info("store: PostgreSQL (shared; this process is %s)", process_id())
    else:
        log.info("store: SQLite at %s (this process is %s)", settings.database_path, process_id())
    return store


async def run(settings: Settings) -> int:
    heartbeat = settings.database_path.parent / "heartbeat.json"
    store = await open_store(settings)
    if store is None:
        return EXIT_BAD_SETTINGS
    metrics = PrometheusMetrics() if settings.metrics_listen else None
    image_fixer = ImageFixer()
    background = Background()  # the signal handler's shutdown: kept, and logged if it fails
    async with store, aiohttp.ClientSession() as session, gateway_base(settings) as base:
        bot = make_bot(settings, heartbeat, store.key_values, metrics)
        gateway = GatewayClient(
            session,
            base_url=base,
            api_key=settings.kling_api_key,
            style=settings.kling_api_style,
            metrics=metrics,
        )
        clock = SystemClock()
        estimates = Estimates(store, clock)
        service = VideoJobsService(
            Lifecycle(
                store,
                gateway,
                DiscordNotifier(bot, session, metrics, estimates=estimates),
                ServiceConfig(
                    poll_interval=settings.poll_interval_seconds,
                    task_timeout=settings.task_timeout_seconds,
                    callback_url=settings.callback_public_url,
                    lease_seconds=lease_seconds(settings),
                ),
                metrics=metrics,
                clock=clock,
                frames=DiscordFrameKeeper(bot, session, image_fixer),
            ),
            policies=Policies(store, bot_defaults(settings), clock),
        )
        bot.front = Front(service=service, estimates=estimates, history=History(store))
        ops = callbacks = None
        try:  # a listen address that can't be served (port taken, host not ours): one line
            if settings.metrics_listen and metrics is not None:
                listening = "METRICS_LISTEN", settings.metrics_listen
                app = ops_app(metrics, bot.health, lambda: store.count_unfinished(None))
                ops = await start_ops_server(settings.metrics_listen, app)
            if settings.callback_listen and settings.callback_public_url:
                listening = "CALLBACK_LISTEN", settings.callback_listen
                callbacks = await start_callback_server(
                    settings.callback_listen,
                    settings.callback_public_url,
                    service.verify_callback,
                    service.receive_callback,
                )
        except OSError as exc:
            name, (host, port) = listening
            print(f"{name}: can't listen on {host}:{port} ({exc.strerror or exc})", file=sys.stderr)
            if ops is not None:
                await ops.cleanup()
            return EXIT_BAD_SETTINGS
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: background.spawn(bot.shutdown(), "shutdown"))
        try:
            await bot.start(settings.discord_token)
        except discord.LoginFailure:
            print(
                "DISCORD_TOKEN: Discord rejected the token; copy it again from the "
                "Developer Portal (Bot > Reset Token)",
                file=sys.stderr,
            )
            return EXIT_BAD_SETTINGS
        finally:
            if not bot.is_closed():
                await bot.close()
            await service.drain(SHUTDOWN_GRACE)
            await background.drain(SHUTDOWN_GRACE)
            if callbacks is not None:
                await callbacks.cleanup()
            if ops is not None:
                await ops.cleanup()
            image_fixer.close()
            log.info("stopped")
    return 0


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    configure_logging(settings)
    return asyncio.run(run(settings))


if __name__ == "__main__":
    sys.exit(main())
