"""Names for the JSON that travels between the bot and the simulator."""

from __future__ import annotations

from typing import Any, TypeAlias

JsonObject: TypeAlias = dict[str, Any]
"""A JSON object: one the simulator answers with (ids as strings, like Discord), or one the bot
sent, taken as it came until ``validation`` has checked it."""
