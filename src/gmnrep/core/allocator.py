"""Keep freed memory in the process for reuse instead of returning it to the OS.

glibc serves allocations above its mmap threshold (at most 32 MB) with fresh mmaps and unmaps them
on free, so the 64 MB edge tensors of a GMN step are page-faulted in again at every step: on
CPU that made a training step 1.65x slower (bench/gmn_throughput.py, performance notes). The same
effect as GLIBC_TUNABLES=glibc.malloc.mmap_threshold=...:glibc.malloc.trim_threshold=..., but
applied from inside a running process. The cost: peak memory stays reserved until the process ends.
"""

import ctypes
import ctypes.util

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def keep_freed_memory() -> bool:
    """Serve every allocation from the heap and never trim it; False where libc is not glibc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
