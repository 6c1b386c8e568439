"""The reader's part in the found decision: the trained cross-encoder (:mod:`embeddings.reader`; weights in
``models/reader.safetensors``, trained by ``python -m bench.reader --write``) reads the question with each of
the best candidate answer sentences and says how likely each states the answer.

It is off unless ``QA_READER=1``: on the held-out seed questions and conversations it made the decision
refuse a little more and answer less, not better at both (README, *Answers you can trust*). It applies only to
the model it was trained from (``reader.json`` records that model's fingerprint): otherwise there is no reader
and the decision trained without its features decides.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from embeddings.reader import Reader, pair_text, read_meta

from ..ingest.documents import normalize_whitespace
from .decision import MODEL_DIR

if TYPE_CHECKING:
    from embeddings import Embedder

READER_META = MODEL_DIR / "reader.json"
READ_UNITS = 3  # the candidates read: the ranker's best three
FEATURES = ("r1", "r_max3", "r_gap")
_NO_READ = -10.0  # the features when there is nothing to read

_readers: dict[tuple[str, str], Reader] = {}
_lock = threading.Lock()
_log = logging.getLogger(__name__)
_warned: set[str] = set()


def reader_for(embedder: Embedder) -> Reader | None:
    """The shipped reader for ``embedder``'s model (loaded once per process), or None: not turned on
    (``QA_READER=1``), not shipped, or trained from another model."""
    from ..settings import Settings

    meta = read_meta(READER_META)
    folder = getattr(embedder, "folder", None)
    if not meta or folder is None or not Settings().reader:
        return None
    fingerprint = getattr(embedder, "model_fingerprint", None)
    if meta.get("base_model") != fingerprint:
        if str(fingerprint) not in _warned:  # asked for, and off: say so once, not on every question
            _warned.add(str(fingerprint))
            _log.warning("QA_READER=1, but the shipped reader was trained from model %s and this is %s: answering "
                         "without it (retrain: python -m bench.reader --write)", meta.get("base_model"), fingerprint)
        return None
    backend = "onnx" if getattr(embedder, "backend", "onnx") == "onnx" else "torch"
    key = (str(folder), backend)
    with _lock:
        if key not in _readers:
            _readers[key] = Reader(folder, MODEL_DIR / meta["weights"], int(meta["low"]), backend)
        return _readers[key]


def read(reader: Reader | None, question: str, units: Sequence[tuple[str, str]], threads: int | None = None
         ) -> dict[str, float]:
    """The reader's features for ``units`` ((title, source slice) pairs, best first; wrapped lines are
    rejoined as the answer displays them): its logit for the chosen
    sentence, the best of the first :data:`READ_UNITS`, and their gap. Empty without a reader."""
    if reader is None:
        return {}
    seconds = [pair_text(title, normalize_whitespace(text)) for title, text in units[:READ_UNITS]]
    if not seconds:
        return dict.fromkeys(FEATURES, _NO_READ) | {"r_gap": 0.0}
    logits = reader.scores(question, seconds, threads)
    best = float(np.max(logits))
    return {"r1": float(logits[0]), "r_max3": best, "r_gap": best - float(logits[0])}
