"""Keeping a long-running server's memory from creeping up under many threads.

The server streams large uploads on worker threads (hashing, disk writes, the S3 SDK's part
uploads). glibc gives every thread that allocates under contention a malloc arena of its own, up
to eight per CPU, and memory freed into an arena is mostly kept by the process: with twenty bids
uploading at once, peak RSS grew by about 100 MB of such kept memory. Two arenas are enough for
a process whose threads mostly wait on I/O.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_ARENA_MAX = -8
"""``mallopt`` parameter number of ``M_ARENA_MAX`` in glibc's ``malloc.h``."""


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas for this process; True if the cap was set.

    Does nothing where the C library is not glibc, or when ``MALLOC_ARENA_MAX`` is set in the
    environment (glibc then applied the operator's own choice at start-up).
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
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
    return bool(mallopt(M_ARENA_MAX, arenas))
