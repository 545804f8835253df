"""Fitting a video under an upload limit: H.264 (yuv420p, +faststart), the same duration and
frame shape, audio kept when there is some, the bitrate aimed from the limit with a margin, and
a second, smaller try when the first misses.

FFmpeg is the binary bundled with the imageio-ffmpeg wheel and runs as a subprocess (at a lower
CPU priority), so the event loop keeps answering while it works; at most `max_concurrent`
encodes run at once, and each is killed when it takes longer than its time bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import av

log = logging.getLogger(__name__)

FIRST_MARGIN = 0.90  # aim at 90 % of the limit; x264's average bitrate is close, not exact
SECOND_MARGIN = 0.80  # the second try aims lower still, scaled by how far the first missed
MUXING_RESERVE = 32 * 1024  # mp4 headers and index (at most 3 % of a small limit)
AUDIO_BPS = 96_000
LOW_AUDIO_BPS = 48_000  # when the whole budget is small
MIN_VIDEO_BPS = 48_000  # below this a video is not worth watching: send the link instead
MIN_BITS_PER_PIXEL = 0.035  # below this per frame, fewer pixels look better than more blocks
MIN_HEIGHT = 240
NICENESS = 10


class MediaError(Exception):
    """A file FFmpeg or PyAV could not read or write."""


@dataclass(frozen=True, slots=True)
class VideoInfo:
    duration: float  # seconds
    width: int
    height: int
    fps: float
    has_audio: bool


@dataclass(frozen=True, slots=True)
class EncodePlan:
    video_bps: int
    audio_bps: int  # 0: no audio
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Fitted:
    path: Path
    size: int
    attempts: int
    seconds: float


def probe(path: Path) -> VideoInfo:
    """Duration, frame size, frame rate and whether there is audio (PyAV; reads headers only,
    a few milliseconds)."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError("no video stream")
            video = container.streams.video[0]
            duration = 0.0
            if container.duration:
                duration = container.duration / av.time_base
            elif video.duration and video.time_base:
                duration = float(video.duration * video.time_base)
            rate = video.average_rate
            return VideoInfo(
                duration=duration,
                width=video.codec_context.width,
                height=video.codec_context.height,
                fps=float(rate) if rate else 24.0,
                has_audio=bool(container.streams.audio),
            )
    except av.FFmpegError as exc:
        raise MediaError(f"unreadable video: {exc}") from exc


def plan_encode(info: VideoInfo, limit: int, margin: float) -> EncodePlan | None:
    """Bitrates (and, when bits are scarce, a smaller frame of the same shape) for a file of
    about `limit * margin` bytes; None when no watchable video fits."""
    if info.duration <= 0 or info.width <= 0 or info.height <= 0:
        return None
    reserve = min(MUXING_RESERVE, 0.03 * limit)
    total_bps = (limit * margin - reserve) * 8 / info.duration
    audio_bps = 0
    if info.has_audio:
        audio_bps = AUDIO_BPS if total_bps >= 1_000_000 else LOW_AUDIO_BPS
    video_bps = int(total_bps - audio_bps)
    if video_bps < MIN_VIDEO_BPS:
        return None
    width, height = info.width, info.height
    bits_per_pixel = video_bps / (width * height * max(info.fps, 1.0))
    if bits_per_pixel < MIN_BITS_PER_PIXEL:
        factor = math.sqrt(bits_per_pixel / MIN_BITS_PER_PIXEL)
        height = max(min(MIN_HEIGHT, info.height), _even(info.height * factor))
        width = _even(info.width * height / info.height)
    return EncodePlan(video_bps=video_bps, audio_bps=audio_bps, width=width, height=height)


def encode_args(src: Path, dst: Path, info: VideoInfo, plan: EncodePlan) -> list[str]:
    """FFmpeg's arguments (after the executable) for one encode."""
    rate = plan.video_bps
    args = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(src)]
    args += ["-map", "0:v:0", "-c:v", "libx264", "-preset", "veryfast"]
    args += ["-b:v", str(rate), "-maxrate", str(rate * 3 // 2), "-bufsize", str(rate * 2)]
    args += ["-pix_fmt", "yuv420p"]
    if (plan.width, plan.height) != (info.width, info.height):
        args += ["-vf", f"scale={plan.width}:{plan.height}:flags=bicubic"]
    if plan.audio_bps:
        args += ["-map", "0:a:0", "-c:a", "aac", "-b:a", str(plan.audio_bps)]
    args += ["-sn", "-dn", "-movflags", "+faststart", "-f", "mp4", str(dst)]
    return args


def ffmpeg_executable() -> str:
    """The FFmpeg bundled with the imageio-ffmpeg wheel (IMAGEIO_FFMPEG_EXE overrides it)."""
    import imageio_ffmpeg  # type: ignore[import-untyped]

    return str(imageio_ffmpeg.get_ffmpeg_exe())


class VideoFitter:
    """Re-encodes videos to fit an upload limit, `max_concurrent` at a time."""

    def __init__(
        self,
        *,
        max_concurrent: int = 2,
        attempt_timeout: float = 120.0,
        total_timeout: float = 300.0,
        ffmpeg: str | None = None,
        first_margin: float = FIRST_MARGIN,
    ) -> None:
        self._slots = asyncio.Semaphore(max_concurrent)
        self.first_margin = first_margin
        self.attempt_timeout = attempt_timeout
        self.total_timeout = total_timeout
        self._ffmpeg = ffmpeg

    async def executable(self) -> str:
        """FFmpeg's path, found once (imageio-ffmpeg runs `ffmpeg -version` to check it: in a
        thread, never on the event loop)."""
        if self._ffmpeg is None:
            self._ffmpeg = await asyncio.to_thread(ffmpeg_executable)
        return self._ffmpeg

    async def fit(self, src: Path, limit: int, workdir: Path) -> Fitted | None:
        """A copy of `src` of at most `limit` bytes in `workdir`, or None when it can't be made
        (unreadable, too long for the limit, FFmpeg failed, or over the time bound)."""
        began = time.monotonic()
        try:
            return await asyncio.wait_for(self._fit(src, limit, workdir, began), self.total_timeout)
        except TimeoutError:
            log.warning("re-encoding %s took longer than its time bound; giving up", src)
        except MediaError as exc:
            log.warning("re-encoding %s failed: %s", src, exc)
        except OSError as exc:  # no FFmpeg binary, disk full, ...
            log.warning("re-encoding %s failed: %s", src, exc)
        return None

    async def _fit(self, src: Path, limit: int, workdir: Path, began: float) -> Fitted | None:
        info = await asyncio.to_thread(probe, src)
        plan = plan_encode(info, limit, self.first_margin)
        if plan is None:
            log.info("a %.1f s video can't be made watchable in %d bytes", info.duration, limit)
            return None
        async with self._slots:
            log.info(
                "re-encoding %s (%.1f s, %dx%d) to fit %d bytes: %d kbit/s at %dx%d",
                src.name,
                info.duration,
                info.width,
                info.height,
                limit,
                plan.video_bps // 1000,
                plan.width,
                plan.height,
            )
            for attempt in (1, 2):
                dst = workdir / f"fitted-{attempt}.mp4"
                await self._run(encode_args(src, dst, info, plan))
                size = dst.stat().st_size
                if size <= limit:
                    seconds = time.monotonic() - began
                    log.info("re-encoded to %d bytes in %.1f s (try %d)", size, seconds, attempt)
                    return Fitted(dst, size, attempt, seconds)
                log.info("try %d made %d bytes, over the limit of %d", attempt, size, limit)
                dst.unlink(missing_ok=True)
                plan = plan_encode(info, limit, SECOND_MARGIN * min(1.0, limit / size))
                if plan is None:
                    break
        return None

    async def _run(self, args: list[str]) -> None:
        proc = await asyncio.create_subprocess_exec(
            await self.executable(),
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        with contextlib.suppress(OSError):  # commands come first; encoding can wait a moment
            os.setpriority(os.PRIO_PROCESS, proc.pid, NICENESS)
        try:
            _, stderr = await asyncio.wait_for(proc.communicate(), self.attempt_timeout)
        except BaseException:  # timed out or cancelled (shutdown): never leave FFmpeg running
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise
        if proc.returncode != 0:
            text = stderr.decode(errors="replace").strip()[-500:]
            raise MediaError(f"ffmpeg exited with {proc.returncode}: {text}")


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)
