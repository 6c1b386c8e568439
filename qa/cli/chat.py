"""`qa chat`: a conversation in the terminal."""

from __future__ import annotations

from pathlib import Path

import click

from .ask import _print_result, open_retriever
from .main import _settings, cli, friendly, index_option

PROMPT = "问> "
HELP = "输入问题；/new 开始新对话，/quit 退出 / type a question; /new starts over, /quit ends"


@cli.command()
@index_option
@click.option("-k", "--top-k", default=5, show_default=True, type=click.IntRange(1, 50), help="Passages to show.")
@friendly
def chat(index_dir: Path | None, top_k: int) -> None:
    """Talk to the documents: follow-up questions lean on the conversation (那荆州一医呢？).

    Line editing and input history as in any shell (arrow keys); each reply prints its citations like
    `qa ask`, and 理解为 shows how a follow-up was understood.

    \b
    Commands:
        /new    start a new conversation
        /quit   end (also Ctrl-D)
    """
    try:
        import readline  # noqa: F401  (line editing and history for input())
    except ImportError:  # pragma: no cover - not on every platform
        pass
    from ..errors import BadQuestion
    from ..search.answer import ask_turn, warm_up
    from ..search.conversation import MAX_TURNS, Turn
    from ..serve.service import validate_question

    settings = _settings(index_dir=index_dir)
    retriever = open_retriever(settings)
    warm_up(retriever)
    click.echo(HELP)
    history: list[Turn] = []
    while True:
        try:
            line = input(PROMPT)
        except EOFError:
            click.echo()
            break
        except KeyboardInterrupt:
            click.echo()
            continue
        command = line.strip()
        if not command:
            continue
        if command in ("/quit", "/exit", "/q"):
            break
        if command == "/new":
            history.clear()
            click.echo("—— 新对话 / new conversation ——")
            continue
        if command.startswith("/"):
            click.echo(f"未知命令 / unknown command {command}: {HELP}")
            continue
        try:
            question = validate_question(command)
        except BadQuestion as exc:
            click.echo(exc.message)
            continue
        result = ask_turn(retriever, question, history, top_k)
        _print_result(result, False)
        history = [*history, Turn(question, result.answer.display if result.answer else None)][-MAX_TURNS:]
