"""Feedback on answers: a vote (up/down) and an optional comment, stored in SQLite beside the index.

``POST /api/feedback`` (JSON) and ``POST /feedback`` (the page's no-JavaScript form) store one row each.
No token is needed; each client (a hash of its address, never the address) may send
``feedback_per_minute`` votes a minute, counted in the database itself so that every worker process
sees the same count, and the table keeps the newest ``feedback_max_rows`` rows. ``qa feedback export``
turns the votes into ``seed_qa.jsonl`` items, so real questions grow the evaluation set.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ..errors import QAError
from ..index.store import CorpusIndex
from ..settings import Settings
from . import metrics
from .api import get_service
from .schemas import ErrorOut
from .security import client_key, require_json
from .service import Service, validate_question

MAX_COMMENT_CHARS = 1000
MAX_ANSWER_CHARS = 2000
SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    client TEXT NOT NULL,
    question TEXT NOT NULL,
    vote TEXT NOT NULL CHECK (vote IN ('up', 'down')),
    comment TEXT NOT NULL DEFAULT '',
    answer TEXT NOT NULL DEFAULT '',
    passage_id TEXT,
    doc_id TEXT,
    source TEXT,
    passage_text TEXT,
    index_build TEXT
);
CREATE INDEX IF NOT EXISTS feedback_client_ts ON feedback (client, ts);
"""


class FeedbackError(QAError):
    """The feedback store cannot be used (its folder is not writable, the file is damaged)."""

    status = 503


class TooMuchFeedback(QAError):
    """A client sent more feedback than the per-minute limit."""

    status = 429

    def __init__(self, message: str, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnknownPassage(QAError):
    status = 404


def feedback_path(settings: Settings) -> Path:
    """Where feedback is stored: ``QA_FEEDBACK_DB``, or ``<index>.feedback.sqlite3`` beside the index
    (outside its build folders, so a rebuild keeps it)."""
    if settings.feedback_db is not None:
        return settings.feedback_db
    index_dir = settings.index_dir
    return index_dir.parent / f"{index_dir.name}.feedback.sqlite3"


@dataclass
class Vote:
    """One vote, with the passage it was about as the index had it."""

    question: str
    vote: str
    comment: str = ""
    answer: str = ""
    passage_id: str | None = None
    doc_id: str | None = None
    source: str | None = None
    passage_text: str | None = None
    index_build: str | None = None


class FeedbackStore:
    """The SQLite file of votes (created on first use)."""

    def __init__(self, path: Path, *, max_rows: int = 10_000, per_minute: int = 10) -> None:
        self.path, self.max_rows, self.per_minute = Path(path), max_rows, per_minute

    @contextmanager
    def _connect(self, *, create: bool) -> Iterator[sqlite3.Connection]:
        if not create and not self.path.exists():
            raise FeedbackError(f"no feedback stored yet ({self.path} does not exist)")
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=5, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise FeedbackError(f"cannot open the feedback store {self.path}: {exc}") from exc
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            yield db
        except sqlite3.Error as exc:
            raise FeedbackError(f"the feedback store {self.path} failed: {exc}") from exc
        finally:
            db.close()

    def add(self, vote: Vote, client: str, now: float | None = None) -> int:
        """Store one vote and return its id; raise :class:`TooMuchFeedback` past the client's limit."""
        now = time.time() if now is None else now
        with self._connect(create=True) as db:
            db.execute("BEGIN IMMEDIATE")  # count, insert and trim as one step, across worker processes
            try:
                (recent,) = db.execute("SELECT COUNT(*) FROM feedback WHERE client = ? AND ts > ?",
                                       (client, now - 60)).fetchone()
                if recent >= self.per_minute:
                    raise TooMuchFeedback(f"too much feedback from this client (at most {self.per_minute} a "
                                          "minute); try again in a minute")
                cursor = db.execute(
                    "INSERT INTO feedback (ts, client, question, vote, comment, answer, passage_id, doc_id, source,"
                    " passage_text, index_build) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (now, client, vote.question, vote.vote, vote.comment, vote.answer, vote.passage_id,
                     vote.doc_id, vote.source, vote.passage_text, vote.index_build),
                )
                db.execute("DELETE FROM feedback WHERE id <= (SELECT MAX(id) FROM feedback) - ?", (self.max_rows,))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return int(cursor.lastrowid or 0)

    def rows(self) -> list[dict[str, Any]]:
        """Every stored vote, oldest first."""
        with self._connect(create=False) as db:
            return [dict(r) for r in db.execute("SELECT * FROM feedback ORDER BY id")]


# ----------------------------------------------------------------------------------- from the index


_passage_maps: dict[int, dict[str, Any]] = {}


def _passages_by_id(index: CorpusIndex) -> dict[str, Any]:
    key = id(index)
    found = _passage_maps.get(key)
    if found is None:
        _passage_maps.clear()  # one index is served at a time: keep the map of the current one only
        found = _passage_maps[key] = {p.id: p for p in index.passages}
    return found


def resolve(index: CorpusIndex, passage_id: str | None, doc_id: str | None, char_start: int | None) -> Any:
    """The passage a vote is about: by id, or by the document and offset its citation link carries."""
    if passage_id:
        passage = _passages_by_id(index).get(passage_id)
        if passage is None:
            raise UnknownPassage(f"no passage {passage_id!r} in the index (it may have been rebuilt); ask again")
        return passage
    if doc_id is not None and char_start is not None:
        for passage in index.passages:
            if passage.doc_id == doc_id and passage.char_start <= char_start < passage.char_end:
                return passage
        raise UnknownPassage(f"no passage of {doc_id!r} at offset {char_start} in the index; ask again")
    return None


def make_vote(service: Service, question: str, vote: str, comment: str, answer: str | None,
              passage_id: str | None, doc_id: str | None = None, char_start: int | None = None) -> Vote:
    """Validate a vote and attach the passage it is about (as the served index has it)."""
    question = validate_question(question)
    retriever = service.current()
    passage = resolve(retriever.index, passage_id, doc_id, char_start)
    answer = (answer or "").strip()
    if passage is not None and answer and "".join(answer.split()) not in "".join(passage.text.split()):
        answer = ""  # only a sentence of the cited passage can become evidence
    return Vote(
        question=question, vote=vote, comment=comment.strip(), answer=answer,
        passage_id=passage.id if passage else None, doc_id=passage.doc_id if passage else None,
        source=passage.source if passage else None, passage_text=passage.text if passage else None,
        index_build=retriever.index.path.name,
    )


def store_for(request: Request) -> FeedbackStore:
    settings: Settings = request.app.state.settings
    return FeedbackStore(feedback_path(settings), max_rows=settings.feedback_max_rows,
                         per_minute=settings.feedback_per_minute)


# ----------------------------------------------------------------------------------------- routes


class FeedbackIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"question": "荆州二医在封城期间接诊了多少发热患者？",
                                         "passage_id": "000_769629a9341062f1#3", "vote": "up"}]},
    )

    question: str = Field(..., description="The question the reply answered (1-1000 characters).",
                          json_schema_extra={"minLength": 1, "maxLength": 1000})
    passage_id: str | None = Field(None, max_length=300,
                                   description="The passage voted on (the answer's, or the first cited); "
                                               "null for a 'not found' reply.")
    doc_id: str | None = Field(None, max_length=300, description="Instead of passage_id: the cited document…")
    char_start: int | None = Field(None, ge=0, description="… and the start offset of the cited passage.")
    vote: Literal["up", "down"]
    comment: str = Field("", max_length=MAX_COMMENT_CHARS, description="Optional: what was wrong or missing.")
    answer: str | None = Field(None, max_length=MAX_ANSWER_CHARS,
                               description="Optional: the answer sentence shown (kept when it is in the passage).")


class FeedbackOut(BaseModel):
    ok: bool = True
    id: int


router = APIRouter(tags=["api"])
ServiceDep = Annotated[Service, Depends(get_service)]
ERRORS = {status: {"model": ErrorOut} for status in (400, 404, 408, 413, 415, 422, 429, 503)}


def _save(request: Request, vote: Vote) -> int:
    feedback_id = store_for(request).add(vote, client_key(request))
    metrics.FEEDBACK.labels(vote=vote.vote).inc()
    return feedback_id


@router.post("/api/feedback", response_model=FeedbackOut, status_code=201, dependencies=[Depends(require_json)],
             responses=ERRORS, summary="Vote on a reply")
def api_feedback(body: FeedbackIn, request: Request, service: ServiceDep) -> FeedbackOut:
    """Store a 👍/👎 (and an optional comment) on a reply; no token needed, a few per minute per client."""
    vote = make_vote(service, body.question, body.vote, body.comment, body.answer, body.passage_id, body.doc_id,
                     body.char_start)
    return FeedbackOut(id=_save(request, vote))


@router.post("/feedback", response_class=HTMLResponse, include_in_schema=False)
def page_feedback(
    request: Request, service: ServiceDep,
    question: Annotated[str, Form(max_length=4000)] = "",
    vote: Annotated[str, Form(max_length=10)] = "",
    comment: Annotated[str, Form(max_length=MAX_COMMENT_CHARS)] = "",
    passage_id: Annotated[str, Form(max_length=300)] = "",
    answer: Annotated[str, Form(max_length=MAX_ANSWER_CHARS)] = "",
) -> Response:
    """The no-JavaScript path: the form under each reply posts here; a short thank-you page follows."""
    from .pages import _utf8_form_value

    if vote not in ("up", "down"):
        raise BadVote("请选择“有帮助”或“没有帮助” / choose up or down")
    vote_ = make_vote(service, _utf8_form_value(question), vote, _utf8_form_value(comment),
                      _utf8_form_value(answer), passage_id or None)
    _save(request, vote_)
    templates = request.app.state.templates
    return templates.TemplateResponse(request, "feedback.html", {"vote": vote_}, status_code=200)


class BadVote(QAError):
    status = 400
