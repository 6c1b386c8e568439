"""The `qa` command: prepare the model, build an index, ask, serve, evaluate.

Every failure a user can fix prints one line saying what to do, and exits 1; no traceback. Each command
lives in a module of its own and registers itself on the one group in :mod:`qa.cli.main`.
"""

from . import ask, build, chat, collection, entities, evaluate, feedback, serve  # noqa: F401  (registers the commands)
from .main import cli

__all__ = ["cli"]
