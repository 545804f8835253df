"""``DiscordSimulator``: a local Discord (REST v10, gateway, CDN) for end-to-end tests.

The real discord.py client talks to it unchanged once its URLs point here (see
``tests/e2e/harness.py``). Tests build a world (guilds, channels, roles, members, attachments),
act as users (``slash``, ``click``, ``select``, ``submit_modal``) and assert on the state and on
the recorded calls.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import inspect
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import quote

from aiohttp import web

from .errors import DiscordAPIError, FormErrors, SimulatorUsageError
from .gateway import Gateway, GatewaySession, Intent
from .interactions import SimInteraction, allowed_in_dm, build_command_data, find_command
from .models import (
    DEFAULT_UPLOAD_LIMIT,
    ChannelType,
    MessageEdit,
    MessageFlag,
    Perm,
    SimAttachment,
    SimChannel,
    SimGuild,
    SimMember,
    SimMessage,
    SimRole,
    SimUser,
    SnowflakeFactory,
)
from .ratelimit import RateLimiter
from .records import CallRecord, GatewayRecord
from .rest import RestApi, Upload, json_response
from .validation import check_modal_value

UserLike = SimUser | SimMember
MessageRef = SimMessage | int
ChannelRef = SimChannel | int
Predicate = Callable[[], Any] | Callable[[], Awaitable[Any]]

_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")
_DM_APP_PERMISSIONS = (
    Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.ADD_REACTIONS
    | Perm.USE_EXTERNAL_EMOJIS
)


def _make_bot_token(bot_id: int) -> str:
    head = base64.b64encode(str(bot_id).encode()).decode().rstrip("=")
    return f"{head}.{secrets.token_urlsafe(4)}.{secrets.token_urlsafe(28)}"


class DiscordSimulator:
    """A local Discord for one test. ``await sim.start()`` binds 127.0.0.1 on a free port.

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
        self._commands: dict[int | None, list[dict[str, Any]]] = {}
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
        self.rest = RestApi(self)
        self._secret = secrets.token_bytes(16)
        self._revoked_links: set[str] = set()  # signatures of CDN links that ran out
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None

    # ==========================================================================================
    # lifecycle and URLs
    # ==========================================================================================
    async def start(self) -> DiscordSimulator:
        app = web.Application(client_max_size=1024**3)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/gateway/", self.gateway.handle)
        app.router.add_route("*", "/api/v10/{tail:.*}", self.rest.handle)
        app.router.add_get("/cdn/{tail:.*}", self._cdn)
        app.router.add_get("/media/{tail:.*}", self._cdn)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._port)
        await site.start()
        self._port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordSimulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

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

    # ==========================================================================================
    # building the world
    # ==========================================================================================
    def add_guild(
        self,
        name: str = "Test Server",
        *,
        upload_limit: int = DEFAULT_UPLOAD_LIMIT,
        locale: str = "en-US",
    ) -> SimGuild:
        guild = SimGuild(
            id=self.snowflakes.next(),
            name=name,
            owner_id=self.owner_user.id,
            upload_limit=upload_limit,
            locale=locale,
            bot_user_id=self.bot_user.id,
        )
        guild.roles[guild.id] = SimRole(
            guild.id, guild.id, "@everyone", Perm.DEFAULT_EVERYONE, position=0
        )
        bot_role = SimRole(
            self.snowflakes.next(),
            guild.id,
            self.bot_user.name,
            Perm.DEFAULT_EVERYONE,
            bot_id=self.bot_user.id,
        )
        guild.roles[bot_role.id] = bot_role
        guild.members[self.bot_user.id] = SimMember(self.bot_user, guild, roles=[bot_role])
        self.guilds[guild.id] = guild
        self.gateway.dispatch("GUILD_CREATE", guild.gateway_payload())
        return guild

    def add_text_channel(
        self,
        guild: SimGuild,
        name: str = "general",
        *,
        allow_threads: bool = True,
        allow_send: bool = True,
        topic: str | None = None,
    ) -> SimChannel:
        channel = SimChannel(
            id=self.snowflakes.next(),
            type=ChannelType.TEXT,
            name=name,
            guild=guild,
            position=len(guild.text_channels()),
            topic=topic,
            allow_threads=allow_threads,
            allow_send=allow_send,
        )
        guild.channels[channel.id] = channel
        self.channels[channel.id] = channel
        self.gateway.dispatch("CHANNEL_CREATE", channel.payload())
        return channel

    def add_role(self, guild: SimGuild, name: str, *, permissions: int = 0) -> SimRole:
        role = SimRole(
            self.snowflakes.next(), guild.id, name, permissions, position=len(guild.roles)
        )
        guild.roles[role.id] = role
        self.gateway.dispatch(
            "GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": role.payload()}
        )
        return role

    def add_user(self, name: str) -> SimUser:
        user = SimUser(id=self.snowflakes.next(), name=name)
        self.users[user.id] = user
        return user

    def add_member(
        self,
        guild: SimGuild,
        name: str | None = None,
        *,
        roles: Iterable[SimRole] = (),
        admin: bool = False,
        user: SimUser | None = None,
        nick: str | None = None,
    ) -> SimMember:
        """A member of ``guild``: a new user called ``name``, or an existing ``user``."""
        if user is None:
            if name is None:
                raise SimulatorUsageError("add_member needs a name or a user")
            user = self.add_user(name)
        roles = list(roles)
        for role in roles:
            if role.guild_id != guild.id:
                raise SimulatorUsageError(f"{role} is not a role of {guild}")
        member = SimMember(user, guild, roles=roles, admin=admin, nick=nick)
        guild.members[user.id] = member
        self.gateway.dispatch(
            "GUILD_MEMBER_ADD",
            {**member.payload(), "guild_id": str(guild.id)},
            intent=Intent.GUILD_MEMBERS,
        )
        return member

    def dm_channel(self, user: UserLike) -> SimChannel:
        """The DM channel between the bot and ``user`` (created on first use)."""
        user = _as_user(user)
        channel = self._dm_channels.get(user.id)
        if channel is None:
            channel = SimChannel(id=self.snowflakes.next(), type=ChannelType.DM, recipient=user)
            self._dm_channels[user.id] = channel
            self.channels[channel.id] = channel
        return channel

    def add_attachment(
        self,
        filename: str,
        data: bytes,
        *,
        content_type: str | None = None,
        width: int | None = None,
        height: int | None = None,
        size: int | None = None,
        description: str | None = None,
    ) -> SimAttachment:
        """A file a user attaches to a slash command. The metadata may lie about ``data``:
        ``size``/``content_type``/``width``/``height`` are what the interaction says."""
        att_id = self.snowflakes.next()
        path = f"ephemeral-attachments/{self.application_id}/{att_id}/{quote(filename)}"
        att = SimAttachment(
            id=att_id,
            filename=filename,
            data=data,
            content_type=content_type
            if content_type is not None
            else SimAttachment.guess_type(filename),
            size=len(data) if size is None else size,
            width=width,
            height=height,
            description=description,
            url=self._signed_url(f"{self.cdn_base}/{path}", att_id),
            proxy_url=self._signed_url(f"{self.base_url}/media/{path}", att_id),
            ephemeral=True,
        )
        self.attachments[att.id] = att
        return att

    def set_upload_limit(self, guild: SimGuild, limit: int) -> None:
        guild.upload_limit = limit
        self.gateway.dispatch("GUILD_UPDATE", guild.base_payload())

    def set_channel_permissions(
        self,
        channel: SimChannel,
        *,
        allow_threads: bool | None = None,
        allow_send: bool | None = None,
        allow_attach: bool | None = None,
    ) -> None:
        """Change what the bot may do in a channel (sends CHANNEL_UPDATE)."""
        if allow_threads is not None:
            channel.allow_threads = allow_threads
        if allow_send is not None:
            channel.allow_send = allow_send
        if allow_attach is not None:
            channel.allow_attach = allow_attach
        self.gateway.dispatch("CHANNEL_UPDATE", channel.payload())

    def delete_message(self, message: MessageRef) -> None:
        """A moderator deletes a message (the bot gets MESSAGE_DELETE)."""
        self._delete_message(self.message(message))

    def delete_channel(self, channel: ChannelRef) -> None:
        """A channel or thread is deleted, with the threads under it."""
        channel = self.get_channel(channel)
        doomed = [channel] + [c for c in self.channels.values() if c.parent_id == channel.id]
        for item in doomed:
            if item.deleted:
                continue
            item.deleted = True
            payload = item.payload()
            if item.is_thread:
                self.gateway.dispatch(
                    "THREAD_DELETE",
                    {
                        "id": payload["id"],
                        "guild_id": payload["guild_id"],
                        "parent_id": payload["parent_id"],
                        "type": item.type,
                    },
                )
            elif item.guild is not None:
                self.gateway.dispatch("CHANNEL_DELETE", payload)
        self._notify()

    # ==========================================================================================
    # acting as users
    # ==========================================================================================
    async def slash(
        self, user: UserLike, channel: SimChannel, command: str, /, **options: Any
    ) -> SimInteraction:
        """``/command`` (``"group sub"`` for subcommands) as ``user`` in ``channel``.

        Options are checked against the commands the bot synced, like the Discord client does
        (names, types, choices, min/max): a mismatch raises ``SimulatorUsageError``. The first
        three are positional-only, so an option may be called ``channel`` or ``user``.
        """
        name, *path = command.lstrip("/").split()
        guild = channel.guild
        member = self._member_for(user, channel)
        scopes: list[int | None] = [None] if guild is None else [guild.id, None]
        definition = None
        for scope in scopes:
            definition = find_command(self._commands.get(scope, []), name)
            if definition is not None:
                break
        if definition is None:
            synced = {
                ("global" if s is None else f"guild {s}"): [c["name"] for c in cmds]
                for s, cmds in self._commands.items()
            }
            raise SimulatorUsageError(
                f"/{name} is not among the bot's synced commands visible in {channel!r}: "
                f"{synced or 'nothing synced yet'}"
            )
        if guild is None and not allowed_in_dm(definition):
            raise SimulatorUsageError(f"/{name} is not available in DMs (contexts/dm_permission)")
        if member is not None and not self.can_see_command(member, definition):
            raise SimulatorUsageError(
                f"{member.name} lacks default_member_permissions "
                f"{definition.get('default_member_permissions')} for /{name}"
            )
        data = build_command_data(
            definition,
            path,
            options,
            guild=guild,
            channel=channel,
            channel_permissions=self.member_permissions(member, channel)
            if member
            else _DM_APP_PERMISSIONS,
        )
        return await self._interact(
            2, _as_user(user), member, channel, data, command_name=" ".join([name, *path])
        )

    def allow_command(self, member: SimMember, name: str) -> None:
        """A server admin lets ``member`` use ``/name`` despite its default member permissions
        (Server Settings > Integrations): the Discord client then offers it to them."""
        self.command_overrides.setdefault((member.guild.id, name), set()).add(member.id)

    def can_see_command(self, member: SimMember, definition: dict[str, Any]) -> bool:
        """Whether the Discord client offers the command to ``member``: it has every bit of
        ``default_member_permissions`` ("0": admins only), or the server overrode it."""
        if member.id in self.command_overrides.get((member.guild.id, definition["name"]), ()):
            return True
        required = definition.get("default_member_permissions")
        if required is None:
            return True
        needed = int(required)
        if needed == 0:
            return member.permissions == Perm.ALL
        return member.permissions & needed == needed

    async def click(self, user: UserLike, message: MessageRef, custom_id: str) -> SimInteraction:
        """Press the button ``custom_id`` on ``message``."""
        message, _ = self._component(user, message, custom_id, kinds=(2,))
        data = {"custom_id": custom_id, "component_type": 2}
        return await self._component_interaction(user, message, data)

    async def select(
        self, user: UserLike, message: MessageRef, custom_id: str, values: list[str]
    ) -> SimInteraction:
        """Pick ``values`` in the select menu ``custom_id`` on ``message``."""
        message, component = self._component(user, message, custom_id, kinds=(3, 5, 6, 7, 8))
        if component["type"] == 3:
            offered = [o["value"] for o in component.get("options", [])]
            unknown = [v for v in values if v not in offered]
            if unknown:
                raise SimulatorUsageError(f"select {custom_id!r} offers {offered}, not {unknown}")
        data = {"custom_id": custom_id, "component_type": component["type"], "values": values}
        return await self._component_interaction(user, message, data)

    async def submit_modal(
        self, user: UserLike, interaction: SimInteraction, values: dict[str, str]
    ) -> SimInteraction:
        """Fill in and submit the modal the bot answered ``interaction`` with."""
        modal = interaction.modal
        if modal is None:
            raise SimulatorUsageError(f"{interaction!r} was not answered with a modal")
        components: list[dict[str, Any]] = []
        known: list[str] = []
        for item in modal.get("components", []):
            inputs = item.get("components") or (
                [item["component"]] if isinstance(item.get("component"), dict) else []
            )
            submitted = []
            for text_input in inputs:
                if text_input.get("type") != 4:
                    continue
                cid = text_input["custom_id"]
                known.append(cid)
                value = values.get(cid, text_input.get("value") or "")
                refused = check_modal_value(text_input, value)
                if refused is not None:
                    raise SimulatorUsageError(f"modal field {cid!r}: {refused} (got {value!r})")
                submitted.append({"type": 4, "custom_id": cid, "value": value})
            if not submitted:
                continue
            if item.get("type") == 18:
                components.append({"type": 18, "component": submitted[0]})
            else:
                components.append({"type": 1, "components": submitted})
        unknown = set(values) - set(known)
        if unknown:
            raise SimulatorUsageError(f"the modal has no fields {sorted(unknown)}; it has {known}")
        data = {"custom_id": modal["custom_id"], "components": components}
        member = self._member_for(user, interaction.channel)
        return await self._interact(
            5,
            _as_user(user),
            member,
            interaction.channel,
            data,
            source_message=interaction.source_message,
        )

    # ==========================================================================================
    # looking at the state
    # ==========================================================================================
    def get_channel(self, channel: ChannelRef) -> SimChannel:
        if isinstance(channel, SimChannel):
            return channel
        found = self.channels.get(int(channel))
        if found is None:
            raise SimulatorUsageError(f"no channel {channel}")
        return found

    def message(self, message: MessageRef) -> SimMessage:
        if isinstance(message, SimMessage):
            return message
        found = self.messages.get(int(message))
        if found is None:
            raise SimulatorUsageError(f"no message {message}")
        return found

    def channel_messages(
        self, channel: ChannelRef, *, include_ephemeral: bool = False
    ) -> list[SimMessage]:
        """Messages in a channel or thread, oldest first (deleted ones left out)."""
        channel = self.get_channel(channel)
        return sorted(
            (
                m
                for m in self.messages.values()
                if m.channel is channel and not m.deleted and (include_ephemeral or not m.ephemeral)
            ),
            key=lambda m: m.id,
        )

    def thread_for(self, message: MessageRef) -> SimChannel | None:
        """The thread opened on ``message``, if any."""
        return self.message(message).thread

    def threads(self, parent: ChannelRef | None = None) -> list[SimChannel]:
        parent_id = None if parent is None else self.get_channel(parent).id
        return [
            c
            for c in self.channels.values()
            if c.is_thread and not c.deleted and (parent_id is None or c.parent_id == parent_id)
        ]

    def calls(
        self,
        method: str | None = None,
        path_contains: str | None = None,
        *,
        status: int | None = None,
        interaction: SimInteraction | int | None = None,
    ) -> list[CallRecord]:
        """Recorded REST/CDN calls, oldest first, filtered."""
        inter_id = interaction.id if isinstance(interaction, SimInteraction) else interaction
        return [
            c
            for c in self.call_log
            if (method is None or c.method == method.upper())
            and (path_contains is None or path_contains in c.path)
            and (status is None or c.status == status)
            and (inter_id is None or c.interaction_id == inter_id)
        ]

    def gateway_events(
        self, event: str | None = None, *, direction: str = "send"
    ) -> list[GatewayRecord]:
        return [
            r
            for r in self.gateway_log
            if r.direction == direction and (event is None or r.t == event)
        ]

    def synced_commands(self, guild: SimGuild | int | None = None) -> list[dict[str, Any]]:
        """Commands the bot synced globally (``guild=None``) or to one guild."""
        return list(self._commands.get(_guild_id(guild), []))

    def sync_count(self, guild: SimGuild | int | None = None) -> int:
        """How many bulk-overwrite PUTs the bot made for that scope."""
        scope = _guild_id(guild)
        return sum(1 for s, _ in self.command_puts if s == scope)

    def has_synced_commands(self) -> bool:
        return any(self._commands.values())

    @property
    def sessions(self) -> list[GatewaySession]:
        return list(self.gateway.sessions.values())

    def ready_session(self, *, since: float | None = None) -> GatewaySession | None:
        """The active gateway session if it is connected and got its GUILD_CREATEs
        (``since``: identified or resumed after that ``time.monotonic()``)."""
        session = self.gateway.active
        if session is None or not session.connected or not session.guilds_sent:
            return None
        if since is not None and session.identified_at < since and session.resumes == 0:
            return None
        return session

    def member_permissions(self, member: SimMember, channel: SimChannel) -> int:
        perms = member.permissions
        home = self.permission_channel(channel)
        if member.user is self.bot_user and home is not None and perms != Perm.ALL:
            perms &= ~home.bot_denied()
        return perms

    def permission_channel(self, channel: SimChannel) -> SimChannel | None:
        """Where a channel's permissions come from: itself, a thread's parent, None for DMs."""
        if channel.is_dm:
            return None
        if channel.is_thread and channel.parent_id is not None:
            return self.channels.get(channel.parent_id)
        return channel

    def upload_limit_for(self, channel: SimChannel) -> int:
        return channel.guild.upload_limit if channel.guild is not None else self.dm_upload_limit

    # ==========================================================================================
    # controls
    # ==========================================================================================
    def expire_interaction_tokens(self, interaction: SimInteraction | None = None) -> None:
        """Age interaction tokens past 15 minutes: followups/edits then get 401 50027."""
        targets = [interaction] if interaction is not None else list(self.interactions.values())
        now = time.monotonic()
        for inter in targets:
            inter.token_expires_at = now - 1

    def expire_attachment_urls(self, attachment: SimAttachment | None = None) -> None:
        """The CDN stops serving these attachments (signed links expired)."""
        targets = [attachment] if attachment is not None else list(self.attachments.values())
        for att in targets:
            att.url_expired = True

    def expire_cdn_links(self, attachment: SimAttachment | None = None) -> None:
        """Time passes beyond the signed links' lifetime (about 24 h): every CDN link handed
        out so far for these attachments answers 404, while the files stay. A message fetched
        (or sent) from now on carries freshly signed links, as Discord does; the links of a
        slash command's own attachments can't be renewed by the bot."""
        targets = [attachment] if attachment is not None else list(self.attachments.values())
        for att in targets:
            self._revoked_links.update((_signature(att.url), _signature(att.proxy_url)))
            att.url = self._fresh_link(att.url, att.id)
            att.proxy_url = self._fresh_link(att.proxy_url, att.id)

    def _fresh_link(self, url: str, att_id: int) -> str:
        """A newly signed link to the same file, unlike any revoked one."""
        base, issued = url.split("?", 1)[0], int(time.time())
        while True:
            fresh = self._signed_url(base, att_id, issued=issued)
            if _signature(fresh) not in self._revoked_links:
                return fresh
            issued += 1

    def enable_rate_limit_headers(self, *, limit: int = 50, window: float = 1.0) -> None:
        """Every response carries X-RateLimit-* headers; going over ``limit`` per ``window``
        seconds in one bucket (route + channel/guild/webhook) answers 429."""
        self.rate_limits.configure(enabled=True, limit=limit, window=window)

    def disable_rate_limit_headers(self) -> None:
        self.rate_limits.configure(
            enabled=False, limit=self.rate_limits.limit, window=self.rate_limits.window
        )

    def inject_rate_limit(
        self,
        route_substring: str,
        count: int = 1,
        retry_after: float = 1.0,
        *,
        scope: str = "user",
        is_global: bool = False,
    ) -> None:
        """The next ``count`` requests whose ``"METHOD /path"`` contains ``route_substring``
        get a real-looking 429 (Retry-After, X-RateLimit-Scope, Via, JSON body)."""
        self.rate_limits.inject(route_substring, count, retry_after, scope, is_global)

    async def gateway_reconnect(self) -> None:
        """Send op 7 RECONNECT: the bot should reconnect and RESUME."""
        await self.gateway.request_reconnect()

    async def gateway_drop(self, code: int = 4000) -> None:
        """Close every gateway connection with ``code`` (4000: resumable)."""
        await self.gateway.drop(code)

    async def gateway_invalidate(self) -> None:
        """Invalidate every session (op 9, not resumable): the bot must IDENTIFY again."""
        await self.gateway.invalidate()

    # ==========================================================================================
    # waiting and diagnosing
    # ==========================================================================================
    async def wait_for(
        self,
        predicate: Predicate,
        timeout: float = 10.0,
        *,
        message: str = "",
        interval: float = 0.05,
    ) -> Any:
        """Poll ``predicate`` (sync or async) until it returns something truthy, and return it.
        On timeout, AssertionError with ``message`` and a dump of the simulator's state."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                name = getattr(predicate, "__name__", "predicate")
                raise AssertionError(
                    f"timed out after {timeout} s waiting for {message or name}\n{self.dump()}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(interval, remaining))

    async def wait_until_connected(
        self,
        timeout: float = 10.0,
        *,
        since: float | None = None,
    ) -> GatewaySession:
        session: GatewaySession = await self.wait_for(
            lambda: self.ready_session(since=since),
            timeout,
            message="a bot gateway session with its guilds",
        )
        return session

    def dump(self, *, calls: int = 40) -> str:
        """A readable picture of the simulator's state, for failure messages."""
        lines = ["===== Discord simulator ====="]
        lines.append(f"gateway sessions: {self.sessions or 'none'}")
        for record in self.gateway_log[-8:]:
            lines.append(f"  {record!r}")
        if self.internal_errors:
            lines.append("SIMULATOR INTERNAL ERRORS:")
            lines += [f"  {e}" for e in self.internal_errors]
        if self.unknown_routes:
            lines.append(f"unknown routes: {[c.key for c in self.unknown_routes]}")
        lines.append(
            "synced commands: "
            + repr(
                {
                    ("global" if s is None else s): [c["name"] for c in cmds]
                    for s, cmds in self._commands.items()
                }
            )
        )
        if self.interactions:
            lines.append("interactions:")
            for inter in self.interactions.values():
                lines.append(
                    f"  {inter!r} latency={inter.response_latency} rejected={inter.rejected}"
                )
        for channel in self.channels.values():
            msgs = self.channel_messages(channel, include_ephemeral=True)
            if msgs:
                lines.append(f"{channel!r}:")
                lines += [f"  {m!r}" for m in msgs[-10:]]
        lines.append(f"last {calls} REST calls:")
        for call in self.call_log[-calls:]:
            lines.append(f"  {call!r}")
        for source in self.diagnostics:
            try:
                lines.append(source())
            except Exception as exc:
                lines.append(f"(diagnostics failed: {exc!r})")
        return "\n".join(lines)

    # ==========================================================================================
    # internals used by the REST layer and the gateway
    # ==========================================================================================
    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _record_gateway(self, record: GatewayRecord) -> None:
        self.gateway_log.append(record)
        self._notify()

    def _member_for(self, user: UserLike, channel: SimChannel) -> SimMember | None:
        target = _as_user(user)
        if channel.deleted:
            raise SimulatorUsageError(f"{channel!r} is deleted")
        if channel.guild is None:
            if channel.recipient is not target:
                raise SimulatorUsageError(f"{channel!r} is not a DM with {target!r}")
            return None
        member = channel.guild.members.get(target.id)
        if member is None:
            raise SimulatorUsageError(f"{target!r} is not a member of {channel.guild!r}")
        return member

    def _component(
        self, user: UserLike, message: MessageRef, custom_id: str, *, kinds: tuple[int, ...]
    ) -> tuple[SimMessage, dict[str, Any]]:
        message = self.message(message)
        if message.deleted:
            raise SimulatorUsageError(f"{message!r} is deleted")
        if message.ephemeral and (
            message.interaction is None or message.interaction.user is not _as_user(user)
        ):
            raise SimulatorUsageError(f"{message!r} is ephemeral: only its recipient sees it")
        component = message.find_component(custom_id)
        if component is None or component.get("type") not in kinds:
            raise SimulatorUsageError(
                f"{message!r} has no such component {custom_id!r}; it has {message.custom_ids}"
            )
        if component.get("disabled"):
            raise SimulatorUsageError(f"component {custom_id!r} is disabled")
        return message, component

    async def _component_interaction(
        self, user: UserLike, message: SimMessage, data: dict[str, Any]
    ) -> SimInteraction:
        member = self._member_for(user, message.channel)
        return await self._interact(
            3, _as_user(user), member, message.channel, data, source_message=message
        )

    async def _interact(
        self,
        itype: int,
        user: SimUser,
        member: SimMember | None,
        channel: SimChannel,
        data: dict[str, Any],
        *,
        command_name: str | None = None,
        source_message: SimMessage | None = None,
    ) -> SimInteraction:
        session = self.gateway.session_for(channel.guild_id)
        if session is None or not session.alive:
            raise SimulatorUsageError(
                "no bot is connected to the gateway (start the bot and wait until it is ready)"
            )
        inter_id = self.snowflakes.next()
        raw = f"interaction:{inter_id}:{secrets.token_urlsafe(48)}"
        token = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
        guild = channel.guild
        limit = self.upload_limit_for(channel)
        payload: dict[str, Any] = {
            "id": str(inter_id),
            "application_id": str(self.application_id),
            "type": itype,
            "data": data,
            "token": token,
            "version": 1,
            "locale": "en-US",
            "channel_id": str(channel.id),
            "entitlements": [],
            "attachment_size_limit": limit,
        }
        if guild is not None and member is not None:
            perms = self.member_permissions(member, channel)
            bot_member = guild.members[self.bot_user.id]
            payload.update(
                guild_id=str(guild.id),
                guild={"id": str(guild.id), "locale": guild.locale, "features": []},
                guild_locale=guild.locale,
                channel={**channel.payload(), "permissions": str(perms)},
                member=member.payload(permissions=perms),
                app_permissions=str(self.member_permissions(bot_member, channel)),
                authorizing_integration_owners={"0": str(guild.id)},
                context=0,
            )
        else:
            payload.update(
                channel={**channel.payload(), "permissions": str(_DM_APP_PERMISSIONS)},
                user=user.payload(),
                app_permissions=str(_DM_APP_PERMISSIONS),
                authorizing_integration_owners={"0": "0"},
                context=1,
            )
        if source_message is not None:
            payload["message"] = source_message.payload()
        now = time.monotonic()
        inter = SimInteraction(
            sim=self,
            id=inter_id,
            token=token,
            type=itype,
            user=user,
            member=member,
            channel=channel,
            data=data,
            command_name=command_name,
            source_message=source_message,
            payload=payload,
            attachment_size_limit=limit,
            created_at=now,
            deadline=now + self.interaction_deadline,
            token_expires_at=now + self.interaction_token_ttl,
        )
        self.interactions[inter_id] = inter
        self._interactions_by_token[token] = inter
        session.dispatch("INTERACTION_CREATE", payload)
        inter.dispatched_at = time.monotonic()
        await asyncio.sleep(0)
        return inter

    def _store_commands(
        self, scope: int | None, commands: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        existing = {(c.get("type", 1), c["name"]): c for c in self._commands.get(scope, [])}
        stored = []
        for command in commands:
            ctype = command.get("type", 1)
            old = existing.get((ctype, command["name"]))
            entry: dict[str, Any] = {
                "type": ctype,
                "description": "",
                "options": [],
                "default_member_permissions": None,
                "dm_permission": True,
                "contexts": None,
                "integration_types": [0],
                "nsfw": False,
                "name_localizations": None,
                "description_localizations": None,
                **command,
                "id": old["id"] if old else str(self.snowflakes.next()),
                "application_id": str(self.application_id),
                "version": str(self.snowflakes.next()),
            }
            if scope is not None:
                entry["guild_id"] = str(scope)
            stored.append(_as_discord_returns(entry))
        self._commands[scope] = stored
        self.command_puts.append((scope, time.monotonic()))
        self._notify()
        return stored

    def _signed_url(self, base: str, att_id: int, *, issued: int | None = None) -> str:
        issued = int(time.time()) if issued is None else issued
        expires = issued + 24 * 3600
        ex, is_ = format(expires, "x"), format(issued, "x")
        hm = hmac.new(self._secret, f"{att_id}:{ex}:{is_}".encode(), hashlib.sha256).hexdigest()
        return f"{base}?ex={ex}&is={is_}&hm={hm}&"

    def _store_upload(
        self, upload: Upload, channel: SimChannel, description: str | None
    ) -> SimAttachment:
        att_id = self.snowflakes.next()
        path = f"attachments/{channel.id}/{att_id}/{quote(upload.filename)}"
        att = SimAttachment(
            id=att_id,
            filename=upload.filename,
            data=upload.data,
            content_type=SimAttachment.guess_type(upload.filename),
            size=len(upload.data),
            description=description,
            url=self._signed_url(f"{self.cdn_base}/{path}", att_id),
            proxy_url=self._signed_url(f"{self.base_url}/media/{path}", att_id),
        )
        self.attachments[att_id] = att
        return att

    def _message_fields(
        self, message: SimMessage, payload: dict[str, Any], uploads: list[Upload], *, creating: bool
    ) -> dict[str, Any]:
        """The fields ``payload`` sets on ``message`` (validated, nothing applied yet)."""
        fields: dict[str, Any] = {}
        if "content" in payload:
            fields["content"] = payload["content"] or ""
        if "embeds" in payload:
            fields["embeds"] = [{"type": "rich", **e} for e in payload["embeds"] or []]
        if "components" in payload:
            fields["components"] = payload["components"] or []
        new_files = {u.index: u for u in uploads}
        attachments: list[SimAttachment] | None = None
        if payload.get("attachments") is not None:
            attachments = []
            errors = FormErrors()
            for i, entry in enumerate(payload["attachments"]):
                key = str(entry.get("id"))
                kept = next((a for a in message.attachments if str(a.id) == key), None)
                if kept is not None and not creating:
                    attachments.append(kept)
                elif key.isdigit() and int(key) in new_files:
                    upload = new_files.pop(int(key))
                    attachments.append(
                        self._store_upload(upload, message.channel, entry.get("description"))
                    )
                else:
                    errors.add(
                        ["attachments", i, "id"],
                        "ATTACHMENT_NOT_FOUND",
                        f"Unknown attachment {key}",
                    )
            errors.raise_if_any()
            attachments += [
                self._store_upload(u, message.channel, None) for u in new_files.values()
            ]
        elif uploads:
            attachments = list(message.attachments) + [
                self._store_upload(u, message.channel, None) for u in uploads
            ]
        if attachments is not None:
            fields["attachments"] = attachments
        if "content" in fields or "allowed_mentions" in payload:
            fields["mentions"], fields["mention_roles"], fields["mention_everyone"] = (
                self._mentions(
                    message.channel,
                    fields.get("content", message.content),
                    payload.get("allowed_mentions"),
                )
            )
        return fields

    def _mentions(
        self, channel: SimChannel, content: str, allowed: dict[str, Any] | None
    ) -> tuple[list[SimUser], list[int], bool]:
        parse = (
            {"users", "roles", "everyone"} if allowed is None else set(allowed.get("parse") or [])
        )
        allowed_users = {str(u) for u in (allowed or {}).get("users") or []}
        allowed_roles = {str(r) for r in (allowed or {}).get("roles") or []}
        users = []
        for uid in dict.fromkeys(_USER_MENTION.findall(content)):
            user = self.users.get(int(uid))
            if user is not None and ("users" in parse or uid in allowed_users):
                users.append(user)
        roles = [
            int(rid)
            for rid in dict.fromkeys(_ROLE_MENTION.findall(content))
            if ("roles" in parse or rid in allowed_roles)
            and channel.guild is not None
            and int(rid) in channel.guild.roles
        ]
        everyone = "everyone" in parse and ("@everyone" in content or "@here" in content)
        return users, roles, everyone

    def _create_message(
        self,
        channel: SimChannel,
        payload: dict[str, Any],
        uploads: list[Upload],
        *,
        author: SimUser,
        via: str,
        allowed_flags: int,
        interaction: SimInteraction | None = None,
        mtype: int = 0,
        allow_empty: bool = False,
    ) -> SimMessage:
        message = SimMessage(
            id=self.snowflakes.next(),
            channel=channel,
            author=author,
            type=mtype,
            via=via,
            interaction=interaction,
            webhook_id=self.application_id if interaction is not None else None,
            flags=int(payload.get("flags") or 0) & allowed_flags,
        )
        fields = self._message_fields(message, payload, uploads, creating=True)
        reference = payload.get("message_reference")
        if reference:
            target = self.messages.get(int(reference.get("message_id", 0)))
            if (target is None or target.deleted) and reference.get("fail_if_not_exists", True):
                errors = FormErrors()
                errors.add(["message_reference"], "REPLIES_UNKNOWN_MESSAGE", "Unknown message")
                errors.raise_if_any()
            message.message_reference = {
                "type": 0,
                "message_id": str(reference.get("message_id")),
                "channel_id": str(reference.get("channel_id") or channel.id),
                **({"guild_id": str(channel.guild.id)} if channel.guild is not None else {}),
            }
            message.type = 19
            replied = (payload.get("allowed_mentions") or {}).get("replied_user", True)
            if target is not None and replied and target.author not in fields.get("mentions", []):
                fields.setdefault("mentions", []).append(target.author)
        for key, value in fields.items():
            setattr(message, key, value)
        if not allow_empty and not (
            message.content or message.embeds or message.attachments or message.components
        ):
            raise DiscordAPIError(400, 50006, "Cannot send an empty message")
        self.messages[message.id] = message
        channel.last_message_id = message.id
        if channel.is_thread:
            channel.message_count += 1
        if not message.ephemeral and not message.loading:
            self.gateway.dispatch_message_event(
                "MESSAGE_CREATE", message.payload(), dm=channel.is_dm
            )
        self._notify()
        return message

    def _edit_message(
        self,
        message: SimMessage,
        payload: dict[str, Any],
        uploads: list[Upload],
        *,
        via: str,
        finish_loading: bool = False,
    ) -> None:
        fields = self._message_fields(message, payload, uploads, creating=False)
        after = {
            key: fields.get(key, getattr(message, key))
            for key in ("content", "embeds", "attachments", "components")
        }
        if not any(after.values()):
            raise DiscordAPIError(400, 50006, "Cannot send an empty message")
        was_loading = message.loading
        for key, value in fields.items():
            setattr(message, key, value)
        if "flags" in payload and payload["flags"] is not None:
            keep = message.flags & (
                MessageFlag.EPHEMERAL | MessageFlag.HAS_THREAD | MessageFlag.LOADING
            )
            message.flags = keep | (
                int(payload["flags"]) & (MessageFlag.SUPPRESS_EMBEDS | MessageFlag.IS_COMPONENTS_V2)
            )
        if finish_loading:
            message.flags &= ~MessageFlag.LOADING
        message.edited_at = None if was_loading else time.time()
        message.edits.append(MessageEdit(at=time.monotonic(), payload=payload, via=via))
        if not message.ephemeral:
            event = "MESSAGE_CREATE" if was_loading and not message.loading else "MESSAGE_UPDATE"
            self.gateway.dispatch_message_event(event, message.payload(), dm=message.channel.is_dm)
        self._notify()

    def _delete_message(self, message: SimMessage) -> None:
        if message.deleted:
            return
        message.deleted = True
        if not message.ephemeral:
            data = {"id": str(message.id), "channel_id": str(message.channel.id)}
            if message.channel.guild is not None:
                data["guild_id"] = str(message.channel.guild.id)
            self.gateway.dispatch_message_event("MESSAGE_DELETE", data, dm=message.channel.is_dm)
        self._notify()

    def _open_thread(
        self,
        parent: SimChannel,
        name: str,
        *,
        thread_id: int,
        kind: int,
        auto_archive_duration: int,
    ) -> SimChannel:
        assert parent.guild is not None
        thread = SimChannel(
            id=thread_id,
            type=kind,
            name=name,
            guild=parent.guild,
            parent_id=parent.id,
            owner_id=self.bot_user.id,
            auto_archive_duration=auto_archive_duration,
        )
        parent.guild.channels[thread.id] = thread
        self.channels[thread.id] = thread
        self.gateway.dispatch(
            "THREAD_CREATE",
            {
                **thread.payload(),
                "newly_created": True,
                "member": {
                    "id": str(thread.id),
                    "user_id": str(self.bot_user.id),
                    "join_timestamp": thread.payload()["thread_metadata"]["create_timestamp"],
                    "flags": 0,
                },
            },
        )
        self._notify()
        return thread

    # -- CDN and unknown paths ------------------------------------------------------------------
    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        record = CallRecord(
            at=time.monotonic(), method=request.method, path=request.path, query=dict(request.query)
        )
        record.route = "cdn"
        response = self._serve_attachment(request)
        record.status = response.status
        self.call_log.append(record)
        self._notify()
        return response

    def _serve_attachment(self, request: web.Request) -> web.Response:
        not_found = web.Response(status=404, text="This content is no longer available.")
        parts = request.path.split("/")
        # /cdn/<kind>/<owner>/<id>/<filename>
        if len(parts) < 6 or not parts[4].isdigit():
            return not_found
        att = self.attachments.get(int(parts[4]))
        if att is None or att.url_expired:
            return not_found
        ex, is_, hm = (request.query.get(k, "") for k in ("ex", "is", "hm"))
        expected = hmac.new(
            self._secret, f"{att.id}:{ex}:{is_}".encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(hm, expected) or hm in self._revoked_links:
            return not_found
        try:
            if int(ex, 16) < time.time():
                return not_found
        except ValueError:
            return not_found
        return web.Response(
            body=att.data, headers={"Content-Type": att.content_type or "application/octet-stream"}
        )

    async def _unknown(self, request: web.Request) -> web.StreamResponse:
        record = CallRecord(
            at=time.monotonic(), method=request.method, path=request.path, query=dict(request.query)
        )
        record.status = 404
        self.call_log.append(record)
        self.unknown_routes.append(record)
        return json_response(404, {"message": "404: Not Found", "code": 0})


def _as_discord_returns(command: dict[str, Any]) -> dict[str, Any]:
    """Discord keeps a permission bit set as a string, whatever number type the bot sent."""
    if command.get("default_member_permissions") is not None:
        command["default_member_permissions"] = str(command["default_member_permissions"])
    return command


def _signature(url: str) -> str:
    """The `hm` of a signed CDN link."""
    query = url.split("?", 1)[1] if "?" in url else ""
    return next((p[3:] for p in query.split("&") if p.startswith("hm=")), "")


def _as_user(user: UserLike) -> SimUser:
    return user.user if isinstance(user, SimMember) else user


def _guild_id(guild: SimGuild | int | None) -> int | None:
    if guild is None:
        return None
    return guild.id if isinstance(guild, SimGuild) else int(guild)
