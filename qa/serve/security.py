"""Hardening at the edge: security headers, HEAD for every GET, JSON-only API bodies, slow bodies, tokens.

Each piece is a small ASGI middleware (they see every response, errors and static files included) or a
helper the routes call. The Content-Security-Policy allows no inline script or style on our pages; the
API docs page (Swagger UI, from fastapi-offline) has one inline script of its own, allowed by its hash.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import re

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import Unauthorized

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# The docs pages (Swagger UI / ReDoc) run one inline bootstrap script, allowed by its hash, and style
# themselves inline; they hold no user data.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)
WWW_AUTHENTICATE = 'Bearer realm="qa"'


def error_body(status: int, message: str) -> dict:
    """The one JSON error shape."""
    return {"ok": False, "status": status, "error": message}


async def send_error(send: Send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    """Answer with the one JSON error shape, straight from a middleware."""
    from fastapi.responses import JSONResponse

    response = JSONResponse(error_body(status, message), status_code=status, headers=headers)
    await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


# ------------------------------------------------------------------------------------- headers


class SecurityHeaders:
    """Add the security headers to every response (pages, API, static files and errors alike)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in DOCS_PATHS:
            await self._docs(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("content-security-policy", CSP)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The docs page is small: hold it, hash its inline scripts into the policy, then send it."""
        start: Message | None = None
        body = b""

        async def hold(message: Message) -> None:
            nonlocal start, body
            if message["type"] == "http.response.start":
                start = message
                return
            body += message.get("body", b"")
            if message.get("more_body") or start is None:
                return
            hashes = " ".join(
                f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'"
                for s in _INLINE_SCRIPT.findall(body)
            )
            headers = MutableHeaders(scope=start)
            headers["content-security-policy"] = DOCS_CSP.format(hashes=hashes)
            for name, value in HEADERS.items():
                headers.setdefault(name, value)
            await send(start)
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, hold)


# ---------------------------------------------------------------------------------------- HEAD


class HeadAsGet:
    """Answer ``HEAD`` wherever ``GET`` is answered: run the GET and send its status and headers only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if not message.get("more_body"):
                    await send({"type": "http.response.body", "body": b""})
                return
            await send(message)

        inner = dict(scope, method="GET")
        try:
            await self.app(inner, receive, headers_only)
        finally:
            if "route" in inner:  # which route answered, for the request log and metrics outside
                scope["route"] = inner["route"]


# ------------------------------------------------------------------------------------ API bodies


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def require_json(request: Request) -> None:  # async: FastAPI runs a sync dependency on a thread
    """A dependency of the JSON API routes: a request body must be JSON, else 415 naming what was sent.

    (FastAPI would try the bytes as the model and answer 422; routes that take uploads live on routers
    without this dependency.)
    """
    headers = request.headers
    has_body = headers.get("content-length", "0") not in ("", "0") or "transfer-encoding" in headers
    content_type = headers.get("content-type", "")
    if has_body and not _is_json(content_type):
        what = content_type.split(";", 1)[0].strip() or "no Content-Type"
        raise StarletteHTTPException(415, f"the request body must be JSON (Content-Type: application/json), "
                                          f"not {what}")


# ------------------------------------------------------------------------------- slow request bodies


class BodyTimeout:
    """Answer 408 when a request body stalls: each chunk must arrive within ``seconds``.

    Without it a client that sends half a body holds a worker (and a graceful shutdown) for as long as
    it keeps the connection open. Once the body is complete, ``receive`` is passed through untimed (it
    then only reports a disconnect).
    """

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        done = False

        async def timed_receive() -> Message:
            nonlocal done
            if done:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.seconds)
            except TimeoutError:
                raise BodyTimedOut(self.seconds) from None
            done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, timed_receive, send)


class BodyTimedOut(StarletteHTTPException):
    """A stalled body. An HTTPException, so FastAPI's body parsing passes it on (other errors there become
    a 400) and the app's handler answers it in the one error shape."""

    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"the request body did not arrive in time (no data for {seconds:g} s)",
                         headers={"Connection": "close"})


# ------------------------------------------------------------------------------------ header size


class HeaderLimit:
    """Answer 431 in the one error shape when the request headers exceed ``limit`` bytes in all."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = sum(len(k) + len(v) + 4 for k, v in scope.get("headers") or ())
            if size > self.limit:
                await send_error(send, 431, f"request headers too large ({size} bytes; at most {self.limit})",
                                 {"connection": "close"})
                return
        await self.app(scope, receive, send)


# ----------------------------------------------------------------------------------------- tokens


def check_bearer(authorization: str | None, token: str) -> None:
    """Accept ``Authorization: Bearer <token>`` (scheme in any case), compared in constant time.

    Raises:
        Unauthorized: missing, malformed or wrong (the 401 carries ``WWW-Authenticate``).
    """
    scheme, _, given = (authorization or "").strip().partition(" ")
    ok = scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
    if not ok:
        raise Unauthorized("admin token missing or wrong: send 'Authorization: Bearer <QA_ADMIN_TOKEN>'")


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def client_key(request: Request) -> str:
    """A stable, non-reversible key for the client (its address), for per-client limits."""
    host = request.client.host if request.client else "unknown"
    return hashlib.sha256(b"qa-client:" + host.encode()).hexdigest()[:16]
