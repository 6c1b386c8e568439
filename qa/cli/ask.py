"""`qa ask`: one question, its cited passages."""

from __future__ import annotations

import json
from pathlib import Path

import click

from . import main
from .main import _settings, cli, friendly, index_option


def _print_result(result, as_json: bool) -> None:
    from ..serve.schemas import AskResponse

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
    from ..index.store import load_index, read_manifest
    from ..search.answer import ask as answer
    from ..search.retriever import Retriever
    from ..serve.service import validate_question

    settings = _settings(index_dir=index_dir)
    question = validate_question(question)
    read_manifest(settings.index_dir.resolve())  # fail fast, before loading the model
    embedder = main.load_model(settings)
    index = load_index(settings.index_dir, embedder)
    _print_result(answer(Retriever(embedder, index), question, top_k), as_json)
