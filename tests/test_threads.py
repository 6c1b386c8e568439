"""The thread rule for question encoding (qa/serve/threads.py) with the real model: every core for a question
alone on idle cores, QA_QUERY_THREADS when others wait or the CPU is contended; the vectors do not depend
on it. The speed side is measured in bench.latency / bench.threads, not here."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from conftest import make_settings

pytestmark = pytest.mark.slow

QUESTION = "荆州二医在封城期间接诊了多少发热患者？"


class FixedContention:
    def __init__(self, busy: bool) -> None:
        self.value = busy

    def busy(self) -> bool:
        return self.value


def test_cpu_pressure_is_read_from_psi_where_linux_has_it():
    from qa.serve.threads import PRESSURE_FILE, cpu_pressure

    value = cpu_pressure()
    if PRESSURE_FILE.exists():
        assert value is not None and 0.0 <= value <= 100.0
    else:
        assert value is None


@pytest.mark.parametrize("alone,busy,expected", [(True, False, 2), (False, False, 1), (True, True, 1),
                                                 (False, True, 1)])
def test_threads_follow_the_load(embedder, alone, busy, expected):
    from qa.serve.threads import LoadAwareEmbedder

    wrapped = LoadAwareEmbedder(embedder, alone=lambda: alone, idle_threads=2, busy_threads=1,
                                contention=FixedContention(busy))
    previous = embedder.query_threads
    try:
        vectors = wrapped.embed_queries([QUESTION])
        assert wrapped.last_threads == expected and embedder.query_threads == expected
    finally:
        embedder.query_threads = previous
    assert vectors.shape == (1, embedder.dim)
    assert wrapped.name == embedder.name and wrapped.dim == embedder.dim  # everything else is the model's


def test_vectors_do_not_depend_on_the_thread_count(embedder):
    from qa.serve.threads import LoadAwareEmbedder

    previous = embedder.query_threads
    try:
        one = LoadAwareEmbedder(embedder, alone=lambda: False, idle_threads=2, busy_threads=1,
                                contention=FixedContention(False)).embed_queries([QUESTION])
        two = LoadAwareEmbedder(embedder, alone=lambda: True, idle_threads=2, busy_threads=1,
                                contention=FixedContention(False)).embed_queries([QUESTION])
    finally:
        embedder.query_threads = previous
    assert float(np.dot(one[0], two[0])) > 0.9999


def test_the_service_counts_waiting_questions_as_load(embedder, seed_index_dir, seed_index):
    from qa.serve.service import Service

    service = Service(make_settings(seed_index_dir, max_concurrency=1, max_queue=2, queue_timeout_s=5),
                      embedder, seed_index)
    assert service.gate.load() == 0
    held, release, done = threading.Event(), threading.Event(), threading.Event()

    def hold():
        with service.gate:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)
    asker = threading.Thread(target=lambda: (service.ask(QUESTION), done.set()))
    asker.start()
    try:
        for _ in range(100):
            if service.gate.load() == 2:
                break
            threading.Event().wait(0.02)
        assert service.gate.load() == 2  # one in the slot, one waiting: not alone
    finally:
        release.set()
        holder.join(10)
        asker.join(30)
    assert done.is_set()
    assert service.gate.load() == 0


def test_the_rule_can_be_switched_off(embedder, seed_index_dir, seed_index):
    from qa.serve.service import Service
    from qa.serve.threads import LoadAwareEmbedder

    on = Service(make_settings(seed_index_dir), embedder, seed_index)
    off = Service(make_settings(seed_index_dir, adaptive_threads=False), embedder, seed_index)
    assert isinstance(on.embedder, LoadAwareEmbedder) and on.embedder.inner is embedder
    assert off.embedder is embedder
