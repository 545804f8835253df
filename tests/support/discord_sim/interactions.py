"""Interactions a test starts (slash commands, clicks, modal submits) and what became of them."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .models import (
    SimChannel,
    SimGuild,
    SimMember,
    SimMessage,
    SimUser,
)
from .wire import JsonObject

if TYPE_CHECKING:
    from .simulator.queries import SimQueries

RESPONSE_TYPE_NAMES = {
    1: "PONG",
    4: "CHANNEL_MESSAGE_WITH_SOURCE",
    5: "DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE",
    6: "DEFERRED_UPDATE_MESSAGE",
    7: "UPDATE_MESSAGE",
    8: "APPLICATION_COMMAND_AUTOCOMPLETE_RESULT",
    9: "MODAL",
}


@dataclass
class RejectedResponse:
    at: float
    status: int
    code: int
    response_type: int | None


@dataclass(eq=False)
class SimInteraction:
    """One interaction and the bot's handling of it.

    ``messages`` holds every message produced through its token (the original response and
    followups, ephemeral ones included), oldest first.
    """

    sim: SimQueries
    id: int
    token: str
    type: int
    user: SimUser
    member: SimMember | None
    channel: SimChannel
    data: JsonObject
    command_name: str | None = None
    source_message: SimMessage | None = None
    payload: JsonObject = field(default_factory=dict)
    attachment_size_limit: int = 0
    created_at: float = field(default_factory=time.monotonic)
    deadline: float = 0.0
    token_expires_at: float = 0.0
    dispatched_at: float | None = None

    response_type: int | None = None
    response_data: JsonObject | None = None
    responded_at: float | None = None
    late: bool = False
    rejected: list[RejectedResponse] = field(default_factory=list)
    messages: list[SimMessage] = field(default_factory=list)
    original: SimMessage | None = None
    modal: JsonObject | None = None
    _settled: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def guild(self) -> SimGuild | None:
        return self.channel.guild

    @property
    def acknowledged(self) -> bool:
        return self.response_type is not None

    @property
    def response_latency(self) -> float | None:
        """Seconds from the user's action to the accepted first response."""
        return None if self.responded_at is None else self.responded_at - self.created_at

    @property
    def response_type_name(self) -> str | None:
        return None if self.response_type is None else RESPONSE_TYPE_NAMES.get(self.response_type)

    @property
    def ephemeral(self) -> bool | None:
        """Whether the visible response is ephemeral (None before a response or for a modal)."""
        if self.response_type in (4, 5):
            return bool((self.response_data or {}).get("flags", 0) & 64)
        if self.response_type in (6, 7) and self.source_message is not None:
            return self.source_message.ephemeral
        return None

    @property
    def timed_out(self) -> bool:
        """Discord gave up on it: no accepted response within the deadline."""
        return self.response_type is None and time.monotonic() > self.deadline

    @property
    def followups(self) -> list[SimMessage]:
        return [m for m in self.messages if m is not self.original]

    @property
    def token_expired(self) -> bool:
        return time.monotonic() >= self.token_expires_at

    async def wait_response(self, timeout: float = 5.0) -> SimInteraction:
        """Wait for the first response; AssertionError if none was accepted."""
        try:
            await asyncio.wait_for(self._settled.wait(), timeout)
        except TimeoutError:
            why = " (past Discord's deadline: the user saw “The application did not respond”)"
            raise AssertionError(
                f"interaction {self.describe()} got no response within {timeout} s"
                f"{why if self.timed_out else ''}\n{self.sim.dump()}"
            ) from None
        if self.response_type is None:
            raise AssertionError(
                f"interaction {self.describe()} was answered too late or wrongly: {self.rejected}\n"
                + self.sim.dump()
            )
        return self

    def describe(self) -> str:
        what = self.command_name or self.data.get("custom_id") or f"type {self.type}"
        return f"{self.id} ({what!r} by {self.user.name})"

    # -- shapes ---------------------------------------------------------------------------
    def owners(self) -> dict[str, str]:
        if self.channel.guild is not None:
            return {"0": str(self.channel.guild.id)}
        return {"1": str(self.user.id)}

    def metadata_payload(self) -> JsonObject:
        data: JsonObject = {
            "id": str(self.id),
            "type": self.type,
            "user": self.user.payload(),
            "authorizing_integration_owners": self.owners(),
        }
        if self.type == 2 and self.command_name:
            data["name"] = self.command_name
            data["command_type"] = 1
        if self.original is not None:
            data["original_response_message_id"] = str(self.original.id)
        if self.source_message is not None:
            data["interacted_message_id"] = str(self.source_message.id)
        return data

    def legacy_message_payload(self) -> JsonObject:
        data: JsonObject = {
            "id": str(self.id),
            "type": self.type,
            "name": self.command_name or "",
            "user": self.user.payload(),
        }
        if self.member is not None:
            data["member"] = self.member.payload(with_user=False)
        return data

    def __repr__(self) -> str:
        state = self.response_type_name or ("timed out" if self.timed_out else "pending")
        return f"<SimInteraction {self.describe()} {state} messages={len(self.messages)}>"
