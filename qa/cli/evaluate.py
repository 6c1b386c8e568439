"""`qa eval`: recall and refusal on a benchmark."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import main
from .main import _settings, cli, friendly, index_option


@cli.command(name="eval")
@click.option("--corpus", "corpora", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="corpus.jsonl (repeatable) or a folder of documents [default: seeds/ for seed_qa.jsonl].")
@click.option("--queries", type=click.Path(exists=True, path_type=Path), default=None,
              help="queries.jsonl ({id,text,lang,answers,gold}) or seed_qa.jsonl.")
@click.option("--conversations", type=click.Path(exists=True, path_type=Path), default=None,
              help="conversations.jsonl: play each conversation, follow-ups with their history (see qa.evaluation).")
@click.option("--near-miss", is_flag=True,
              help="Leave one paragraph of each multi-paragraph article out of the index; its questions must be "
                   "refused (a corpus.jsonl with titles).")
@click.option("--swap-entities", is_flag=True,
              help="Also ask every answerable question again about each other subject of the documents "
                   "(another hospital); those must be refused.")
@click.option("--junk", "junk_file", type=click.Path(exists=True, path_type=Path), default=None,
              help="A file of junk and chit-chat lines, one query each, all to be refused.")
@index_option
@click.option("--legs", default="hybrid", show_default=True,
              help="Comma-separated: hybrid, dense, keyword (the last two alone, for comparison; "
                   "each question is encoded once for all).")
@click.option("--keywords", type=click.Choice(["bigram", "jieba"]), default="bigram", show_default=True)
@click.option("--limit", type=int, default=None, help="Only the first N queries.")
@click.option("--answers", is_flag=True, help="Also judge the answer sentence (seed_qa.jsonl).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Write per-query rows (per-turn rows with --conversations alone) as JSONL.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@friendly
def evaluate(corpora, queries, conversations, near_miss, swap_entities, junk_file, index_dir, legs, keywords, limit,
             answers, out, as_json) -> None:
    """Measure Recall@1/5/10, MRR@10 and latency on a benchmark (hit rule of shared/eval/evaluate.py).

    The corpus is indexed the way the product indexes documents, into its own index directory,
    reused when the manifest says nothing changed.

    \b
    Examples:
        qa eval --queries tests/data/seed_qa.jsonl --answers --swap-entities --junk bench/data/junk.txt
        qa eval --corpus ../shared/eval/xquad_zh/corpus.jsonl --queries ../shared/eval/xquad_zh/queries.zh.jsonl
        qa eval --corpus ../shared/eval/drcd_dev/corpus.jsonl \
            --queries ../shared/eval/drcd_dev/queries.jsonl --near-miss
        qa eval --conversations ../shared/eval/conversations.jsonl
    """
    import dataclasses
    import hashlib

    from tqdm import tqdm

    from .. import evaluation
    from ..evaluation import negatives
    from ..evaluation.conversations import format_conversations, run_conversations, summarize_conversations
    from ..index.build import build_index
    from ..index.store import load_index
    from ..search.answer import warm_up
    from ..search.retriever import Retriever

    settings = _settings()
    leg_list = [leg.strip() for leg in legs.split(",") if leg.strip()]
    if not leg_list or set(leg_list) - {"hybrid", "dense", "keyword"}:
        raise click.BadParameter("use hybrid, dense and/or keyword, comma-separated", param_hint="--legs")
    if queries is None and conversations is None:
        raise click.UsageError("give --queries FILE or --conversations FILE")
    qs = evaluation.load_queries(queries)[:limit] if queries else []
    sources = list(corpora) or [settings.seeds_dir]
    corpus = {}
    for path in sources:
        if path.suffix == ".jsonl":
            corpus.update({row["id"]: row["text"] for row in evaluation.read_jsonl(path)})
    if near_miss:
        if len(sources) != 1 or sources[0].suffix != ".jsonl":
            raise click.BadParameter("needs one --corpus corpus.jsonl whose records have titles",
                                     param_hint="--near-miss")
        kept, left_out = negatives.near_miss_split(evaluation.read_jsonl(sources[0]))
        split = settings.cache_dir / "eval-corpora" / f"{sources[0].parent.name}-{sources[0].stem}-near-miss.jsonl"
        split.parent.mkdir(parents=True, exist_ok=True)
        split.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept), encoding="utf-8")
        sources = [split]
        qs = negatives.mark_left_out(qs, left_out)
    if index_dir is None:
        key = hashlib.sha256("|".join(str(p.resolve()) for p in sources).encode() + keywords.encode()).hexdigest()[:10]
        index_dir = settings.cache_dir / "eval-indexes" / f"{sources[0].parent.name}-{sources[0].stem}-{key}"
    embedder = main.load_model(settings)

    def bar(total: int):
        b = tqdm(total=total, unit="passage", desc="embedding", file=sys.stderr, dynamic_ncols=True)
        return b.update

    report = build_index(sources, index_dir, embedder, cache_dir=settings.cache_dir, keyword_tokenizer=keywords,
                         progress_factory=bar)
    click.echo(f"index {index_dir}: {report.passages} passages" + (" (reused)" if report.unchanged else ""),
               err=True)
    retriever = Retriever(embedder, load_index(index_dir, embedder))
    warm_up(retriever)  # as `qa serve` does at start, so the first questions' latency is not the set-up's
    if conversations is not None:
        with tqdm(unit="conversation", desc="conversations", file=sys.stderr, dynamic_ncols=True) as b:
            turns = run_conversations(retriever, conversations, progress=b.update)
        conv_summary = summarize_conversations(turns)
        if out:
            with out.open("w", encoding="utf-8") as fh:
                fh.writelines(json.dumps(dataclasses.asdict(t), ensure_ascii=False) + "\n" for t in turns)
        click.echo(json.dumps(conv_summary, indent=2, ensure_ascii=False) if as_json
                   else format_conversations(conv_summary))
        if not qs:
            return
    if swap_entities:
        qs = qs + [s.query for s in negatives.swap_entities(retriever, qs, negatives.english_names(retriever, qs))]
    if junk_file is not None:
        qs = qs + negatives.junk_queries(junk_file)
    with tqdm(total=len(qs), unit="q", desc=f"asking ({legs})", file=sys.stderr, dynamic_ncols=True) as b:
        by_leg = evaluation.run_legs(retriever, qs, evaluation.HitRule(corpus), legs=leg_list, answers=answers,
                                     progress=b.update)
    summaries = {leg: evaluation.summarize(rows) for leg, rows in by_leg.items()}
    if out:
        with out.open("w", encoding="utf-8") as fh:
            for leg, rows in by_leg.items():
                for r in rows:
                    fh.write(json.dumps({"legs": leg, "id": r.query.id, "lang": r.query.lang,
                                         "question": r.query.text, "rank": r.rank, "found": r.found,
                                         "answerable": r.query.answerable, "answer_hit": r.answer_hit,
                                         "latency_ms": round(r.latency_s * 1000, 1), "top": r.top},
                                        ensure_ascii=False) + "\n")
    if as_json:
        click.echo(json.dumps(summaries if len(leg_list) > 1 else summaries[leg_list[0]], indent=2))
        return
    for leg, summary in summaries.items():
        if len(leg_list) > 1:
            click.echo(f"\n== {leg} ==")
        click.echo(evaluation.format_summary(summary))
