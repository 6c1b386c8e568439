"""The running service: the loaded index (swapped whole on reload), a gate on model work, an answer cache.

Every request takes one reference to the current :class:`Retriever` and uses it to the end, so a
reload in the middle of a request never mixes two indexes.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import os
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from pathlib import Path

from embeddings import Embedder

from ..errors import BadQuestion, DocumentNotFound, IndexNotFound, Overloaded, QAError
from ..index.store import MANIFEST, CorpusIndex, load_index
from ..search.answer import Result, ask_turn
from ..search.answer import warm_up as warm_up_retriever
from ..search.conversation import Turn, Understood, resolve
from ..search.retriever import Retriever
from ..settings import Settings
from .schemas import MAX_QUESTION_CHARS

log = logging.getLogger("qa")
# how long the API holds a refusal when the queue is full before answering 503 (see Service.ask_async)
SHED_DELAY_S = 0.05


def validate_question(question: str) -> str:
    """Return the stripped question or raise :class:`BadQuestion` saying what is wrong."""
    if not isinstance(question, str):
        raise BadQuestion("问题必须是文本 / question must be a string")
    stripped = question.strip()
    if not stripped:
        raise BadQuestion("问题为空，请输入问题 / question is empty: type a question")
    if len(stripped) > MAX_QUESTION_CHARS:
        raise BadQuestion(
            f"问题太长 / question is too long ({len(stripped)} characters; at most {MAX_QUESTION_CHARS})"
        )
    if any(unicodedata.category(c) in ("Cc", "Cs") and c not in "\t\n\r" for c in stripped):
        raise BadQuestion("问题含有控制字符 / question contains control characters")
    return stripped


class Gate:
    """At most ``slots`` questions use the model at once; ``queue`` more may wait up to ``timeout_s``;
    the rest get :class:`Overloaded` (503 with ``Retry-After``) at once instead of unbounded latency.

    Used as a context manager by the thread that runs the model, or in two steps when the model runs on
    another thread: :meth:`reserve` (in the caller, never blocks: a place in the queue or 503 at once), then
    :meth:`run` on the model thread (waits for a slot until ``timeout_s`` after the reservation), or
    :meth:`unreserve` when the reserved work is dropped before it started."""

    BUSY = "服务繁忙，请稍后重试 / the service is busy; retry in a moment"

    def __init__(self, slots: int, queue: int, timeout_s: float) -> None:
        self.slots, self.queue, self.timeout_s = slots, queue, timeout_s
        self._cond = threading.Condition()
        self._active = 0
        self._waiting = 0

    def reserve(self) -> float:
        """Take a place in the queue (the time it was taken), or raise :class:`Overloaded` when none is free."""
        with self._cond:
            if self._active + self._waiting >= self.slots + self.queue:  # a reserved place may not run yet
                raise Overloaded(self.BUSY, retry_after=1)
            self._waiting += 1
        return time.monotonic()

    def unreserve(self) -> None:
        """Give back a place taken by :meth:`reserve` whose work never ran."""
        with self._cond:
            self._waiting -= 1
            self._cond.notify()

    def _enter_reserved(self, reserved_at: float) -> None:
        with self._cond:
            try:
                left = self.timeout_s - (time.monotonic() - reserved_at)
                free = self._cond.wait_for(lambda: self._active < self.slots, timeout=max(0.0, left))
            finally:
                self._waiting -= 1
            if not free:
                raise Overloaded(self.BUSY, retry_after=1)
            self._active += 1

    def run(self, reserved_at: float, fn: Callable, *args: object, **kwargs: object) -> object:
        """``fn(*args, **kwargs)`` in a slot, for the place reserved at ``reserved_at``."""
        self._enter_reserved(reserved_at)
        try:
            return fn(*args, **kwargs)
        finally:
            self.__exit__()

    def __enter__(self) -> Gate:
        self._enter_reserved(self.reserve())
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._active -= 1
            self._cond.notify()

    def load(self) -> int:
        """Questions holding or waiting for a slot now."""
        return self._active + self._waiting


class AnswerCache:
    """Recent results for identical questions, for a short time."""

    def __init__(self, size: int, ttl_s: float) -> None:
        self.size, self.ttl_s = size, ttl_s
        self._items: OrderedDict[tuple, tuple[float, Result]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0

    def get(self, key: tuple) -> Result | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or time.monotonic() - item[0] > self.ttl_s:
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item[1]

    def put(self, key: tuple, result: Result) -> None:
        if not self.size:
            return
        with self._lock:
            self._items[key] = (time.monotonic(), result)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class Service:
    """Holds the model and the current index; answers questions; reloads a rebuilt index."""

    def __init__(self, settings: Settings, embedder: Embedder, index: CorpusIndex | None = None) -> None:
        self.settings = settings
        self.embedder = embedder
        self.retriever: Retriever | None = None
        self.error: QAError | None = None
        self._stamp: tuple | None = None
        self._reload_lock = threading.Lock()
        self.gate = Gate(settings.max_concurrency, settings.max_queue, settings.queue_timeout_s)
        if settings.adaptive_threads:  # every core for a question alone, query_threads under load (qa.serve.threads)
            from embeddings.model import cpu_count

            from .threads import LoadAwareEmbedder

            self.embedder = embedder = LoadAwareEmbedder(
                embedder, alone=lambda: self.gate.load() <= 1, idle_threads=cpu_count(),
                busy_threads=settings.query_threads,
            )
        # the model runs on these few long-lived threads only, never on the web server's many worker
        # threads: each new thread that runs torch gets its own allocator arena and OpenMP team, and
        # the process grew under sustained load while requests moved between threads (bench/load.py)
        self._workers = ThreadPoolExecutor(settings.max_concurrency, thread_name_prefix="qa-model")
        self.cache = AnswerCache(settings.cache_size, settings.cache_ttl_s)
        self._stop = threading.Event()
        # observers (metrics, the request log): on_answer(result, index, cached), on_reload(ok)
        self.on_answer: list[Callable[[Result, CorpusIndex, bool], None]] = []
        self.on_reload: list[Callable[[bool], None]] = []
        if index is not None:
            self.retriever = Retriever(embedder, index)
            self._stamp = self._current_stamp()
        else:
            self.reload()

    @property
    def index_dir(self) -> Path:
        return self.settings.index_dir

    def _current_stamp(self) -> tuple | None:
        try:
            real = self.index_dir.resolve()
            return (str(real), os.stat(real / MANIFEST).st_mtime_ns)
        except OSError:
            return None

    def reload(self) -> bool:
        """Load the index at ``index_dir`` and swap it in; on failure keep the current one and record why."""
        with self._reload_lock:
            stamp = self._current_stamp()
            try:
                index = load_index(self.index_dir, self.embedder)
            except QAError as exc:
                self.error = exc
                if self.retriever is None:
                    log.warning("%s", exc.message)
                else:
                    log.warning("keeping the loaded index: %s", exc.message)
                self._stamp = stamp
                self._notify(self.on_reload, False)
                return False
            retriever = Retriever(self.embedder, index)
            if self.retriever is not None:  # a swap: ready the new one before it serves
                warm_up_retriever(retriever)
            self.retriever = retriever
            self.error = None
            self._stamp = stamp
            log.info("loaded index %s (%d passages)", index.path, len(index.passages))
            self._notify(self.on_reload, True)
            return True

    def _notify(self, observers: list[Callable], *args: object) -> None:
        for observe in observers:
            try:
                observe(*args)
            except Exception:  # an observer never breaks an answer or a reload
                log.exception("observer %r failed", observe)

    def _answered(self, result: Result, retriever: Retriever, cached: bool) -> Result:
        self._notify(self.on_answer, result, retriever.index, cached)
        return result

    def index_problem(self) -> str | None:
        """Why the index being served can no longer be read from disk (deleted, moved, damaged), or None."""
        from ..index.store import read_manifest

        retriever = self.retriever
        if retriever is None:
            return self.error.message if self.error else "no index loaded"
        try:
            read_manifest(self.index_dir.resolve())
        except IndexNotFound:
            return (f"the index at {self.index_dir} has gone (deleted or moved); answers still come from the copy "
                    f"in memory; rebuild it with `qa build --index {self.index_dir}`")
        except QAError as exc:
            return f"the index at {self.index_dir} cannot be read: {exc.message}"
        if not (retriever.index.path / MANIFEST).is_file():
            return f"the index build being served ({retriever.index.path}) is gone; rebuild with `qa build`"
        return None

    def reload_if_changed(self) -> bool:
        stamp = self._current_stamp()
        if stamp is not None and stamp != self._stamp:
            return self.reload()
        return False

    def warm_up(self) -> threading.Thread:
        """Prepare the current retriever in the background (:func:`qa.search.answer.warm_up`), so the first
        question is not slow."""
        retriever = self.retriever

        thread = threading.Thread(target=(lambda: warm_up_retriever(retriever)) if retriever else lambda: None,
                                  name="qa-warmup", daemon=True)
        thread.start()
        return thread

    def start(self, *, watch: bool = True) -> None:
        """Start the background threads: warm-up, memory trimming and (with ``watch``) index polling."""
        self._stop.clear()
        self.warm_up()
        self.trim_memory()
        if watch:
            self.watch()

    def trim_memory(self) -> threading.Thread | None:
        """Hand freed heap memory back to the system every ``trim_interval_s`` (see :mod:`qa.serve.memory`)."""
        from .memory import trim_every

        return trim_every(self.settings.trim_interval_s, self._stop)

    def watch(self) -> threading.Thread | None:
        """Poll for a rebuilt index in the background."""
        interval = self.settings.reload_interval_s
        if not interval:
            return None

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.reload_if_changed()
                except Exception:  # never let the watcher die silently mid-way
                    log.exception("index reload failed")

        thread = threading.Thread(target=loop, name="qa-index-watch", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """End the background threads; :meth:`start` starts them again. The model threads stay: an app may
        be served again (tests do), and idle they cost nothing and end with the interpreter."""
        self._stop.set()

    def current(self) -> Retriever:
        retriever = self.retriever
        if retriever is None:
            if self.error is not None:
                raise self.error
            raise IndexNotFound(f"no index loaded; build one with `qa build --index {self.index_dir}`")
        return retriever

    def _prepare(
        self, question: str, top_k: int, doc_ids: Collection[str] | None, source: str | None,
        history: Sequence[Turn],
    ) -> tuple[str, Retriever, tuple[str, ...] | None, Understood, tuple, Result | None]:
        """Validate, resolve the follow-up (string work, no model call) and look in the cache: the question
        stripped, the retriever, the scope, how the question was understood, its cache key and the cached
        result (None)."""
        question = validate_question(question)
        retriever = self.current()
        scope = self.scope(retriever, doc_ids, source)
        understood = resolve(retriever, question, history)
        key = (understood.question, understood.entities, top_k, id(retriever.index), scope)
        cached = self.cache.get(key)
        if cached is not None:
            cached = replace(cached, question=question, understood=understood, took_ms=0.0)
        return question, retriever, scope, understood, key, cached

    def _submit(self, retriever: Retriever, question: str, history: Sequence[Turn], top_k: int,
                scope: tuple[str, ...] | None, understood: Understood) -> Future:
        """The question's model work, queued for the model threads through the gate (503 when it is full)."""
        return self._workers.submit(self.gate.run, self.gate.reserve(), ask_turn, retriever, question, history,
                                    top_k, doc_ids=scope, understood=understood)

    def _dropped(self, future: Future) -> bool:
        """Drop queued work that has waited its time: True when it never started (its place is given back)."""
        if future.cancel():
            self.gate.unreserve()
            return True
        return False

    def ask(
        self, question: str, top_k: int = 5, *, doc_ids: Collection[str] | None = None, source: str | None = None,
        history: Sequence[Turn] = (),
    ) -> Result:
        """Answer one question (validated), through the cache and the gate.

        Args:
            question: the question as typed.
            top_k: how many passages to return.
            doc_ids: only from these documents (unknown ids: :class:`DocumentNotFound`).
            source: only from documents whose source file name matches this glob.
            history: the earlier turns of the conversation, oldest first (the server keeps none).
        """
        question, retriever, scope, understood, key, cached = self._prepare(question, top_k, doc_ids, source,
                                                                            history)
        if cached is not None:
            return self._answered(cached, retriever, cached=True)
        future = self._submit(retriever, question, history, top_k, scope, understood)
        try:
            result = future.result(timeout=self.gate.timeout_s)
        except FutureTimeout:
            if self._dropped(future):
                raise Overloaded(Gate.BUSY, retry_after=1) from None
            result = future.result()
        self.cache.put(key, result)
        return self._answered(result, retriever, cached=False)

    async def ask_async(
        self, question: str, top_k: int = 5, *, doc_ids: Collection[str] | None = None, source: str | None = None,
        history: Sequence[Turn] = (),
    ) -> Result:
        """:meth:`ask` for the event loop: the model work goes straight to the model threads (one hand-off where
        a sync route takes two, the web server's thread pool and then the model's), and the loop never blocks on
        the gate. Validation, follow-up resolution and the cache lookup are string work, done on the loop."""
        question, retriever, scope, understood, key, cached = self._prepare(question, top_k, doc_ids, source,
                                                                            history)
        if cached is not None:
            return self._answered(cached, retriever, cached=True)
        try:
            future = self._submit(retriever, question, history, top_k, scope, understood)
        except Overloaded:
            # a client that asks again at once, whatever Retry-After says, would otherwise keep the interpreter
            # busy with refusals and starve the model threads (bench.latency: ~10 answers a second, not ~160)
            await asyncio.sleep(SHED_DELAY_S)
            raise
        waiting = asyncio.wrap_future(future)
        try:
            result = await asyncio.wait_for(asyncio.shield(waiting), self.gate.timeout_s)
        except TimeoutError:
            if self._dropped(future):
                raise Overloaded(Gate.BUSY, retry_after=1) from None
            result = await waiting
        except asyncio.CancelledError:  # the client went away: its question leaves the queue if still there
            self._dropped(future)
            raise
        self.cache.put(key, result)
        return self._answered(result, retriever, cached=False)

    @staticmethod
    def scope(retriever: Retriever, doc_ids: Collection[str] | None, source: str | None) -> tuple[str, ...] | None:
        """The documents a question is restricted to (``doc_ids`` and/or a ``source`` glob), or None."""
        if doc_ids is None and source is None:
            return None
        documents = retriever.index.documents
        chosen: set[str] = set()
        if doc_ids is not None:
            unknown = [d for d in doc_ids if d not in documents]
            if unknown:
                raise DocumentNotFound(f"no document {', '.join(map(repr, unknown[:5]))} in the index")
            chosen.update(doc_ids)
        if source is not None:
            matched = {d.id for d in documents.values() if fnmatch.fnmatchcase(d.source, source)}
            chosen = (chosen & matched) if doc_ids is not None else matched
        return tuple(sorted(chosen))
