"""The gateway websocket: HELLO/IDENTIFY/READY/GUILD_CREATE, heartbeats, RESUME, dispatches.

Frames go out JSON-encoded and, with ``compress=zlib-stream`` (what discord.py asks for), through
one ``zlib.compressobj`` per connection, each frame flushed with ``Z_SYNC_FLUSH`` and sent binary.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import WSMsgType, web

from .records import GatewayRecord

if TYPE_CHECKING:
    from .simulator import DiscordSimulator

log = logging.getLogger("discord_sim.gateway")


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
    buffer: list[dict[str, Any]] = field(default_factory=list)
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

    def dispatch(self, event: str, data: Any) -> int:
        self.seq += 1
        frame = {"op": Op.DISPATCH, "t": event, "s": self.seq, "d": data}
        self.buffer.append(frame)
        del self.buffer[:-BUFFER_LIMIT]
        if self.connection is not None:
            self.connection.enqueue(frame)
        return self.seq

    def __repr__(self) -> str:
        state = "connected" if self.connected else ("dead" if not self.alive else "resumable")
        return f"<GatewaySession {self.id[:8]} seq={self.seq} {state}>"


def shard_of(identify: dict[str, Any]) -> tuple[int, int] | None:
    """The [shard_id, num_shards] an IDENTIFY asks for (None: unsharded)."""
    shard = identify.get("shard")
    if isinstance(shard, list) and len(shard) == 2:
        return int(shard[0]), int(shard[1])
    return None


def event_guild_id(event: str, data: dict[str, Any]) -> int | None:
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


class StreamCompressor(Protocol):
    """A streaming compressor: ``zlib.compressobj()`` or zstandard's ``compressobj()``."""

    def compress(self, data: bytes, /) -> bytes: ...

    def flush(self, mode: int, /) -> bytes: ...


class GatewayConnection:
    """One websocket. Frames are queued and written by one task, so order is kept."""

    def __init__(
        self,
        number: int,
        ws: web.WebSocketResponse,
        compression: str | None,
        record: Callable[[GatewayRecord], None],
    ) -> None:
        self.number = number
        self.ws = ws
        self.compression = compression
        self.session: GatewaySession | None = None
        self.closed = False
        self._record = record
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._compressor: StreamCompressor | None = None
        self._flush_mode = zlib.Z_SYNC_FLUSH
        if compression == "zlib-stream":
            self._compressor = zlib.compressobj()
        elif compression == "zstd-stream":
            # optional: only a client that asks for zstd needs it (discord.py asks for zlib)
            import zstandard  # type: ignore[import-not-found]  # not installed here, untyped

            self._compressor = zstandard.ZstdCompressor().compressobj()
            self._flush_mode = zstandard.COMPRESSOBJ_FLUSH_BLOCK
        self._writer = asyncio.create_task(self._write_loop(), name=f"sim-gateway-writer-{number}")

    def enqueue(self, frame: dict[str, Any]) -> None:
        if not self.closed:
            self._queue.put_nowait(frame)

    def encode(self, frame: dict[str, Any]) -> bytes | str:
        """JSON text, or with a stream compression one compressed chunk flushed to a boundary."""
        text = json.dumps(frame, separators=(",", ":"))
        if self._compressor is None:
            return text
        return self._compressor.compress(text.encode()) + self._compressor.flush(self._flush_mode)

    async def _write_loop(self) -> None:
        while True:
            frame = await self._queue.get()
            if frame is None or self.ws.closed:
                return
            data = self.encode(frame)
            try:
                if isinstance(data, bytes):
                    await self.ws.send_bytes(data)
                else:
                    await self.ws.send_str(data)
            except (ConnectionError, RuntimeError):
                return
            self._record(
                GatewayRecord(
                    at=time.monotonic(),
                    connection=self.number,
                    session_id=self.session.id if self.session else None,
                    direction="send",
                    op=frame["op"],
                    t=frame.get("t"),
                    s=frame.get("s"),
                    d=frame.get("d"),
                )
            )

    async def flush(self) -> None:
        """Let queued frames go out (used before closing on purpose)."""
        for _ in range(200):
            if self._queue.empty():
                break
            await asyncio.sleep(0.005)

    async def close(self, code: int, message: str = "") -> None:
        if self.closed:
            return
        await self.flush()
        self.closed = True
        self._queue.put_nowait(None)
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, message=message.encode())

    async def stop_writer(self) -> None:
        self.closed = True
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._writer


class Gateway:
    """All sessions and connections; the simulator's state feeds READY and GUILD_CREATE."""

    def __init__(self, sim: DiscordSimulator) -> None:
        self.sim = sim
        self.sessions: dict[str, GatewaySession] = {}
        self.connections: list[GatewayConnection] = []
        self.active: GatewaySession | None = None
        self._numbers = 0

    # -- dispatching from the simulator --------------------------------------------------------
    def live_sessions(self) -> list[GatewaySession]:
        return [s for s in self.sessions.values() if s.alive]

    def session_for(self, guild_id: int | None) -> GatewaySession | None:
        """Who gets an interaction: the newest live session whose shard has the guild (with
        shards), else the active one."""
        owners = [
            s
            for s in self.live_sessions()
            if s.connected and s.shard is not None and on_shard(s, guild_id)
        ]
        return owners[-1] if owners else self.active

    def dispatch(self, event: str, data: dict[str, Any], *, intent: int = Intent.GUILDS) -> None:
        for session in self.live_sessions():
            if session.intents & intent and on_shard(session, event_guild_id(event, data)):
                session.dispatch(event, data)

    def dispatch_message_event(self, event: str, data: dict[str, Any], *, dm: bool) -> None:
        intent = Intent.DIRECT_MESSAGES if dm else Intent.GUILD_MESSAGES
        bot_id = str(self.sim.bot_user.id)
        for session in self.live_sessions():
            if not session.intents & intent:
                continue
            payload = data
            privileged = session.intents & Intent.MESSAGE_CONTENT
            mine = data.get("author", {}).get("id") == bot_id
            mentioned = any(u.get("id") == bot_id for u in data.get("mentions", []))
            if not (privileged or mine or mentioned or dm) and "content" in data:
                payload = {**data, "content": "", "embeds": [], "attachments": [], "components": []}
            session.dispatch(event, payload)

    # -- the websocket ---------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        compression = request.query.get("compress") or None
        encoding = request.query.get("encoding", "json")
        self._numbers += 1
        number = self._numbers
        if compression not in (None, "zlib-stream", "zstd-stream"):
            await ws.close(code=4000, message=b"Unknown compression")
            return ws
        try:
            conn = GatewayConnection(number, ws, compression, self.sim._record_gateway)
        except ImportError:
            await ws.close(code=4000, message=b"zstd-stream needs the zstandard package")
            return ws
        self.connections.append(conn)
        if encoding != "json":
            await conn.close(4002, "Only encoding=json is simulated")
            return ws
        conn.enqueue(
            {
                "op": Op.HELLO,
                "d": {"heartbeat_interval": self.sim.heartbeat_interval_ms, "_trace": ["sim"]},
                "s": None,
                "t": None,
            }
        )
        try:
            async for msg in ws:
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                raw = msg.data if isinstance(msg.data, str) else msg.data.decode()
                try:
                    frame = json.loads(raw)
                except ValueError:
                    await conn.close(4002, "Decode error")
                    break
                self.sim._record_gateway(
                    GatewayRecord(
                        at=time.monotonic(),
                        connection=number,
                        session_id=conn.session.id if conn.session else None,
                        direction="recv",
                        op=frame.get("op", -1),
                        d=_redact(frame.get("d")),
                    )
                )
                await self._on_frame(conn, frame)
                if conn.closed:
                    break
        finally:
            closed_cleanly = not conn.closed and ws.close_code in (1000, 1001)
            conn.closed = True
            if conn.session is not None and closed_cleanly:
                # Discord invalidates a session whose client closes with 1000/1001
                conn.session.invalidated = True
            if conn.session is not None and conn.session.connection is conn:
                conn.session.connection = None
                conn.session.disconnected_at = time.monotonic()
            await conn.stop_writer()
            self.sim._notify()
        return ws

    async def _on_frame(self, conn: GatewayConnection, frame: dict[str, Any]) -> None:
        op = frame.get("op")
        data = frame.get("d")
        if op == Op.HEARTBEAT:
            conn.enqueue({"op": Op.HEARTBEAT_ACK, "d": None, "s": None, "t": None})
        elif op == Op.IDENTIFY:
            await self._identify(conn, data or {})
        elif op == Op.RESUME:
            await self._resume(conn, data or {})
        elif conn.session is None:
            await conn.close(4003, "Not authenticated.")
        elif op == Op.REQUEST_MEMBERS:
            self._members_chunk(conn.session, data or {})
        elif op in (Op.PRESENCE, Op.VOICE_STATE):
            pass
        else:
            await conn.close(4001, "Unknown opcode.")

    async def _identify(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        sim = self.sim
        if conn.session is not None:
            await conn.close(4005, "Already authenticated.")
            return
        if data.get("token") != sim.token:
            await conn.close(4004, "Authentication failed.")
            return
        intents = data.get("intents")
        if not isinstance(intents, int):
            await conn.close(4013, "Invalid intent(s).")
            return
        if intents & Intent.PRIVILEGED & ~sim.privileged_intents:
            await conn.close(4014, "Disallowed intent(s).")
            return
        session = GatewaySession(id=secrets.token_hex(16), intents=intents)
        self.sessions[session.id] = session
        session.connection = conn
        conn.session = session
        self.active = session
        session.shard = shard_of(data)
        guilds = [g for g in sim.guilds.values() if not g.deleted and on_shard(session, g.id)]
        ready: dict[str, Any] = {
            "v": 10,
            "user": {
                **sim.bot_user.payload(),
                "verified": True,
                "mfa_enabled": False,
                "email": None,
            },
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": sim.gateway_url,
            "application": {"id": str(sim.application_id), "flags": sim.application_flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "auth": {},
            "_trace": ["sim"],
        }
        if "shard" in data:
            ready["shard"] = data["shard"]
        session.dispatch("READY", ready)
        session.ready_sent = True
        for guild in guilds:
            session.dispatch("GUILD_CREATE", guild.gateway_payload())
        session.guilds_sent = True
        sim._notify()

    async def _resume(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        seq = data.get("seq") or 0
        if data.get("token") != self.sim.token:
            await conn.close(4004, "Authentication failed.")
            return
        if session is None or not session.alive or seq > session.seq:
            await asyncio.sleep(self.sim.invalid_session_delay)
            conn.enqueue({"op": Op.INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        old = session.connection
        if old is not None and old is not conn:
            old.session = None
            await old.close(4009, "Session superseded.")
        session.connection = conn
        session.disconnected_at = None
        session.resumes += 1
        conn.session = session
        self.active = session
        for frame in session.buffer:
            if frame["s"] > seq:
                conn.enqueue(frame)
        session.dispatch("RESUMED", {"_trace": ["sim"]})
        self.sim._notify()

    def _members_chunk(self, session: GatewaySession, data: dict[str, Any]) -> None:
        guild = self.sim.guilds.get(int(data.get("guild_id", 0)))
        if guild is None:
            return
        session.dispatch(
            "GUILD_MEMBERS_CHUNK",
            {
                "guild_id": str(guild.id),
                "members": [m.payload() for m in guild.members.values()],
                "chunk_index": 0,
                "chunk_count": 1,
                "not_found": [],
                "nonce": data.get("nonce"),
            },
        )

    # -- controls for tests ----------------------------------------------------------------------
    async def request_reconnect(self) -> None:
        for conn in list(self.connections):
            if not conn.closed and conn.session is not None:
                conn.enqueue({"op": Op.RECONNECT, "d": None, "s": None, "t": None})

    async def drop(self, code: int = 4000) -> None:
        for conn in list(self.connections):
            if not conn.closed:
                await conn.close(code, "Simulated disconnect")

    async def invalidate(self) -> None:
        for session in self.sessions.values():
            session.invalidated = True
            if session.connection is not None:
                session.connection.enqueue(
                    {"op": Op.INVALID_SESSION, "d": False, "s": None, "t": None}
                )

    async def close_all(self) -> None:
        for conn in list(self.connections):
            await conn.close(1001, "Simulator stopping")
            await conn.stop_writer()


def _redact(data: Any) -> Any:
    if isinstance(data, dict) and "token" in data:
        return {**data, "token": "<redacted>"}
    return data
