"""The gateway endpoint: connections, IDENTIFY and RESUME, and the events the simulator sends."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from ..records import GatewayRecord
from ..wire import JsonObject
from .connection import GatewayConnection
from .session import GatewaySession, Intent, Op, event_guild_id, on_shard, shard_of

if TYPE_CHECKING:
    from ..simulator.state import SimState

log = logging.getLogger("discord_sim.gateway")


class Gateway:
    """All sessions and connections; the simulator's state feeds READY and GUILD_CREATE."""

    def __init__(self, sim: SimState) -> None:
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

    def dispatch(self, event: str, data: JsonObject, *, intent: int = Intent.GUILDS) -> None:
        for session in self.live_sessions():
            if session.intents & intent and on_shard(session, event_guild_id(event, data)):
                session.dispatch(event, data)

    def dispatch_message_event(self, event: str, data: JsonObject, *, dm: bool) -> None:
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

    async def _on_frame(self, conn: GatewayConnection, frame: JsonObject) -> None:
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

    async def _identify(self, conn: GatewayConnection, data: JsonObject) -> None:
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
        ready: JsonObject = {
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

    async def _resume(self, conn: GatewayConnection, data: JsonObject) -> None:
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
            if frame["s"] is not None and frame["s"] > seq:
                conn.enqueue(frame)
        session.dispatch("RESUMED", {"_trace": ["sim"]})
        self.sim._notify()

    def _members_chunk(self, session: GatewaySession, data: JsonObject) -> None:
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


def _redact(data: object) -> object:
    if isinstance(data, dict) and "token" in data:
        return {**data, "token": "<redacted>"}
    return data
