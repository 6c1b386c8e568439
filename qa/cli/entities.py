"""`qa entities`: what the index knows its documents are about."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .main import _settings, cli, friendly, index_option

KINDS = ("org", "person", "place", "unit")


@cli.command()
@index_option
@click.option("--kind", type=click.Choice(KINDS), default=None, help="Only entities of this kind.")
@click.option("--all", "show_all", is_flag=True, help="Also those mentioned only once.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (as GET /api/entities).")
@friendly
def entities(index_dir: Path | None, kind: str | None, show_all: bool, as_json: bool) -> None:
    """List the entities of the index: organisations (with aliases), people, places and units, the documents
    that mention each, and what each document is mainly about. No model is loaded.

    \b
    Examples:
        qa entities
        qa entities --kind org --json
    """
    from ..index.entities import english_name
    from ..index.store import load_index
    from ..search.retriever import entity_table

    settings = _settings(index_dir=index_dir)
    table = entity_table(load_index(settings.index_dir))
    chosen = [e for e in table.entities if (kind is None or e.kind == kind) and (show_all or e.mentions >= 2
                                                                                  or e.main_of)]
    if as_json:
        click.echo(json.dumps([e.summary() for e in chosen], ensure_ascii=False, indent=2))
        return
    for e in chosen:
        about = f"  主题 / main subject of {', '.join(e.main_of)}" if e.main_of else ""
        aliases = f" ({'、'.join(a for a in e.aliases if a != e.name)})" if len(e.aliases) > 1 else ""
        docs = ", ".join(f"{d}×{n}" for d, n in sorted(e.docs.items()))
        english = english_name(e)
        click.echo(f"{e.kind:<6} {e.name}{aliases}{f' / {english}' if english else ''}  — {docs}{about}")
    click.echo(f"({len(chosen)} of {len(table.entities)} entities)")

