"""Looking at the state, waiting for it to change, and describing it when a test fails."""

from __future__ import annotations

from typing import Any

from ...waiting import wait_until
from ..errors import SimulatorUsageError
from ..gateway import GatewaySession
from ..interactions import SimInteraction
from ..models import Perm, SimChannel, SimGuild, SimMember, SimMessage
from ..records import CallRecord, GatewayRecord
from ..wire import JsonObject
from .state import ChannelRef, MessageRef, Predicate, guild_id_of
from .store import SimStore


class SimQueries(SimStore):
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

    def synced_commands(self, guild: SimGuild | int | None = None) -> list[JsonObject]:
        """Commands the bot synced globally (``guild=None``) or to one guild."""
        return list(self._commands.get(guild_id_of(guild), []))

    def sync_count(self, guild: SimGuild | int | None = None) -> int:
        """How many bulk-overwrite PUTs the bot made for that scope."""
        scope = guild_id_of(guild)
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

    async def wait_for(
        self,
        predicate: Predicate,
        timeout: float = 10.0,
        *,
        message: str = "",
        interval: float = 0.05,
    ) -> Any:
        """Poll ``predicate`` (sync or async) until it returns something truthy, and return it,
        asking again as soon as the simulator's state changes. On timeout, AssertionError with
        ``message`` and a dump of the simulator's state."""
        return await wait_until(
            predicate,
            timeout,
            what=message or getattr(predicate, "__name__", "predicate"),
            interval=interval,
            changed=lambda: self._changed.wait(),
            details=self.dump,
        )

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
