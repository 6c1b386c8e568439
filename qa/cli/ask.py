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
    if response.understood_as and response.understood_as != response.question:
        click.echo(f"理解为 / understood as: {response.understood_as}")
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
        pages = (f"page {p.page_start}" + (f"-{p.page_end}" if p.page_end and p.page_end != p.page_start else "")
                 + ", ") if p.page_start else ""
        section = f" ({p.section})" if p.section else ""
        click.echo(f"\n[{p.rank}] {p.title} — {p.source}, {pages}lines {p.line_start}-{p.line_end}{section}  "
                   f"score {p.score:.3f} (dense {p.dense_score:.3f}, keyword {p.keyword_score:.2f}){mark}")
        click.echo(f"    {p.text}")
    click.echo(f"\n({response.took_ms:.0f} ms)")


@cli.command()
@click.argument("question")
@index_option
@click.option("-k", "--top-k", default=5, show_default=True, type=click.IntRange(1, 50), help="Passages to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON instead.")
@click.option("--history", "history_file", type=click.Path(path_type=Path), default=None,
              help="JSON file: the earlier turns, oldest first, as in the API: [{\"question\": …, \"answer\": …}].")
@friendly
def ask(question: str, index_dir: Path | None, top_k: int, as_json: bool, history_file: Path | None) -> None:
    """Ask a question and print the cited passages.

    \b
    Examples:
        qa ask "荆州二医在封城期间接诊了多少发热患者？"
        qa ask "How many fever patients did Jingzhou No.2 Hospital see?" --json
        qa ask "那荆州一医呢？" --history turns.json
    """
    from ..search.answer import ask_turn
    from ..serve.service import validate_question

    settings = _settings(index_dir=index_dir)
    question = validate_question(question)
    history = read_history(history_file) if history_file else []
    retriever = open_retriever(settings)
    _print_result(ask_turn(retriever, question, history, top_k), as_json)


def read_history(path: Path):
    """The turns of a --history file, checked as the API checks them; one line saying what is wrong."""
    from pydantic import TypeAdapter, ValidationError

    from ..serve.schemas import HistoryTurn

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise click.ClickException(f"cannot read --history {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise click.ClickException(f"--history {path} is not UTF-8 JSON ({exc.__class__.__name__})") from None
    try:
        turns = TypeAdapter(list[HistoryTurn]).validate_python(data, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ()))
        raise click.ClickException(f"--history {path}: {where}: {first.get('msg')} "
                                   '(expected a JSON list of {"question": "…", "answer": "…" or null})') from None
    from ..search.conversation import MAX_TURNS, Turn

    if len(turns) > MAX_TURNS:
        raise click.ClickException(f"--history {path}: {len(turns)} turns; at most {MAX_TURNS}")
    return [Turn(t.question, t.answer) for t in turns]


def open_retriever(settings):
    """Load the model and the index of ``settings`` (the index checked first: no model load for nothing)."""
    from ..index.store import load_index, read_manifest
    from ..search.retriever import Retriever

    read_manifest(settings.index_dir.resolve())  # fail fast, before loading the model
    embedder = main.load_model(settings)
    return Retriever(embedder, load_index(settings.index_dir, embedder))
