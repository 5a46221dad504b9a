"""Fetching a data file over HTTP(S) so that a cut-off download resumes and a wrong one is
never used, and unpacking a .tar.gz so that it cannot write outside its folder.

Both leave either the complete, checked result or nothing at the final path: a download
grows in `NAME.part` and is renamed only once its MD5 matches; an archive is unpacked into
a temporary folder beside the target and renamed only once every member came out.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path, PurePosixPath

from classicnets.errors import UsageError

CHUNK = 1 << 20  # bytes read from the network (and hashed) at a time
TIMEOUT = 60  # seconds without a byte before a download counts as dropped
USER_AGENT = "classicnets (data download)"


def mirror_url(url: str, mirror: str | None) -> str:
    """`url`, or the same file name under `mirror` (a base URL that keeps official names)."""
    if not mirror:
        return url
    return mirror.rstrip("/") + "/" + url.rsplit("/", 1)[-1]


def file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def check_md5(path: Path, md5: str) -> None:
    """UsageError unless the file at `path` has this MD5 (the official file's)."""
    got = file_md5(path)
    if got != md5:
        raise UsageError(
            f"{path}: md5 {got}, expected {md5}; delete it and retry with --download, "
            "or place the official file there"
        )


def download(url: str, dest: Path, md5: str, progress: bool) -> Path:
    """`dest`, fetched from `url` unless it is already there with the right MD5.

    The bytes go to `dest.part`; if that exists from an earlier, interrupted try, only the
    rest is asked for (an HTTP Range request) and appended. A dropped connection keeps the
    .part for the next try; a complete file with the wrong MD5 is deleted.
    """
    dest = Path(dest)
    if dest.is_file():
        check_md5(dest, md5)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        _fetch(url, part, progress)
    except urllib.error.HTTPError as error:
        if error.code != 416 or not part.is_file():  # 416: the .part already holds it all
            raise UsageError(
                f"download of {url} failed: HTTP {error.code} {error.reason}; check the "
                "address (or CLASSICNETS_DATA_MIRROR) and rerun"
            ) from None
    except (OSError, http.client.HTTPException) as error:  # URLError, timeouts, resets
        kept = part.stat().st_size if part.is_file() else 0
        raise UsageError(
            f"download of {url} stopped ({_reason(error)}); the partial file {part} "
            f"({kept} bytes) was kept: rerun to resume it"
        ) from None
    got = file_md5(part)
    if got != md5:
        part.unlink()
        raise UsageError(
            f"{dest.name} downloaded from {url} has md5 {got}, expected {md5}; it was "
            "deleted: retry with --download, or place the official file at "
            f"{dest}"
        )
    os.replace(part, dest)
    return dest


def _reason(error: BaseException) -> str:
    reason = getattr(error, "reason", None) or error
    return f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__


def _fetch(url: str, part: Path, progress: bool) -> None:
    """Write the resource at `url` into `part`, resuming after the bytes already there."""
    offset = part.stat().st_size if part.is_file() else 0
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        content_range = response.headers.get("Content-Range", "")
        if response.status != 206 or not content_range.startswith(f"bytes {offset}-"):
            offset = 0  # the server sends the whole file: start again
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else None
        received = offset
        bar = _progress_bar(part.name.removesuffix(".part"), total, offset, progress)
        try:
            with open(part, "ab" if offset else "wb") as f:
                while block := response.read(CHUNK):
                    f.write(block)
                    received += len(block)
                    if bar is not None:
                        bar.update(len(block))
        finally:
            if bar is not None:
                bar.close()
    # http.client returns b"" (no error) when a connection with a Content-Length closes
    # early, so a short body is caught here.
    if total is not None and received < total:
        raise ConnectionError(f"connection closed after {received} of {total} bytes")


def _progress_bar(name: str, total: int | None, initial: int, progress: bool):
    if not progress:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(
        total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024, desc=name
    )


def safe_extract_tar(archive: Path, target: Path) -> Path:
    """Unpack a .tar.gz whose members all sit in one top folder; that folder becomes `target`.

    Refused (UsageError, nothing left behind): absolute names, `..` components, links,
    devices, FIFOs, anything but regular files and folders, and members outside the one
    top folder. Only after every member is out is the folder renamed to `target`.
    """
    archive, target = Path(archive), Path(target)
    if target.exists():
        raise UsageError(f"{target} already exists; delete it to unpack {archive.name} again")
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        top = _extract_members(archive, scratch)
        os.replace(scratch / top, target)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise UsageError(
            f"archive {archive} is truncated or corrupt ({_reason(error)}); delete it and "
            "rerun with --download"
        ) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _extract_members(archive: Path, scratch: Path) -> str:
    """Write the archive's files under `scratch`, checking each member; the top folder."""
    tops: set[str] = set()
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:  # streamed: a member is checked before anything of it is written
            parts = _member_parts(archive, member)
            tops.add(parts[0])
            if len(tops) > 1 or (len(parts) == 1 and not member.isdir()):
                raise UsageError(
                    f"archive {archive}: member {member.name!r} lies outside its one top "
                    "folder; delete it and rerun with --download"
                )
            path = scratch.joinpath(*parts)
            if member.isdir():
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            with source, open(path, "xb") as f:
                shutil.copyfileobj(source, f, CHUNK)
    if not tops:
        raise UsageError(f"archive {archive} is empty; delete it and rerun with --download")
    return tops.pop()


def _member_parts(archive: Path, member: tarfile.TarInfo) -> tuple[str, ...]:
    """The member's path components, after refusing every kind that could escape."""
    name = PurePosixPath(member.name)
    parts = tuple(p for p in name.parts if p != ".")
    if member.issym() or member.islnk():
        problem = f"is a link to {member.linkname!r}"
    elif not (member.isfile() or member.isdir()):
        problem = "is not a regular file or folder (a device, FIFO or other special file)"
    elif name.is_absolute():
        problem = "has an absolute name"
    elif ".." in parts:
        problem = "has a '..' component"
    elif not parts:
        problem = "has an empty name"
    else:
        return parts
    raise UsageError(
        f"archive {archive}: refusing member {member.name!r}, which {problem}; "
        "delete the archive and rerun with --download"
    )
