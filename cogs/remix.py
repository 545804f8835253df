"""Remix: a persistent button on result and failure messages that opens a form with the prompt
and the negative prompt filled in; submitting it starts a new task with the edited text and the
same settings and frames, through the same admission as /video and Retry.

A form submitted after a restart (discord.py forgets the forms it opened) is handled by
`RemixCog.on_interaction` from the form's custom id, which names the task.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator, Mapping
from typing import Any

import discord
from discord.ext import commands

from videojobs.models import MAX_PROMPT_CHARS, VideoRequest

from .errors import reply_error
from .front import Front, OpenForms, TaskButton, front_of, launch, requester_of

FORM_ID = re.compile(r"vb:remix-form:(?P<task_id>[0-9a-f]{32}):[0-9a-f]{8}")
PROMPT_FIELD = "prompt"
NEGATIVE_FIELD = "negative_prompt"
FORM_TIMEOUT = 3600.0  # then discord.py forgets the form; RemixCog still handles it


class RemixButton(TaskButton, template=r"vb:remix:(?P<task_id>[0-9a-f]{32})"):
    """Opens the Remix form (for the requester or an admin)."""

    action, button_label, button_emoji = "remix", "Remix", "✏️"

    async def callback(self, interaction: discord.Interaction) -> None:
        front = front_of(interaction.client)
        interaction.extras["task_id"] = self.task_id
        try:
            task = await front.service.restartable(
                self.task_id, requester_of(interaction), verb="remix"
            )
            form = RemixForm(task.id, task.request, front.remix_forms)
            await interaction.response.send_modal(form)
        except Exception as exc:
            await reply_error(interaction, exc)


class RemixForm(discord.ui.Modal):
    """The prompt and negative prompt of a task, to edit (Discord's client enforces the
    lengths; the service checks everything again, as for /video)."""

    def __init__(self, task_id: str, request: VideoRequest, opened: OpenForms) -> None:
        super().__init__(
            title=f"Remix video {task_id[:8]}",
            custom_id=f"vb:remix-form:{task_id}:{secrets.token_hex(4)}",
            timeout=FORM_TIMEOUT,
        )
        self.task_id = task_id
        self.opened = opened
        opened.add(self.custom_id)
        self.prompt: discord.ui.TextInput[RemixForm] = discord.ui.TextInput(
            label="Prompt",
            custom_id=PROMPT_FIELD,
            style=discord.TextStyle.paragraph,
            default=request.prompt,
            min_length=1,
            max_length=MAX_PROMPT_CHARS,
            required=True,
        )
        self.negative: discord.ui.TextInput[RemixForm] = discord.ui.TextInput(
            label="Negative prompt (what to keep out)",
            custom_id=NEGATIVE_FIELD,
            style=discord.TextStyle.paragraph,
            default=request.negative_prompt or None,
            placeholder="Optional: blur, text, watermark…",
            max_length=MAX_PROMPT_CHARS,
            required=False,
        )
        self.add_item(self.prompt)
        self.add_item(self.negative)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await submit_remix(interaction, self.task_id, self.prompt.value, self.negative.value)

    async def on_timeout(self) -> None:
        self.opened.discard(self.custom_id)  # discord.py forgot it: RemixCog takes over


async def submit_remix(
    interaction: discord.Interaction, task_id: str, prompt: str, negative: str
) -> None:
    """Start the remixed task and answer like /video (or with what is wrong, ephemerally)."""
    front = front_of(interaction.client)
    interaction.extras["task_id"] = task_id
    with front.inflight.track():
        try:
            task = await front.service.remix(
                task_id, requester_of(interaction), prompt=prompt, negative_prompt=negative or None
            )
            interaction.extras["task_id"] = task.id
            await launch(interaction, front, task)
        except Exception as exc:
            await reply_error(interaction, exc)


def submitted_values(data: Mapping[str, Any]) -> dict[str, str]:
    """The text inputs of a MODAL_SUBMIT's data, by custom id (action rows or labels)."""
    return {
        str(item["custom_id"]): str(item.get("value") or "")
        for item in _text_inputs(data.get("components") or [])
    }


def _text_inputs(components: list[Any]) -> Iterator[dict[str, Any]]:
    for item in components:
        if not isinstance(item, dict):
            continue
        if item.get("type") == 4 and "custom_id" in item:
            yield item
        yield from _text_inputs(item.get("components") or [])
        if isinstance(item.get("component"), dict):
            yield from _text_inputs([item["component"]])


class RemixCog(commands.Cog):
    """Handles Remix forms that this process did not open (it restarted since)."""

    def __init__(self, front: Front) -> None:
        self.front = front

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data: dict[str, Any] = dict(interaction.data or {})
        custom_id = str(data.get("custom_id", ""))
        match = FORM_ID.fullmatch(custom_id)
        if match is None or custom_id in self.front.remix_forms:
            return  # not ours, or the RemixForm that this process opened handles it
        values = submitted_values(data)
        await submit_remix(
            interaction,
            match["task_id"],
            values.get(PROMPT_FIELD, ""),
            values.get(NEGATIVE_FIELD, ""),
        )
