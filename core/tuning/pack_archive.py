"""A personalization pack's zip archive, read defensively: every member is checked (name, type, size) from the
central directory before any byte is extracted, and sizes are capped again while extracting.

It must never write outside the folder it is given, follow a link, or trust a size a header declares.
"""

from __future__ import annotations

import hashlib
import re
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import PackError

# A rank-8 adapter for a 0.5B model is ~9 MB and one for a 7B model ~40 MB: the caps leave room for larger ranks and
# several adapters while keeping a hostile archive from filling the disk or memory.
MAX_MEMBERS = 64
MAX_MEMBER_BYTES = 512 * 1024 * 1024
MAX_TOTAL_BYTES = 1024 * 1024 * 1024
MAX_SMALL_BYTES = 1024 * 1024  # the manifest and signature are read into memory
_CHUNK = 1024 * 1024
# Forward slashes only, portable characters only: no drive letters, backslashes, colons or control characters.
_NAME_RE = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+){0,3}$")
_ZIP_UNIX = 3
_DOS_DIRECTORY = 0x10


@dataclass(frozen=True, slots=True)
class Member:
    """One checked archive member: its name and the size its central directory declares."""

    name: str
    size: int


def open_archive(path: Path) -> zipfile.ZipFile:
    """The pack's zip file, or PackError naming why it cannot be one (missing, truncated, not a zip)."""
    try:
        if not path.is_file():
            raise PackError(f"{path} is not a file")
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise PackError(f"{path.name} is not a pack: a damaged or truncated archive") from None
    except OSError as exc:
        raise PackError(f"cannot read {path}: {exc.strerror or exc}") from None


def check_members(archive: zipfile.ZipFile) -> dict[str, Member]:
    """Every member by name, after refusing anything a pack never holds: unsafe or duplicate names, links, devices,
    folders, encrypted or unusually compressed members, and sizes beyond the caps."""
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise PackError(f"pack refused: {len(infos)} archive members (a pack holds at most {MAX_MEMBERS})")
    members: dict[str, Member] = {}
    folded: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        _check_type(info)
        _check_name(name)
        if name.casefold() in folded:  # two members that would be one file on a case-insensitive disk count too
            raise PackError(f"pack refused: member {name!r} appears twice in the archive")
        folded.add(name.casefold())
        if info.file_size > MAX_MEMBER_BYTES:
            raise PackError(f"pack refused: member {name!r} declares {info.file_size:,} bytes "
                            f"(cap {MAX_MEMBER_BYTES:,}; a zip bomb or not a pack)")
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise PackError(f"pack refused: members declare more than {MAX_TOTAL_BYTES:,} bytes in all (cap)")
        members[name] = Member(name, info.file_size)
    return members


def _check_name(name: str) -> None:
    parts = name.split("/")
    if not _NAME_RE.match(name) or any(part in (".", "..") for part in parts):
        shown = name.encode("unicode_escape").decode("ascii")[:80]
        raise PackError(f"pack refused: unsafe member name {shown!r} (absolute, parent-relative or odd characters)")


def _check_type(info: zipfile.ZipInfo) -> None:
    mode = info.external_attr >> 16
    if info.is_dir() or (info.create_system != _ZIP_UNIX and info.external_attr & _DOS_DIRECTORY):
        raise PackError(f"pack refused: member {info.filename!r} is a folder entry")
    # no file type bits is how zip writers (Python's writestr among them) mark a plain file
    if info.create_system == _ZIP_UNIX and stat.S_IFMT(mode) and not stat.S_ISREG(mode):
        what = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file (device, pipe or socket)"
        raise PackError(f"pack refused: member {info.filename!r} is {what}")
    if info.flag_bits & 0x1:
        raise PackError(f"pack refused: member {info.filename!r} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise PackError(f"pack refused: member {info.filename!r} uses compression method {info.compress_type} "
                        "(packs use stored or deflate)")


def read_small(archive: zipfile.ZipFile, member: Member) -> bytes:
    """A small member (manifest, signature) into memory, capped at MAX_SMALL_BYTES whatever its header says."""
    if member.size > MAX_SMALL_BYTES:
        raise PackError(f"pack refused: {member.name} declares {member.size:,} bytes (cap {MAX_SMALL_BYTES:,})")
    return b"".join(_chunks(archive, member, MAX_SMALL_BYTES))


def extract(archive: zipfile.ZipFile, member: Member, dest: Path, limit: int) -> str:
    """Stream one member into `dest` (a new file; never through a link), counting bytes against `limit`; returns its
    SHA-256."""
    digest = hashlib.sha256()
    try:
        with dest.open("xb") as out:
            for chunk in _chunks(archive, member, limit):
                digest.update(chunk)
                out.write(chunk)
    except OSError as exc:
        raise PackError(f"cannot extract {member.name}: {exc.strerror or exc}") from None
    return digest.hexdigest()


def _chunks(archive: zipfile.ZipFile, member: Member, limit: int) -> Iterator[bytes]:
    """The member's bytes; a member that inflates past its declared size or `limit`, or fails its CRC, is refused."""
    seen = 0
    try:
        with archive.open(member.name) as source:
            while chunk := source.read(_CHUNK):
                seen += len(chunk)
                if seen > member.size or seen > limit:
                    raise PackError(f"pack refused: {member.name} inflates past its declared size (zip bomb)")
                yield chunk
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise PackError(f"pack refused: {member.name} is damaged ({exc})") from None
    except OSError as exc:
        raise PackError(f"cannot read {member.name} from the pack: {exc.strerror or exc}") from None
    if seen != member.size:
        raise PackError(f"pack refused: {member.name} holds {seen:,} bytes, its header says {member.size:,} (damaged)")


def write_archive(out: Path, small: dict[str, bytes], files: dict[str, Path]) -> None:
    """Write a pack: `small` members deflated from memory, `files` stored as they are (adapter weights barely
    compress). Written beside `out` and renamed, so a stopped export leaves no half pack under its name."""
    tmp = out.with_name(f".{out.name}.partial")
    try:
        with zipfile.ZipFile(tmp, "w") as archive:
            for name, data in small.items():
                archive.writestr(_regular(name, zipfile.ZIP_DEFLATED), data)
            for name, path in files.items():
                with path.open("rb") as source, archive.open(_regular(name, zipfile.ZIP_STORED), "w") as target:
                    while chunk := source.read(_CHUNK):
                        target.write(chunk)
        tmp.replace(out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise PackError(f"cannot write {out}: {exc.strerror or exc}") from None


def _regular(name: str, compression: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # no clock in the archive: the manifest dates it
    info.create_system = _ZIP_UNIX
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    info.compress_type = compression
    return info
