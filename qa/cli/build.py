"""`qa build`: documents into an index."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import main
from .main import _settings, cli, friendly, index_option


@cli.command()
@click.option("--source", "sources", multiple=True, type=click.Path(path_type=Path),
              help="Folder of .txt/.md files or a .jsonl file of {id,title,text}; repeatable [default: seeds/].")
@index_option
@click.option("--keywords", type=click.Choice(["bigram", "jieba"]), default="bigram", show_default=True,
              help="Tokenizer of the keyword (BM25) leg.")
@click.option("--vector-index", type=click.Choice(["auto", "flat", "hnsw"]), default="auto", show_default=True,
              help="FAISS index type; auto = exact up to 50,000 passages, HNSW beyond.")
@click.option("--force", is_flag=True, help="Rebuild even if sources and model are unchanged.")
@click.option("--ray", "ray_address", default=None, metavar="ADDRESS",
              help="Embed on a Ray cluster (host:port, ray://host:10001, or auto: the local one); needs the ray extra.")
@friendly
def build(sources: tuple[Path, ...], index_dir: Path | None, keywords: str, vector_index: str, force: bool,
          ray_address: str | None) -> None:
    """Build the index from documents, atomically (the old index serves until the new one is complete).

    Embeddings are cached, so an unchanged corpus embeds nothing and a killed build resumes.

    \b
    Examples:
        qa build
        qa build --source seeds --index data/index
        qa build --source ../shared/eval/xquad_zh/corpus.jsonl --index data/xquad
        qa build --ray 10.0.0.5:6379
        QA_VECTOR_STORE=milvus QA_MILVUS_URI=data/milvus.db qa build
    """
    from tqdm import tqdm

    from embeddings.stores import StoreError, check_store

    from ..index.store import build_index
    from ..ingest.documents import load_documents

    settings = _settings(index_dir=index_dir)
    paths = list(sources) or [settings.seeds_dir]
    load_documents(paths)  # fail fast on an unreadable source, before loading the model
    try:
        check_store(settings.vector_store_config())  # and on a vector store that is out of reach
    except StoreError as exc:
        raise click.ClickException(str(exc).strip().splitlines()[0]) from None
    embedder = main.load_model(settings)
    if ray_address:
        from embeddings.cluster import RayEmbedder

        embedder = RayEmbedder(embedder, ray_address, model=settings.model, cache_dir=settings.cache_dir,
                               backend=settings.backend)
    bars: list[tqdm] = []

    def progress_factory(total: int):
        bar = tqdm(total=total, unit="passage", desc="embedding", dynamic_ncols=True, file=sys.stderr)
        bars.append(bar)
        return bar.update

    try:
        report = build_index(paths, settings.index_dir, embedder, cache_dir=settings.cache_dir,
                             keyword_tokenizer=keywords, vector_kind=vector_index,
                             progress_factory=progress_factory, force=force,
                             vector_store=settings.vector_store_config())
    except StoreError as exc:
        raise click.ClickException(str(exc).strip().splitlines()[0]) from None
    finally:
        for bar in bars:
            bar.close()
        if ray_address:
            embedder.close()
    if report.unchanged:
        click.echo(f"index at {report.index_dir} is up to date ({report.documents} documents, "
                   f"{report.passages} passages); nothing to embed")
        return
    click.echo(
        f"built {report.index_dir}: {report.documents} documents, {report.passages} passages, "
        f"{report.units} sentence units ({report.embedded} embedded, {report.reused} from cache) "
        f"in {report.seconds:.1f}s"
    )
