"""JSONL corpora: one ``{"id", "title", "text"}`` record per line, each record one document."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..extracted import ExtractedDocument, Skip
from ._text import decode, read_bytes

_BREAK = re.compile(r"\r\n|\r|\n")


class JsonlReader:
    name = "jsonl"
    suffixes = (".jsonl",)

    def read_records(self, path: Path) -> list[ExtractedDocument]:
        raw = read_bytes(path)
        if not raw:
            raise Skip("empty file")
        content, encoding = decode(raw)
        out: list[ExtractedDocument] = []
        for number, line in enumerate(_BREAK.split(content), start=1):
            if not line.strip():
                continue
            where = f"line {number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise Skip(f"{where}: invalid JSON: {exc.msg}") from None
            if not isinstance(record, dict):
                raise Skip(f"{where}: expected a JSON object")
            doc_id = record.get("id")
            if isinstance(doc_id, int) and not isinstance(doc_id, bool):
                doc_id = str(doc_id)
            if not isinstance(doc_id, str) or not doc_id.strip():
                raise Skip(f"{where}: record has no 'id'")
            text = record.get("text")
            if not isinstance(text, str):
                raise Skip(f"{where}: record has no 'text'")
            title = record.get("title")
            out.append(ExtractedDocument(
                text=text, encoding=encoding, format=self.name, doc_id=doc_id,
                title=title.strip() if isinstance(title, str) and title.strip() else doc_id,
                notes=[where],
            ))
        if not out:
            raise Skip("empty: no records")
        return out
