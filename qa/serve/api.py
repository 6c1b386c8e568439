"""JSON API: ask, documents, health, and the admin reload."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response

from .. import __version__
from ..errors import AdminDisabled
from .schemas import AskFilter, AskRequest, AskResponse, EntityOut, ErrorOut, HealthOut
from .security import check_bearer, require_json
from .service import Service

ERRORS = {status: {"model": ErrorOut} for status in (400, 401, 403, 404, 408, 413, 415, 422, 431, 503)}


async def get_service(request: Request) -> Service:  # async: FastAPI runs a sync dependency on a thread
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]
# every route here takes JSON bodies only (415 otherwise); upload routes live on routers of their own
router = APIRouter(prefix="/api", tags=["api"], dependencies=[Depends(require_json)])


@router.post("/ask", response_model=AskResponse, responses=ERRORS, summary="Ask a question")
async def ask(body: AskRequest, service: ServiceDep) -> Response:
    """Return the passages that answer the question, each cited, and the answer sentence when one is reliable."""
    scope = body.filter or AskFilter()
    result = await service.ask_async(body.question, body.top_k, doc_ids=scope.doc_ids, source=scope.source,
                                     history=body.turns())
    # serialised once by pydantic (the model was built from our own Result: FastAPI's second validation and
    # its jsonable_encoder pass would only repeat it)
    return Response(AskResponse.from_result(result).model_dump_json(), media_type="application/json")


@router.get("/entities", response_model=list[EntityOut], responses=ERRORS, summary="What the documents are about")
def entities(service: ServiceDep, kind: str | None = None, limit: int = 200) -> list[EntityOut]:
    """The entities of the index (organisations with their aliases, people, places, units), the documents that
    mention each and the ones mainly about each; the main subjects first. ``kind`` filters, ``limit`` caps."""
    table = service.current().entities
    chosen = [e for e in table.entities if kind is None or e.kind == kind][: max(0, min(limit, 5000))]
    return [EntityOut(**e.summary()) for e in chosen]


@router.get("/health", response_model=HealthOut, summary="Model and index status")
def health(service: ServiceDep) -> HealthOut:
    """Version, model, dimension, document and passage counts and the index build time; ``ok`` false, with
    the reason in ``error``, without an index or when the one served has gone from disk or cannot be read."""
    retriever = service.retriever
    if retriever is None:
        return HealthOut(
            ok=False, version=__version__, model=service.embedder.name, dim=service.embedder.dim, documents=0,
            passages=0, built_at=None, index=str(service.index_dir),
            error=service.error.message if service.error else None,
        )
    index = retriever.index
    problem = service.index_problem()
    return HealthOut(
        ok=problem is None, version=__version__, model=index.manifest.get("model"), dim=index.manifest.get("dim"),
        documents=len(index.documents), passages=len(index.passages), built_at=index.built_at, index=str(index.path),
        error=problem,
    )


def require_admin(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    token = request.app.state.service.settings.admin_token
    if not token:
        raise AdminDisabled("admin endpoints are off; set QA_ADMIN_TOKEN to enable them")
    check_bearer(authorization, token)


@router.post("/admin/reload", response_model=HealthOut, responses=ERRORS, dependencies=[Depends(require_admin)],
             summary="Reload the index now (admin)")
def reload(service: ServiceDep) -> HealthOut:
    """Load the index directory again (a rebuilt index is also picked up by itself within seconds)."""
    service.reload()
    if service.retriever is None and service.error is not None:
        raise service.error
    return health(service)
