"""Load shedding: the Gate (slots, a short queue, a wait limit) and the 503 + Retry-After it gives the API.

No timing assertions: the concurrency tests hold the model slot with an event, so what is queued or
refused is decided by the gate's state, not by how fast this machine is.
"""

from __future__ import annotations

import asyncio
import threading
import time
from contextlib import contextmanager

import httpx
import pytest
from conftest import make_settings

from qa.errors import Overloaded
from qa.serve.service import SHED_DELAY_S, Gate

WAIT = 60.0  # the longest any test waits for a thread or an event


def run_in_thread(target) -> tuple[threading.Thread, dict]:
    """Run ``target`` in a daemon thread; the dict gets "result" or "error"."""
    out: dict = {}

    def body():
        try:
            out["result"] = target()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            out["error"] = exc

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread, out


def wait_until(predicate, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached in time")
        time.sleep(0.01)


@contextmanager
def slot_held(gate: Gate):
    """The gate's one slot held by another thread until the block ends."""
    release, entered = threading.Event(), threading.Event()
    holder, _ = run_in_thread(hold(gate, release, entered))
    assert entered.wait(WAIT)
    try:
        yield
    finally:
        release.set()
        holder.join(WAIT)


def hold(gate: Gate, release: threading.Event, entered: threading.Event | None = None):
    def target():
        with gate:
            if entered is not None:
                entered.set()
            release.wait(WAIT)
        return "done"

    return target


# ----------------------------------------------------------------------------------------- Gate


def test_gate_admits_up_to_slots_then_refuses_without_queue():
    gate = Gate(slots=2, queue=0, timeout_s=5)
    release = threading.Event()
    entered = [threading.Event(), threading.Event()]
    threads = [run_in_thread(hold(gate, release, e)) for e in entered]
    for e in entered:
        assert e.wait(WAIT)
    with pytest.raises(Overloaded) as exc:
        with gate:
            pass
    assert exc.value.status == 503
    assert exc.value.retry_after == 1
    assert "busy" in exc.value.message
    release.set()
    for thread, out in threads:
        thread.join(WAIT)
        assert out == {"result": "done"}
    with gate:  # slots are free again
        pass


def test_gate_queue_waits_for_a_slot():
    gate = Gate(slots=1, queue=1, timeout_s=WAIT)
    release, entered = threading.Event(), threading.Event()
    holder, holder_out = run_in_thread(hold(gate, release, entered))
    assert entered.wait(WAIT)
    second_entered = threading.Event()
    waiter, waiter_out = run_in_thread(lambda: _enter_and_leave(gate, second_entered))
    wait_until(lambda: gate._waiting == 1)
    with pytest.raises(Overloaded):  # the one queue place is taken
        with gate:
            pass
    assert not second_entered.is_set()
    release.set()
    holder.join(WAIT)
    waiter.join(WAIT)
    assert holder_out == {"result": "done"}
    assert waiter_out == {"result": "entered"}
    assert second_entered.is_set()
    assert gate._waiting == 0


def _enter_and_leave(gate: Gate, entered: threading.Event) -> str:
    with gate:
        entered.set()
    return "entered"


def test_gate_queue_times_out():
    gate = Gate(slots=1, queue=4, timeout_s=0.2)
    with slot_held(gate):
        with pytest.raises(Overloaded) as exc:
            with gate:
                pass
        assert exc.value.retry_after == 1
        assert gate._waiting == 0  # the timed-out waiter left the queue
    with gate:
        pass


def test_gate_in_two_steps_reserves_at_once_and_runs_elsewhere():
    """The API reserves a place on the event loop (never blocking) and runs the question on a model thread."""
    gate = Gate(slots=1, queue=1, timeout_s=WAIT)
    first, _ = gate.reserve(), gate.reserve()  # one for the slot, one in the queue
    with pytest.raises(Overloaded):  # nothing free: refused at once
        gate.reserve()
    assert gate.load() == 2
    assert gate.run(first, lambda x: x * 2, 21) == 42  # ran in the slot, then left it
    gate.unreserve()  # the queued question was dropped before it ran (its client went away)
    assert gate.load() == 0
    with pytest.raises(ZeroDivisionError):  # an error in the work gives the slot back too
        gate.run(gate.reserve(), lambda: 1 / 0)
    assert gate.load() == 0


def test_gate_in_two_steps_waits_for_the_slot_until_its_time_is_up():
    gate = Gate(slots=1, queue=2, timeout_s=0.2)
    with slot_held(gate):
        with pytest.raises(Overloaded):
            gate.run(gate.reserve(), lambda: "never")
        assert gate._waiting == 0


def test_gate_releases_on_error():
    gate = Gate(slots=1, queue=0, timeout_s=1)
    with pytest.raises(ZeroDivisionError):
        with gate:
            raise ZeroDivisionError
    with gate:  # the slot came back
        pass


def test_gate_under_many_threads_never_exceeds_slots():
    gate = Gate(slots=2, queue=3, timeout_s=WAIT)
    lock = threading.Lock()
    state = {"inside": 0, "most": 0, "ok": 0, "refused": 0}

    def worker():
        try:
            with gate:
                with lock:
                    state["inside"] += 1
                    state["most"] = max(state["most"], state["inside"])
                time.sleep(0.005)
                with lock:
                    state["inside"] -= 1
            with lock:
                state["ok"] += 1
        except Overloaded:
            with lock:
                state["refused"] += 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert state["ok"] + state["refused"] == 40
    assert state["ok"] >= 2
    assert state["most"] <= 2
    assert state["inside"] == 0 and gate._waiting == 0


# ----------------------------------------------------------------------------------------- the API


class HeldEmbedder:
    """The real model, but question encoding waits until the test releases it."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name, self.dim, self.fingerprint = inner.name, inner.dim, inner.fingerprint
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def embed_queries(self, texts):
        self.calls += 1
        self.entered.set()
        self.release.wait(WAIT)
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts, **kwargs):
        return self.inner.embed_passages(texts, **kwargs)


def assert_overloaded(response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers.get("retry-after") == "1"
    body = response.json()
    assert set(body) == {"ok", "status", "error"}
    assert body["ok"] is False and body["status"] == 503 and "busy" in body["error"]


def make_app(embedder, seed_index, seed_index_dir, **settings):
    from qa.serve.app import create_app

    held = HeldEmbedder(embedder)
    app = create_app(make_settings(seed_index_dir, **settings), embedder=held, index=seed_index, watch=False)
    return app, held


async def _post(client: httpx.AsyncClient, question: str) -> httpx.Response:
    return await client.post("/api/ask", json={"question": question, "top_k": 3})


@pytest.mark.slow
def test_api_503_with_retry_after_when_queue_full(embedder, seed_index, seed_index_dir):
    app, held = make_app(embedder, seed_index, seed_index_dir, max_concurrency=1, max_queue=0)

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=WAIT) as client:
            first = asyncio.create_task(_post(client, "荆州二医在封城期间接诊了多少发热患者？"))
            await asyncio.wait_for(asyncio.to_thread(held.entered.wait, WAIT), WAIT)
            asked = time.monotonic()
            refused = await asyncio.wait_for(_post(client, "荆州是哪一天封城的？"), WAIT)
            held_for = time.monotonic() - asked
            health = await client.get("/api/health")  # needs no model slot
            held.release.set()
            done = await asyncio.wait_for(first, WAIT)
            after = await asyncio.wait_for(_post(client, "荆州是哪一天封城的？"), WAIT)
            return refused, health, done, after, held_for

    refused, health, done, after, held_for = asyncio.run(scenario())
    assert_overloaded(refused)
    # held a moment, so that a client asking again at once cannot keep the model threads from the interpreter
    assert SHED_DELAY_S <= held_for < WAIT
    assert health.status_code == 200 and health.json()["ok"] is True
    assert done.status_code == 200 and "近4000人次" in done.json()["passages"][0]["text"]
    assert after.status_code == 200
    assert held.calls == 2  # the refused question never reached the model


@pytest.mark.slow
def test_api_queue_holds_one_then_refuses(embedder, seed_index, seed_index_dir):
    app, held = make_app(embedder, seed_index, seed_index_dir, max_concurrency=1, max_queue=1)
    gate = app.state.service.gate

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=WAIT) as client:
            first = asyncio.create_task(_post(client, "荆州二医在封城期间接诊了多少发热患者？"))
            await asyncio.wait_for(asyncio.to_thread(held.entered.wait, WAIT), WAIT)
            queued = asyncio.create_task(_post(client, "荆州是哪一天封城的？"))
            await asyncio.wait_for(asyncio.to_thread(wait_until, lambda: gate._waiting == 1), WAIT)
            refused = await asyncio.wait_for(_post(client, "荆州二医有多少名职工？"), WAIT)
            held.release.set()
            return refused, await asyncio.wait_for(first, WAIT), await asyncio.wait_for(queued, WAIT)

    refused, first, queued = asyncio.run(scenario())
    assert_overloaded(refused)
    assert first.status_code == 200
    assert queued.status_code == 200


@pytest.mark.slow
def test_api_queue_wait_times_out_with_503(embedder, seed_index, seed_index_dir):
    app, held = make_app(embedder, seed_index, seed_index_dir, max_concurrency=1, max_queue=1, queue_timeout_s=0.2)

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=WAIT) as client:
            first = asyncio.create_task(_post(client, "荆州二医在封城期间接诊了多少发热患者？"))
            await asyncio.wait_for(asyncio.to_thread(held.entered.wait, WAIT), WAIT)
            timed_out = await asyncio.wait_for(_post(client, "荆州是哪一天封城的？"), WAIT)
            held.release.set()
            return timed_out, await asyncio.wait_for(first, WAIT)

    timed_out, first = asyncio.run(scenario())
    assert_overloaded(timed_out)
    assert first.status_code == 200


class ThreadRecordingEmbedder:
    """The real model, noting which thread encodes each question."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name, self.dim, self.fingerprint = inner.name, inner.dim, inner.fingerprint
        self.threads: set[int] = set()
        self.names: set[str] = set()

    def embed_queries(self, texts):
        self.threads.add(threading.get_ident())
        self.names.add(threading.current_thread().name)
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts, **kwargs):
        return self.inner.embed_passages(texts, **kwargs)


@pytest.mark.slow
def test_model_runs_only_on_the_services_own_threads(embedder, seed_index, seed_index_dir):
    """Requests arrive on many web-server threads; the model sees at most ``max_concurrency`` threads
    (a new thread per request would get its own allocator arena, and memory grew under load)."""
    from qa.serve.app import create_app

    recorder = ThreadRecordingEmbedder(embedder)
    app = create_app(make_settings(seed_index_dir, max_concurrency=2, max_queue=16), embedder=recorder,
                     index=seed_index, watch=False)
    questions = [f"荆州二医第{i}次接诊发热患者多少人次？" for i in range(12)]

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=WAIT) as client:
            return await asyncio.wait_for(asyncio.gather(*(_post(client, q) for q in questions)), WAIT * 2)

    responses = asyncio.run(scenario())
    assert [r.status_code for r in responses] == [200] * len(questions)
    assert 1 <= len(recorder.threads) <= 2
    assert all(name.startswith("qa-model") for name in recorder.names)


@pytest.mark.slow
def test_app_still_answers_after_being_served_and_stopped(embedder, seed_index, seed_index_dir):
    """Stopping the server (lifespan exit) must not leave the app unable to run the model if served again."""
    from fastapi.testclient import TestClient

    from qa.serve.app import create_app
    from qa.serve.memory import _libc

    app = create_app(make_settings(seed_index_dir), embedder=embedder, index=seed_index, watch=False)
    for _ in range(2):
        with TestClient(app) as client:
            response = client.post("/api/ask", json={"question": "荆州是哪一天封城的？", "top_k": 3})
            assert response.status_code == 200, response.text
            if _libc() is not None:  # the background threads run again too
                assert any(t.name == "qa-malloc-trim" and t.is_alive() for t in threading.enumerate())
