"""The app icon: one SVG drawn for EdgeMind, rendered at every size a desktop asks for, written as a Windows .ico the
PyInstaller spec gives both programs, and set on the app's windows and tray."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from edgemind.app.icon import ICON_SIZES, IconError, app_icon, ico_bytes, render, svg_bytes

ROOT = Path(__file__).resolve().parents[2]


def _opaque_colours(image: QImage) -> set[int]:
    return {image.pixel(x, y) for x in range(0, image.width(), max(1, image.width() // 16))
            for y in range(0, image.height(), max(1, image.height() // 16)) if image.pixelColor(x, y).alpha() > 200}


@pytest.mark.parametrize("size", ICON_SIZES)
def test_each_size_is_drawn_with_transparent_corners_and_more_than_one_colour(qapp, size: int) -> None:
    image = render(size)
    assert (image.width(), image.height()) == (size, size)
    assert image.pixelColor(0, 0).alpha() == 0  # the rounded square leaves the corners clear
    assert image.pixelColor(size // 2, size // 2).alpha() == 255
    assert len(_opaque_colours(image)) >= 2  # the mark is on the square, not a flat tile


def test_the_ico_holds_every_size_as_a_png_that_qt_reads_back(qapp) -> None:
    data = ico_bytes()
    reserved, kind, count = struct.unpack_from("<HHH", data)
    assert (reserved, kind, count) == (0, 1, len(ICON_SIZES))
    for i, size in enumerate(ICON_SIZES):
        width, height, _c, _r, _planes, _bits, length, offset = struct.unpack_from("<BBBBHHII", data, 6 + 16 * i)
        assert width == height == (0 if size == 256 else size)
        image = QImage.fromData(data[offset:offset + length], "PNG")
        assert image.width() == size


def test_a_broken_svg_or_size_is_one_clear_error(qapp) -> None:
    with pytest.raises(IconError, match="not a valid SVG"):
        render(32, b"<svg")
    with pytest.raises(IconError, match="at least 1 pixel"):
        render(0)


def test_the_window_icon_has_every_size_and_the_svg_is_ours(qapp) -> None:
    assert {s.width() for s in app_icon().availableSizes()} >= set(ICON_SIZES)
    assert b"drawn for this project" in svg_bytes()  # our own art, not a third party's


def test_the_build_command_writes_the_ico_the_spec_gives_both_programs(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "edgemind.app.icon", str(tmp_path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "edgemind.ico").stat().st_size > 1000
    assert sorted(p.name for p in tmp_path.glob("edgemind-*.png")) == sorted(f"edgemind-{s}.png" for s in ICON_SIZES)
    spec = (ROOT / "installer" / "edgemind.spec").read_text(encoding="utf-8")
    assert '"edgemind.app.icon"' in spec and spec.count("icon=app_icon") == 2
