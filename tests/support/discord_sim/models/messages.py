"""Attachments and messages, with their JSON shapes and conveniences for assertions."""

from __future__ import annotations

import mimetypes
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..wire import JsonObject
from .channels import SimChannel
from .guilds import SimUser
from .primitives import MessageFlag, iso

if TYPE_CHECKING:
    from ..interactions import SimInteraction


@dataclass(eq=False)
class SimAttachment:
    """A file: one a test hands to a slash command, or one the bot uploaded.

    ``size``, ``content_type``, ``width`` and ``height`` are the *declared* metadata (what the
    interaction payload says); ``data`` is what the CDN serves.
    """

    id: int
    filename: str
    data: bytes
    content_type: str | None = None
    size: int = 0
    width: int | None = None
    height: int | None = None
    description: str | None = None
    url: str = ""
    proxy_url: str = ""
    ephemeral: bool = False
    url_expired: bool = False  # the CDN answers 404 (signed link expired)

    @staticmethod
    def guess_type(filename: str) -> str | None:
        return mimetypes.guess_type(filename)[0]

    def payload(self) -> JsonObject:
        data: JsonObject = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.proxy_url,
        }
        if self.content_type is not None:
            data["content_type"] = self.content_type
        if self.width is not None and self.height is not None:
            data["width"] = self.width
            data["height"] = self.height
        if self.description is not None:
            data["description"] = self.description
        if self.ephemeral:
            data["ephemeral"] = True
        return data

    def __repr__(self) -> str:
        return f"<SimAttachment {self.id} {self.filename!r} {self.size} bytes {self.content_type}>"


@dataclass
class MessageEdit:
    at: float
    payload: JsonObject
    via: str


@dataclass(eq=False)
class SimMessage:
    id: int
    channel: SimChannel
    author: SimUser
    content: str = ""
    embeds: list[JsonObject] = field(default_factory=list)
    components: list[JsonObject] = field(default_factory=list)
    attachments: list[SimAttachment] = field(default_factory=list)
    flags: int = 0
    type: int = 0
    mentions: list[SimUser] = field(default_factory=list)
    mention_roles: list[int] = field(default_factory=list)
    mention_everyone: bool = False
    message_reference: JsonObject | None = None
    interaction: SimInteraction | None = None
    webhook_id: int | None = None
    created_at: float = field(default_factory=time.time)
    created_monotonic: float = field(default_factory=time.monotonic)
    edited_at: float | None = None
    edits: list[MessageEdit] = field(default_factory=list)
    deleted: bool = False
    via: str = "channel"
    thread: SimChannel | None = None  # the thread opened on this message, if any

    # -- conveniences for assertions -------------------------------------------------------
    @property
    def channel_id(self) -> int:
        return self.channel.id

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & MessageFlag.EPHEMERAL)

    @property
    def loading(self) -> bool:
        return bool(self.flags & MessageFlag.LOADING)

    @property
    def embed(self) -> JsonObject | None:
        return self.embeds[0] if self.embeds else None

    def iter_components(self) -> list[JsonObject]:
        """Every component, depth first (rows, their children, containers...)."""
        found: list[JsonObject] = []

        def walk(items: list[JsonObject]) -> None:
            for item in items:
                found.append(item)
                walk(item.get("components", []))
                if isinstance(item.get("component"), dict):
                    walk([item["component"]])
                if isinstance(item.get("accessory"), dict):
                    walk([item["accessory"]])

        walk(self.components)
        return found

    @property
    def buttons(self) -> list[JsonObject]:
        return [c for c in self.iter_components() if c.get("type") == 2]

    @property
    def custom_ids(self) -> list[str]:
        return [c["custom_id"] for c in self.iter_components() if "custom_id" in c]

    def find_component(self, custom_id: str) -> JsonObject | None:
        return next((c for c in self.iter_components() if c.get("custom_id") == custom_id), None)

    @property
    def text(self) -> str:
        """Content plus every embed text field, for loose ``in`` assertions."""
        parts = [self.content]
        for embed in self.embeds:
            parts += [embed.get("title", ""), embed.get("description", "")]
            parts += [
                embed.get("author", {}).get("name", ""),
                embed.get("footer", {}).get("text", ""),
            ]
            for f in embed.get("fields", []):
                parts += [f.get("name", ""), f.get("value", "")]
        return "\n".join(p for p in parts if p)

    # -- wire shape ----------------------------------------------------------------------------
    def payload(self) -> JsonObject:
        guild = self.channel.guild
        data: JsonObject = {
            "id": str(self.id),
            "type": self.type,
            "channel_id": str(self.channel.id),
            "author": self.author.payload(),
            "content": self.content,
            "timestamp": iso(self.created_at),
            "edited_timestamp": iso(self.edited_at),
            "tts": False,
            "mention_everyone": self.mention_everyone,
            "mentions": [u.payload() for u in self.mentions],
            "mention_roles": [str(r) for r in self.mention_roles],
            "attachments": [a.payload() for a in self.attachments],
            "embeds": self.embeds,
            "components": self.components,
            "pinned": False,
            "flags": self.flags,
        }
        if guild is not None:
            data["guild_id"] = str(guild.id)
            member = guild.members.get(self.author.id)
            if member is not None and not self.webhook_id:
                data["member"] = member.payload(with_user=False)
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
            data["application_id"] = str(self.webhook_id)
        if self.message_reference is not None:
            data["message_reference"] = self.message_reference
        if self.interaction is not None:
            data["interaction_metadata"] = self.interaction.metadata_payload()
            data["interaction"] = self.interaction.legacy_message_payload()
        if self.thread is not None and not self.thread.deleted:
            data["thread"] = self.thread.payload()
        return data

    def __repr__(self) -> str:
        text = self.text.replace("\n", " | ")
        if len(text) > 60:
            text = text[:57] + "..."
        extra = " ephemeral" if self.ephemeral else ""
        extra += " deleted" if self.deleted else ""
        files = f" files={[a.filename for a in self.attachments]}" if self.attachments else ""
        return f"<SimMessage {self.id} in {self.channel.id}{extra} {text!r}{files}>"
