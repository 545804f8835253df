"""Real H.264 clips made with the bot's own FFmpeg (the imageio-ffmpeg wheel), and what a
member's player would see in an mp4: its streams, and every frame decoded (PyAV)."""

from __future__ import annotations

import io
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import av

from media.video import ffmpeg_executable


def make_clip(
    path: Path,
    *,
    seconds: float,
    width: int,
    height: int,
    fps: int = 24,
    noise: int = 8,
    crf: float = 18,
    audio: bool = True,
) -> Path:
    """A moving test pattern with film grain (hard to compress, like real footage), H.264
    yuv420p, with a sine tone as audio."""
    args = [ffmpeg_executable(), "-hide_banner", "-loglevel", "error", "-y"]
    args += ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
    args += ["-vf", f"noise=alls={noise}:allf=t", "-c:v", "libx264", "-preset", "ultrafast"]
    args += ["-crf", str(crf), "-pix_fmt", "yuv420p"]
    if audio:
        args += ["-c:a", "aac", "-shortest"]
    subprocess.run([*args, str(path)], check=True, timeout=120)
    return path


@dataclass(frozen=True)
class Decoded:
    """An mp4 as a player sees it, every video frame decoded."""

    codec: str
    pix_fmt: str
    width: int
    height: int
    frames: int
    duration: float  # seconds, from the container
    last_frame_end: float  # seconds: the last frame's time plus one frame
    audio_codec: str | None
    moov_before_mdat: bool  # +faststart: playable while it downloads


def decode(data_or_path: bytes | Path) -> Decoded:
    """Open the mp4 and decode every frame; raises if any frame is broken."""
    path = data_or_path if isinstance(data_or_path, Path) else None
    data = path.read_bytes() if path is not None else data_or_path
    assert isinstance(data, bytes)
    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        codec = video.codec_context.name
        width, height = video.codec_context.width, video.codec_context.height
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
        duration = (container.duration or 0) / av.time_base
        frames, pix_fmt, last = 0, "", 0.0
        rate = float(video.average_rate or 24)
        for frame in container.decode(video=0):
            frames += 1
            pix_fmt = frame.format.name
            if frame.time is not None:
                last = max(last, frame.time + 1 / rate)
    return Decoded(
        codec=codec,
        pix_fmt=pix_fmt,
        width=width,
        height=height,
        frames=frames,
        duration=duration,
        last_frame_end=last,
        audio_codec=audio,
        moov_before_mdat=_moov_first(data),
    )


def top_level_boxes(data: bytes) -> list[str]:
    """The mp4's top-level box types in file order (ftyp, moov, mdat, ...)."""
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            (size,) = struct.unpack(">Q", data[offset + 8 : offset + 16])
        elif size == 0:
            size = len(data) - offset
        if size < 8:
            break
        boxes.append(kind.decode("latin-1"))
        offset += size
    return boxes


def _moov_first(data: bytes) -> bool:
    boxes = top_level_boxes(data)
    return "moov" in boxes and "mdat" in boxes and boxes.index("moov") < boxes.index("mdat")
