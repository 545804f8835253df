"""Frames fixed to Kling's image rules with Pillow, in the worker process the bot uses."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from media.images import ImageFixer, ImageProblem, fix_image

LIMIT = 10 * 1000 * 1000


def write(path: Path, image: Image.Image, kind: str, **options: object) -> Path:
    image.save(path, kind, **options)
    return path


def noise(width: int, height: int) -> Image.Image:
    return Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))


def opened(path: Path) -> tuple[str, int, int]:
    with Image.open(path) as image:
        image.load()
        return image.format or "", image.width, image.height


@pytest.fixture
async def fixer() -> AsyncIterator[ImageFixer]:
    worker = ImageFixer()
    yield worker
    worker.close()


async def test_webp_becomes_png_in_the_worker(fixer: ImageFixer, tmp_path: Path) -> None:
    src = write(tmp_path / "in.webp", Image.new("RGBA", (800, 600), (10, 200, 30, 128)), "WEBP")
    fixed = await fixer.fix(src, tmp_path / "out", LIMIT)
    assert fixed.changed and fixed.content_type == "image/png"
    assert opened(fixed.path) == ("PNG", 800, 600)
    assert fixed.size == fixed.path.stat().st_size <= LIMIT


async def test_a_png_over_the_limit_is_scaled_down_keeping_its_shape(
    fixer: ImageFixer, tmp_path: Path
) -> None:
    src = write(tmp_path / "in.png", noise(1600, 1200), "PNG", compress_level=1)
    limit = 2 * 1000 * 1000
    assert src.stat().st_size > limit
    fixed = await fixer.fix(src, tmp_path / "out", limit)
    kind, width, height = opened(fixed.path)
    assert kind == "PNG" and fixed.size <= limit
    assert width < 1600 and min(width, height) >= 300
    assert width / height == pytest.approx(4 / 3, rel=0.01)


def test_a_large_jpeg_stays_jpeg_and_upright(tmp_path: Path) -> None:
    """A phone photo over the limit: scaled, still JPEG, turned as its EXIF says."""
    image = noise(1200, 900)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° to display
    src = write(tmp_path / "in.jpg", image, "JPEG", quality=100, exif=exif.tobytes())
    limit = src.stat().st_size // 2
    fixed = fix_image(src, tmp_path / "out", limit)
    kind, width, height = opened(fixed.path)
    assert kind == "JPEG" and fixed.size <= limit
    assert height > width  # portrait now, as the camera meant it


def test_a_frame_that_meets_the_rules_is_used_as_it_is(tmp_path: Path) -> None:
    src = write(tmp_path / "in.jpg", Image.new("RGB", (640, 480), "white"), "JPEG")
    fixed = fix_image(src, tmp_path / "out", LIMIT)
    assert not fixed.changed and fixed.path == src and fixed.content_type == "image/jpeg"


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: write(p, Image.new("RGB", (400, 400)), "GIF"), "not a PNG, JPEG or WebP"),
        (lambda p: write(p, Image.new("RGB", (299, 400)), "PNG"), "at least 300 px"),
        (lambda p: write(p, Image.new("RGB", (1000, 300)), "PNG"), "aspect ratio"),
        (lambda p: p.write_bytes(b"not an image at all") and p, "can't be read"),
    ],
)
def test_what_cannot_be_fixed_is_refused_with_a_reason(
    tmp_path: Path, make: object, words: str
) -> None:
    src = tmp_path / "in.bin"
    make(src)  # type: ignore[operator]
    with pytest.raises(ImageProblem, match=words):
        fix_image(src, tmp_path / "out", LIMIT)


def test_the_actual_bytes_decide_not_the_name(tmp_path: Path) -> None:
    """A WebP named .png is still converted (the bot reads the file, not its name)."""
    buffer = io.BytesIO()
    Image.new("RGB", (500, 500), "red").save(buffer, "WEBP")
    src = tmp_path / "looks.png"
    src.write_bytes(buffer.getvalue())
    fixed = fix_image(src, tmp_path / "out", LIMIT)
    assert fixed.changed and opened(fixed.path)[0] == "PNG"
