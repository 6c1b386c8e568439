"""The chat page's conversation as the browser carries it: earlier turns in hidden form fields (the no-JavaScript
path), the history a follow-up is resolved against, and the Markdown export.

The server keeps no conversation: each earlier turn travels as one ``turn`` field holding a small JSON object
(question, how it was understood, the answer shown, its citations), checked here like any other input:
over-long, malformed or foreign values are dropped, and a citation link must point into ``/documents/``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..search.conversation import MAX_TURNS, Turn

MAX_FIELD_CHARS = 12_000


class PastCitation(BaseModel):
    model_config = ConfigDict(extra="ignore")

    rank: int = Field(..., ge=1, le=50)
    title: str = Field(..., max_length=300)
    source: str = Field(..., max_length=300)
    where: str = Field("", max_length=200)  # 第 35-41 行 / page and lines
    href: str = Field(..., max_length=600)

    @field_validator("href")
    @classmethod
    def _local(cls, value: str) -> str:
        if not value.startswith("/documents/") or "//" in value[1:] or "\\" in value:
            raise ValueError("citation links point into /documents/")
        return value


class PastTurn(BaseModel):
    """One earlier turn as the page shows it."""

    model_config = ConfigDict(extra="ignore")

    question: str = Field(..., min_length=1, max_length=1000)
    understood_as: str | None = Field(None, max_length=1000)
    answer: str | None = Field(None, max_length=4000)
    citations: list[PastCitation] = Field(default_factory=list, max_length=10)

    def field(self) -> str:
        """The hidden form value that carries this turn."""
        return json.dumps(self.model_dump(), ensure_ascii=False)


def parse_turns(values: list[str] | None) -> list[PastTurn]:
    """The earlier turns from ``turn`` form fields, oldest first, the last :data:`MAX_TURNS` of them; a value
    that is not a valid turn is left out."""
    turns: list[PastTurn] = []
    for value in values or []:
        if not value or len(value) > MAX_FIELD_CHARS:
            continue
        try:
            turns.append(PastTurn.model_validate_json(value))
        except (ValidationError, ValueError):
            continue
    return turns[-MAX_TURNS:]


def history(turns: list[PastTurn]) -> list[Turn]:
    """What the conversation resolver reads of the earlier turns."""
    return [Turn(t.question, t.answer) for t in turns]


def to_markdown(turns: list[PastTurn], base_url: str = "") -> str:
    """The conversation as Markdown: each question, how it was understood, the answer and its citations."""
    lines = ["# 文档问答 · 对话记录", "", f"导出时间：{datetime.now(UTC):%Y-%m-%d %H:%M} UTC", ""]
    for n, turn in enumerate(turns, 1):
        lines += [f"## {n}. {turn.question}", ""]
        if turn.understood_as and turn.understood_as != turn.question:
            lines += [f"*理解为：{turn.understood_as}*", ""]
        lines += [f"> {turn.answer}" if turn.answer else "> 文档中没有找到可靠的答案。", ""]
        for c in turn.citations:
            where = f"，{c.where}" if c.where else ""
            lines.append(f"- [{c.rank}] {c.title}（{c.source}{where}）：{base_url}{c.href}")
        if turn.citations:
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
