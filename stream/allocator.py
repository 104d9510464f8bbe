"""The C allocator's setting that decides how much memory the worker keeps after a peak.

glibc serves a request larger than its mmap threshold with a mapping of its own, given back
to the system when freed; smaller ones come from heaps that are returned only from their
top. By default the threshold rises (up to 32 MiB) each time such a mapping is freed, so
after the first checkpoint the worker's cold-store buffers, record values and dump pieces
land in the heaps, and the RSS stays at the highest mark of every fill and dump. A fixed
threshold keeps large buffers in mappings that come and go with them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

__all__ = ["MAX_MMAP_THRESHOLD", "fix_mmap_threshold"]

logger = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3
"""``mallopt``'s parameter number in glibc's ``malloc.h``."""
MAX_MMAP_THRESHOLD = 32 * 1024 * 1024
"""The largest threshold glibc accepts on 64-bit systems."""


def fix_mmap_threshold(size: int) -> bool:
    """Fix glibc's mmap threshold at ``size`` bytes; False where the C library is not glibc
    or refuses the value (the process then keeps its allocator's defaults)."""
    if not 0 < size <= MAX_MMAP_THRESHOLD:
        raise ValueError(f"an mmap threshold must be 1 B to 32 MiB, got {size}")
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # no C library to load, or one without mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    fixed = bool(mallopt(_M_MMAP_THRESHOLD, size))
    if not fixed:
        logger.warning("the C library refused an mmap threshold of %d bytes", size)
    return fixed
