"""Acting as users: slash commands, button clicks, selects, modal submits, each sent to the bot
as an INTERACTION_CREATE checked the way the Discord client checks it."""

from __future__ import annotations

import asyncio
import base64
import secrets
import time

from ..commands import OptionValue, allowed_in_dm, build_command_data, find_command
from ..errors import SimulatorUsageError
from ..interactions import SimInteraction
from ..models import Perm, SimChannel, SimMember, SimMessage, SimUser
from ..validation import check_modal_value
from ..wire import JsonObject
from .state import DM_APP_PERMISSIONS, MessageRef, UserLike, as_user
from .world import SimWorld


class SimActions(SimWorld):
    async def slash(
        self, user: UserLike, channel: SimChannel, command: str, /, **options: OptionValue
    ) -> SimInteraction:
        """``/command`` (``"group sub"`` for subcommands) as ``user`` in ``channel``.

        Options are checked against the commands the bot synced, like the Discord client does
        (names, types, choices, min/max): a mismatch raises ``SimulatorUsageError``. The first
        three are positional-only, so an option may be called ``channel`` or ``user``.
        """
        name, *path = command.lstrip("/").split()
        guild = channel.guild
        member = self._member_for(user, channel)
        scopes: list[int | None] = [None] if guild is None else [guild.id, None]
        definition = None
        for scope in scopes:
            definition = find_command(self._commands.get(scope, []), name)
            if definition is not None:
                break
        if definition is None:
            synced = {
                ("global" if s is None else f"guild {s}"): [c["name"] for c in cmds]
                for s, cmds in self._commands.items()
            }
            raise SimulatorUsageError(
                f"/{name} is not among the bot's synced commands visible in {channel!r}: "
                f"{synced or 'nothing synced yet'}"
            )
        if guild is None and not allowed_in_dm(definition):
            raise SimulatorUsageError(f"/{name} is not available in DMs (contexts/dm_permission)")
        if member is not None and not self.can_see_command(member, definition):
            raise SimulatorUsageError(
                f"{member.name} lacks default_member_permissions "
                f"{definition.get('default_member_permissions')} for /{name}"
            )
        data = build_command_data(
            definition,
            path,
            options,
            guild=guild,
            channel=channel,
            channel_permissions=self.member_permissions(member, channel)
            if member
            else DM_APP_PERMISSIONS,
        )
        return await self._interact(
            2, as_user(user), member, channel, data, command_name=" ".join([name, *path])
        )

    def allow_command(self, member: SimMember, name: str) -> None:
        """A server admin lets ``member`` use ``/name`` despite its default member permissions
        (Server Settings > Integrations): the Discord client then offers it to them."""
        self.command_overrides.setdefault((member.guild.id, name), set()).add(member.id)

    def can_see_command(self, member: SimMember, definition: JsonObject) -> bool:
        """Whether the Discord client offers the command to ``member``: it has every bit of
        ``default_member_permissions`` ("0": admins only), or the server overrode it."""
        if member.id in self.command_overrides.get((member.guild.id, definition["name"]), ()):
            return True
        required = definition.get("default_member_permissions")
        if required is None:
            return True
        needed = int(required)
        if needed == 0:
            return member.permissions == Perm.ALL
        return member.permissions & needed == needed

    async def click(self, user: UserLike, message: MessageRef, custom_id: str) -> SimInteraction:
        """Press the button ``custom_id`` on ``message``."""
        message, _ = self._component(user, message, custom_id, kinds=(2,))
        data = {"custom_id": custom_id, "component_type": 2}
        return await self._component_interaction(user, message, data)

    async def select(
        self, user: UserLike, message: MessageRef, custom_id: str, values: list[str]
    ) -> SimInteraction:
        """Pick ``values`` in the select menu ``custom_id`` on ``message``."""
        message, component = self._component(user, message, custom_id, kinds=(3, 5, 6, 7, 8))
        if component["type"] == 3:
            offered = [o["value"] for o in component.get("options", [])]
            unknown = [v for v in values if v not in offered]
            if unknown:
                raise SimulatorUsageError(f"select {custom_id!r} offers {offered}, not {unknown}")
        data = {"custom_id": custom_id, "component_type": component["type"], "values": values}
        return await self._component_interaction(user, message, data)

    async def submit_modal(
        self, user: UserLike, interaction: SimInteraction, values: dict[str, str]
    ) -> SimInteraction:
        """Fill in and submit the modal the bot answered ``interaction`` with."""
        modal = interaction.modal
        if modal is None:
            raise SimulatorUsageError(f"{interaction!r} was not answered with a modal")
        components: list[JsonObject] = []
        known: list[str] = []
        for item in modal.get("components", []):
            inputs = item.get("components") or (
                [item["component"]] if isinstance(item.get("component"), dict) else []
            )
            submitted = []
            for text_input in inputs:
                if text_input.get("type") != 4:
                    continue
                cid = text_input["custom_id"]
                known.append(cid)
                value = values.get(cid, text_input.get("value") or "")
                refused = check_modal_value(text_input, value)
                if refused is not None:
                    raise SimulatorUsageError(f"modal field {cid!r}: {refused} (got {value!r})")
                submitted.append({"type": 4, "custom_id": cid, "value": value})
            if not submitted:
                continue
            if item.get("type") == 18:
                components.append({"type": 18, "component": submitted[0]})
            else:
                components.append({"type": 1, "components": submitted})
        unknown = set(values) - set(known)
        if unknown:
            raise SimulatorUsageError(f"the modal has no fields {sorted(unknown)}; it has {known}")
        data = {"custom_id": modal["custom_id"], "components": components}
        member = self._member_for(user, interaction.channel)
        return await self._interact(
            5,
            as_user(user),
            member,
            interaction.channel,
            data,
            source_message=interaction.source_message,
        )

    def _member_for(self, user: UserLike, channel: SimChannel) -> SimMember | None:
        target = as_user(user)
        if channel.deleted:
            raise SimulatorUsageError(f"{channel!r} is deleted")
        if channel.guild is None:
            if channel.recipient is not target:
                raise SimulatorUsageError(f"{channel!r} is not a DM with {target!r}")
            return None
        member = channel.guild.members.get(target.id)
        if member is None:
            raise SimulatorUsageError(f"{target!r} is not a member of {channel.guild!r}")
        return member

    def _component(
        self, user: UserLike, message: MessageRef, custom_id: str, *, kinds: tuple[int, ...]
    ) -> tuple[SimMessage, JsonObject]:
        message = self.message(message)
        if message.deleted:
            raise SimulatorUsageError(f"{message!r} is deleted")
        if message.ephemeral and (
            message.interaction is None or message.interaction.user is not as_user(user)
        ):
            raise SimulatorUsageError(f"{message!r} is ephemeral: only its recipient sees it")
        component = message.find_component(custom_id)
        if component is None or component.get("type") not in kinds:
            raise SimulatorUsageError(
                f"{message!r} has no such component {custom_id!r}; it has {message.custom_ids}"
            )
        if component.get("disabled"):
            raise SimulatorUsageError(f"component {custom_id!r} is disabled")
        return message, component

    async def _component_interaction(
        self, user: UserLike, message: SimMessage, data: JsonObject
    ) -> SimInteraction:
        member = self._member_for(user, message.channel)
        return await self._interact(
            3, as_user(user), member, message.channel, data, source_message=message
        )

    async def _interact(
        self,
        itype: int,
        user: SimUser,
        member: SimMember | None,
        channel: SimChannel,
        data: JsonObject,
        *,
        command_name: str | None = None,
        source_message: SimMessage | None = None,
    ) -> SimInteraction:
        session = self.gateway.session_for(channel.guild_id)
        if session is None or not session.alive:
            raise SimulatorUsageError(
                "no bot is connected to the gateway (start the bot and wait until it is ready)"
            )
        inter_id = self.snowflakes.next()
        raw = f"interaction:{inter_id}:{secrets.token_urlsafe(48)}"
        token = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
        guild = channel.guild
        limit = self.upload_limit_for(channel)
        payload: JsonObject = {
            "id": str(inter_id),
            "application_id": str(self.application_id),
            "type": itype,
            "data": data,
            "token": token,
            "version": 1,
            "locale": "en-US",
            "channel_id": str(channel.id),
            "entitlements": [],
            "attachment_size_limit": limit,
        }
        if guild is not None and member is not None:
            perms = self.member_permissions(member, channel)
            bot_member = guild.members[self.bot_user.id]
            payload.update(
                guild_id=str(guild.id),
                guild={"id": str(guild.id), "locale": guild.locale, "features": []},
                guild_locale=guild.locale,
                channel={**channel.payload(), "permissions": str(perms)},
                member=member.payload(permissions=perms),
                app_permissions=str(self.member_permissions(bot_member, channel)),
                authorizing_integration_owners={"0": str(guild.id)},
                context=0,
            )
        else:
            payload.update(
                channel={**channel.payload(), "permissions": str(DM_APP_PERMISSIONS)},
                user=user.payload(),
                app_permissions=str(DM_APP_PERMISSIONS),
                authorizing_integration_owners={"0": "0"},
                context=1,
            )
        if source_message is not None:
            payload["message"] = source_message.payload()
        now = time.monotonic()
        inter = SimInteraction(
            sim=self,
            id=inter_id,
            token=token,
            type=itype,
            user=user,
            member=member,
            channel=channel,
            data=data,
            command_name=command_name,
            source_message=source_message,
            payload=payload,
            attachment_size_limit=limit,
            created_at=now,
            deadline=now + self.interaction_deadline,
            token_expires_at=now + self.interaction_token_ttl,
        )
        self.interactions[inter_id] = inter
        self._interactions_by_token[token] = inter
        session.dispatch("INTERACTION_CREATE", payload)
        inter.dispatched_at = time.monotonic()
        await asyncio.sleep(0)
        return inter
