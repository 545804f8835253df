"""Shared pieces of the benchmarks: the gateway simulator in a subprocess, percentiles, resource
figures of this process, and the table + JSON every benchmark ends with."""

from __future__ import annotations

import asyncio
import json
import math
import os
import platform
import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "bench" / "results"
API_KEY = "bench-key"


# --- numbers ----------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100, nearest rank on sorted data); None for no data."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary(values: Sequence[float]) -> dict[str, float | int | None]:
    return {
        "count": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else None,
    }


def peak_rss_mb() -> float:
    """Peak resident set size of this process (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def cpu_seconds() -> float:
    """CPU (user + system) used by this process only, children excluded."""
    return time.process_time()


def proc_cpu_seconds(pid: int) -> float | None:
    """CPU seconds of another process, from /proc (Linux); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


# --- output -----------------------------------------------------------------------------------


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        if value != 0 and abs(value) < 10**-digits:
            return f"{value:.2g}"
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[fmt(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append(
            "  ".join(c.rjust(w) if n else c.ljust(w) for c, w in zip(row, widths, strict=True))
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    payload = {"benchmark": name, "machine": machine(), "at": time.time(), **data}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


# --- the gateway simulator in a subprocess ----------------------------------------------------


@dataclass
class SimProcess:
    """`python -m bench.simserver …` (the gateway simulator plus a few benchmark-only routes)
    in its own process, so that its CPU is not charged to the bot."""

    args: list[str] = field(default_factory=list)
    process: asyncio.subprocess.Process | None = None
    base_url: str = ""

    async def start(self) -> str:
        port = free_port()
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.simserver",
            "--port",
            str(port),
            "--api-key",
            API_KEY,
            "--log-level",
            "WARNING",
            *self.args,
            cwd=REPO_ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout=30)
        if not line.startswith(b"READY "):
            raise RuntimeError(f"the simulator did not start: {line!r}")
        self.base_url = line.split()[1].decode()
        return self.base_url

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def cpu_seconds(self) -> float | None:
        return proc_cpu_seconds(self.pid)

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), timeout=10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()

    async def get(self, session: aiohttp.ClientSession, path: str) -> Any:
        async with session.get(self.base_url + path) as response:
            response.raise_for_status()
            return await response.json()

    async def post(self, session: aiohttp.ClientSession, path: str, body: Any) -> Any:
        async with session.post(self.base_url + path, json=body) as response:
            response.raise_for_status()
            return await response.json()
