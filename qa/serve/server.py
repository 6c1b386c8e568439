"""The serving process: the listening socket, uvicorn, worker processes and the errors before any of it.

``qa serve`` checks what a user can fix first (the port, the port being free, the index directory),
binds the socket, and only then starts uvicorn, which loads the model in each worker. With
``workers > 1`` uvicorn's supervisor starts that many processes on the one socket; each builds its own
app from the ``QA_*`` environment (:func:`app_from_env`), memory-maps the same index files and polls for
rebuilds itself. SIGTERM stops accepting, lets requests in flight finish for up to
``shutdown_timeout_s``, then exits; a stalled request body is cut off after ``body_timeout_s``.
"""

from __future__ import annotations

import errno
import http
import json
import os
import socket
import sys
import tempfile
from pathlib import Path

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..errors import QAError
from ..settings import Settings
from .security import error_body, is_loopback


class ServeError(QAError):
    """Something a user can fix before the server starts (port, address, index directory)."""

    status = 400


def check_port(port: int) -> None:
    if not 0 <= port <= 65535:
        raise ServeError(f"port {port} is out of range: use 1-65535 (0 picks a free port)")


def check_index_dir(index_dir: Path) -> None:
    """Refuse an index path that cannot be one (a file, an unreadable folder); a missing one is fine: the
    server then answers 503 until `qa build` makes it."""
    path = index_dir.resolve() if index_dir.is_symlink() else index_dir
    if path.exists() and not path.is_dir():
        raise ServeError(f"--index {index_dir} is a file, not an index directory; point it at a folder "
                         f"`qa build --index` made")
    if path.is_dir() and not os.access(path, os.R_OK | os.X_OK):
        raise ServeError(f"cannot read the index directory {index_dir} (permission denied)")


def exposure_warning(host: str, admin_token: str | None) -> str | None:
    """The warning for a bind beyond this machine, or None on loopback."""
    if is_loopback(host):
        return None
    warning = (f"WARNING: serving on {host}: every machine that can reach this one can use the page and the API "
               f"(no login).")
    if not admin_token:
        warning += " Admin endpoints stay refused (403) until QA_ADMIN_TOKEN is set."
    return warning


def bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket now, so a busy or forbidden port fails before the model loads."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and without it
    # every keep-alive reply (headers, then body) waited ~40 ms for the client's delayed ACK (Nagle)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(f"port {port} on {host} is already in use (another server?); stop it or choose "
                             f"another with --port (make run PORT=...)") from None
        if exc.errno == errno.EACCES:
            raise ServeError(f"no permission to listen on port {port} (ports below 1024 need root); "
                             f"use --port 8000") from None
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) or isinstance(exc, socket.gaierror):
            raise ServeError(f"cannot listen on {host}: not an address of this machine; "
                             f"use --host 127.0.0.1") from None
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


# ------------------------------------------------------------------------- the HTTP protocol


def _error_reply(status: int, message: str, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """A whole HTTP/1.1 response in the one JSON error shape, closing the connection."""
    body = json.dumps(error_body(status, message)).encode()
    head = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n".encode()]
    head += [name + b": " + value + b"\r\n" for name, value in default_headers]
    head += [b"content-type: application/json\r\n", b"content-length: %d\r\n" % len(body),
             b"connection: close\r\n\r\n"]
    return b"".join(head) + body


class JsonErrorsHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (llhttp, in C: less Python per request than h11, which served before
    2026-12-07), keeping what the h11 subclass did: a request it cannot parse gets 400 in the one JSON error
    shape, and a request head that has not ended within ``h11_max_incomplete_event_size`` bytes gets 431 (llhttp
    has no such limit; h11 had). Request heads that did end, however large, reach the app, whose
    ``HeaderLimit`` answers 431 as before."""

    def __init__(self, config, server_state, app_state, _loop=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(config, server_state, app_state, _loop)
        self.head_limit = config.h11_max_incomplete_event_size or 16 * 1024
        self.head_bytes = 0  # bytes received while the current request head is unfinished
        self.head_done = False
        self.message_done = False

    def data_received(self, data: bytes) -> None:
        self.message_done = False
        counted = not self.head_done
        super().data_received(data)
        if self.transport.is_closing() or self.head_done:
            return
        # a chunk that also ended the previous request is not counted: which of its bytes begin the next head is
        # unknown, and counting them all could refuse a good pipelined request (the next chunks count)
        if counted and not self.message_done:
            self.head_bytes += len(data)
        if self.head_bytes > self.head_limit:
            self.logger.warning("Request headers too large.")
            self._reply(431, f"request headers too large (at most {self.head_limit} bytes)")

    def on_headers_complete(self) -> None:
        self.head_done = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.head_done, self.head_bytes, self.message_done = False, 0, True

    def send_400_response(self, msg: str) -> None:
        self._reply(400, "invalid HTTP request (it could not be parsed)")

    def _reply(self, status: int, message: str) -> None:
        if self.cycle is None or self.cycle.response_complete:  # no response under way: answer, then close
            self.transport.write(_error_reply(status, message, self.server_state.default_headers))
        self.transport.close()


# ------------------------------------------------------------------------------ running


def app_from_env():  # noqa: ANN201 - the factory uvicorn calls in each worker
    """Build the app from the ``QA_*`` environment (what ``qa serve`` set), in a worker process."""
    from embeddings import ModelLoadError

    from . import requestlog
    from .app import create_app

    requestlog.configure(sys.stderr)
    _thread_lock_for_tqdm()
    try:
        return create_app(Settings())
    except (QAError, ModelLoadError) as exc:
        message = getattr(exc, "message", None) or str(exc)
        print(f"Error: {message.strip().splitlines()[0]}", file=sys.stderr, flush=True)
        raise SystemExit(3) from None  # uvicorn's STARTUP_FAILURE: the supervisor does not restart it


def _thread_lock_for_tqdm() -> None:
    """tqdm (imported by the model libraries) otherwise makes a multiprocessing lock, a POSIX semaphore
    that a worker stopped by SIGTERM leaves behind, and the parent then warns about a leaked semaphore."""
    import threading

    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())


def run(settings: Settings, sock: socket.socket) -> None:
    """Serve on ``sock`` with ``settings.workers`` processes until SIGTERM/SIGINT."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    from . import metrics

    multiproc_dir = None
    if settings.workers > 1 and not os.environ.get(metrics.MULTIPROC_ENV):
        multiproc_dir = tempfile.TemporaryDirectory(prefix="qa-metrics-")
        os.environ[metrics.MULTIPROC_ENV] = multiproc_dir.name
    config = uvicorn.Config(
        "qa.serve.server:app_from_env", factory=True, workers=settings.workers, http=JsonErrorsHttpToolsProtocol,
        log_level="warning", access_log=False, lifespan="on", server_header=False,
        timeout_graceful_shutdown=max(1, round(settings.shutdown_timeout_s)), timeout_keep_alive=5,
        h11_max_incomplete_event_size=settings.max_header_bytes + 1024,
    )
    try:
        if settings.workers > 1:
            supervisor = Multiprocess(config, sockets=[sock])
            supervisor.run()
            if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes):
                raise SystemExit(1)  # the worker printed why
        else:
            try:
                uvicorn.Server(config).run(sockets=[sock])
            except SystemExit as exc:
                raise SystemExit(1 if exc.code else 0) from None
    finally:
        sock.close()
        if multiproc_dir is not None:
            multiproc_dir.cleanup()
