"""One writer at a time per index: an ``fcntl`` lock on ``DIR.lock`` beside the index.

Every write (``qa build``, ``qa add``, ``qa remove``, the API's uploads and deletions) holds the lock from
reading the current collection to swapping the link, so concurrent writers land one after the other and
none loses another's change. The kernel drops the lock when its holder dies, even by ``kill -9``, so a
crashed writer never blocks the next one. The holder writes its pid and what it is doing into the file;
a writer that gives up waiting names them.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from ..errors import WriteBusy

__all__ = ["WriteLock", "lock_path"]


def lock_path(index_dir: Path) -> Path:
    """``DIR.lock`` beside the index ``DIR``."""
    index_dir = Path(os.path.abspath(index_dir))
    return index_dir.parent / f"{index_dir.name}.lock"


class WriteLock:
    """``with WriteLock(index_dir, "qa add", wait_s=10):`` holds the index's write lock.

    Args:
        index_dir: the index path (the lock file sits beside it).
        what: what this writer does, shown to writers that find the lock taken.
        wait_s: how long to wait for another writer to finish before raising :class:`WriteBusy`.
    """

    def __init__(self, index_dir: Path, what: str, wait_s: float = 0.0) -> None:
        self.path = lock_path(index_dir)
        self.what = what
        self.wait_s = wait_s
        self._fd: int | None = None

    def holder(self) -> str:
        """``"pid 1234: qa build"`` of the current holder, as it wrote itself into the file."""
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            text = ""
        return text.splitlines()[0][:200] if text else "pid unknown"

    def acquire(self) -> WriteLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.wait_s
        delay = 0.05
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = self.holder()
                    os.close(fd)
                    raise WriteBusy(
                        f"another write to this index is running ({holder}); try again when it has finished"
                    ) from None
                time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                delay = min(0.5, delay * 2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}: {self.what}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> WriteLock:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
