"""`qa serve`: the page and the API, on one or more worker processes."""

from __future__ import annotations

import os
from pathlib import Path

import click

from .main import _settings, cli, friendly, index_option

# Settings the workers read from the environment (they build their app from QA_* variables).
_ENV = {"index_dir": "QA_INDEX_DIR", "host": "QA_HOST", "port": "QA_PORT", "workers": "QA_WORKERS"}


@cli.command()
@index_option
@click.option("--host", default=None, help="Interface to bind [default: 127.0.0.1; anything else is reachable "
                                           "from other machines].")
@click.option("--port", default=None, type=int, help="Port [default: 8000]; 0 picks a free one.")
@click.option("--workers", default=None, type=click.IntRange(1, 64),
              help="Worker processes sharing the memory-mapped index [default: QA_WORKERS or 1].")
@click.option("--check", is_flag=True, help="Only check the port and the index directory, then exit (make run "
                                            "does this before any slow step).")
@friendly
def serve(index_dir: Path | None, host: str | None, port: int | None, workers: int | None, check: bool) -> None:
    """Serve the chat page (/), the API (/api, docs at /docs) and metrics (/metrics).

    Checks the port and the index directory before loading the model. Each worker loads the model
    once (~0.5-1 GB) and maps the same index files; every worker picks up a rebuilt index by itself.
    SIGTERM finishes the requests in flight (for at most QA_SHUTDOWN_TIMEOUT_S) and exits. One JSON
    log line per request goes to stderr.

    \b
    Examples:
        qa serve --index data/index --port 8000
        qa serve --workers 2
    """
    from ..serve import server

    settings = _settings(index_dir=index_dir, host=host, port=port, workers=workers)
    server.check_port(settings.port)
    server.check_index_dir(settings.index_dir)
    sock = server.bind(settings.host, settings.port)
    if check:
        sock.close()
        return
    bound_port = sock.getsockname()[1]
    warning = server.exposure_warning(settings.host, settings.admin_token)
    if warning:
        click.secho(warning, fg="red", bold=True, err=True)
    for field, variable in _ENV.items():  # what the worker processes build their settings from
        value = {"index_dir": settings.index_dir.absolute(), "port": bound_port}.get(field, getattr(settings, field))
        os.environ[variable] = str(value)
    shown = f"[{settings.host}]" if ":" in settings.host else settings.host
    plural = "s" if settings.workers > 1 else ""
    click.echo(f"serving on http://{shown}:{bound_port}/  (API docs: /docs, metrics: /metrics; "
               f"{settings.workers} worker{plural}; loading the model ...)")
    server.run(settings, sock)
