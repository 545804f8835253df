"""A local Discord simulator (REST v10, gateway with zlib-stream, CDN) for end-to-end tests.

sim = DiscordSimulator()
await sim.start()
guild = sim.add_guild("Test Server")
channel = sim.add_text_channel(guild, "general")
alice = sim.add_member(guild, "alice")
...  # start the bot with sim.env() / the harness, then:
inter = await sim.slash(alice, channel, "video", prompt="a cat surfing")
await inter.wait_response()

Where things are: ``simulator/`` the ``DiscordSimulator`` object, in layers (state, store,
queries, world, actions, serving and controls); ``models/`` users, guilds, channels, messages and
their JSON; ``interactions`` and ``commands`` what a user starts and how a slash command's data is
built; ``rest/`` the REST routes by resource; ``gateway/`` the websocket; ``validation/`` Discord's
checks on what the bot sends; ``errors``, ``records``, ``ratelimit``, ``wire`` the small pieces.
"""

from .errors import DiscordAPIError, SimulatorUsageError
from .gateway import GatewaySession, Intent
from .interactions import RejectedResponse, SimInteraction
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
)
from .records import CallRecord, FileRecord, GatewayRecord
from .simulator import DiscordSimulator

__all__ = [
    "DEFAULT_UPLOAD_LIMIT",
    "CallRecord",
    "ChannelType",
    "DiscordAPIError",
    "DiscordSimulator",
    "FileRecord",
    "GatewayRecord",
    "GatewaySession",
    "Intent",
    "MessageEdit",
    "MessageFlag",
    "Perm",
    "RejectedResponse",
    "SimAttachment",
    "SimChannel",
    "SimGuild",
    "SimInteraction",
    "SimMember",
    "SimMessage",
    "SimRole",
    "SimUser",
    "SimulatorUsageError",
]
