"""The simulator's state model and its JSON shapes (as Discord sends them, ids as strings)."""

from .channels import SimChannel
from .guilds import SimGuild, SimMember, SimRole, SimUser
from .messages import MessageEdit, SimAttachment, SimMessage
from .primitives import (
    DEFAULT_UPLOAD_LIMIT,
    DISCORD_EPOCH_MS,
    ChannelType,
    MessageFlag,
    Perm,
    SnowflakeFactory,
    iso,
)

__all__ = [
    "DEFAULT_UPLOAD_LIMIT",
    "DISCORD_EPOCH_MS",
    "ChannelType",
    "MessageEdit",
    "MessageFlag",
    "Perm",
    "SimAttachment",
    "SimChannel",
    "SimGuild",
    "SimMember",
    "SimMessage",
    "SimRole",
    "SimUser",
    "SnowflakeFactory",
    "iso",
]
