"""The FastAPI application, built from settings: ``create_app(settings, embedder=..., index=...)``."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from embeddings import Embedder, load_embedder

from .. import __version__
from ..errors import Overloaded, QAError, Unauthorized
from ..index.store import CorpusIndex
from ..search.answer import Result
from ..settings import Settings
from . import documents, feedback, metrics, pages, requestlog, security
from .api import router as api_router
from .service import Service

log = logging.getLogger("qa")


def error_body(status: int, message: str) -> dict:
    """The one JSON error shape."""
    return {"ok": False, "status": status, "error": message}


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
        if err.get("type") == "json_invalid":
            return "request body is not valid JSON"
        msg = err.get("msg", "invalid")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts) or "invalid request"


def _allowed_methods(request: Request) -> str:
    """The methods of every route whose path matches the request's (a path may have a route per method)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        regex, route_methods = getattr(route, "path_regex", None), getattr(route, "methods", None)
        if regex is not None and route_methods and regex.match(request.url.path):
            methods |= set(route_methods)
    return ", ".join(sorted(methods))


def wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api") and "text/html" in request.headers.get("accept", "")


class BodyLimit:
    """Reject request bodies over ``limit`` bytes with 413 before they are read whole."""

    def __init__(self, app: ASGIApp, limit: int, uploads: tuple[str, int] | None = None) -> None:
        self.app, self.default, self.uploads = app, limit, uploads  # uploads: (path prefix, its own limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.default
        if self.uploads and scope["method"] in ("POST", "PUT") and scope["path"].startswith(self.uploads[0]):
            limit = self.uploads[1]
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _send_json(send, 413, f"request body too large (at most {limit} bytes)")
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge(limit)
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _send_json(send, 413, f"request body too large (at most {limit} bytes)")


class _TooLarge(StarletteHTTPException):
    """A body over the limit, found while it is read (no Content-Length: chunked).

    An HTTPException, so FastAPI's body parsing passes it on (other errors there become a 400) and the
    app's handler answers it in the one error shape.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body too large (at most {limit} bytes)")


async def _send_json(send: Send, status: int, message: str) -> None:
    response = JSONResponse(error_body(status, message), status_code=status)
    await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


def create_app(
    settings: Settings | None = None,
    *,
    embedder: Embedder | None = None,
    index: CorpusIndex | None = None,
    watch: bool = True,
) -> FastAPI:
    """Build the app. Without ``embedder`` the model named by the settings is loaded at start-up.

    Args:
        settings: the service settings (defaults read ``QA_*`` from the environment).
        embedder: an already loaded model (tests share one).
        index: an already loaded index; otherwise ``settings.index_dir`` is loaded, and a missing or
            damaged index leaves the app running and answering 503 with how to rebuild.
        watch: poll for a rebuilt index and swap it in.
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service: Service = app.state.service
        service.start(watch=watch)
        yield
        service.stop()
        metrics.worker_exit()

    app = FastAPIOffline(
        title="qa: cited answers from Chinese documents",
        version=__version__,
        description="Retrieval-first question answering. Every error is `{ok: false, status, error}`.",
        lifespan=lifespan,
    )
    model = embedder or load_embedder(
        settings.model, cache_dir=settings.cache_dir, backend=settings.backend, query_threads=settings.query_threads
    )
    app.state.settings = settings
    app.state.service = service = Service(settings, model, index)
    _observe(service, settings)

    def render_error(request: Request, status: int, message: str, headers: dict | None = None):
        if wants_html(request):
            return pages.render_error(request, status, message, headers)
        return JSONResponse(error_body(status, message), status_code=status, headers=headers)

    @app.exception_handler(QAError)
    async def qa_error(request: Request, exc: QAError):
        headers = {}
        if isinstance(exc, Overloaded):
            metrics.SHED.inc()
        if getattr(exc, "retry_after", None):
            headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, Unauthorized):
            headers["WWW-Authenticate"] = security.WWW_AUTHENTICATE
        return render_error(request, exc.status, exc.message, headers or None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        messages = {404: "not found", 405: "method not allowed",
                    400: "request body is not valid JSON (send UTF-8 JSON)"}
        generic = ("Not Found", "Method Not Allowed", "There was an error parsing the body")
        message = exc.detail if isinstance(exc.detail, str) and exc.detail not in generic \
            else messages.get(exc.status_code, str(exc.detail))
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:  # every method of the path, not just those of the first route that matched it
            headers = {**(headers or {}), "Allow": _allowed_methods(request)}
        return render_error(request, exc.status_code, message, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        return render_error(request, 422, _validation_message(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s", request.url.path)
        return render_error(request, 500, "internal error; the server log has the details")

    app.include_router(documents.router)  # before api_router: GET /api/documents/{id} lives there
    app.include_router(documents.pages)
    app.include_router(api_router)
    app.include_router(metrics.router)
    app.include_router(feedback.router)
    pages.install(app, settings)
    favicon = settings.web_dir / "static" / "favicon.ico"

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon_ico() -> FileResponse:
        return FileResponse(favicon, media_type="image/x-icon", headers={"Cache-Control": "max-age=86400"})

    # middleware, innermost first (each add_middleware wraps the ones before it)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes,
                       uploads=("/api/documents", settings.max_upload_bytes))  # uploads have their own limit
    app.add_middleware(security.BodyTimeout, seconds=settings.body_timeout_s)
    app.add_middleware(security.HeadAsGet)
    if settings.cors_origin_list:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origin_list, allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type", "Authorization"])
    app.add_middleware(security.HeaderLimit, limit=settings.max_header_bytes)
    app.add_middleware(security.SecurityHeaders)
    app.add_middleware(requestlog.RequestObserver)
    return app


def _observe(service: Service, settings: Settings) -> None:
    """Feed the service's answers and reloads to the metrics and the request log."""

    def answered(result: Result, index: CorpusIndex, cached: bool) -> None:
        metrics.observe_answer(result.found, result.timings_ms, cached)
        requestlog.note_answer(result.question, result.found, result.timings_ms, cached, index.path.name,
                               log_questions=settings.log_questions)

    def reloaded(ok: bool) -> None:
        index = service.retriever.index if service.retriever is not None else None
        metrics.observe_index(ok, (len(index.documents), len(index.passages)) if index else None)

    service.on_answer.append(answered)
    service.on_reload.append(reloaded)
    reloaded(service.retriever is not None)
    metrics.set_build_info(service.embedder.name, settings.backend)
