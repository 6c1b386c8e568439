"""`qa build`: documents into an index, one line per file (indexed or skipped and why) and a summary."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import main
from .main import _settings, cli, friendly, index_option


def file_lines(report) -> list[str]:
    """One line per file of a build or an add: ``indexed PATH (N passages, P pages)`` or ``skipped PATH: why``."""
    lines = []
    for f in report.files:
        if f.skipped:
            lines.append(f"skipped  {f.path}: {f.reason}")
            continue
        passages = sum(report.passages_of.get(doc_id, 0) for doc_id in f.doc_ids)
        parts = [f"{passages} passage{'s' if passages != 1 else ''}"]
        if len(f.doc_ids) > 1:
            parts.insert(0, f"{len(f.doc_ids)} documents")
        if f.pages:
            parts.append(f"{f.pages} page{'s' if f.pages != 1 else ''}")
        parts += f.notes
        lines.append(f"indexed  {f.path} ({', '.join(parts)})")
    return lines


wait_option = click.option(
    "--wait", "wait_s", type=click.FloatRange(min=0), default=0.0, show_default=True,
    help="Seconds to wait when another write to the index is running (then say so and exit 1).",
)


@cli.command()
@click.option("--source", "sources", multiple=True, type=click.Path(path_type=Path),
              help="Folder or file (.txt .md .pdf .docx .html .jsonl, images with the ocr extra); repeatable "
                   "[default: seeds/].")
@index_option
@click.option("--keywords", type=click.Choice(["bigram", "jieba"]), default="bigram", show_default=True,
              help="Tokenizer of the keyword (BM25) leg.")
@click.option("--vector-index", type=click.Choice(["auto", "flat", "hnsw"]), default="auto", show_default=True,
              help="FAISS index type; auto = exact up to 50,000 passages, HNSW beyond.")
@click.option("--force", is_flag=True, help="Rebuild even if sources and model are unchanged.")
@wait_option
@click.option("--ray", "ray_address", default=None, metavar="ADDRESS",
              help="Embed on a Ray cluster (host:port, ray://host:10001, or auto: the local one); needs the ray extra.")
@friendly
def build(sources: tuple[Path, ...], index_dir: Path | None, keywords: str, vector_index: str, force: bool,
          wait_s: float, ray_address: str | None) -> None:
    """Build the index from documents, atomically (the old index serves until the new one is complete).

    Every file is listed: indexed (passages, pages) or skipped and why; a bad file never stops the others.
    Documents added with `qa add` stay. Embeddings are cached, so an unchanged corpus embeds nothing and a
    killed build resumes. --index must be missing, an empty folder or an index made by qa.

    \b
    Examples:
        qa build
        qa build --source seeds --source 年报.pdf --index data/index
        qa build --source ../shared/eval/xquad_zh/corpus.jsonl --index data/xquad
        qa build --ray 10.0.0.5:6379
        QA_VECTOR_STORE=milvus QA_MILVUS_URI=data/milvus.db qa build
    """
    from tqdm import tqdm

    from embeddings.stores import StoreError, check_store

    from ..errors import QAError
    from ..index.build import build_index, check_target
    from ..ingest.documents import read_sources

    settings = _settings(index_dir=index_dir)
    paths = list(sources) or [settings.seeds_dir]
    check_target(settings.index_dir)  # refuse a foreign --index before any slow work
    scan = read_sources(paths)  # a missing source fails here, before the model loads
    if not scan.documents:
        for line in file_lines_of_scan(scan):
            click.echo(line)
        raise QAError(f"nothing to index: {len(scan.files)} file(s) looked at, none readable "
                      "(see the lines above)" if scan.files else f"nothing to index in {', '.join(map(str, paths))}")
    try:
        check_store(settings.vector_store_config())  # a vector store out of reach fails before the model loads
    except StoreError as exc:
        raise click.ClickException(str(exc).strip().splitlines()[0]) from None
    if ray_address and ray_address != "auto":
        from embeddings.cluster import check_address

        check_address(ray_address)  # an unreachable cluster fails before the model loads
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
                             progress_factory=progress_factory, force=force, wait_s=wait_s, scan=scan)
    except StoreError as exc:
        raise click.ClickException(str(exc).strip().splitlines()[0]) from None
    finally:
        for bar in bars:
            bar.close()
        if ray_address:
            embedder.close()
    for line in file_lines(report):
        click.echo(line)
    skipped = len([f for f in report.files if f.skipped])
    files = f"{len(report.files) - skipped} files indexed, {skipped} skipped"
    if report.unchanged:
        click.echo(f"index at {report.index_dir} is up to date ({files}; {report.documents} documents, "
                   f"{report.passages} passages); nothing to embed")
        return
    click.echo(
        f"built {report.index_dir}: {report.documents} documents, {report.passages} passages, "
        f"{report.units} sentence units ({report.embedded} embedded, {report.reused} from cache) "
        f"in {report.seconds:.1f}s; {files}"
    )


def file_lines_of_scan(scan) -> list[str]:
    return [f"skipped  {f.path}: {f.reason}" for f in scan.files if f.skipped]
