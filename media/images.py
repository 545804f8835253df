"""Frames fixed to Kling's image rules (gateway-notes.md): PNG or JPEG, at most 10 MB, both sides
at least 300 px, aspect between 1:2.5 and 2.5:1.

A WebP frame becomes a PNG; a PNG or JPEG over the byte limit is scaled down (same shape) until
it fits; a frame that already meets the rules is used as it is. Pillow works in a worker
process (decoding a 50 MB image is CPU and memory the bot's event loop must not pay for), one
frame at a time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import multiprocessing
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

MIN_SIDE = 300
MAX_ASPECT = 2.5
MAX_PIXELS = 120_000_000  # about 11000 x 11000: more is refused rather than decoded
SHRINK_STEP = 0.92  # aim a little under the limit each time
MAX_STEPS = 12
JPEG_QUALITY = 90
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


class ImageProblem(Exception):
    """The file is not an image the bot can make fit Kling's rules; `str()` says why, for a
    member."""


@dataclass(frozen=True, slots=True)
class FixedImage:
    path: Path
    content_type: str  # image/png or image/jpeg
    width: int
    height: int
    size: int
    changed: bool  # converted or scaled (False: the file as it came)


def fix_image(src: Path, dst_stem: Path, max_bytes: int) -> FixedImage:
    """Make `src` meet Kling's rules; writes `dst_stem` + .png/.jpg (unless `src` is fine as
    it is). Raises ImageProblem. Blocking: run it in `ImageFixer`'s worker."""
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(src) as opened:
            kind = opened.format or ""
            if kind not in FORMATS:
                raise ImageProblem(f"is a {kind or 'unknown'} file, not a PNG, JPEG or WebP image")
            width, height = opened.size
            _check_shape(width, height)
            size = src.stat().st_size
            if kind in ("PNG", "JPEG") and size <= max_bytes:
                return FixedImage(src, FORMATS[kind], width, height, size, changed=False)
            opened.seek(0)  # an animated WebP: its first frame
            image = ImageOps.exif_transpose(opened) if kind == "JPEG" else opened.copy()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        raise ImageProblem(f"can't be read as an image ({exc.__class__.__name__})") from exc
    out_kind = "JPEG" if kind == "JPEG" else "PNG"
    if out_kind == "PNG" and image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        image = image.convert("RGBA")
    if out_kind == "JPEG" and image.mode not in ("RGB", "L", "CMYK"):
        image = image.convert("RGB")
    dst = dst_stem.with_suffix(".png" if out_kind == "PNG" else ".jpg")
    return _save_within(image, dst, out_kind, max_bytes)


def _save_within(image: Image.Image, dst: Path, kind: str, max_bytes: int) -> FixedImage:
    """Save; while over `max_bytes`, scale down by the square root of the overshoot."""
    current = image
    for _ in range(MAX_STEPS):
        _save(current, dst, kind)
        size = dst.stat().st_size
        if size <= max_bytes:
            width, height = current.size
            return FixedImage(dst, FORMATS[kind], width, height, size, changed=True)
        factor = math.sqrt(max_bytes / size) * SHRINK_STEP
        width = round(current.width * factor)
        height = round(current.height * factor)
        if min(width, height) < MIN_SIDE:
            break
        current = image.resize((width, height), Image.Resampling.LANCZOS)
    raise ImageProblem(
        f"can't be made smaller than {max_bytes // 1_000_000} MB while keeping both sides at "
        f"least {MIN_SIDE} px"
    )


def _save(image: Image.Image, dst: Path, kind: str) -> None:
    if kind == "JPEG":
        image.save(dst, "JPEG", quality=JPEG_QUALITY, optimize=True)
    else:
        image.save(dst, "PNG", compress_level=6)


def _check_shape(width: int, height: int) -> None:
    if min(width, height) < MIN_SIDE:
        raise ImageProblem(f"is {width}x{height} px; both sides must be at least {MIN_SIDE} px")
    if not 1 / MAX_ASPECT <= width / height <= MAX_ASPECT:
        raise ImageProblem(
            f"is {width}x{height} px; its aspect ratio must be between 1:2.5 and 2.5:1"
        )


class ImageFixer:
    """Runs `fix_image` in one worker process (started on first use, renewed after a crash)."""

    def __init__(self, *, max_tasks_per_worker: int = 50) -> None:
        self._max_tasks = max_tasks_per_worker
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    async def fix(self, src: Path, dst_stem: Path, max_bytes: int) -> FixedImage:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor(), fix_image, src, dst_stem, max_bytes)
        except concurrent.futures.process.BrokenProcessPool as exc:
            self._pool = None  # the worker died (out of memory?): a new one next time
            raise ImageProblem("couldn't be processed (the image is too large to decode)") from exc

    def _executor(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                max_tasks_per_child=self._max_tasks,
            )
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
