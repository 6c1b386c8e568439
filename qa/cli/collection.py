"""`qa add`, `qa remove`, `qa list`: change one document of an index without a full build."""

from __future__ import annotations

import json
from pathlib import Path

import click

from . import main
from .build import file_lines, wait_option
from .main import _settings, cli, friendly, index_option


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@index_option
@wait_option
@friendly
def add(paths: tuple[Path, ...], index_dir: Path | None, wait_s: float) -> None:
    """Add documents (files or folders) to the index, replacing ones with the same id (the file's stem).

    Only the new documents' sentences are embedded; a running `qa serve` picks the change up by itself.
    The files are copied into the collection (INDEX.files/); yours are never moved or changed.

    \b
    Examples:
        qa add 年报.pdf 制度汇编.docx
        qa add ~/新文件/ --index data/index
    """
    from ..index.collection import add_paths

    settings = _settings(index_dir=index_dir)
    from ..index.build import check_target
    from ..ingest.documents import read_sources

    check_target(settings.index_dir)
    read_sources(list(paths))  # a missing path fails here, before the model loads
    embedder = main.load_model(settings)
    change = add_paths(list(paths), settings.index_dir, embedder, cache_dir=settings.cache_dir, wait_s=wait_s)
    report = change.report
    report.files = change.files
    for line in file_lines(report):
        click.echo(line)
    click.echo(
        f"{report.index_dir}: added {len(change.added)}, replaced {len(change.replaced)} "
        f"({report.embedded} sentence units embedded, {report.reused} from cache); now {report.documents} documents, "
        f"{report.passages} passages"
    )


@cli.command()
@click.argument("doc_ids", nargs=-1, required=True)
@index_option
@wait_option
@friendly
def remove(doc_ids: tuple[str, ...], index_dir: Path | None, wait_s: float) -> None:
    """Remove documents from the index by id (see `qa list`). Your own files are never touched.

    \b
    Example:
        qa remove 年报 制度汇编
    """
    from ..index.collection import remove_documents

    settings = _settings(index_dir=index_dir)
    embedder = main.load_model(settings)
    change = remove_documents(list(doc_ids), settings.index_dir, embedder, cache_dir=settings.cache_dir,
                              wait_s=wait_s)
    report = change.report
    click.echo(f"{report.index_dir}: removed {', '.join(change.removed)}; now {report.documents} documents, "
               f"{report.passages} passages")


@cli.command(name="list")
@index_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
@friendly
def list_(index_dir: Path | None, as_json: bool) -> None:
    """List the index's documents: id, format, pages, passages, where it came from, title.

    \b
    Example:
        qa list --index data/index
    """
    from ..index.collection import list_documents

    settings = _settings(index_dir=index_dir)
    for row in list_documents(settings.index_dir):
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            pages = f"{row['pages']}p" if row["pages"] else "-"
            click.echo(f"{row['id']}\t{row['format']}\t{pages}\t{row['passages']} passages\t{row['origin']}\t"
                       f"{row['title']}")
