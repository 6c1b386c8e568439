"""Embedding passages on a Ray cluster: one model per worker, batches spread over the workers.

:class:`RayEmbedder` wraps the local model (which keeps answering questions and gives the name, dimension
and fingerprint the index records) and sends ``embed_passages`` to Ray actors, each holding its own copy
of the same model loaded from the same folder (``cache_dir/models``, converted once by ``qa prepare``;
no hub). The caller keeps committing each chunk to its embedding cache as it comes back, so a killed
build resumes exactly as a local one does. Needs the ``ray`` extra.

Every node must have this project's dependencies installed and the converted model at the same path
(shared storage, or ``qa prepare`` on each node); the ``embeddings`` package itself travels with the job.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .model import Embedder, ModelLoadError, load_embedder

log = logging.getLogger(__name__)
# Units per model call on a worker: the local build's 32, which bench.build measured against 128 and 512
# (7.1 / 7.2 / 6.1 units/s, bench/README.md); the same batches as a local build also give the same padding,
# so the same vectors. One worker per CPU with one thread each: on busy cores a one-thread encode ran 3x
# faster than a two-thread one (bench.build), and each Ray worker then holds one model.
BATCH_SIZE = 32


class ClusterError(ModelLoadError):
    """The Ray cluster cannot be reached or lost a worker; the message says what to do."""


def _ray():
    try:
        import ray
    except ImportError as exc:
        raise ClusterError("--ray needs the ray extra: pip install -e '.[ray]'") from exc
    return ray


class _Worker:
    """A Ray actor holding one model; embeds one batch per call."""

    def __init__(self, model: str, cache_dir: str, backend: str, threads: int) -> None:
        self.embedder = load_embedder(model, cache_dir=Path(cache_dir), backend=backend)
        self.embedder.passage_threads = max(1, threads)

    def identity(self) -> tuple[str, str, int]:
        import ray

        return ray.get_runtime_context().get_node_id(), self.embedder.fingerprint, self.embedder.dim

    def embed(self, batch_id: int, texts: list[str], batch_size: int) -> tuple[int, np.ndarray]:
        return batch_id, self.embedder.embed_passages(texts, batch_size=batch_size)


class RayEmbedder:
    """An :class:`~embeddings.model.Embedder` whose ``embed_passages`` runs on a Ray cluster.

    Args:
        local: the model loaded in this process (questions, name, dim and fingerprint come from it).
        address: a Ray address (``127.0.0.1:6379``, ``ray://host:10001``) or ``auto``: the cluster already
            running on this machine, else a new local one started for this build.
        model: what the workers load (``"default"`` or a sentence-transformers folder), as ``load_embedder``.
        cache_dir: where the workers find the converted default model.
        backend: ``"torch"`` or ``"onnx"``, as the local model.
        cpus_per_worker: CPUs (and threads) each worker uses; workers = cluster CPUs // this.
        batch_size: passages per model call on a worker.
    """

    def __init__(
        self, local: Embedder, address: str, *, model: str | None, cache_dir: Path, backend: str = "torch",
        cpus_per_worker: int = 1, batch_size: int = BATCH_SIZE,
    ) -> None:
        self.local = local
        self.name, self.dim, self.fingerprint = local.name, local.dim, local.fingerprint
        self._spec = (model or "default", str(Path(cache_dir).resolve()), backend, int(cpus_per_worker))
        self.batch_size = batch_size
        ray = _ray()
        self._ray = ray
        self._started = False
        runtime_env = {"py_modules": [str(Path(__file__).resolve().parent)]}
        if address != "auto":
            check_address(address)  # ray.init would retry an unreachable address for minutes
        try:
            if address == "auto":
                try:
                    ray.init(address="auto", log_to_driver=False, runtime_env=runtime_env)
                except ConnectionError:
                    ray.init(log_to_driver=False, include_dashboard=False, runtime_env=runtime_env)
            else:
                ray.init(address=address, log_to_driver=False, runtime_env=runtime_env)
        except Exception as exc:
            raise ClusterError(
                f"cannot reach the Ray cluster at {address} ({_first_line(exc)}); start one with "
                "`ray start --head`, or use --ray auto"
            ) from exc
        self._started = True
        nodes = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0]
        cpus = int(sum(n["Resources"]["CPU"] for n in nodes))
        self.workers = max(1, cpus // max(1, cpus_per_worker))
        self.engine: dict[str, Any] = {
            "engine": "ray", "address": address, "nodes": len(nodes), "cpus": cpus, "workers": self.workers,
            "cpus_per_worker": cpus_per_worker, "batch_size": batch_size,
        }
        self._actors: list[Any] = []

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.local.embed_queries(texts)

    def _start(self) -> list[Any]:
        if self._actors:
            return self._actors
        ray = self._ray
        model, cache_dir, backend, cpus = self._spec
        actor = ray.remote(num_cpus=cpus, max_restarts=0)(_Worker)
        actors = [actor.remote(model, cache_dir, backend, cpus) for _ in range(self.workers)]
        try:
            identities = ray.get([a.identity.remote() for a in actors], timeout=600)
        except Exception as exc:
            for a in actors:
                ray.kill(a)
            raise ClusterError(f"the Ray workers could not load the model ({_first_line(exc)}); each node needs "
                               f"the converted model at {cache_dir} (run `qa prepare` there)") from exc
        for node, fingerprint, dim in identities:
            if fingerprint != self.fingerprint or dim != self.dim:
                for a in actors:
                    ray.kill(a)
                raise ClusterError(f"the Ray worker on node {node[:12]} loaded another model ({fingerprint}, "
                                   f"dim {dim}) than this one ({self.fingerprint}); give every node the same model")
        self.engine["nodes_used"] = len({node for node, _, _ in identities})
        self._actors = actors
        log.info("ray: %d workers on %d nodes", len(actors), self.engine["nodes_used"])
        return actors

    def embed_passages(
        self, texts: Sequence[str], *, batch_size: int | None = None, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Vectors for ``texts`` in input order: longest first in batches of ``batch_size``, as a local
        build batches them (so padding, and the vectors, are the same), spread over the workers."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not len(texts):
            return out
        from ray.util import ActorPool

        size = self.batch_size if batch_size is None else batch_size
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        batches = [order[s : s + size] for s in range(0, len(order), size)]
        pool = ActorPool(self._start())
        try:
            results = pool.map_unordered(
                lambda a, job: a.embed.remote(job[0], [texts[i] for i in job[1]], size), enumerate(batches)
            )
            for batch_id, vectors in results:
                out[batches[batch_id]] = vectors
                if progress is not None:
                    progress(len(batches[batch_id]))
        except Exception as exc:
            self._actors = []
            raise ClusterError(f"a Ray worker failed while embedding ({_first_line(exc)}); the vectors made so far "
                               "are cached: run the build again") from exc
        return out

    def close(self) -> None:
        """Stop the workers and disconnect (a cluster started for this build stops with it)."""
        if self._started:
            for actor in self._actors:
                self._ray.kill(actor)
            self._actors = []
            self._ray.shutdown()
            self._started = False


def check_address(address: str, timeout_s: float = 5.0) -> None:
    """Raise :class:`ClusterError` at once when nothing listens at ``host:port`` (``ray://`` allowed)."""
    import socket

    host, _, port = address.split("://", 1)[-1].rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            return
    except (OSError, ValueError) as exc:
        raise ClusterError(f"no Ray cluster answers at {address} ({exc.__class__.__name__}); start one with "
                           "`ray start --head`, or use --ray auto") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else exc.__class__.__name__


os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never phone home from a build
