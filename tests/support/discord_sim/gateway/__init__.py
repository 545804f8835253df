"""The gateway websocket: HELLO/IDENTIFY/READY/GUILD_CREATE, heartbeats, RESUME, dispatches.

Frames go out JSON-encoded and, with ``compress=zlib-stream`` (what discord.py asks for), through
one ``zlib.compressobj`` per connection, each frame flushed with ``Z_SYNC_FLUSH`` and sent binary.
``session``: sessions, opcodes, intents, shards; ``connection``: one websocket's writer;
``server``: the endpoint, IDENTIFY/RESUME and what the simulator dispatches.
"""

from .connection import GatewayConnection
from .server import Gateway
from .session import Frame, GatewaySession, Intent, Op

__all__ = ["Frame", "Gateway", "GatewayConnection", "GatewaySession", "Intent", "Op"]
