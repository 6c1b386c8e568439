"""Entity grounding: which passages can answer a question about the entities it names.

A question about 荆州一医 cannot be answered by a passage of 邵阳市中心医院's article, however similar: that
is another hospital's fact. A passage *grounds* a question that names an organisation when its document is
mainly about that organisation, or the passage itself names it, or its document is about no organisation in
particular and mentions it (an encyclopedia article, whose other paragraphs say "it"). For people, places and
units the document (or its article: the documents sharing its title) must mention them.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..index.entities import EntityTable


class Grounding:
    """Answers "which passage rows ground these entities" for one index.

    Args:
        table: the index's entities.
        doc_of_row: the document id of every passage row.
    """

    def __init__(self, table: EntityTable, doc_of_row: list[str]) -> None:
        self.table = table
        self.doc_of_row = doc_of_row
        self._rows_of_doc: dict[str, np.ndarray] = {}
        order = np.array(range(len(doc_of_row)))
        by_doc: dict[str, list[int]] = {}
        for row, doc in zip(order, doc_of_row, strict=True):
            by_doc.setdefault(doc, []).append(int(row))
        self._rows_of_doc = {doc: np.array(rows, np.int64) for doc, rows in by_doc.items()}
        self._mentions = {eid: np.array(rows, np.int64) for eid, rows in table.passages.items()}

    def article_size(self, entity) -> int:
        """How many passages the documents mainly about ``entity`` have (with the rest of their articles)."""
        docs = {part for doc in entity.main_of for part in self.table.groups.get(doc, [doc])}
        return sum(len(self._rows_of_doc.get(doc, ())) for doc in docs)

    def mask(self, entity_ids: Iterable[str]) -> np.ndarray | None:
        """A mask over passage rows: True where a passage grounds any of ``entity_ids``: the documents'
        subjects first (when the question names a hospital the documents are about, other names it uses do
        not widen the set), else organisations and people, else places; ``None`` when there is nothing to
        ground."""
        ids = [e for e in entity_ids if e in self.table.by_id]
        if not ids:
            return None
        subjects = [e for e in ids if self.table.by_id[e].main_of]
        named = [e for e in ids if self.table.by_id[e].kind in ("org", "person")]
        ids = subjects or named or ids  # 荆州一医改造华厦眼科医院…: the hospital asked about decides, not 华厦
        mask = np.zeros(len(self.doc_of_row), bool)
        for eid in ids:
            entity = self.table.by_id[eid]
            docs = self.table.docs_of([eid])
            if entity.kind == "org":
                mask[self._mentions.get(eid, np.zeros(0, np.int64))] = True
                for doc in docs:
                    main = self.table.main.get(doc)
                    if main == eid or main is None:
                        mask[self._rows_of_doc.get(doc, np.zeros(0, np.int64))] = True
                for doc in entity.main_of:
                    for part in self.table.groups.get(doc, [doc]):
                        mask[self._rows_of_doc.get(part, np.zeros(0, np.int64))] = True
            else:
                for doc in docs:
                    mask[self._rows_of_doc.get(doc, np.zeros(0, np.int64))] = True
        return mask
