"""One GPU per job on one machine: how many GPUs this machine shows, and which of them a job takes.

SLURM gives each job its own GPU; a local run must not put two jobs on one device either. The
workflow lets a local run start at most as many GPU jobs at once as there are GPUs (`gpu_count`,
read without loading CUDA), and each job takes the first GPU that no other process of this user
holds (`claim`), keeping it until it exits: an advisory lock (flock) per physical device, which
the kernel releases when the process ends however it ends, so a killed job never leaves a GPU
taken. Torch-free: the Snakefile asks it too.
"""

import fcntl
import os
import sys
import tempfile
import time
from pathlib import Path

LOCK_DIR = Path(tempfile.gettempdir()) / f"gmnrep-gpus-{os.getuid()}"
NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")
_held: dict[str, object] = {}  # identity -> the open lock file that holds it, for the process's life


def gpu_count(environ=os.environ, driver_dir: Path = NVIDIA_GPUS) -> int:
    """GPUs a job of this machine could use: those CUDA_VISIBLE_DEVICES lists if set, else those
    the NVIDIA driver shows (0 without one)."""
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        count = 0
        for entry in visible.split(","):
            if not entry.strip() or entry.strip().startswith("-"):
                break  # CUDA ignores every entry from the first invalid one on ("-1": no GPU)
            count += 1
        return count
    return len(list(driver_dir.iterdir())) if driver_dir.is_dir() else 0


def claim(identities: list[str], lock_dir: Path = LOCK_DIR, poll_seconds: float = 5.0) -> int:
    """The index, in `identities` (one per visible device, stable across processes: its UUID), of
    a device this process now holds: one it already held, else the first no other process holds.
    Waits, saying so once, while every one is held."""
    for index, identity in enumerate(identities):
        if identity in _held:
            return index
    lock_dir.mkdir(parents=True, exist_ok=True)
    waiting_since = None
    while True:
        for index, identity in enumerate(identities):
            handle = open(lock_dir / f"{''.join(c if c.isalnum() else '-' for c in identity)}.lock", "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            _held[identity] = handle
            if waiting_since is not None:
                print(f"GPU {index} free after {time.monotonic() - waiting_since:.0f} s", file=sys.stderr)
            return index
        if waiting_since is None:
            waiting_since = time.monotonic()
            print(
                f"all {len(identities)} GPUs are held by other jobs of this machine ({lock_dir}); waiting for one",
                file=sys.stderr,
            )
        time.sleep(poll_seconds)


def release_all() -> None:
    """Give back every device this process holds (a process's exit does it too)."""
    for handle in _held.values():
        handle.close()
    _held.clear()
