"""Fetches one pinned file over HTTP(S) into `<dest>.part`, resuming with a Range request, and moves it into place only
after its size and SHA-256 match the pin. It never runs unless a user asked for the pull; a failure keeps what was
fetched (except a file that fails its hash, which is deleted) and says so in one line.
"""

from __future__ import annotations

import http.client
import logging
import os
import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import DownloadError, ModelIntegrityError
from .integrity import Progress, sha256_file

log = logging.getLogger(__name__)
CHUNK = 1024 * 1024
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")
# A drop mid-stream is retried from where it stopped this many times before the command gives up (the part stays).
RETRIES = 3


@dataclass(frozen=True, slots=True)
class Pin:
    """What the downloaded bytes must be."""

    size_bytes: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Fetched:
    """What a download did: where the file is, and how many bytes were already there from an earlier try."""

    path: Path
    resumed_from: int
    downloaded: int


class _Dropped(Exception):
    """The connection ended before the bytes asked for came: resumable."""


class _RangeDone(Exception):
    """The server says there is nothing after the bytes we have (HTTP 416): the part is whole, or not this file."""


def _mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB"


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def check_disk(folder: Path, needed: int, free_bytes: Callable[[Path], int] | None = None) -> None:
    """Refuse before the first byte when the folder's disk cannot hold what is left to fetch."""
    free = (free_bytes or (lambda p: shutil.disk_usage(p).free))(folder)
    if free < needed:
        raise DownloadError(f"not enough disk space in {folder}: the download needs {_mb(needed)} more, "
                            f"{_mb(free)} is free")


def download(url: str, dest: Path, pin: Pin, progress: Progress | None = None, *, what: str = "downloading",
             timeout: float = 60.0, free_bytes: Callable[[Path], int] | None = None) -> Fetched:
    """Fetch `url` into `dest`, resuming `dest.part` if an earlier try left one; verify before the move."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    have = part.stat().st_size if part.exists() else 0
    if have > pin.size_bytes:  # not a prefix of the pinned file: start over
        part.unlink()
        have = 0
    resumed_from = have
    check_disk(dest.parent, pin.size_bytes - have, free_bytes)
    failures = 0
    while have < pin.size_bytes:
        try:
            have = _fetch_from(url, part, have, pin.size_bytes, progress, what, timeout)
        except _Dropped as exc:
            have = part.stat().st_size if part.exists() else 0
            failures += 1
            if failures > RETRIES:
                raise DownloadError(
                    f"download from {urlsplit(url).netloc} stopped at {_mb(have)} of {_mb(pin.size_bytes)} ({exc}); "
                    f"the partial file {part} is kept: run the same command to resume") from None
            log.info("connection dropped at %d bytes (%s); resuming", have, exc)
    _verify(part, pin, progress, what)
    os.replace(part, dest)
    return Fetched(dest, resumed_from, pin.size_bytes - resumed_from)


class NoDowngrade(urllib.request.HTTPRedirectHandler):
    """Follows the hub's redirects to its CDN (the Range header goes along) but never from https to plain http, where
    anyone on the path could swap the bytes (the hash would catch it, after a wasted download)."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> urllib.request.Request | None:
        if urlsplit(req.full_url).scheme == "https" and urlsplit(newurl).scheme != "https":
            raise DownloadError(f"{urlsplit(req.full_url).netloc} redirected the download to a non-https address "
                                f"({urlsplit(newurl).netloc}); refused")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(NoDowngrade())


def _open(url: str, start: int, timeout: float) -> http.client.HTTPResponse:
    headers = {"User-Agent": "edgemind-model-pull", "Accept-Encoding": "identity"}
    if start:
        headers["Range"] = f"bytes={start}-"
    host = urlsplit(url).netloc
    try:
        response: http.client.HTTPResponse = _OPENER.open(  # the caller allows http(s) only
            urllib.request.Request(url, headers=headers), timeout=timeout)
        return response
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and start:
            raise _RangeDone() from None
        if exc.code == 404:
            raise DownloadError(f"{host} has no such file (HTTP 404): {url}") from None
        if exc.code in (401, 403):
            raise DownloadError(f"{host} refused the download (HTTP {exc.code}; a gated model needs access on the "
                                f"hub first): {url}") from None
        raise DownloadError(f"{host} answered HTTP {exc.code} for {url}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"cannot reach {host}: {reason}") from None


def _fetch_from(url: str, part: Path, have: int, size: int, progress: Progress | None, what: str,
                timeout: float) -> int:
    """Append to `part` from byte `have`; return the new length. Raises _Dropped when the stream ends early."""
    try:
        response = _open(url, have, timeout)
    except _RangeDone:
        return size  # the hash check decides whether the part is the file
    with response:
        mode = "ab"
        if have and response.status == 200:  # the server ignored Range: the body starts at byte 0
            log.info("%s ignored the Range request; starting again from byte 0", urlsplit(url).netloc)
            have, mode = 0, "wb"
        elif response.status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != have:
                raise DownloadError(f"{urlsplit(url).netloc} answered a resume with the wrong byte range "
                                    f"({response.headers.get('Content-Range')!r}, asked for bytes {have}-)")
        with part.open(mode) as out:
            while have < size:
                try:
                    chunk = response.read(min(CHUNK, size - have))
                except (http.client.IncompleteRead, OSError) as exc:
                    raise _Dropped(exc.__class__.__name__) from None
                if not chunk:
                    raise _Dropped("the connection closed early")
                out.write(chunk)
                have += len(chunk)
                if progress:
                    progress(what, have, size)
            if response.read(1):  # more bytes than pinned: not the file we asked for
                out.close()
                part.unlink()
                raise DownloadError(f"{urlsplit(url).netloc} sent more than the {size:,} bytes pinned for {url}; "
                                    "the download was deleted")
    return have


def _verify(part: Path, pin: Pin, progress: Progress | None, what: str) -> None:
    size = part.stat().st_size
    if size == pin.size_bytes:
        actual = sha256_file(part, progress, f"verifying {what.removeprefix('downloading ')}")
        if actual == pin.sha256:
            return
        problem = f"its SHA-256 is {actual[:16]}…, the catalogue pins {pin.sha256[:16]}…"
    else:
        problem = f"it has {size:,} bytes, the catalogue pins {pin.size_bytes:,}"
    part.unlink()
    raise ModelIntegrityError(f"the downloaded file is not the pinned one ({problem}); it was deleted, nothing was "
                              "installed")
