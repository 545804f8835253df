"""Results over the upload limit: re-encoded to fit (a real H.264 clip, a real FFmpeg), with
the original's link; the link alone when no copy can fit; commands answered meanwhile."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clips import decode, make_clip

from .scenario import MakeScenario, Scenario

SMALL_LIMIT = 1024 * 1024


@pytest.fixture(scope="module")
def large_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """6 s of 640x360 with grain and sound: about 16 MB, far over a 1 MiB limit."""
    path = tmp_path_factory.mktemp("clips") / "large.mp4"
    return make_clip(path, seconds=6, width=640, height=360, noise=10, crf=16).read_bytes()


async def _with_large_result(make_scenario: MakeScenario, clip: bytes, tmp: Path) -> Scenario:
    s = await make_scenario(TMPDIR=str(tmp))
    s.kling.set_video(clip)
    s.discord.set_upload_limit(s.guild, SMALL_LIMIT)
    return s


async def _no_leftovers(s: Scenario, tmp: Path) -> None:
    """The bot's temporary files are removed once the result is posted."""
    await s.discord.wait_for(
        lambda: not list(tmp.glob("klingbot-*")), timeout=10, message="temporary files removed"
    )


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for thread in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{thread}/children") as children:
                found += [int(c) for c in children.read().split()]
    return found


def ffmpeg_children(pid: int) -> list[int]:
    """The bot's FFmpeg processes encoding H.264 (the re-encodes under way)."""
    running = []
    for child in _children(pid):
        with contextlib.suppress(OSError), open(f"/proc/{child}/cmdline", "rb") as cmdline:
            args = cmdline.read().split(b"\0")
            if b"ffmpeg" in args[0] and b"libx264" in args:
                running.append(child)
    return running


@contextlib.contextmanager
def paused(pid: int) -> Iterator[None]:
    """Hold a process still (SIGSTOP) for the block, then let it go on (SIGCONT)."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


async def test_large_video_is_reencoded_to_fit_the_limit(
    make_scenario: MakeScenario, large_clip: bytes, tmp_path: Path
) -> None:
    """A result over the server's upload limit arrives as a playable H.264 mp4 within the
    limit, as long as the original, with the original's link and a note that it expires; no
    temporary file is left behind."""
    s = await _with_large_result(make_scenario, large_clip, tmp_path)
    inter = await s.video(prompt="a kite over the dunes")
    result = await s.result(inter)

    assert len(result.attachments) == 1
    upload = result.attachments[0]
    assert upload.filename.endswith(".mp4")
    assert len(upload.data) <= SMALL_LIMIT
    original, fitted = decode(large_clip), decode(upload.data)
    assert fitted.codec == "h264"
    assert fitted.pix_fmt == "yuv420p"
    assert fitted.moov_before_mdat  # +faststart
    assert fitted.frames >= original.frames - 1  # every frame decodes
    assert abs(fitted.duration - original.duration) <= 0.2
    assert abs(fitted.last_frame_end - original.last_frame_end) <= 0.2
    assert fitted.width / fitted.height == pytest.approx(original.width / original.height, 0.01)
    assert fitted.audio_codec == "aac"
    assert s.kling.base_url in result.content  # the original's link
    assert "expires" in result.content
    assert f"<@{s.member.user.id}>" in result.content
    assert not s.discord.calls(method="POST", status=413)
    await _no_leftovers(s, tmp_path)  # the download and the copies are removed


async def test_commands_are_answered_while_a_video_is_reencoded(
    make_scenario: MakeScenario, large_clip: bytes, tmp_path: Path
) -> None:
    """/video from another member is answered in time while FFmpeg is still re-encoding, and
    the re-encoded video still arrives afterwards."""
    s = await _with_large_result(make_scenario, large_clip, tmp_path)
    bob = s.discord.add_member(s.guild, "bob")
    first = await s.video(prompt="a slow river in autumn")
    assert s.bot.pid is not None
    (encoder,) = await s.discord.wait_for(
        lambda: ffmpeg_children(s.bot.pid or 0), timeout=30, interval=0.01, message="FFmpeg"
    )
    with paused(encoder):  # the re-encode is surely still under way while bob asks
        second = await s.video(member=bob, prompt="a city at night from above")
        assert second.response_type == 4 and not second.late
        assert second.original is not None and "a city at night" in second.original.text
        assert encoder in ffmpeg_children(s.bot.pid)
    result = await s.result(first)
    assert len(result.attachments) == 1
    assert len(result.attachments[0].data) <= SMALL_LIMIT


async def test_a_video_that_cannot_fit_comes_as_the_link(
    make_scenario: MakeScenario, large_clip: bytes, tmp_path: Path
) -> None:
    """When no watchable copy fits the limit, the member gets the link and the expiry note,
    and nothing is uploaded that Discord would refuse."""
    s = await make_scenario(TMPDIR=str(tmp_path))
    s.kling.set_video(large_clip)
    s.discord.set_upload_limit(s.guild, 4096)
    inter = await s.video(prompt="a kite over the dunes")
    result = await s.result(inter)
    assert not result.attachments
    assert s.kling.base_url in result.content
    assert "expires" in result.content
    assert not s.discord.calls(method="POST", status=413)
    await _no_leftovers(s, tmp_path)


async def test_temporary_folders_left_by_a_killed_bot_are_removed_at_start(
    make_scenario: MakeScenario, tmp_path: Path
) -> None:
    """A SIGKILL mid-download leaves its temporary folder; the next start removes old ones
    (not recent ones: another bot process on the machine may be using them)."""
    old, recent = tmp_path / "klingbot-media-old", tmp_path / "klingbot-media-recent"
    for folder in (old, recent):
        folder.mkdir()
        (folder / "original.mp4").write_bytes(b"\0" * 1024)
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    s = await make_scenario(TMPDIR=str(tmp_path))
    await s.bot.wait_for_log("removed 1 temporary media folders")
    assert not old.exists()
    assert recent.exists()
