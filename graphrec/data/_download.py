"""Fetch dataset files over HTTPS with checksum checks and atomic writes.

Used by ``graphrec.datasets.load(..., download=True)``; never called in tests (they
run without network). Files are streamed to a temporary file in the target folder,
hashed on the way, checked, then moved into place with :func:`os.replace`, so an
interrupted download never leaves a partial file under the final name.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import urllib.request
import zipfile
from pathlib import Path

__all__ = ["download_file", "fetch_dataset"]

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20


def download_file(url: str, dest: Path, sha256: str | None = None, *, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` atomically, verifying ``sha256`` when given.

    Raises
    ------
    OSError
        Network or file-system failure (``urllib.error.URLError`` is an OSError).
    ValueError
        The checksum does not match (nothing is written under ``dest``).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    logger.info("downloading %s -> %s", url, dest)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            while chunk := resp.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
        got = digest.hexdigest()
        if sha256 is not None and got != sha256.lower():
            raise ValueError(
                f"checksum mismatch for {url}: expected sha256 {sha256}, got {got}. The "
                f"upstream file may have changed; check it and place it in {dest.parent} by hand."
            )
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return dest


def _md5_of(path: Path) -> str:
    digest = hashlib.md5()  # GroupLens publishes md5 sums only
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch_zip(zip_url: str, folder: Path) -> None:
    """Download a GroupLens zip, check it against the published ``.md5``, extract it."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    archive = download_file(zip_url, folder.parent / Path(zip_url).name)
    try:
        # GroupLens publishes "<zip>.md5"; no sha256 is known, so this is the check we have.
        with urllib.request.urlopen(zip_url + ".md5", timeout=60) as resp:
            expected = resp.read().decode().split()[0].lower()
    except OSError:
        expected = None
        logger.warning("could not fetch %s.md5; archive not verified", zip_url)
    if expected is not None and _md5_of(archive) != expected:
        archive.unlink()
        raise ValueError(f"md5 mismatch for {zip_url}; archive removed")
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as zf:
        for member in zf.infolist():
            name = Path(member.filename).name  # flatten "ml-latest-small/x.csv"; no path traversal
            if member.is_dir() or not name:
                continue
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
            with os.fdopen(fd, "wb") as out, zf.open(member) as src:
                while chunk := src.read(_CHUNK):
                    out.write(chunk)
            os.replace(tmp, folder / name)
    archive.unlink()


def fetch_dataset(
    folder: Path, urls: dict[str, str], sha256: dict[str, str], zip_url: str | None = None
) -> Path:
    """Download every missing file of a dataset into ``folder``; return ``folder``."""
    folder = Path(folder)
    if zip_url is not None:
        _fetch_zip(zip_url, folder)
    for name, url in urls.items():
        if not (folder / name).is_file():
            download_file(url, folder / name, sha256.get(name))
    return folder
