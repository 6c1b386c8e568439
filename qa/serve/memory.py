"""Handing freed heap memory back to the operating system (glibc only; a no-op elsewhere).

glibc keeps memory freed by the model's tensors mapped in its arenas. ``malloc_trim(0)`` returns the free
pages of every arena; with the model on its own few threads (see ``Service``), trimming every few seconds
lowered the server's steady resident size by ~60 MB under sustained load (``bench/load.py``; bench/README).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from functools import lru_cache


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.malloc_trim.restype = ctypes.c_int
    except (OSError, AttributeError):  # not glibc
        return None
    return libc


def trim() -> bool:
    """Return freed heap memory to the system; True when glibc released something."""
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


def trim_every(interval_s: float, stop: threading.Event) -> threading.Thread | None:
    """Trim every ``interval_s`` seconds in a daemon thread until ``stop`` is set (None when off)."""
    if interval_s <= 0 or _libc() is None:
        return None

    def loop() -> None:
        while not stop.wait(interval_s):
            trim()

    thread = threading.Thread(target=loop, name="qa-malloc-trim", daemon=True)
    thread.start()
    return thread
