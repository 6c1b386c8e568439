"""`qa serve`: the page and the API."""

from __future__ import annotations

from pathlib import Path

import click

from .main import _settings, cli, friendly, index_option


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

    from ..serve.app import create_app

    settings = _settings(index_dir=index_dir, host=host, port=port)
    app = create_app(settings)
    click.echo(f"serving on http://{settings.host}:{settings.port}/  (API docs: /docs)")
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
