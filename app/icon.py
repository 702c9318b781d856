"""EdgeMind's app icon: one SVG (resources/edgemind.svg, drawn for this project) rendered with QSvgRenderer at the
sizes a window, a tray and Windows' .ico want.

    python -m edgemind.app.icon OUT_FOLDER     writes edgemind-<size>.png and edgemind.ico there

The installer's PyInstaller spec runs that command for the .exe's icon= (no rendered image is committed: the SVG is
the one source, and a build re-renders it).
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
from importlib import resources
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
from PySide6.QtGui import QIcon, QImage, QImageWriter, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

SVG_NAME = "edgemind.svg"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)  # what Windows picks from for lists, the taskbar and Explorer's views


class IconError(ValueError):
    """The icon could not be rendered (a broken SVG, an unwritable folder): one line says which."""


def svg_bytes() -> bytes:
    return resources.files("edgemind.resources").joinpath(SVG_NAME).read_bytes()


def render(size: int, svg: bytes | None = None) -> QImage:
    """The icon as a size x size ARGB image, transparent around the rounded square."""
    if size < 1:
        raise IconError(f"icon size must be at least 1 pixel, not {size}")
    renderer = QSvgRenderer(QByteArray(svg if svg is not None else svg_bytes()))
    if not renderer.isValid():
        raise IconError(f"{SVG_NAME} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return image


def app_icon() -> QIcon:
    """The window's and the tray's icon: a pixmap per size, so small sizes are rendered, not scaled down."""
    icon = QIcon()
    svg = svg_bytes()
    for size in ICON_SIZES:
        icon.addPixmap(QPixmap.fromImage(render(size, svg)))
    return icon


def png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QImageWriter(buffer, QByteArray(b"PNG"))
    if not writer.write(image):
        raise IconError(f"cannot encode the icon as PNG: {writer.errorString()}")
    buffer.close()
    return bytes(data.data())


def ico_bytes(sizes: tuple[int, ...] = ICON_SIZES, svg: bytes | None = None) -> bytes:
    """A Windows .ico with one PNG-compressed image per size (Vista and later read PNG entries; no Qt plugin needed).

    Layout: ICONDIR (reserved 0, type 1, count), one 16-byte ICONDIRENTRY per image, then the PNG data."""
    if not sizes or any(not 1 <= s <= 256 for s in sizes):
        raise IconError(f"an .ico holds sizes 1..256, not {sizes}")
    images = [png_bytes(render(size, svg)) for size in sizes]
    offset = 6 + 16 * len(images)
    head = struct.pack("<HHH", 0, 1, len(images))
    entries = b""
    for size, data in zip(sizes, images, strict=True):
        side = 0 if size == 256 else size  # 0 means 256 in a byte-wide field
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(data), offset)
        offset += len(data)
    return head + entries + b"".join(images)


def write_icons(folder: Path) -> dict[str, Path]:
    """Write edgemind-<size>.png for each size and edgemind.ico into `folder`; returns them by name."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        written: dict[str, Path] = {}
        svg = svg_bytes()
        for size in ICON_SIZES:
            path = folder / f"edgemind-{size}.png"
            path.write_bytes(png_bytes(render(size, svg)))
            written[path.name] = path
        ico = folder / "edgemind.ico"
        ico.write_bytes(ico_bytes(svg=svg))
        written[ico.name] = ico
    except OSError as exc:
        raise IconError(f"cannot write the icons to {folder}: {exc.strerror or exc}") from None
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render EdgeMind's icon to PNG sizes and a Windows .ico")
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # a build machine may have no screen
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    try:
        written = write_icons(args.folder)
    except IconError as exc:
        print(f"edgemind icon: {exc}", file=sys.stderr)
        return 1
    print("\n".join(str(p) for p in written.values()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
