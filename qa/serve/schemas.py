"""The public JSON contract of the API (also what `qa ask --json` prints)."""

from __future__ import annotations

import unicodedata

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..search.answer import Result
from ..search.conversation import MAX_TURNS, Turn

MAX_QUESTION_CHARS = 1000
MAX_ANSWER_CHARS = 4000


def _no_control(value: str | None) -> str | None:
    if value is not None and any(unicodedata.category(c) in ("Cc", "Cs") and c not in "\t\n\r" for c in value):
        raise ValueError("contains control characters")
    return value


class HistoryTurn(BaseModel):
    """One earlier turn of the conversation, as the user saw it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    question: str = Field(..., min_length=1, max_length=MAX_QUESTION_CHARS, description="What the user asked.")
    answer: str | None = Field(
        None, max_length=MAX_ANSWER_CHARS, description="The answer text shown (null: nothing was found)."
    )

    _clean = field_validator("question", "answer")(_no_control)


class AskFilter(BaseModel):
    """Restrict a question to some documents."""

    model_config = ConfigDict(extra="forbid", strict=True)

    doc_ids: list[str] | None = Field(None, max_length=1000, description="Only these documents (ids).")
    source: str | None = Field(
        None, min_length=1, max_length=200, description="Only documents whose source file name matches this glob."
    )


class AskRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"question": "荆州二医在封城期间接诊了多少发热患者？", "top_k": 5}]},
    )

    question: str = Field(
        ...,
        description="The question, in Chinese or English (1-1000 characters; empty or longer gets 400).",
        json_schema_extra={"minLength": 1, "maxLength": MAX_QUESTION_CHARS},
    )
    top_k: int = Field(5, ge=1, le=50, description=(
        "How many passages to return (1-50); the answer's own passage is added after them when it ranks lower."))
    history: list[HistoryTurn] | None = Field(
        None, max_length=MAX_TURNS,
        description=f"The earlier turns of the conversation, oldest first (at most {MAX_TURNS}); a follow-up "
        "(那荆州一医呢？, 它…, What about …?) is understood through them. The server keeps no conversation state.",
    )
    filter: AskFilter | None = Field(None, description="Only search these documents.")

    def turns(self) -> list[Turn]:
        return [Turn(t.question, t.answer) for t in self.history or []]


class AnswerOut(BaseModel):
    text: str = Field(..., description="The answer sentence, exactly as the source has it (line breaks included).")
    display: str = Field(..., description="The same sentence with wrapped lines rejoined, for display.")
    passage: int = Field(..., description="Rank (1-based) of the passage the sentence comes from.")
    doc_id: str
    char_start: int = Field(..., description="Offset of the sentence in the document's text.")
    char_end: int


class PassageOut(BaseModel):
    rank: int
    id: str
    doc_id: str
    title: str
    source: str
    text: str
    score: float = Field(..., description="Fused relevance, 1.0 = first in both the dense and keyword legs.")
    dense_score: float = Field(..., description="Cosine similarity of question and passage.")
    keyword_score: float = Field(..., description="BM25 score (0 when no keyword matched).")
    confident: bool = Field(..., description="False when the evidence is too weak to call this an answer.")
    line_start: int
    line_end: int
    char_start: int
    char_end: int
    page_start: int | None = Field(None, description="Page (1-based) of the passage's first character (PDF).")
    page_end: int | None = Field(None, description="Page of its last character (PDF); None without pages.")
    section: str | None = Field(None, description="Heading path, e.g. '院况 > 床位' (Markdown, Word, web pages).")


class AskResponse(BaseModel):
    question: str
    found: bool = Field(..., description="False when the documents hold no reliable answer.")
    answer: AnswerOut | None
    passages: list[PassageOut]
    unknown_terms: list[str] = Field(
        default_factory=list,
        description="Words of the question the documents never mention: names (places, people, organisations), "
        "or what a 多少/几 question counts (门诊量); a question with any is not found.",
    )
    understood_as: str = Field(
        "", description="The standalone question that was searched: the question itself when it needed no history, "
        "else its rewrite (那荆州一医呢？ -> 荆州一医的胸痛中心建得怎么样了？).",
    )
    drew_on: int | None = Field(
        None, description="Index (0-based, oldest first) of the earlier turn the question drew on; null when none."
    )
    carried: list[str] = Field(
        default_factory=list, description="Entities the conversation carried into the question (names)."
    )
    confidence: float | None = Field(None, description="How sure the found decision is (0-1).")
    took_ms: float
    timings_ms: dict[str, float] = Field(
        default_factory=dict,
        description="Milliseconds per stage: resolve (follow-up resolution, with history), encode (the question "
        "through the model), dense (vector search), keyword (BM25), fuse (fusion), answer (the answer sentence and "
        "the found decision).",
    )

    @classmethod
    def from_result(cls, result: Result) -> AskResponse:
        passages = [
            PassageOut(
                rank=i + 1, id=h.passage.id, doc_id=h.passage.doc_id, title=h.passage.title,
                source=h.passage.source, text=h.passage.text, score=h.score, dense_score=h.dense,
                keyword_score=h.keyword, confident=h.confident, line_start=h.passage.line_start,
                line_end=h.passage.line_end, char_start=h.passage.char_start, char_end=h.passage.char_end,
                page_start=h.passage.page_start, page_end=h.passage.page_end, section=h.passage.section,
            )
            for i, h in enumerate(result.hits)
        ]
        answer = AnswerOut(**vars(result.answer)) if result.answer else None
        understood = result.understood
        return cls(question=result.question, found=result.found, answer=answer, passages=passages,
                   unknown_terms=list(result.unknown_terms),
                   understood_as=understood.question if understood else result.question,
                   drew_on=understood.drew_on if understood else None,
                   carried=list(understood.names) if understood else [], confidence=result.confidence,
                   took_ms=result.took_ms, timings_ms=dict(result.timings_ms))


class DocumentOut(BaseModel):
    id: str
    title: str
    source: str
    encoding: str
    text: str
    format: str = Field("txt", description="The reader that extracted it: txt, md, pdf, docx, html, image, jsonl.")
    pages: list[int] = Field(default_factory=list, description="Offset in text of each page start (PDF).")
    has_file: bool = Field(False, description="GET /api/documents/{id}/file returns the original file.")


class EntityOut(BaseModel):
    id: str
    name: str = Field(..., description="The fullest form (simplified Chinese).")
    kind: str = Field(..., description="org, person, place or unit (a department or centre).")
    aliases: list[str] = Field(..., description="Every form the documents write it in, the name first.")
    mentions: int
    docs: dict[str, int] = Field(..., description="Document id -> mentions.")
    main_of: list[str] = Field(..., description="The documents mainly about it.")
    english: list[str] = Field(..., description="English words that may name it (pinyin of its place, glosses).")
    english_name: str | None = Field(None, description="How an English question writes a hospital (Shaoyang Central "
                                     "Hospital): what an English follow-up searches for one the user never named.")


class HealthOut(BaseModel):
    ok: bool = Field(..., description="False without a loaded index, or when the served index is gone from disk.")
    version: str = Field(..., description="Version of this service.")
    model: str | None
    dim: int | None
    documents: int
    passages: int
    built_at: str | None
    index: str
    error: str | None = None


class ErrorOut(BaseModel):
    ok: bool = False
    status: int
    error: str
