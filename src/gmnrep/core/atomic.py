"""Write-then-rename, so a file under its final name is always complete.

A killed job leaves at most a hidden temporary next to the target, never a truncated
artifact that a later run would take for finished work.
"""

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it: put it straight back
    os.umask(mask)
    return mask


_UMASK = _umask()


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; rename it onto the target on success.

    On any exception the temporary is removed and the target is left untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # a writer killed by SIGKILL could not remove its temporary: the next writer of the target does
    for stale in target.parent.glob(f".{target.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp)
    # mkstemp makes the file private (0600); an artifact gets the mode open() would give it, so that
    # collaborators on a shared cluster file system can read what the user's umask lets them
    tmp.chmod(0o666 & ~_UMASK)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
