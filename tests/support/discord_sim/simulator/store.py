"""How the bot's requests change the state: messages (fields, files, mentions, replies), their
edits and deletion, threads, synced commands; each change dispatched to the gateway."""

from __future__ import annotations

import re
import time
from urllib.parse import quote

from ..errors import DiscordAPIError, FormErrors
from ..interactions import SimInteraction
from ..models import MessageEdit, MessageFlag, SimAttachment, SimChannel, SimMessage, SimUser
from ..rest import Upload
from ..wire import JsonObject
from .state import SimState

_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")


class SimStore(SimState):
    def _store_commands(self, scope: int | None, commands: list[JsonObject]) -> list[JsonObject]:
        existing = {(c.get("type", 1), c["name"]): c for c in self._commands.get(scope, [])}
        stored = []
        for command in commands:
            ctype = command.get("type", 1)
            old = existing.get((ctype, command["name"]))
            entry: JsonObject = {
                "type": ctype,
                "description": "",
                "options": [],
                "default_member_permissions": None,
                "dm_permission": True,
                "contexts": None,
                "integration_types": [0],
                "nsfw": False,
                "name_localizations": None,
                "description_localizations": None,
                **command,
                "id": old["id"] if old else str(self.snowflakes.next()),
                "application_id": str(self.application_id),
                "version": str(self.snowflakes.next()),
            }
            if scope is not None:
                entry["guild_id"] = str(scope)
            stored.append(_as_discord_returns(entry))
        self._commands[scope] = stored
        self.command_puts.append((scope, time.monotonic()))
        self._notify()
        return stored

    def _store_upload(
        self, upload: Upload, channel: SimChannel, description: str | None
    ) -> SimAttachment:
        att_id = self.snowflakes.next()
        url, proxy_url = self._signed_links(
            f"attachments/{channel.id}/{att_id}/{quote(upload.filename)}", att_id
        )
        att = SimAttachment(
            id=att_id,
            filename=upload.filename,
            data=upload.data,
            content_type=SimAttachment.guess_type(upload.filename),
            size=len(upload.data),
            description=description,
            url=url,
            proxy_url=proxy_url,
        )
        self.attachments[att_id] = att
        return att

    def _message_fields(
        self, message: SimMessage, payload: JsonObject, uploads: list[Upload], *, creating: bool
    ) -> JsonObject:
        """The fields ``payload`` sets on ``message`` (validated, nothing applied yet)."""
        fields: JsonObject = {}
        if "content" in payload:
            fields["content"] = payload["content"] or ""
        if "embeds" in payload:
            fields["embeds"] = [{"type": "rich", **e} for e in payload["embeds"] or []]
        if "components" in payload:
            fields["components"] = payload["components"] or []
        new_files = {u.index: u for u in uploads}
        attachments: list[SimAttachment] | None = None
        if payload.get("attachments") is not None:
            attachments = []
            errors = FormErrors()
            for i, entry in enumerate(payload["attachments"]):
                key = str(entry.get("id"))
                kept = next((a for a in message.attachments if str(a.id) == key), None)
                if kept is not None and not creating:
                    attachments.append(kept)
                elif key.isdigit() and int(key) in new_files:
                    upload = new_files.pop(int(key))
                    attachments.append(
                        self._store_upload(upload, message.channel, entry.get("description"))
                    )
                else:
                    errors.add(
                        ["attachments", i, "id"],
                        "ATTACHMENT_NOT_FOUND",
                        f"Unknown attachment {key}",
                    )
            errors.raise_if_any()
            attachments += [
                self._store_upload(u, message.channel, None) for u in new_files.values()
            ]
        elif uploads:
            attachments = list(message.attachments) + [
                self._store_upload(u, message.channel, None) for u in uploads
            ]
        if attachments is not None:
            fields["attachments"] = attachments
        if "content" in fields or "allowed_mentions" in payload:
            fields["mentions"], fields["mention_roles"], fields["mention_everyone"] = (
                self._mentions(
                    message.channel,
                    fields.get("content", message.content),
                    payload.get("allowed_mentions"),
                )
            )
        return fields

    def _mentions(
        self, channel: SimChannel, content: str, allowed: JsonObject | None
    ) -> tuple[list[SimUser], list[int], bool]:
        parse = (
            {"users", "roles", "everyone"} if allowed is None else set(allowed.get("parse") or [])
        )
        allowed_users = {str(u) for u in (allowed or {}).get("users") or []}
        allowed_roles = {str(r) for r in (allowed or {}).get("roles") or []}
        users = []
        for uid in dict.fromkeys(_USER_MENTION.findall(content)):
            user = self.users.get(int(uid))
            if user is not None and ("users" in parse or uid in allowed_users):
                users.append(user)
        roles = [
            int(rid)
            for rid in dict.fromkeys(_ROLE_MENTION.findall(content))
            if ("roles" in parse or rid in allowed_roles)
            and channel.guild is not None
            and int(rid) in channel.guild.roles
        ]
        everyone = "everyone" in parse and ("@everyone" in content or "@here" in content)
        return users, roles, everyone

    def _create_message(
        self,
        channel: SimChannel,
        payload: JsonObject,
        uploads: list[Upload],
        *,
        author: SimUser,
        via: str,
        allowed_flags: int,
        interaction: SimInteraction | None = None,
        mtype: int = 0,
        allow_empty: bool = False,
    ) -> SimMessage:
        message = SimMessage(
            id=self.snowflakes.next(),
            channel=channel,
            author=author,
            type=mtype,
            via=via,
            interaction=interaction,
            webhook_id=self.application_id if interaction is not None else None,
            flags=int(payload.get("flags") or 0) & allowed_flags,
        )
        fields = self._message_fields(message, payload, uploads, creating=True)
        reference = payload.get("message_reference")
        if reference:
            target = self.messages.get(int(reference.get("message_id", 0)))
            if (target is None or target.deleted) and reference.get("fail_if_not_exists", True):
                errors = FormErrors()
                errors.add(["message_reference"], "REPLIES_UNKNOWN_MESSAGE", "Unknown message")
                errors.raise_if_any()
            message.message_reference = {
                "type": 0,
                "message_id": str(reference.get("message_id")),
                "channel_id": str(reference.get("channel_id") or channel.id),
                **({"guild_id": str(channel.guild.id)} if channel.guild is not None else {}),
            }
            message.type = 19
            replied = (payload.get("allowed_mentions") or {}).get("replied_user", True)
            if target is not None and replied and target.author not in fields.get("mentions", []):
                fields.setdefault("mentions", []).append(target.author)
        for key, value in fields.items():
            setattr(message, key, value)
        if not allow_empty and not (
            message.content or message.embeds or message.attachments or message.components
        ):
            raise DiscordAPIError(400, 50006, "Cannot send an empty message")
        self.messages[message.id] = message
        channel.last_message_id = message.id
        if channel.is_thread:
            channel.message_count += 1
        if not message.ephemeral and not message.loading:
            self.gateway.dispatch_message_event(
                "MESSAGE_CREATE", message.payload(), dm=channel.is_dm
            )
        self._notify()
        return message

    def _edit_message(
        self,
        message: SimMessage,
        payload: JsonObject,
        uploads: list[Upload],
        *,
        via: str,
        finish_loading: bool = False,
    ) -> None:
        fields = self._message_fields(message, payload, uploads, creating=False)
        after = {
            key: fields.get(key, getattr(message, key))
            for key in ("content", "embeds", "attachments", "components")
        }
        if not any(after.values()):
            raise DiscordAPIError(400, 50006, "Cannot send an empty message")
        was_loading = message.loading
        for key, value in fields.items():
            setattr(message, key, value)
        if "flags" in payload and payload["flags"] is not None:
            keep = message.flags & (
                MessageFlag.EPHEMERAL | MessageFlag.HAS_THREAD | MessageFlag.LOADING
            )
            message.flags = keep | (
                int(payload["flags"]) & (MessageFlag.SUPPRESS_EMBEDS | MessageFlag.IS_COMPONENTS_V2)
            )
        if finish_loading:
            message.flags &= ~MessageFlag.LOADING
        message.edited_at = None if was_loading else time.time()
        message.edits.append(MessageEdit(at=time.monotonic(), payload=payload, via=via))
        if not message.ephemeral:
            event = "MESSAGE_CREATE" if was_loading and not message.loading else "MESSAGE_UPDATE"
            self.gateway.dispatch_message_event(event, message.payload(), dm=message.channel.is_dm)
        self._notify()

    def _delete_message(self, message: SimMessage) -> None:
        if message.deleted:
            return
        message.deleted = True
        if not message.ephemeral:
            data = {"id": str(message.id), "channel_id": str(message.channel.id)}
            if message.channel.guild is not None:
                data["guild_id"] = str(message.channel.guild.id)
            self.gateway.dispatch_message_event("MESSAGE_DELETE", data, dm=message.channel.is_dm)
        self._notify()

    def _open_thread(
        self,
        parent: SimChannel,
        name: str,
        *,
        thread_id: int,
        kind: int,
        auto_archive_duration: int,
    ) -> SimChannel:
        assert parent.guild is not None
        thread = SimChannel(
            id=thread_id,
            type=kind,
            name=name,
            guild=parent.guild,
            parent_id=parent.id,
            owner_id=self.bot_user.id,
            auto_archive_duration=auto_archive_duration,
        )
        parent.guild.channels[thread.id] = thread
        self.channels[thread.id] = thread
        self.gateway.dispatch(
            "THREAD_CREATE",
            {
                **thread.payload(),
                "newly_created": True,
                "member": {
                    "id": str(thread.id),
                    "user_id": str(self.bot_user.id),
                    "join_timestamp": thread.payload()["thread_metadata"]["create_timestamp"],
                    "flags": 0,
                },
            },
        )
        self._notify()
        return thread


def _as_discord_returns(command: JsonObject) -> JsonObject:
    """Discord keeps a permission bit set as a string, whatever number type the bot sent."""
    if command.get("default_member_permissions") is not None:
        command["default_member_permissions"] = str(command["default_member_permissions"])
    return command
