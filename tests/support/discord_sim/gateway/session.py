"""Gateway sessions (sequence, replay buffer, shard), opcodes, intents, and who gets an event."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict

from ..wire import JsonObject

if TYPE_CHECKING:
    from .connection import GatewayConnection


class Frame(TypedDict):
    """One payload the simulator sends: opcode, data, and for dispatches (op 0) the sequence
    number and the event name."""

    op: int
    d: JsonObject | bool | None
    s: int | None
    t: str | None


class Op:
    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    PRESENCE = 3
    VOICE_STATE = 4
    RESUME = 6
    RECONNECT = 7
    REQUEST_MEMBERS = 8
    INVALID_SESSION = 9
    HELLO = 10
    HEARTBEAT_ACK = 11


class Intent:
    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    DIRECT_MESSAGES = 1 << 12
    MESSAGE_CONTENT = 1 << 15
    PRIVILEGED = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT


RESUME_WINDOW_SECONDS = 120.0
BUFFER_LIMIT = 2000


@dataclass(eq=False)
class GatewaySession:
    id: str
    intents: int
    identified_at: float = field(default_factory=time.monotonic)
    seq: int = 0
    buffer: list[Frame] = field(default_factory=list)
    connection: GatewayConnection | None = None
    disconnected_at: float | None = None
    invalidated: bool = False
    ready_sent: bool = False
    guilds_sent: bool = False
    resumes: int = 0
    shard: tuple[int, int] | None = None  # (shard id, shard count) from IDENTIFY

    @property
    def connected(self) -> bool:
        return self.connection is not None and not self.connection.closed

    @property
    def alive(self) -> bool:
        """Connected, or disconnected recently enough to RESUME."""
        if self.invalidated:
            return False
        if self.connected:
            return True
        return (
            self.disconnected_at is not None
            and time.monotonic() - self.disconnected_at < RESUME_WINDOW_SECONDS
        )

    def dispatch(self, event: str, data: JsonObject) -> int:
        self.seq += 1
        frame: Frame = {"op": Op.DISPATCH, "t": event, "s": self.seq, "d": data}
        self.buffer.append(frame)
        del self.buffer[:-BUFFER_LIMIT]
        if self.connection is not None:
            self.connection.enqueue(frame)
        return self.seq

    def __repr__(self) -> str:
        state = "connected" if self.connected else ("dead" if not self.alive else "resumable")
        return f"<GatewaySession {self.id[:8]} seq={self.seq} {state}>"


def shard_of(identify: JsonObject) -> tuple[int, int] | None:
    """The [shard_id, num_shards] an IDENTIFY asks for (None: unsharded)."""
    shard = identify.get("shard")
    if isinstance(shard, list) and len(shard) == 2:
        return int(shard[0]), int(shard[1])
    return None


def event_guild_id(event: str, data: JsonObject) -> int | None:
    """The guild an event belongs to (None: none, like a DM)."""
    if event.startswith("GUILD_") and "guild_id" not in data and "id" in data:
        return int(data["id"])
    guild_id = data.get("guild_id")
    return None if guild_id is None else int(guild_id)


def on_shard(session: GatewaySession, guild_id: int | None) -> bool:
    """Discord's rule: a guild's events go to shard (guild_id >> 22) % num_shards; DMs to 0."""
    if session.shard is None or session.shard[1] <= 1:
        return True
    shard_id, count = session.shard
    return (0 if guild_id is None else (guild_id >> 22) % count) == shard_id
