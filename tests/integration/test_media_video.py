"""Fitting real H.264 clips under a limit with the FFmpeg of the imageio-ffmpeg wheel."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from media.video import VideoFitter, VideoInfo, ffmpeg_executable, plan_encode, probe
from tests.clips import decode, make_clip

LIMIT = 512 * 1024


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s of 480x270 with grain and sound, about 3 MB."""
    folder = tmp_path_factory.mktemp("clip")
    return make_clip(folder / "clip.mp4", seconds=3, width=480, height=270, noise=10, crf=16)


def size_of(path: Path) -> int:
    return path.stat().st_size


def names_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def ffmpeg_children() -> list[str]:
    me = os.getpid()
    children = Path(f"/proc/{me}/task/{me}/children").read_text().split()
    return [c for c in children if "ffmpeg" in Path(f"/proc/{c}/cmdline").read_text()]


def test_the_wheels_ffmpeg_encodes_h264_and_aac() -> None:
    """The pinned imageio-ffmpeg wheel brings an FFmpeg with libx264 and AAC (what the Docker
    image and a plain `pip install -r requirements.txt` get)."""
    encoders = subprocess.run(
        [ffmpeg_executable(), "-hide_banner", "-encoders"], capture_output=True, check=True
    ).stdout.decode()
    assert " libx264 " in encoders
    assert " aac " in encoders


async def test_a_clip_is_fitted_under_the_limit(clip: Path, tmp_path: Path) -> None:
    original = decode(clip)
    assert size_of(clip) > 4 * LIMIT
    fitted = await VideoFitter().fit(clip, LIMIT, tmp_path)
    assert fitted is not None
    assert fitted.size == size_of(fitted.path) <= LIMIT
    copy = decode(fitted.path)
    assert (copy.codec, copy.pix_fmt, copy.audio_codec) == ("h264", "yuv420p", "aac")
    assert copy.moov_before_mdat
    assert abs(copy.duration - original.duration) <= 0.2
    assert copy.frames >= original.frames - 1


async def test_a_first_try_that_misses_is_followed_by_a_smaller_one(
    clip: Path, tmp_path: Path
) -> None:
    """Aimed 40 % over the limit, the first encode misses; the second, aimed lower, fits."""
    fitted = await VideoFitter(first_margin=1.4).fit(clip, LIMIT, tmp_path)
    assert fitted is not None
    assert fitted.attempts == 2
    assert fitted.size <= LIMIT
    assert names_in(tmp_path) == ["fitted-2.mp4"]  # the miss is removed


async def test_no_copy_when_nothing_watchable_fits(clip: Path, tmp_path: Path) -> None:
    assert await VideoFitter().fit(clip, 4096, tmp_path) is None
    assert names_in(tmp_path) == []


async def test_an_encode_over_its_time_bound_is_stopped(clip: Path, tmp_path: Path) -> None:
    """Past the time bound the fitter gives up (the caller sends the link) and FFmpeg is not
    left running."""
    fitter = VideoFitter(attempt_timeout=0.01)
    await fitter.executable()  # found beforehand, so the bound applies to the encode itself
    assert await fitter.fit(clip, LIMIT, tmp_path) is None
    assert ffmpeg_children() == []


async def test_an_unreadable_file_gives_no_copy(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\0\0\0\x18ftypisom" + bytes(1000))
    assert await VideoFitter().fit(broken, LIMIT, tmp_path) is None


def test_the_plan_keeps_the_frame_shape_when_bits_are_scarce(clip: Path) -> None:
    info = probe(clip)
    assert (info.width, info.height, info.has_audio) == (480, 270, True)
    big = VideoInfo(duration=10, width=1920, height=1080, fps=30, has_audio=True)
    roomy = plan_encode(big, 50 * 1024 * 1024, 0.9)
    assert roomy is not None and (roomy.width, roomy.height) == (1920, 1080)
    tight = plan_encode(big, 2 * 1024 * 1024, 0.9)
    assert tight is not None
    assert tight.height < 1080 and tight.width % 2 == 0 and tight.height % 2 == 0
    assert tight.width / tight.height == pytest.approx(16 / 9, rel=0.01)
    assert tight.audio_bps == 96_000
    assert plan_encode(big, 20_000, 0.9) is None
