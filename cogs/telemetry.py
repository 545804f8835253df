"""What only the Discord side can measure, taken from discord.py's own HTTP traffic (its
`http_trace` hook): how long each interaction waited for its first response (the interaction
callback, timed from the creation moment in the interaction's snowflake id), and every 429."""

from __future__ import annotations

import re
import time
from types import SimpleNamespace

import aiohttp
import discord

from videojobs.ports import Metrics

# POST /api/v10/interactions/{interaction id}/{token}/callback: an interaction's first response
_CALLBACK_PATH = re.compile(r"/interactions/(\d+)/[^/]+/callback$")


def discord_trace(metrics: Metrics) -> aiohttp.TraceConfig:
    """A trace for discord.py's HTTP session (`Client(http_trace=...)`)."""

    async def on_request_end(
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        status = params.response.status
        if status == 429:
            metrics.discord_rate_limited()
            return
        match = _CALLBACK_PATH.search(params.url.path)
        if match and params.method == "POST" and 200 <= status < 300:
            made = discord.utils.snowflake_time(int(match.group(1))).timestamp()
            metrics.acknowledged(time.time() - made)

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_request_end)
    return trace
