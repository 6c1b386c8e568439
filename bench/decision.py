"""Train and measure the found decision (qa/search/models/decision.json + decision.lgb.txt).

Labelled questions are generated from the public sets and from seed-style questions of our own, in groups:

* ``seeds``: the seed index; seed_qa.jsonl and bench/data/seed_questions.dev*.jsonl (answerable: positive;
  unanswerable: negative), entity swaps of their answerable questions (negative unless the new hospital's
  article also has every attribute the question asks about: those are left out, their label unknown),
  junk (bench/data/junk*.txt but the held-out file) and other benchmarks' questions asked of the seeds (off-topic).
* ``conv``: our development conversations (bench/data/conversations.dev*.jsonl) on the seed index, every
  turn resolved against its history as the chat resolves it, and the entity swaps of its answerable turns.
* ``xquad``: XQuAD with one paragraph of each article left out (near misses), Chinese and English questions.
* ``drcd``: DRCD, the same way.
* ``cmrc``: CMRC 2018 with 20% of its (one-paragraph) articles left out: off-topic negatives.
Every index also gets the junk lines as negatives.

The figures that count are leave-one-group-out: the model trained without a group, its threshold chosen on
the groups it was trained on (answered >= the target share of their answerable questions), then measured on
the group left out. The shipped model is trained on every group. The held-out files
(bench/data/*.heldout.*) are never read here: ``qa eval`` measures the shipped model on them (README).
``conversations.dev9.jsonl`` is collected and measured but never trained on (``UNTRAINED``): a fresh set of
our own conversations, in the LOGO report with its group and printed for the shipped model. Each group's
report also gives its refusals where the model answers 90% / 95% of that source's answerable questions
(``at_matched_answered_share``, :func:`matched`): compare two recipes there, not at the one threshold each
retrain moves. The rows are cached under a stamp of the code that collects them (:func:`code_stamp`).

Two models are written: ``decision.json``, over these features and the reader's (qa/search/reader.py: the
rows must be collected with the shipped reader), and ``decision-plain.json`` without the reader's, for a
service without it (another model, or QA_READER=0).

    python -m bench.decision                 # collect rows (cached), leave-one-group-out report
    python -m bench.decision --write         # ... and write the shipped models
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embeddings import EmbeddingCache, load_embedder
from qa.evaluation.benchmark import HitRule, Query, load_queries, read_jsonl
from qa.evaluation.negatives import (
    english_names,
    junk_queries,
    mark_left_out,
    near_miss_split,
    share_split,
    swap_entities,
)
from qa.index.build import build_index
from qa.index.store import load_index
from qa.search.answer import Answer, evidence, question_asks
from qa.search.attributes import answer_near_terms, term_share
from qa.search.conversation import Turn, resolve
from qa.search.decision import (
    DECISION_FILE,
    FEATURES,
    MODEL_DIR,
    PLAIN_DECISION_FILE,
    READ_BAND,
    refused_outright,
)
from qa.search.reader import FEATURES as READER_FEATURES
from qa.search.retriever import Retriever
from qa.settings import Settings
from qa.text import fold, squeeze

from ._common import EVAL, ROOT, SEED_QA, SEEDS

DATA = ROOT / "bench" / "data"
TARGET_ANSWERED = 0.95
GROUPS = ("seeds", "conv", "xquad", "cmrc", "drcd")
# our development questions and conversations (the *.heldout.* files are never read here)
SEED_DEV = (DATA / "seed_questions.dev.jsonl", DATA / "seed_questions.dev2.jsonl", DATA / "seed_questions.dev3.jsonl",
            DATA / "seed_questions.dev4.jsonl", DATA / "seed_questions.dev5.jsonl", DATA / "seed_questions.dev6.jsonl",
            DATA / "seed_questions.dev7.jsonl", DATA / "seed_questions.dev8.jsonl")
CONVERSATIONS = (DATA / "conversations.dev.jsonl", DATA / "conversations.dev2.jsonl",
                 DATA / "conversations.dev3.jsonl", DATA / "conversations.dev4.jsonl",
                 DATA / "conversations.dev5.jsonl", DATA / "conversations.dev6.jsonl",
                 DATA / "conversations.dev7.jsonl", DATA / "conversations.dev8.jsonl",
                 DATA / "conversations.dev9.jsonl", DATA / "conversations.dev10.jsonl",
                 DATA / "conversations.dev11.jsonl", DATA / "conversations.dev12.jsonl")
# collected like the others but never trained on: measured by every model (the report's "untrained" part), so
# the decision has a fresh conversation set of our own besides the held-out files that only `qa eval` reads
UNTRAINED = frozenset({"conv:conversations.dev9"})
# junk and chit-chat lines, asked of every index
JUNK = (DATA / "junk.txt", DATA / "junk.dev2.txt", DATA / "junk.dev3.txt", DATA / "junk.dev4.txt",
        DATA / "junk.dev5.txt", DATA / "junk.dev6.txt")
PARAMS = {"objective": "binary", "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 30,
          "feature_fraction": 0.9, "bagging_fraction": 0.9, "bagging_freq": 1, "lambda_l2": 1.0, "verbose": -1,
          "seed": 7, "num_threads": 2}
ROUNDS = 300
# where the threshold is set (fit): on each training row's out-of-fold probability, FOLDS folds by question
THRESHOLD_ON = os.environ.get("QA_DECISION_THRESHOLD_ON", "out-of-fold")  # or "in-sample" (before 2026-12-07)
FOLDS = 5
FOLD_SEED = 13


@dataclass
class Item:
    query: Query
    label: int | None  # 1 answerable, 0 not, None unknown (kept out of training)
    kind: str  # positive, near-miss, swap, unanswerable, junk, off-topic
    original_doc: str | None = None  # swaps: the document whose passage would be a wrong answer
    context: tuple[str, ...] = ()  # a follow-up: the entities it refers to without naming them


# ------------------------------------------------------------------------------------ helpers


class QueryVectors:
    """Question vectors, cached on disk by text (the model runs once per distinct question).

    Each question is encoded alone, as the service encodes it: with int8 dynamic quantisation (the onnx
    backend) a vector depends on the batch it was encoded in (the activations' range is the batch's), and
    vectors from batches of 64 differed from the served ones by ~0.003 in cosine, enough to move a decision."""

    def __init__(self, embedder, cache_dir: Path) -> None:
        self.embedder = embedder
        self.cache = EmbeddingCache(cache_dir / "query-vectors.sqlite", "query1:" + embedder.fingerprint,
                                    embedder.dim)

    def get(self, texts: list[str]) -> np.ndarray:
        keys = [hashlib.sha256(t.encode("utf-8", "surrogatepass")).hexdigest() for t in texts]
        found = self.cache.get_many(keys)
        todo = [i for i, k in enumerate(keys) if k not in found]
        for start in range(0, len(todo), 64):
            chunk = todo[start : start + 64]
            vecs = [self.embedder.embed_queries([texts[i]])[0] for i in chunk]
            self.cache.put_many((keys[i], v) for i, v in zip(chunk, vecs, strict=True))
            found.update((keys[i], v) for i, v in zip(chunk, vecs, strict=True))
        return np.stack([found[k] for k in keys]) if keys else np.zeros((0, self.embedder.dim), np.float32)


def _index(name: str, rows: list[dict] | None, sources: list[Path], settings: Settings, embedder) -> Retriever:
    """Build (or reuse) an index of ``rows`` (written as JSONL) or of ``sources``."""
    work = settings.cache_dir / "decision"
    if rows is not None:
        corpus = work / "corpora" / f"{name}.jsonl"
        corpus.parent.mkdir(parents=True, exist_ok=True)
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        if not corpus.is_file() or corpus.read_text(encoding="utf-8") != text:
            corpus.write_text(text, encoding="utf-8")
        sources = [corpus]
    index_dir = work / "indexes" / name
    build_index(sources, index_dir, embedder, cache_dir=settings.cache_dir)
    retriever = Retriever(embedder, load_index(index_dir, embedder))
    retriever.warm_up()
    return retriever


def _sample(queries: list[Query], n: int, seed: int) -> list[Query]:
    rng = random.Random(seed)
    return rng.sample(queries, min(n, len(queries)))


def _row(retriever: Retriever, it: Item, qvec: np.ndarray, rule: HitRule, group: str,
         source: str) -> tuple[dict, Answer | None]:
    """The labelled row of one question, and its candidate answer sentence."""
    hits = retriever.search(it.query.text, 10, qvec=qvec, context=it.context)
    answer, values = evidence(retriever, it.query.text, hits, qvec)
    q = it.query
    rank = None
    if q.answerable:
        rank = next((i for i, h in enumerate(hits, 1) if rule.hit(q, h.passage.text)), None)
    return {
        "group": group, "source": source, "id": q.id, "question": q.text, "lang": q.lang, "label": it.label,
        "kind": it.kind, "rank": rank, "original_doc": it.original_doc,
        "answer_doc": answer.doc_id if answer else None,
        "answer_ok": bool(answer and q.answerable and rule.hit(q, answer.text)),
        **{f: float(values[f]) for f in FEATURES + READER_FEATURES if f in values},
    }, answer


def _rows_for(retriever: Retriever, items: list[Item], vectors: QueryVectors, rule: HitRule, group: str,
              source: str) -> list[dict]:
    qvecs = vectors.get([retriever.dense_text(it.query.text) for it in items])
    return [_row(retriever, it, qvec, rule, group, source)[0] for it, qvec in zip(items, qvecs, strict=True)]


# ------------------------------------------------------------------------------------ sources


def _seed_queries(path: Path) -> list[Query]:
    return load_queries(path) if path.is_file() else []


def _swaps(retriever: Retriever, queries: list[Query]) -> list[Item]:
    """Entity swaps of the answerable ``queries``: negatives, unless the new hospital's article also has every
    attribute the question asks about, with an answer of the asked type beside one (label unknown: left out
    of training)."""
    names = english_names(retriever, queries)
    texts = {doc_id: squeeze(fold(d.text)) for doc_id, d in retriever.index.documents.items()}
    items = []
    for swap in swap_entities(retriever, [q for q in queries if q.answerable], names):
        new = retriever.entities.by_id[swap.new_entity]
        what = question_asks(retriever, swap.query.text)
        new_text = "".join(texts.get(d, "") for d in new.main_of)
        ambiguous = (bool(what.terms) and term_share(what.terms, new_text) >= 0.99
                     and answer_near_terms(what, new_text) == 1.0)
        items.append(Item(swap.query, None if ambiguous else 0, "swap", swap.original_doc))
    return items


def collect_seeds(settings: Settings, embedder, vectors: QueryVectors, junk: list[Query]) -> list[dict]:
    retriever = _index("seeds", None, [SEEDS], settings, embedder)
    public = load_queries(SEED_QA)
    dev = [q for path in SEED_DEV for q in _seed_queries(path)]
    items = [Item(q, int(q.answerable), "positive" if q.answerable else "unanswerable") for q in public + dev]
    items += _swaps(retriever, public + dev)
    items += [Item(q, 0, "junk") for q in junk]
    offtopic = []
    for path, n in ((EVAL / "xquad_zh" / "queries.zh.jsonl", 150), (EVAL / "xquad_zh" / "queries.en.jsonl", 100),
                    (EVAL / "cmrc2018_dev" / "queries.jsonl", 150), (EVAL / "drcd_dev" / "queries.jsonl", 100)):
        offtopic += _sample(load_queries(path), n, seed=11)
    items += [Item(Query(id=f"off-{q.id}", text=q.text, lang=q.lang, answerable=False), 0, "off-topic")
              for q in offtopic]
    rule = HitRule({})
    return _rows_for(retriever, items, vectors, rule, "seeds", "seeds")


def collect_conversations(settings: Settings, embedder, vectors: QueryVectors) -> list[dict]:
    """Every turn of our own development conversations (CONVERSATIONS), played as the chat plays them: each
    follow-up resolved against the turns before it (their candidate answer sentences as the answers shown),
    its standalone form the row's question; answerable turns positive, unanswerable ones negative, and the
    entity swaps of the answerable ones (as for the seeds)."""
    retriever = _index("seeds", None, [SEEDS], settings, embedder)
    rule = HitRule({})
    out = []
    for path in CONVERSATIONS:
        resolved = []
        for conv in read_jsonl(path):
            history: list[Turn] = []
            for position, turn in enumerate(conv["turns"]):
                understood = resolve(retriever, turn["question"], history)
                query = Query(id=f"{conv['id']}-{position}", text=understood.question, lang=turn.get("lang", "?"),
                              evidence=list(turn["evidence"]), answerable=bool(turn["answerable"]),
                              doc=Path(turn["doc"]).stem if turn.get("doc") else None)
                label = int(query.answerable)
                item = Item(query, label, "positive" if label else "unanswerable", context=understood.entities)
                qvec = vectors.get([retriever.dense_text(query.text)])[0]
                row, answer = _row(retriever, item, qvec, rule, "conv", f"conv:{path.stem}")
                out.append(row)
                resolved.append(query)
                history.append(Turn(turn["question"], answer.display if answer else None))
        # the follow-up that switches to a hospital whose article lacks the fact (那荆州一医呢？)
        out += _rows_for(retriever, _swaps(retriever, resolved), vectors, rule, "conv", f"conv:{path.stem}")
    return out


def collect_benchmark(name: str, corpus_path: Path, query_paths: list[Path], split: str, settings: Settings,
                      embedder, vectors: QueryVectors, junk: list[Query]) -> list[dict]:
    rows = read_jsonl(corpus_path)
    kept, left_out = near_miss_split(rows, seed=3) if split == "near-miss" else share_split(rows, 0.2, seed=3)
    retriever = _index(f"{name}-{split}", kept, [], settings, embedder)
    rule = HitRule({r["id"]: r["text"] for r in rows})
    out = []
    negative = "near-miss" if split == "near-miss" else "off-topic"
    for path in query_paths:
        queries = mark_left_out(load_queries(path), left_out)
        items = [Item(q, int(q.answerable), "positive" if q.answerable else negative) for q in queries]
        if path == query_paths[0]:
            items += [Item(q, 0, "junk") for q in junk]
        out += _rows_for(retriever, items, vectors, rule, name, f"{name}:{path.stem}")
    return out


def code_stamp(*models: str, collectors: tuple = (), data: tuple[Path, ...] = ()) -> str:
    """What cached rows depend on besides the public files: the code of ``qa``, the functions that collect
    them (``collectors``: their source, so a change to a report does not cost a collection), the development
    files they read (``data``), and the shipped ``models`` named (``sentence``, ``reader``). Rows collected
    under another stamp are collected again (a rule tried and reverted once left rows of the reverted code in
    the cache, ready to train the next model)."""
    digest = hashlib.sha256()
    for function in collectors:
        digest.update(inspect.getsource(function).encode())
    files = sorted((ROOT / "qa").rglob("*.py")) + [ROOT / "bench" / "_common.py"]
    for model in models:
        files += sorted((ROOT / "qa" / "search" / "models").glob(f"{model}*"))
    files += [path for path in data if path.is_file()]
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def stamped(path: Path, stamp: str) -> bool:
    """Whether the cache file ``path`` exists and was written under ``stamp`` (its ``.stamp`` beside it)."""
    mark = path.with_suffix(".stamp")
    return path.is_file() and mark.is_file() and mark.read_text().strip() == stamp


def mark(path: Path, stamp: str) -> None:
    """Record that the cache file ``path`` was just written under ``stamp``."""
    path.with_suffix(".stamp").write_text(stamp + "\n")


def collect(settings: Settings, refresh: bool = False) -> list[dict]:
    """Every labelled row, cached per group in .cache/decision/rows-<group>.jsonl with the :func:`code_stamp` it
    was collected under (``refresh``, or another stamp, recomputes)."""
    work = settings.cache_dir / "decision"
    collectors = (QueryVectors, _index, _row, _rows_for, _swaps, collect_seeds, collect_conversations,
                  collect_benchmark)
    data = {"seeds": SEED_DEV + JUNK, "conv": CONVERSATIONS}  # the others read only the junk files
    embedder = vectors = junk = None
    rows: list[dict] = []
    started = time.time()
    specs = {
        "xquad": (EVAL / "xquad_zh" / "corpus.jsonl",
                  [EVAL / "xquad_zh" / "queries.zh.jsonl", EVAL / "xquad_zh" / "queries.en.jsonl"], "near-miss"),
        "cmrc": (EVAL / "cmrc2018_dev" / "corpus.jsonl", [EVAL / "cmrc2018_dev" / "queries.jsonl"], "share"),
        "drcd": (EVAL / "drcd_dev" / "corpus.jsonl", [EVAL / "drcd_dev" / "queries.jsonl"], "near-miss"),
    }
    for group in GROUPS:
        path = work / f"rows-{group}.jsonl"
        stamp = code_stamp("sentence", "reader", collectors=collectors, data=data.get(group, JUNK))
        if not refresh and stamped(path, stamp):
            rows += read_jsonl(path)
            continue
        if path.is_file() and not refresh:
            print(f"{group}: the cached rows were collected by other code; collecting again", file=sys.stderr)
        if embedder is None:
            embedder = load_embedder(settings.model, cache_dir=settings.cache_dir, backend=settings.backend)
            vectors = QueryVectors(embedder, work)
            junk = [q for path in JUNK for q in junk_queries(path, prefix=path.stem)]
        if group == "seeds":
            part = collect_seeds(settings, embedder, vectors, junk)
        elif group == "conv":
            part = collect_conversations(settings, embedder, vectors)
        else:
            corpus, queries, split = specs[group]
            part = collect_benchmark(group, corpus, queries, split, settings, embedder, vectors, junk)
        print(f"{group}: {len(part)} rows ({time.time() - started:.0f}s)", file=sys.stderr)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as fh:
            for row in part:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        mark(path, stamp)
        rows += part
    return rows


def trained(rows: list[dict]) -> list[dict]:
    """The rows a model may learn from: every collected row but those of the UNTRAINED sources."""
    return [r for r in rows if r["source"] not in UNTRAINED]


# ------------------------------------------------------------------------------------ training


WITH_READER = FEATURES + READER_FEATURES


def _matrix(rows: list[dict], features: tuple[str, ...] = FEATURES) -> np.ndarray:
    return np.array([[r[f] for f in features] for r in rows], dtype=np.float64)


def _weights(rows: list[dict]) -> np.ndarray:
    """Each group weighs the same, and within it positives and negatives weigh the same."""
    counts = Counter((r["group"], r["label"]) for r in rows)
    return np.array([1.0 / counts[(r["group"], r["label"])] for r in rows]) * len(rows) / max(1, len(counts))


def train(rows: list[dict], features: tuple[str, ...] = FEATURES):
    import lightgbm

    rows = [r for r in rows if r["label"] is not None]
    data = lightgbm.Dataset(_matrix(rows, features), label=[r["label"] for r in rows], weight=_weights(rows),
                            feature_name=list(features), categorical_feature=["asked_kind"], free_raw_data=False)
    return lightgbm.train(PARAMS, data, num_boost_round=ROUNDS)


def _found(rows: list[dict], scores, threshold: float) -> list[bool]:
    """The plain decision as the service makes it: the probability against the threshold, and the gates."""
    return [bool(s >= threshold and not refused_outright(r)) for r, s in zip(rows, scores, strict=True)]


def _threshold(found_at, positives: list[dict], target: float) -> float:
    """The highest threshold at which ``found_at(t)`` answers the answerable ``positives`` of every group at
    ``target`` on average (groups weigh the same)."""
    for t in np.arange(0.95, 0.01, -0.01):
        by_group: dict[str, list[bool]] = defaultdict(list)
        for r, f in zip(positives, found_at(t), strict=True):
            by_group[r["group"]].append(f)
        if np.mean([np.mean(v) for v in by_group.values()]) >= target:
            return round(float(t), 2)
    return 0.01


@dataclass
class Fitted:
    """The decision as the service runs it: the plain model, and when ``reader`` is given, the model with the
    reader's features, consulted only when the plain probability is within READ_BAND (qa.search.answer)."""

    plain: object
    plain_threshold: float
    reader: object | None = None
    threshold: float | None = None

    def scores(self, rows: list[dict]) -> tuple[np.ndarray, np.ndarray | None]:
        """The plain model's probabilities, and the reader model's (None without one)."""
        plain = self.plain.predict(_matrix(rows, FEATURES))
        return plain, (None if self.reader is None else self.reader.predict(_matrix(rows, WITH_READER)))

    def reads(self, rows: list[dict], plain: np.ndarray) -> list[bool]:
        """Which rows the service would read: the plain probability in the band, no rule refusing them."""
        low, high = READ_BAND
        return [low <= p <= high and not refused_outright(r) for r, p in zip(rows, plain, strict=True)]

    def found(self, rows: list[dict], scores=None, threshold: float | None = None) -> list[bool]:
        """The service's decision for each row (``scores`` from :meth:`scores`, computed when not given)."""
        plain, read = scores or self.scores(rows)
        if read is None:
            return _found(rows, plain, self.plain_threshold)
        t = self.threshold if threshold is None else threshold
        return [bool(q >= t if reading else (p >= self.plain_threshold and not refused_outright(r)))
                for r, p, q, reading in zip(rows, plain, read, self.reads(rows, plain), strict=True)]


def _fold_key(row: dict) -> str:
    """The question a row belongs to: an entity swap (``id~other``) goes with the question it was made from,
    and every turn of a conversation (``conv-id-position``) with its conversation."""
    base = row["id"].split("~")[0]
    return base.rsplit("-", 1)[0] if row["group"] == "conv" else base


def out_of_fold(rows: list[dict], features: tuple[str, ...]) -> np.ndarray:
    """Each row's probability from a model trained on the other FOLDS - 1 folds (folds drawn by question, so
    a swap or a conversation's turns never inform their own score): what the model says of questions it has
    not seen, which is where a threshold has to be set."""
    keys = sorted({_fold_key(r) for r in rows})
    random.Random(FOLD_SEED).shuffle(keys)
    fold_of = {k: i % FOLDS for i, k in enumerate(keys)}
    folds = np.array([fold_of[_fold_key(r)] for r in rows])
    scores = np.zeros(len(rows))
    for k in range(FOLDS):
        inside = np.flatnonzero(folds == k)
        booster = train([r for r, f in zip(rows, folds, strict=True) if f != k], features)
        scores[inside] = booster.predict(_matrix([rows[i] for i in inside], features))
    return scores


def fit(rows: list[dict], with_reader: bool, target: float = TARGET_ANSWERED) -> Fitted:
    """Train the plain model (and the reader's) on ``rows``, each threshold set to answer ``target`` of the
    answerable ones as scored out of fold (THRESHOLD_ON; ``in-sample`` scores them with the model that
    learnt them, which sets the threshold too high: it answered 91% of the held-out seed questions, 2026-12-07)."""
    rows = [r for r in rows if r["label"] is not None]
    positive = np.array([r["label"] == 1 for r in rows])
    positives = [r for r in rows if r["label"] == 1]

    def scored(booster, features: tuple[str, ...]) -> np.ndarray:
        """The answerable rows' probabilities the threshold is set on (THRESHOLD_ON)."""
        if THRESHOLD_ON == "in-sample":
            return booster.predict(_matrix(positives, features))
        return out_of_fold(rows, features)[positive]

    model = Fitted(train(rows, FEATURES), 0.0)
    plain = scored(model.plain, FEATURES)
    model.plain_threshold = _threshold(lambda t: _found(positives, plain, t), positives, target)
    if with_reader:
        model.reader = train(rows, WITH_READER)
        read = scored(model.reader, WITH_READER)
        model.threshold = _threshold(lambda t: model.found(positives, (plain, read), t), positives, target)
    return model


def measure(model: Fitted, rows: list[dict]) -> dict:
    """Answered share of answerable rows, refused share of each kind of negative, wrong-document answers."""
    if not rows:
        return {}
    scores = model.scores(rows)
    found = model.found(rows, scores)
    reads = model.reads(rows, scores[0]) if model.reader is not None else None
    out: dict = {}
    by_source: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_source[r["source"]].append(i)
    for source, idx in sorted(by_source.items()):
        stats: dict = {}
        pos = [i for i in idx if rows[i]["kind"] == "positive"]
        if pos:
            stats["answered"] = round(sum(found[i] for i in pos) / len(pos), 4)
            stats["answerable"] = len(pos)
            judged = [i for i in pos if found[i]]
            if judged:
                stats["answer_sentence_ok"] = round(sum(rows[i]["answer_ok"] for i in judged) / len(judged), 4)
        for kind in ("near-miss", "unanswerable", "swap", "off-topic", "junk"):
            neg = [i for i in idx if rows[i]["kind"] == kind]
            if neg:
                stats[f"refused_{kind}"] = round(sum(not found[i] for i in neg) / len(neg), 4)
                stats[f"n_{kind}"] = len(neg)
        swaps = [i for i in idx if rows[i]["kind"] == "swap"]
        if swaps:
            wrong = sum(found[i] and rows[i]["answer_doc"] == rows[i]["original_doc"] for i in swaps)
            stats["swap_answered_from_first"] = round(wrong / len(swaps), 4)
        if reads is not None:
            stats["read"] = round(sum(reads[i] for i in idx) / len(idx), 4)
        out[source] = stats
    return out


MATCHED_SHARES = (0.90, 0.95)


def matched(model: Fitted, rows: list[dict], shares: tuple[float, ...] = MATCHED_SHARES) -> dict:
    """The plain model's refusals of each kind of negative where it answers ``shares`` of each source's
    answerable questions (its threshold set on that source's own positives): a recipe compared with another
    along the whole trade-off, not at one threshold that a retrain moves (the rules still refuse outright)."""
    plain, _ = model.scores(rows)
    score = np.where([refused_outright(r) for r in rows], -1.0, plain)
    by_source: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_source[r["source"]].append(i)
    out: dict = {}
    for source, idx in sorted(by_source.items()):
        positives = np.sort(score[[i for i in idx if rows[i]["kind"] == "positive"]])
        if not len(positives):
            continue
        negatives = {kind: score[[i for i in idx if rows[i]["kind"] == kind and rows[i]["label"] is not None]]
                     for kind in ("near-miss", "unanswerable", "swap", "off-topic", "junk")}
        out[source] = {}
        for share in shares:
            cut = max(float(positives[min(len(positives) - 1, int(round((1 - share) * len(positives))))]), 0.0)
            at = {"answered": round(float(np.mean(positives >= cut)), 4)}
            at.update({f"refused_{kind}": round(float(np.mean(neg < cut)), 4)
                       for kind, neg in negatives.items() if len(neg)})
            out[source][f"{share:.0%}"] = at
    return out


def leave_one_out(rows: list[dict], with_reader: bool = False) -> dict:
    report = {}
    for group in GROUPS:
        train_rows = [r for r in trained(rows) if r["group"] != group]
        test_rows = [r for r in rows if r["group"] == group]
        if not test_rows or not train_rows:
            continue
        model = fit(train_rows, with_reader)
        thresholds = {"threshold": model.plain_threshold if model.threshold is None else model.threshold}
        report[group] = {**thresholds, **measure(model, test_rows)}
        if not with_reader:
            report[group]["at_matched_answered_share"] = matched(model, test_rows)
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--refresh", action="store_true", help="recompute the rows (else cached)")
    parser.add_argument("--write", action="store_true", help="write the shipped model")
    args = parser.parse_args(argv)
    os.environ.setdefault("QA_READER", "1")  # the rows carry the reader's features (the service reads only if asked)
    settings = Settings()
    rows = collect(settings, refresh=args.refresh)
    print(json.dumps({"rows": len(rows), "by_group": Counter(r["group"] for r in rows)}, ensure_ascii=False))
    read = all(f in r for r in rows for f in READER_FEATURES)
    if args.write and not read:
        raise SystemExit("the rows have no reader features (is models/reader.json shipped? run with --refresh)")
    common = {"trained_on": {g: sum(1 for r in trained(rows) if r["group"] == g and r["label"] is not None)
                             for g in GROUPS}, "never_trained_on": sorted(UNTRAINED),
              "recipe": "python -m bench.decision --write", "params": PARAMS, "rounds": ROUNDS,
              "backend": settings.backend, "target_answered": TARGET_ANSWERED,
              "threshold_on": THRESHOLD_ON, "folds": FOLDS}
    for with_reader in (False, True) if read else (False,):
        name = "reader" if with_reader else "plain"
        report = leave_one_out(rows, with_reader)
        print(json.dumps({name: report}, indent=1, ensure_ascii=False))
        if not args.write:
            continue
        model = fit(trained(rows), with_reader)
        untrained = measure(model, [r for r in rows if r["source"] in UNTRAINED])
        print(json.dumps({f"{name}, the shipped model on the untrained sources": untrained}, ensure_ascii=False))
        MODEL_DIR.mkdir(exist_ok=True)
        if with_reader:
            model.reader.save_model(str(MODEL_DIR / "decision.lgb.txt"))
            meta = {"model_file": "decision.lgb.txt", "features": list(WITH_READER), "threshold": model.threshold,
                    "read_band": list(READ_BAND), "plain": PLAIN_DECISION_FILE.name}
            meta_file = DECISION_FILE
        else:
            model.plain.save_model(str(MODEL_DIR / "decision-plain.lgb.txt"))
            meta = {"model_file": "decision-plain.lgb.txt", "features": list(FEATURES),
                    "threshold": model.plain_threshold}
            meta_file = PLAIN_DECISION_FILE
        meta.update(common, leave_one_group_out=report, in_sample=measure(model, trained(rows)), untrained=untrained)
        meta_file.write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {meta_file} (threshold {meta['threshold']})")

if __name__ == "__main__":
    main()
