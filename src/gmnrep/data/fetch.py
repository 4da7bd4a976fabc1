"""Get a dataset's raw files into resources/raw/{dataset}/: verified local copies first,
downloads from the canonical mirrors only when no local copy exists.

Every file is verified by the md5 of its decompressed content before it is given its
final name, so a truncated or foreign file never looks like a finished download.
"""

import gzip
import hashlib
import shutil
import tarfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path

from tqdm import tqdm

from gmnrep.core.atomic import atomic_path
from gmnrep.core.errors import DataError
from gmnrep.data.sources import RawFile

_CHUNK = 1 << 20
_CORRUPT = (EOFError, OSError, tarfile.TarError, zlib.error)


def _md5_of_stream(stream) -> str:
    digest = hashlib.md5()
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def content_md5s(path: Path, raw: RawFile) -> dict[str, str]:
    """md5 of each decompressed member of `path` that `raw` names (gzip file or tar.gz archive)."""
    try:
        if raw.name.endswith(".tar.gz"):
            found = {}
            with tarfile.open(path, "r:gz") as archive:
                for member in archive:
                    if member.name in raw.content_md5 and member.isfile():
                        found[member.name] = _md5_of_stream(archive.extractfile(member))
            return found
        (member,) = raw.content_md5
        with gzip.open(path, "rb") as stream:
            return {member: _md5_of_stream(stream)}
    except _CORRUPT as exc:
        raise DataError(f"{path}: cannot be decompressed ({exc}); the file is truncated or not a {raw.name}") from None


def verify(path: Path, raw: RawFile) -> None:
    """Raise DataError naming `path` unless every member's decompressed md5 is the expected one."""
    found = content_md5s(path, raw)
    for member, expected in raw.content_md5.items():
        if member not in found:
            raise DataError(f"{path}: member {member} is missing; the archive is incomplete or not {raw.name}")
        if found[member] != expected:
            raise DataError(
                f"{path}: md5 of decompressed {member} is {found[member]}, expected {expected}; "
                f"the file is corrupt or not the official {raw.name}"
            )


def _download(url: str, target: Path, raw: RawFile, timeout: float) -> None:
    with atomic_path(target) as tmp:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=target.name) as bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    bar.update(len(chunk))
        verify(tmp, raw)


def _copy_verified(candidate: Path, target: Path, raw: RawFile) -> None:
    verify(candidate, raw)
    with atomic_path(target) as tmp:
        shutil.copyfile(candidate, tmp)


def fetch_file(
    raw: RawFile,
    target: Path,
    search_dirs: tuple[Path, ...],
    urls: tuple[str, ...] | None = None,
    timeout: float = 60.0,
) -> str:
    """Place a verified copy of `raw` at `target`; return where it came from.

    Order: `target` itself, then `search_dirs`, then each URL (default: the canonical mirrors).
    """
    target = Path(target)
    if target.exists():
        verify(target, raw)
        return str(target)
    for directory in search_dirs:
        candidate = Path(directory) / raw.name
        if candidate.is_file():
            _copy_verified(candidate, target, raw)
            return str(candidate)
    failures = []
    for url in urls or raw.urls:
        try:
            _download(url, target, raw, timeout)
            return url
        except (urllib.error.URLError, OSError, DataError) as exc:
            failures.append(f"  {url}: {getattr(exc, 'reason', exc)}")
    expected = ", ".join(f"{m} {md5}" for m, md5 in raw.content_md5.items())
    raise DataError(
        f"{target}: no local copy and every download failed:\n"
        + "\n".join(failures)
        + f"\nLooked for local copies in: {', '.join(str(d) for d in search_dirs) or '(none)'}."
        + f"\nPut the official {raw.name} at {target} (decompressed md5: {expected}) and run again."
    )
