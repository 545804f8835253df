"""The simulator's state, its URLs, and what the other layers share."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..gateway import Gateway
from ..interactions import SimInteraction
from ..models import (
    DEFAULT_UPLOAD_LIMIT,
    Perm,
    SimAttachment,
    SimChannel,
    SimGuild,
    SimMember,
    SimMessage,
    SimUser,
    SnowflakeFactory,
)
from ..ratelimit import RateLimiter
from ..records import CallRecord, GatewayRecord
from ..wire import JsonObject
from .cdn import CdnLinks

UserLike = SimUser | SimMember
MessageRef = SimMessage | int
ChannelRef = SimChannel | int
Predicate = Callable[[], Any] | Callable[[], Awaitable[Any]]

DM_APP_PERMISSIONS = (
    Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.ADD_REACTIONS
    | Perm.USE_EXTERNAL_EMOJIS
)
"""What the bot may do in a DM."""


def _make_bot_token(bot_id: int) -> str:
    head = base64.b64encode(str(bot_id).encode()).decode().rstrip("=")
    return f"{head}.{secrets.token_urlsafe(4)}.{secrets.token_urlsafe(28)}"


class SimState:
    """What the simulated Discord holds: the world, the interactions, the synced commands, the
    records of every call and frame; its URLs; and the signal that something changed.

    Timing rules are attributes so a test can tighten them (e.g. ``interaction_deadline``).
    """

    def __init__(
        self,
        *,
        bot_name: str = "Kling Video",
        token: str | None = None,
        privileged_intents: int = 0,
        interaction_deadline: float = 3.0,
        interaction_token_ttl: float = 15 * 60,
        heartbeat_interval_ms: int = 41_250,
        dm_upload_limit: int = DEFAULT_UPLOAD_LIMIT,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.snowflakes = SnowflakeFactory()
        self.bot_user = SimUser(id=self.snowflakes.next(), name=bot_name, bot=True)
        self.owner_user = SimUser(id=self.snowflakes.next(), name="app-owner")
        self.application_id = self.bot_user.id
        self.application_flags = 0
        self.token = token or _make_bot_token(self.bot_user.id)
        #: privileged gateway intents enabled for the app (members 1<<1, presences 1<<8,
        #: message content 1<<15); asking for others closes the gateway with 4014 like Discord
        self.privileged_intents = privileged_intents
        self.interaction_deadline = interaction_deadline
        # A message with files to a channel is held this long before it is created (a slow
        # upload); `uploads_started` counts them as they arrive.
        self.upload_hold = 0.0
        self.uploads_started = 0
        self.interaction_token_ttl = interaction_token_ttl
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.dm_upload_limit = dm_upload_limit
        self.invalid_session_delay = 0.2
        self.host, self._port = host, port

        self.users: dict[int, SimUser] = {
            self.bot_user.id: self.bot_user,
            self.owner_user.id: self.owner_user,
        }
        self.guilds: dict[int, SimGuild] = {}
        self.channels: dict[int, SimChannel] = {}
        self.messages: dict[int, SimMessage] = {}
        self.attachments: dict[int, SimAttachment] = {}
        self.interactions: dict[int, SimInteraction] = {}
        self._interactions_by_token: dict[str, SimInteraction] = {}
        self._dm_channels: dict[int, SimChannel] = {}
        self._commands: dict[int | None, list[JsonObject]] = {}
        self.command_puts: list[tuple[int | None, float]] = []
        #: per-guild command permission overrides (Server Settings > Integrations)
        self.command_overrides: dict[tuple[int, str], set[int]] = {}

        self.call_log: list[CallRecord] = []
        self.gateway_log: list[GatewayRecord] = []
        self.unknown_routes: list[CallRecord] = []
        self.internal_errors: list[str] = []
        #: callables whose text is appended to failure dumps (the harness adds the bot's logs)
        self.diagnostics: list[Callable[[], str]] = []

        self.rate_limits = RateLimiter()
        self.gateway = Gateway(self)
        self.cdn_links = CdnLinks()
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None

    # -- URLs ------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self._port}"

    @property
    def rest_base(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self._port}/gateway"

    @property
    def cdn_base(self) -> str:
        return f"{self.base_url}/cdn"

    def env(self) -> dict[str, str]:
        """The variables the harness's ``sitecustomize`` reads to point discord.py here."""
        return {
            "DISCORD_SIM_REST": self.rest_base,
            "DISCORD_SIM_GATEWAY": self.gateway_url,
            "DISCORD_SIM_CDN": self.cdn_base,
        }

    # -- shared by the layers, the REST API and the gateway ---------------------------------------
    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _record_gateway(self, record: GatewayRecord) -> None:
        self.gateway_log.append(record)
        self._notify()

    def _signed_links(self, path: str, att_id: int) -> tuple[str, str]:
        """The ``url`` and ``proxy_url`` of a file at ``path`` on the CDN."""
        return (
            self.cdn_links.sign(f"{self.cdn_base}/{path}", att_id),
            self.cdn_links.sign(f"{self.base_url}/media/{path}", att_id),
        )


def as_user(user: UserLike) -> SimUser:
    return user.user if isinstance(user, SimMember) else user


def guild_id_of(guild: SimGuild | int | None) -> int | None:
    if guild is None:
        return None
    return guild.id if isinstance(guild, SimGuild) else int(guild)
