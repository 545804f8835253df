"""Building the world a test needs: guilds, channels, roles, users, members, DMs, attachments,
and changing it as an admin or moderator would (limits, permissions, deletions)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from ..errors import SimulatorUsageError
from ..gateway import Intent
from ..models import (
    DEFAULT_UPLOAD_LIMIT,
    ChannelType,
    Perm,
    SimAttachment,
    SimChannel,
    SimGuild,
    SimMember,
    SimRole,
    SimUser,
)
from .queries import SimQueries
from .state import ChannelRef, MessageRef, UserLike, as_user


class SimWorld(SimQueries):
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
        user = as_user(user)
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
        url, proxy_url = self._signed_links(path, att_id)
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
            url=url,
            proxy_url=proxy_url,
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
