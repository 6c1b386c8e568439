"""Domain errors. Each carries the HTTP status it maps to; the API, the pages and the CLI translate them."""

from __future__ import annotations


class QAError(Exception):
    """Base class: a message a person can act on, and an HTTP status."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadQuestion(QAError):
    """The question is empty, too long or otherwise unusable."""

    status = 400


class DocumentNotFound(QAError):
    status = 404


class IndexNotFound(QAError):
    """There is no index where one was expected."""

    status = 503


class IndexCorrupt(QAError):
    """The index directory exists but a file in it is missing, truncated or garbled."""

    status = 503


class IndexMismatch(QAError):
    """The index was built by another model or dimension."""

    status = 503


class Overloaded(QAError):
    """Too many questions at once; the client should retry shortly."""

    status = 503

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unauthorized(QAError):
    status = 401


class AdminDisabled(QAError):
    status = 403


class WriteBusy(QAError):
    """Another write (a build, an add, a removal) holds the index's lock; the message names its pid."""

    status = 409


class IndexRefused(QAError):
    """``--index`` names something that is not ours to write: a file, a folder of other things, a foreign link."""

    status = 409


class DocumentRejected(QAError):
    """An upload or an added file that cannot be indexed (why, in one line); the status says what kind."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status
