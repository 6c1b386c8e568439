"""How many intra-op threads a question's encoding gets: every core when it is alone, one under load.

Measured (``bench.threads``, ``bench.latency``): on idle cores a question encodes fastest on all of them
(torch: ~1.4x faster with two threads than one), but when the cores are contended, by our own other
questions, by other worker processes or by anything else on the machine, a multi-threaded encode waits
for descheduled sibling threads and gets several times slower than one thread. So a question gets
``cpu_count`` threads when no other question is in the service's gate and the machine's CPU is not under
pressure (Linux PSI ``/proc/pressure/cpu``, "some" over the last 10 s, below ``PRESSURE_LIMIT``; the
1-minute load average where PSI is missing), and ``settings.query_threads`` otherwise.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

PRESSURE_FILE = Path("/proc/pressure/cpu")
PRESSURE_LIMIT = 10.0  # % of the last 10 s in which some runnable task waited for a CPU
_CHECK_EVERY_S = 1.0


def cpu_pressure() -> float | None:
    """The share (%) of the last 10 s in which some task waited for a CPU, or None where PSI is missing."""
    try:
        first = PRESSURE_FILE.read_text().split("\n", 1)[0]
    except OSError:
        return None
    for field in first.split():
        if field.startswith("avg10="):
            return float(field[6:])
    return None


class Contention:
    """Whether the machine's CPUs are contended, re-read at most once a second."""

    def __init__(self, cores: int, limit: float = PRESSURE_LIMIT) -> None:
        self.cores, self.limit = cores, limit
        self._at = 0.0
        self._busy = False
        self._lock = threading.Lock()

    def busy(self) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._at >= _CHECK_EVERY_S:
                pressure = cpu_pressure()
                if pressure is not None:
                    self._busy = pressure >= self.limit
                else:
                    self._busy = os.getloadavg()[0] > self.cores - 0.5
                self._at = now
            return self._busy


class LoadAwareEmbedder:
    """Wraps an embedder: each question batch is encoded with as many threads as the load allows.

    Every other attribute is the wrapped embedder's. Encodings are serialised here (the embedder
    serialises them anyway), so the thread count set for one call is the one it runs with.
    """

    def __init__(self, inner, *, alone: Callable[[], bool], idle_threads: int, busy_threads: int | None,
                 contention: Contention | None = None) -> None:
        self.inner = inner
        self._alone = alone
        self.idle_threads, self.busy_threads = idle_threads, busy_threads
        self.contention = contention or Contention(idle_threads)
        self._lock = threading.Lock()
        self.last_threads: int | None = None

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def threads_now(self) -> int | None:
        if self.idle_threads > (self.busy_threads or 0) and self._alone() and not self.contention.busy():
            return self.idle_threads
        return self.busy_threads

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            threads = self.threads_now()
            self.inner.query_threads = threads
            self.last_threads = threads
            return self.inner.embed_queries(texts)
