"""Train the reader (qa/search/models/reader.safetensors + reader.json): does this sentence answer this question?

The reader is the bundled multilingual-e5-small read as a cross-encoder: the question and one candidate
answer sentence as one pair, layers 0-8 unchanged, layers 9-11 and a one-unit head trained here
(embeddings/reader.py). Trained only on CMRC 2018 and DRCD, so its figures on the seeds, on XQuAD and on the
held-out files are on sources it never saw.

The training pairs are the candidates the service itself would read: for every labelled question of those
two groups in bench.decision's rows (answerable ones, near misses or off-topic ones, junk), the three best
sentence units by the shipped answer-sentence ranker, plus any unit among the first six that holds the gold
answer; a unit is positive when it holds the gold answer (evaluate.py's rule). The lower layers' outputs
are computed once, then only the top layers train (AdamW, one-cycle schedule, 2 epochs, batch 32).

    python -m bench.reader --write     # ~25 min on two cores: pairs, lower layers, training, write
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from embeddings import load_embedder
from embeddings.reader import encode_pairs, load_tokenizer, pair_text
from qa.evaluation.benchmark import HitRule, load_queries, read_jsonl
from qa.evaluation.negatives import near_miss_split, share_split
from qa.search.answer import question_asks
from qa.search.decision import MODEL_DIR
from qa.search.sentences import candidates, load_ranker
from qa.settings import Settings

from ._common import EVAL, SEED_QA, SEEDS
from .decision import DATA, QueryVectors, _index, collect

READER_FILE = MODEL_DIR / "reader.safetensors"
META_FILE = MODEL_DIR / "reader.json"
LOW = 9  # layers below this one stay the base model's
TOP_UNITS = 3
POSITIVES_FROM = 6
EPOCHS = 2
BATCH = 32
LR_LAYERS, LR_HEAD = 5e-5, 1e-3
SEED = 7
GROUPS = {
    "cmrc": (EVAL / "cmrc2018_dev" / "corpus.jsonl", [EVAL / "cmrc2018_dev" / "queries.jsonl"], "share"),
    "drcd": (EVAL / "drcd_dev" / "corpus.jsonl", [EVAL / "drcd_dev" / "queries.jsonl"], "near-miss"),
}


def training_pairs(settings: Settings, groups: tuple[str, ...] = tuple(GROUPS)):
    """(question, second segment, label) for the training groups, as the service would read them; and the
    embedder that retrieved them."""
    rows = collect(settings)
    embedder = load_embedder(settings.model, cache_dir=settings.cache_dir, backend=settings.backend)
    vectors = QueryVectors(embedder, settings.cache_dir / "decision")
    ranker = load_ranker()
    pairs: list[tuple[str, str, int]] = []
    for group in groups:
        if group == "seeds":  # seed_qa + the dev questions, their entity swaps, junk, off-topic questions
            retriever = _index("seeds", None, [SEEDS], settings, embedder)
            rule = HitRule({})
            queries = {q.id: q for path in (SEED_QA, DATA / "seed_questions.dev.jsonl") for q in load_queries(path)}
        else:
            corpus, query_paths, split = GROUPS[group]
            corpus_rows = read_jsonl(corpus)
            split_rows = near_miss_split if split == "near-miss" else (lambda rows, seed: share_split(rows, 0.2, seed))
            kept, _ = split_rows(corpus_rows, seed=3)
            retriever = _index(f"{group}-{split}", kept, [], settings, embedder)
            rule = HitRule({r["id"]: r["text"] for r in corpus_rows})
            queries = {q.id: q for path in query_paths for q in load_queries(path)}
        mine = [r for r in rows if r["group"] == group and r["label"] is not None]
        qvecs = vectors.get([retriever.dense_text(r["question"]) for r in mine])
        docs = retriever.index.documents
        for row, qvec in zip(mine, qvecs, strict=True):
            question = row["question"]
            hits = retriever.search(question, 10, qvec=qvec)
            cands = candidates(retriever, question, hits, qvec, question_asks(retriever, question))
            if not cands:
                continue
            query = queries.get(row["id"]) if row["kind"] == "positive" else None
            for place, i in enumerate(np.argsort(-ranker.scores(cands))[:POSITIVES_FROM]):
                c = cands[int(i)]
                doc = docs[c.hit.passage.doc_id]
                text = doc.text[c.start:c.end]
                label = int(bool(query and rule.hit(query, text)))
                if place < TOP_UNITS or label:
                    # whitespace runs as one space (the service rejoins wrapped lines instead: the training
                    # corpora have none, only some spaces between ideographs)
                    pairs.append((question, pair_text(doc.title, " ".join(text.split())), label))
        print(f"{group}: {len(pairs)} pairs", file=sys.stderr, flush=True)
    return pairs, embedder


def lower_states(folder: Path, pairs: list[tuple[str, str, int]]) -> list[np.ndarray]:
    """Each pair's hidden states after layer LOW (float16, its own length), computed once."""
    import torch
    from transformers import AutoModel

    tokenizer = load_tokenizer(folder)
    model = AutoModel.from_pretrained(folder).eval()
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
    states: list[np.ndarray | None] = [None] * len(pairs)
    started = time.time()
    with torch.inference_mode():
        for start in range(0, len(order), BATCH):
            chunk = order[start : start + BATCH]
            ids, masks = [], []
            for i in chunk:
                enc = encode_pairs(tokenizer, pairs[i][0], [pairs[i][1]])
                ids.append(enc["input_ids"][0])
                masks.append(enc["attention_mask"][0])
            width = max(len(x) for x in ids)
            input_ids = torch.ones(len(chunk), width, dtype=torch.long)
            mask = torch.zeros(len(chunk), width, dtype=torch.long)
            for j, (x, m) in enumerate(zip(ids, masks, strict=True)):
                input_ids[j, : len(x)] = torch.from_numpy(x)
                mask[j, : len(m)] = torch.from_numpy(m)
            out = model(input_ids=input_ids, attention_mask=mask, token_type_ids=torch.zeros_like(input_ids),
                        output_hidden_states=True)
            hidden = out.hidden_states[LOW]
            for j, i in enumerate(chunk):
                states[i] = hidden[j, : int(mask[j].sum())].to(torch.float16).numpy()
            if start % (BATCH * 100) == 0:
                print(f"lower layers: {start}/{len(order)} ({time.time() - started:.0f}s)", file=sys.stderr, flush=True)
    return states  # type: ignore[return-value]


def train(folder: Path, states: list[np.ndarray], labels: list[int]):
    """The top layers and the head, trained on the cached lower states."""
    import torch
    from transformers import AutoModel

    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    base = AutoModel.from_pretrained(folder)

    class Top(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = torch.nn.ModuleList([copy.deepcopy(layer) for layer in base.encoder.layer[LOW:]])
            self.head = torch.nn.Linear(int(base.config.hidden_size), 1)

        def forward(self, hidden, mask):
            extended = (1.0 - mask[:, None, None, :]) * torch.finfo(torch.float32).min
            for layer in self.layers:
                out = layer(hidden, attention_mask=extended)
                hidden = out[0] if isinstance(out, tuple) else out
            pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
            return self.head(pooled).squeeze(-1)

    def batch(idx: list[int]):
        width = max(len(states[i]) for i in idx)
        hidden = torch.zeros(len(idx), width, states[idx[0]].shape[1])
        mask = torch.zeros(len(idx), width)
        for j, i in enumerate(idx):
            hidden[j, : len(states[i])] = torch.from_numpy(states[i].astype(np.float32))
            mask[j, : len(states[i])] = 1
        return hidden, mask

    model = Top()
    optimizer = torch.optim.AdamW([{"params": model.layers.parameters(), "lr": LR_LAYERS},
                                   {"params": model.head.parameters(), "lr": LR_HEAD}], weight_decay=0.01)
    order = sorted(range(len(states)), key=lambda i: len(states[i]))
    batches = [order[i : i + BATCH] for i in range(0, len(order), BATCH)]
    steps = int(len(batches) * EPOCHS)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=[LR_LAYERS, LR_HEAD], total_steps=steps,
                                                   pct_start=0.1)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    step, started, losses = 0, time.time(), []
    while step < steps:
        rng.shuffle(batches)
        for idx in batches[: steps - step]:
            hidden, mask = batch(idx)
            loss = loss_fn(model(hidden, mask), torch.tensor([float(labels[i]) for i in idx]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            losses.append(float(loss))
            if step % 100 == 0:
                print(f"step {step}/{steps} loss {np.mean(losses[-100:]):.3f} ({time.time() - started:.0f}s)",
                      file=sys.stderr, flush=True)
    return model.eval(), float(np.mean(losses[-200:]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="write the shipped reader")
    parser.add_argument("--with-seeds", action="store_true",
                        help="also train on the seed group (seed_qa, dev questions, their swaps): then no seed figure "
                             "of bench.decision is on unseen data")
    args = parser.parse_args(argv)
    import torch
    from safetensors.torch import save_file

    torch.set_num_threads(2)
    settings = Settings()
    started = time.time()
    groups = (*GROUPS, "seeds") if args.with_seeds else tuple(GROUPS)
    pairs, embedder = training_pairs(settings, groups)
    if embedder.folder is None:
        raise SystemExit("the reader is trained from a local model folder (the default model)")
    folder = embedder.folder
    states = lower_states(folder, pairs)
    model, loss = train(folder, states, [label for _, _, label in pairs])
    report = {"pairs": len(pairs), "positives": sum(label for _, _, label in pairs), "final_loss": round(loss, 4),
              "minutes": round((time.time() - started) / 60, 1)}
    print(json.dumps(report))
    if args.write:
        tensors = {f"{part}.{k}": v.detach().to(torch.float16).contiguous()
                   for part, module in (("layers", model.layers), ("head", model.head))
                   for k, v in module.state_dict().items()}
        save_file(tensors, str(READER_FILE))
        meta = {"weights": READER_FILE.name, "base_model": embedder.model_fingerprint, "low": LOW,
                "trained_on": sorted(groups), "recipe": "python -m bench.reader --write",
                "epochs": EPOCHS, "batch": BATCH, "lr": [LR_LAYERS, LR_HEAD], "seed": SEED, **report}
        META_FILE.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {READER_FILE} ({READER_FILE.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
