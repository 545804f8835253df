"""What a server owner running the bot for real checks: Prometheus metrics that match what
happened, a health probe that tells a connected bot from a cut-off one, and JSON logs."""

from __future__ import annotations

import json
import socket
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.ports import free_port
from tests.support.waiting import wait_until

from .scenario import KEY, MakeScenario, Scenario


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def scrape(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, parsed by prometheus-client's own parser."""
    status, text = await get(f"{base}/metrics")
    assert status == 200
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: dict[Any, float], name: str, **labels: str) -> float:
    """The sum over the samples of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, got), v in samples.items() if n == name and wanted <= set(got))


async def test_metrics_count_what_happened(make_scenario: MakeScenario) -> None:
    """After two videos, one failure, one cancel and a Discord 429, /metrics says exactly
    that."""
    base = f"http://127.0.0.1:{free_port()}"
    s = await make_scenario(METRICS_LISTEN=base.removeprefix("http://"))
    before = await scrape(base)
    assert value(before, "klingbot_tasks_admitted_total") == 0
    assert value(before, "klingbot_tasks_finished_total", outcome="completed") == 0

    s.discord.inject_rate_limit("POST /channels", count=1, retry_after=0.2)
    inters = [
        await s.video(prompt="a lighthouse in fog"),
        await s.video(prompt="[fail] a storm over the sea"),
    ]
    for inter in inters:
        await s.result(inter)
    inters.append(await s.video(prompt="a kite over a beach"))
    await s.result(inters[-1])
    stuck = await s.video(prompt="[stuck] a clock that never strikes")
    # sent in the background after the first response: cancel it once the gateway has it
    await s.discord.wait_for(lambda: len(s.creates()) == 4, timeout=10, message="4th create")
    during = await scrape(base)
    assert value(during, "klingbot_tasks_unfinished") == 1
    await s.command("cancel", task=s.short_id(stuck))
    await s.result(stuck)

    await s.discord.wait_for(lambda: _done(s), timeout=10, message="four deliveries in the logs")
    after = await scrape(base)
    assert value(after, "klingbot_tasks_admitted_total") == 4
    assert value(after, "klingbot_tasks_finished_total", outcome="completed") == 2
    assert value(after, "klingbot_tasks_finished_total", outcome="failed") == 1
    assert value(after, "klingbot_tasks_finished_total", outcome="cancelled") == 1
    for outcome in ("timed_out", "interrupted"):
        assert value(after, "klingbot_tasks_finished_total", outcome=outcome) == 0
    assert value(after, "klingbot_tasks_unfinished") == 0
    creates = [r for r in s.kling.requests if r.kind == "create"]
    fetches = s.fetches()
    assert total(after, "klingbot_gateway_requests_total", kind="create") == len(creates) == 4
    assert value(after, "klingbot_gateway_requests_total", kind="create", status="200") == 4
    assert total(after, "klingbot_gateway_requests_total", kind="fetch") == len(fetches)
    assert value(after, "klingbot_gateway_requests_total", kind="download", status="200") == 2
    assert value(after, "klingbot_ack_seconds_count") == 5  # 4 x /video and /cancel
    assert 0 < value(after, "klingbot_ack_seconds_sum") < 5 * 3.0
    assert value(after, "klingbot_delivery_seconds_count") == 4
    assert value(after, "klingbot_discord_rate_limited_total") == 1

    status, body = await get(f"{base}/healthz")
    assert status == 200, body
    assert json.loads(body)["ok"] is True


def _done(s: Scenario) -> bool:
    return s.bot.logs.count("delivered (message") >= 4


@pytest.mark.parametrize("shards", [{}, {"SHARD_COUNT": "2"}], ids=["one-connection", "shards"])
async def test_healthz_turns_503_when_discord_is_gone(
    make_scenario: MakeScenario, shards: dict[str, str]
) -> None:
    """/healthz is 200 while connected and polling, 503 once the bot loses Discord; the same
    with SHARD_COUNT (one connection per shard)."""
    base = f"http://127.0.0.1:{free_port()}"
    s = await make_scenario(METRICS_LISTEN=base.removeprefix("http://"), **shards)

    async def health() -> int:
        return (await get(f"{base}/healthz"))[0]

    async def healthy() -> bool:
        return await health() == 200

    async def unhealthy() -> bool:
        return await health() == 503

    await wait_until(healthy, 10, what="/healthz to answer 200", interval=0.1)
    await s.discord.stop()  # Discord unreachable: the bot is cut off, but still running
    await wait_until(unhealthy, 10, what="/healthz to answer 503", interval=0.1)
    assert s.bot.running


async def test_json_logs_carry_the_task_guild_and_process(make_scenario: MakeScenario) -> None:
    """LOG_FORMAT=json: every line is a JSON object; task lines name the task and the server;
    the key never appears."""
    s = await make_scenario(LOG_FORMAT="json", LOG_LEVEL="DEBUG")
    inter = await s.video(prompt="a fox in the snow")
    await s.result(inter)
    await s.discord.wait_for(lambda: "delivered (message" in s.bot.logs, timeout=10)
    lines = [line for line in s.bot.logs.splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line parses
    for entry in entries:
        assert {"time", "level", "logger", "message", "process_id"} <= entry.keys()
    (delivered,) = [e for e in entries if "delivered (message" in e["message"]]
    assert delivered["task_id"].startswith(s.short_id(inter))
    assert delivered["guild_id"] == str(s.guild.id)
    assert delivered["process_id"].split(":")[1] == str(s.bot.pid)
    assert delivered["level"] == "INFO"
    about_task = [e for e in entries if e.get("task_id") == delivered["task_id"]]
    assert len(about_task) >= 3  # admitted, submitted, completed, delivered ...
    assert KEY not in s.bot.logs
    assert s.discord.token not in s.bot.logs


@pytest.mark.parametrize("setting", ["METRICS_LISTEN", "CALLBACK_LISTEN"])
async def test_a_listen_address_in_use_stops_with_one_line(start_bot: Any, setting: str) -> None:
    """METRICS_LISTEN or CALLBACK_LISTEN on a port another program holds: exit status 2 and one
    line naming the setting, never a traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        env = {setting: address}
        if setting == "CALLBACK_LISTEN":
            env["CALLBACK_PUBLIC_URL"] = "https://bot.example/kling/callback"
        bot = await start_bot(env, wait_ready=False)

        assert await bot.wait_exit(timeout=20) == 2
    lines = [line for line in bot.logs.splitlines() if line.strip()]
    assert lines[-1].startswith(f"{setting}: can't listen on {address}"), bot.logs
    assert "Traceback" not in bot.logs
    assert "sk-e2e-test-key" not in bot.logs
