"""Keeping a long-running server's memory from creeping up under many threads.

The server streams large uploads on worker threads (hashing, disk writes, the S3 SDK's part
uploads). glibc gives every thread that allocates under contention a malloc arena of its own, up
to eight per CPU, and memory freed into an arena is mostly kept by the process: with twenty bids
uploading at once, peak RSS grew by about 100 MB of such kept memory. Two arenas are enough for
a process whose threads mostly wait on I/O.

Large blocks (the S3 SDK's 6 MiB parts) are another way to keep memory: glibc serves the first
from a memory map of its own and unmaps it when freed, but then raises its threshold and serves
later ones from the heap, where a free block below a live one is kept. With twenty bids
completing to S3, peak RSS reached 244-299 MB over two or three benchmark rounds; with the
threshold fixed at 1 MiB, 239-240 MB, coming back to the same level between parts.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_ARENA_MAX = -8
"""``mallopt`` parameter number of ``M_ARENA_MAX`` in glibc's ``malloc.h``."""
M_MMAP_THRESHOLD = -3
"""``mallopt`` parameter number of ``M_MMAP_THRESHOLD`` (setting it also stops its adjustment)."""
LARGE_BLOCK = 1024 * 1024
"""Blocks from this size on get memory maps of their own, returned to the system when freed.
Request-body pieces (a few hundred KiB at most) stay below it: they are reused from the heap
without page faults."""


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas for this process; True if the cap was set.

    Does nothing where the C library is not glibc, or when ``MALLOC_ARENA_MAX`` is set in the
    environment (glibc then applied the operator's own choice at start-up).
    """
    return _mallopt("MALLOC_ARENA_MAX", M_ARENA_MAX, arenas)


def return_large_blocks(threshold: int = LARGE_BLOCK) -> bool:
    """Have glibc give blocks of ``threshold`` bytes and more back when freed; True if set.

    Does nothing where the C library is not glibc, or when ``MALLOC_MMAP_THRESHOLD_`` is set in
    the environment.
    """
    return _mallopt("MALLOC_MMAP_THRESHOLD_", M_MMAP_THRESHOLD, threshold)


def _mallopt(variable: str, parameter: int, value: int) -> bool:
    if os.environ.get(variable):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(parameter, value))
