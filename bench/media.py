"""Re-encoding a result to fit the upload limit, and what it costs the rest of the bot.

1. Fit: a 10 s 1080p H.264 clip of about 30 MB (film grain over a moving pattern, with sound;
   made with the bot's own FFmpeg) is fitted into 10 MiB by `media.video.VideoFitter`, as the
   bot does it. Measured: wall time, size, tries, SSIM against the original (FFmpeg's ssim
   filter, all planes), peak RSS of FFmpeg and of the Python process (in a fresh subprocess, so
   nothing else is counted).
2. Acknowledgements while two re-encodes run: the real bot (`python bot.py`) through the local
   Discord simulator; two results over the limit start two re-encodes, and while both FFmpeg
   processes run, members send `/video` one after another. Measured: time from the simulator's
   INTERACTION_CREATE to the bot's first response, p50/p95/p99/max, against the same measure
   with no re-encode running.

Examples:
  python -m bench.media
  python -m bench.media --samples 100
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import API_KEY, REPO_ROOT, machine, summary, table, write_results
from gateway.simulator import GatewaySimulator, SimulatorConfig
from media.video import ffmpeg_executable
from tests.clips import make_clip
from tests.e2e.harness import BotProcess, default_bot_env
from tests.support.discord_sim import DiscordSimulator

LIMIT = 10 * 1024 * 1024
GOAL_SECONDS = 15.0
GOAL_SSIM = 0.95
GOAL_P99 = 0.300


def make_source(folder: Path) -> Path:
    """10 s of 1920x1080 at 24 fps with grain and sound, about 30 MB."""
    path = folder / "source-1080p-10s.mp4"
    if not path.exists():
        make_clip(path, seconds=10, width=1920, height=1080, noise=5, crf=21.9)
    return path


# --- 1. fit -----------------------------------------------------------------------------------

FIT_CHILD = """
import asyncio, json, resource, sys, time
from pathlib import Path
from media.video import VideoFitter
src, limit, out = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
fitter = VideoFitter()
asyncio.run(fitter.executable())
began = time.monotonic()
fitted = asyncio.run(fitter.fit(src, limit, out))
seconds = time.monotonic() - began
print(json.dumps({
    "seconds": seconds,
    "size": fitted.size if fitted else None,
    "attempts": fitted.attempts if fitted else None,
    "path": str(fitted.path) if fitted else None,
    "ffmpeg_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    "python_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def ssim(fitted: Path, original: Path) -> float:
    """FFmpeg's SSIM (all planes) of the copy against the original, frame by frame."""
    result = subprocess.run(
        [
            *(ffmpeg_executable(), "-hide_banner", "-i", str(fitted), "-i", str(original)),
            *("-lavfi", "[0:v][1:v]ssim", "-f", "null", "-"),
        ],
        capture_output=True,
        check=True,
        timeout=300,
    )
    match = re.search(r"All:([0-9.]+)", result.stderr.decode())
    assert match, result.stderr.decode()[-500:]
    return float(match.group(1))


def fit_once(source: Path, folder: Path) -> dict[str, Any]:
    out = Path(tempfile.mkdtemp(dir=folder, prefix="fit-"))
    run = subprocess.run(
        [sys.executable, "-c", FIT_CHILD, str(source), str(LIMIT), str(out)],
        capture_output=True,
        check=True,
        cwd=REPO_ROOT,
        timeout=600,
    )
    figures: dict[str, Any] = json.loads(run.stdout.decode().strip().splitlines()[-1])
    if figures["path"]:
        figures["ssim"] = ssim(Path(figures["path"]), source)
    return figures


# --- 2. acknowledgements during re-encodes ------------------------------------------------------


def encoders(pid: int) -> int:
    """How many H.264 encodes the bot is running (its FFmpeg children with libx264)."""
    count = 0
    with contextlib.suppress(OSError):
        for thread in Path(f"/proc/{pid}/task").iterdir():
            for child in (thread / "children").read_text().split():
                with contextlib.suppress(OSError):
                    args = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
                    if b"libx264" in args:
                        count += 1
    return count


async def ack_latencies(
    discord: DiscordSimulator, channel: Any, people: list[Any], samples: int, *, while_: Any
) -> list[float]:
    """`/video` from one member after another (a new member each time: no limits involved),
    each answered before the next, while `while_()` holds."""
    latencies: list[float] = []
    n = 0
    while len(latencies) < samples and while_():
        inter = await discord.slash(people[n % len(people)], channel, "video", prompt=f"ack {n}")
        n += 1
        await inter.wait_response(timeout=15)
        if inter.responded_at is not None and inter.dispatched_at is not None:
            latencies.append(inter.responded_at - inter.dispatched_at)
        await asyncio.sleep(0.05)
    return latencies


async def acks_during_reencodes(video: bytes, samples: int) -> dict[str, Any]:
    kling = GatewaySimulator(
        SimulatorConfig(api_key=API_KEY, queued_seconds=0.2, running_seconds=0.5)
    )
    await kling.start(host="127.0.0.1", port=0)
    kling.set_video(video)
    discord = DiscordSimulator()
    await discord.start()
    bot: BotProcess | None = None
    try:
        guild = discord.add_guild("Bench Server")
        channel = discord.add_text_channel(guild, "general")
        people = [discord.add_member(guild, f"member{n:03d}") for n in range(50)]
        with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
            env = default_bot_env(discord, Path(tmp)) | {
                "KLING_API_BASE": kling.base_url,
                "KLING_API_KEY": API_KEY,
                "POLL_INTERVAL_SECONDS": "1",
                "MAX_ACTIVE_TASKS_PER_USER": "0",
                "DAILY_TASKS_PER_USER": "0",
                "LOG_LEVEL": "WARNING",
            }
            bot = BotProcess(env, sim=discord)
            await bot.start()
            await bot.wait_ready(discord, timeout=60)
            pid = bot.pid or 0
            idle = await ack_latencies(discord, channel, people, samples // 2, while_=lambda: True)
            # every result is the 30 MB clip, so from now on the bot keeps re-encoding
            await discord.wait_for(
                lambda: encoders(pid) == 0, timeout=120, message="the first re-encodes done"
            )
            for member in people[:2]:
                await discord.slash(member, channel, "video", prompt="over the limit")
            began = time.monotonic()
            await discord.wait_for(
                lambda: encoders(pid) >= 2, timeout=60, interval=0.01, message="two re-encodes"
            )
            busy = await ack_latencies(
                discord, channel, people, samples, while_=lambda: encoders(pid) >= 2
            )
            busy_seconds = time.monotonic() - began
            rss = _vm_hwm_mb(pid)
            await bot.stop()
    finally:
        if bot is not None:
            await bot.close()
        await discord.stop()
        await kling.stop()
    return {
        "idle": summary(idle),
        "during_two_reencodes": summary(busy),
        "busy_window_seconds": busy_seconds,
        "bot_peak_rss_mb": rss,
    }


def _vm_hwm_mb(pid: int) -> float | None:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


# --- main ---------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.media",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=3, help="fits of the 1080p clip")
    parser.add_argument("--samples", type=int, default=60, help="acks during re-encodes")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
        folder = Path(tmp)
        source = make_source(folder)
        fits = [fit_once(source, folder) for _ in range(args.runs)]
        acks = asyncio.run(acks_during_reencodes(source.read_bytes(), args.samples))
        source_size = source.stat().st_size
    load = os.getloadavg()
    result = {"machine": machine(), "source_bytes": source_size, "limit": LIMIT, "fits": fits}
    result["load_average_after"] = load
    result["acks"] = acks
    rows = [
        [
            f"fit {i + 1}",
            f["seconds"],
            f["size"] / 1024 / 1024 if f["size"] else None,
            f["attempts"],
            None if f.get("ssim") is None else f"{f['ssim']:.4f}",
            f["ffmpeg_peak_rss_mb"],
            f["python_peak_rss_mb"],
        ]
        for i, f in enumerate(fits)
    ]
    print(f"source: {source_size / 1e6:.1f} MB, 10 s 1920x1080 24 fps; limit {LIMIT} bytes")
    print(table(["", "seconds", "MiB", "tries", "SSIM", "FFmpeg RSS MB", "Python RSS MB"], rows))
    print(f"goals: <= {GOAL_SECONDS:g} s, SSIM >= {GOAL_SSIM}")
    ack_rows = [
        [
            name,
            s["count"],
            *(None if s[k] is None else 1000 * s[k] for k in ("p50", "p95", "p99", "max")),
        ]
        for name, s in (("idle", acks["idle"]), ("2 re-encodes", acks["during_two_reencodes"]))
    ]
    print(table(["acks", "n", "p50 ms", "p95 ms", "p99 ms", "max ms"], ack_rows))
    print(
        f"goal: p99 < {GOAL_P99 * 1000:.0f} ms; bot peak RSS {acks['bot_peak_rss_mb']} MB; "
        f"busy window {acks['busy_window_seconds']:.1f} s"
    )
    print(f"load average (1, 5, 15 min) at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    path = write_results("media", result)
    print(f"results: {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
