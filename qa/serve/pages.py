"""The HTML pages: the chat (``/``, with a no-JavaScript form fallback) and the source view.

Everything shown is escaped by Jinja's autoescape (on for ``.html``); highlighting is done here, by
cutting the text at validated offsets, never by building markup from strings. The source view serves
documents from the loaded index only (no file system access), so an unknown or crafted id is a 404.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from ..errors import DocumentNotFound, QAError
from ..ingest.documents import Document
from ..search.answer import Result
from ..search.conversation import MAX_TURNS
from ..settings import Settings
from .service import Service
from .transcript import PastCitation, PastTurn, history, parse_turns, to_markdown

NOT_FOUND_TEXT = "文档中没有找到可靠的答案。"
_BREAK = re.compile(r"\r\n|\r|\n")  # the line breaks qa.ingest.documents counts lines by
_DIGITS = re.compile(r"[0-9]{1,12}")  # ASCII digits only; int() would also take "١" or " 7"

STATUS_TEXT = {
    400: "请求有误",
    401: "未授权",
    403: "禁止访问",
    404: "找不到页面",
    405: "不支持的请求方法",
    413: "请求内容过大",
    422: "请求参数无效",
    500: "服务器内部错误",
    503: "服务暂时不可用",
}

# The app's generic (English) messages, said in Chinese; specific messages are shown as they are.
GENERIC_MESSAGES = {
    "not found": "您访问的页面或文档不存在。",
    "method not allowed": "这个地址不支持该请求方法。",
    "internal error; the server log has the details": "服务器内部出错，详情请查看服务器日志。",
}

router = APIRouter(include_in_schema=False)


# ------------------------------------------------------------------------------------ view models


@dataclass
class Segment:
    """A piece of text and how it is highlighted: ``""``, ``"passage"`` or ``"answer"``."""

    text: str
    mark: str = ""


@dataclass
class PassageView:
    rank: int
    doc_id: str
    title: str
    source: str
    line_start: int
    line_end: int
    score: float
    text: str
    segments: list[Segment]
    href: str
    has_answer: bool
    page_start: int | None = None  # PDF pages of the passage
    page_end: int | None = None
    section: str | None = None  # heading path (Markdown, Word, web pages)
    id: str = ""

    @property
    def where(self) -> str:
        """第 2 页，第 35-41 行 (as the citation shows it)."""
        pages = ""
        if self.page_start:
            last = f"-{self.page_end}" if self.page_end and self.page_end != self.page_start else ""
            pages = f"第 {self.page_start}{last} 页，"
        last_line = f"-{self.line_end}" if self.line_end != self.line_start else ""
        return f"{pages}第 {self.line_start}{last_line} 行"


@dataclass
class Reply:
    question: str
    found: bool = False
    answer: str = ""
    answer_rank: int = 0
    passages: list[PassageView] = field(default_factory=list)
    took_ms: float = 0.0
    error: str = ""
    status: int = 200
    unknown_terms: list[str] = field(default_factory=list)
    understood_as: str = ""  # the standalone question searched, when it differs from the question

    def past(self) -> PastTurn:
        """This reply as an earlier turn of the conversation (what the next form carries)."""
        cited = [p for p in self.passages if p.rank == self.answer_rank] if self.found else []
        citations = [PastCitation(rank=p.rank, title=p.title[:300], source=p.source[:300], where=p.where,
                                  href=p.href) for p in cited + [p for p in self.passages if p not in cited]][:5]
        return PastTurn(question=self.question[:1000] or "?", understood_as=self.understood_as or None,
                        answer=self.answer or None, citations=citations)


def source_href(doc_id: str, start: int, end: int, line: int, answer: tuple[int, int] | None = None) -> str:
    """The source-view link of a cited span (and the answer sentence inside it), anchored at its first line."""
    params = {"start": start, "end": end}
    if answer is not None:
        params.update(astart=answer[0], aend=answer[1])
    return f"/documents/{doc_id}?{urlencode(params)}#L{line}"


def _split(text: str, needle: str) -> tuple[list[Segment], bool]:
    at = text.find(needle) if needle else -1
    if at < 0:
        return [Segment(text)], False
    parts = [Segment(text[:at]), Segment(needle, "answer"), Segment(text[at + len(needle):])]
    return [p for p in parts if p.text], True


def build_reply(result: Result) -> Reply:
    """The template's view of one answer: passages numbered, the answer sentence marked where it comes from."""
    answer = result.answer if result.found else None
    passages = []
    for rank, hit in enumerate(result.hits, start=1):
        p = hit.passage
        span = None
        segments, has_answer = [Segment(p.text)], False
        if answer is not None and answer.doc_id == p.doc_id and p.char_start <= answer.char_start < p.char_end:
            span = (answer.char_start, answer.char_end)
            segments, has_answer = _split(p.text, answer.display)
        passages.append(PassageView(
            rank=rank, doc_id=p.doc_id, title=p.title, source=p.source, line_start=p.line_start,
            line_end=p.line_end, score=hit.score, text=p.text, segments=segments,
            href=source_href(p.doc_id, p.char_start, p.char_end, p.line_start, span), has_answer=has_answer,
            page_start=p.page_start, page_end=p.page_end, section=p.section,
            id=p.id,
        ))
    return Reply(
        question=result.question, found=answer is not None, answer=answer.display if answer else "",
        answer_rank=answer.passage if answer else 0, passages=passages, took_ms=result.took_ms,
        unknown_terms=list(result.unknown_terms),
        understood_as=(result.understood.question
                       if result.understood and result.understood.question != result.question else ""),
    )


@dataclass
class Line:
    number: int
    segments: list[Segment]
    cited: bool
    page: int = 0  # the page that starts on this line (PDF), 0 for none


def _offset(value: str | None, length: int) -> int | None:
    """``value`` as an offset into a text of ``length`` characters, or None when it is not one."""
    if value is None or not _DIGITS.fullmatch(value):
        return None
    number = int(value)
    return number if number <= length else None


def _span(start: str | None, end: str | None, length: int) -> tuple[int, int] | None:
    s, e = _offset(start, length), _offset(end, length)
    return (s, e) if s is not None and e is not None and s < e else None


def document_lines(
    text: str, passage: tuple[int, int] | None, answer: tuple[int, int] | None, pages: list[int] | None = None
) -> list[Line]:
    """The text cut into numbered lines (as qa.ingest.documents numbers them), each cut again at the highlights;
    a line where a page starts (``pages``: offsets of page starts) carries that page's number."""
    starts = [0] + [m.end() for m in _BREAK.finditer(text)]
    page_of_line = {bisect.bisect_right(starts, offset): n for n, offset in enumerate(pages or [], start=1)}
    ends = [m.start() for m in _BREAK.finditer(text)] + [len(text)]
    cuts = sorted({x for span in (passage, answer) if span for x in span})
    lines = []
    for number, (ls, le) in enumerate(zip(starts, ends, strict=True), start=1):
        bounds = [ls] + [c for c in cuts if ls < c < le] + [le]
        pieces = zip(bounds, bounds[1:], strict=False)
        segments = [Segment(text[a:b], _mark(a, passage, answer)) for a, b in pieces if a < b]
        cited = any(span[0] <= le and ls < span[1] for span in (passage, answer) if span)
        lines.append(Line(number, segments, cited, page_of_line.get(number, 0)))
    return lines


def _mark(at: int, passage: tuple[int, int] | None, answer: tuple[int, int] | None) -> str:
    if answer and answer[0] <= at < answer[1]:
        return "answer"
    if passage and passage[0] <= at < passage[1]:
        return "passage"
    return ""


def _pages_of(pages: list[int], span: tuple[int, int] | None) -> tuple[int, int] | None:
    """The first and last page (1-based) of a cited span, for documents with pages."""
    if not pages or span is None:
        return None
    return bisect.bisect_right(pages, span[0]), bisect.bisect_right(pages, span[1] - 1)


def _line_of(text: str, offset: int) -> int:
    starts = [0] + [m.end() for m in _BREAK.finditer(text)]
    return bisect.bisect_right(starts, offset)


# ------------------------------------------------------------------------------------------ routes


def _templates(request: Request) -> Jinja2Templates:
    return request.app.state.templates


def _service(request: Request) -> Service:
    return request.app.state.service


SCOPE_LIST_MAX = 200  # documents offered as checkboxes on the chat page (beyond this, the API's filter)


def _scope_choices(request: Request) -> list[Document]:
    retriever = _service(request).retriever
    documents = list(retriever.index.documents.values()) if retriever is not None else []
    return documents[:SCOPE_LIST_MAX] if len(documents) > 1 else []


def _chat(request: Request, replies: list[Reply], status: int = 200, chosen: list[str] | None = None,
          past: list[PastTurn] | None = None) -> Response:
    settings: Settings = request.app.state.settings
    past = past or []
    carried = past + [r.past() for r in replies if not r.error]
    context = {"replies": replies, "top_k": settings.top_k, "not_found_text": NOT_FOUND_TEXT,
               "documents": _scope_choices(request), "chosen": set(chosen or []), "past": past,
               "turn_fields": [t.field() for t in carried[-MAX_TURNS:]]}
    return _templates(request).TemplateResponse(request, "index.html", context, status_code=status)


@router.get("/", response_class=HTMLResponse)
def chat_page(request: Request) -> Response:
    """The chat page (empty history)."""
    return _chat(request, [])


def _utf8_form_value(value: str) -> str:
    """A form value sent as raw UTF-8 bytes instead of percent-encoded (``curl -d`` does this) reaches us
    decoded as Latin-1; recover the text when its bytes are valid UTF-8, else keep it as it came."""
    if not any("\x80" <= c <= "\xff" for c in value):
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


@router.post("/", response_class=HTMLResponse)
def chat_form(
    request: Request, question: Annotated[str, Form()] = "", doc: Annotated[list[str] | None, Form()] = None,
    turn: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """The no-JavaScript path: the conversation so far (carried in hidden ``turn`` fields), this question and
    its reply; a follow-up is understood through the earlier turns; checked ``doc`` boxes restrict the question
    to those documents."""
    settings: Settings = request.app.state.settings
    question = _utf8_form_value(question)
    past = parse_turns([_utf8_form_value(t) for t in turn or []])
    chosen = [_utf8_form_value(d) for d in doc or [] if d]
    try:
        service = _service(request)
        known = service.current().index.documents
        scope = [d for d in chosen if d in known]
        if chosen and not scope:
            raise DocumentNotFound("所选文档都不在索引中，请重新选择。")
        reply = build_reply(service.ask(question, settings.top_k, doc_ids=scope or None, history=history(past)))
    except QAError as exc:
        reply = Reply(question=question, error=exc.message, status=exc.status)
    return _chat(request, [reply], status=reply.status, chosen=chosen, past=past)


@router.post("/conversation.md")
def export_conversation(request: Request, turn: Annotated[list[str] | None, Form()] = None) -> Response:
    """The conversation carried in ``turn`` fields, as a Markdown file with its citations."""
    turns = parse_turns([_utf8_form_value(t) for t in turn or []])
    base = str(request.base_url).rstrip("/")
    return Response(to_markdown(turns, base), media_type="text/markdown; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="conversation.md"'})


@router.get("/documents/{doc_id}", response_class=HTMLResponse)
def document_page(
    request: Request, doc_id: str, start: str | None = None, end: str | None = None,
    astart: str | None = None, aend: str | None = None,
) -> Response:
    """One source document with line numbers; ``start``/``end`` (passage) and ``astart``/``aend`` (answer)
    are highlighted when they are offsets inside the text, and ignored otherwise."""
    doc: Document | None = _service(request).current().index.documents.get(doc_id)
    if doc is None:
        raise DocumentNotFound("文档不存在：索引中没有这个文档编号。")
    passage = _span(start, end, len(doc.text))
    answer = _span(astart, aend, len(doc.text))
    focus = answer or passage
    context = {
        "doc": doc,
        "lines": document_lines(doc.text, passage, answer, list(doc.pages)),
        "pages": len(doc.pages),
        "cited_pages": _pages_of(doc.pages, passage),
        "passage": passage,
        "answer": answer,
        "cited": (_line_of(doc.text, passage[0]), _line_of(doc.text, passage[1] - 1)) if passage else None,
        "focus_line": _line_of(doc.text, focus[0]) if focus else None,
    }
    return _templates(request).TemplateResponse(request, "document.html", context)


# --------------------------------------------------------------------------------------- install


def install(app: FastAPI, settings: Settings) -> None:
    """Mount ``/static`` and the page routes on ``app``."""
    templates = Jinja2Templates(directory=settings.web_dir / "templates")
    templates.env.trim_blocks = templates.env.lstrip_blocks = True
    app.state.templates = templates
    app.mount("/static", StaticFiles(directory=settings.web_dir / "static"), name="static")
    app.include_router(router)


def render_error(request: Request, status: int, message: str, headers: dict | None = None) -> Response:
    """The HTML error page (the app calls this for requests outside /api that accept text/html)."""
    templates: Jinja2Templates | None = getattr(request.app.state, "templates", None)
    title = STATUS_TEXT.get(status, "出错了")
    message = GENERIC_MESSAGES.get(message, message)
    if templates is None:  # pages not installed: still answer, plainly
        return HTMLResponse(f"<!doctype html><title>{status}</title><p>{status}", status_code=status, headers=headers)
    context = {"status": status, "title": title, "message": message}
    return templates.TemplateResponse(request, "error.html", context, status_code=status, headers=headers)
