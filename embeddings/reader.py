"""The reader: a cross-encoder that reads a question and one candidate answer sentence together and scores
how likely the sentence states the answer.

It is the bundled multilingual-e5-small with its lower layers unchanged and its top layers replaced by ones
trained here, under a one-unit head over mean-pooled tokens (``bench/reader.py`` trains them; the trained
layers are a small file in the repository, the lower layers come from the model folder at run time). The
question and the sentence are one XLM-R pair: ``<s> query: Q </s></s> passage: T：S </s>``.

Two backends, as for the embedder: ``torch`` (fp32) and ``onnx`` (the assembled model exported once,
int8-quantised, cached under ``<model folder>/onnx/``). Knows nothing about questions' meaning.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .model import ModelLoadError, OnnxSessions, _read_json

MAX_TOKENS = 128
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
READER_EXPORT_VERSION = 1


def pair_text(title: str, sentence: str) -> str:
    """The reader's second segment: the document's title, then the sentence."""
    return f"{PASSAGE_PREFIX}{title}：{sentence}" if title else f"{PASSAGE_PREFIX}{sentence}"


def load_tokenizer(folder: Path):
    """The model folder's tokenizer set up for pairs: the sentence side is truncated first, padding to the
    longest pair of a batch."""
    from tokenizers import Tokenizer  # not transformers' AutoTokenizer: that imports torch

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    pad_id = tokenizer.token_to_id("<pad>")
    tokenizer.enable_truncation(max_length=MAX_TOKENS, strategy="only_second")
    tokenizer.enable_padding(pad_id=1 if pad_id is None else pad_id, pad_token="<pad>")
    return tokenizer


def encode_pairs(tokenizer, question: str, seconds: Sequence[str]) -> dict[str, np.ndarray]:
    """Token ids and attention mask of ``(query: question, second)`` for each second segment."""
    encoded = tokenizer.encode_batch([(QUERY_PREFIX + question, s) for s in seconds])
    return {"input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64)}


def build_module(folder: Path, weights: Path, low: int):
    """The reader as a torch module: the folder's encoder with layers ``low`` and up (and the head) from
    ``weights`` (a safetensors file written by bench/reader.py); ``forward(input_ids, attention_mask)`` gives
    one logit per pair."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModel

    encoder = AutoModel.from_pretrained(folder, attn_implementation="eager").eval()
    state = load_file(str(weights))
    hidden = int(encoder.config.hidden_size)
    layers = encoder.encoder.layer
    for i in range(low, len(layers)):
        prefix = f"layers.{i - low}."
        layers[i].load_state_dict({k[len(prefix):]: v.float() for k, v in state.items() if k.startswith(prefix)})

    class ReaderModule(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.head = torch.nn.Linear(hidden, 1)
            self.head.load_state_dict({"weight": state["head.weight"].float(), "bias": state["head.bias"].float()})

        def forward(self, input_ids, attention_mask):
            token_types = torch.zeros_like(input_ids)
            out = self.encoder(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_types)
            mask = attention_mask.unsqueeze(-1).to(out.last_hidden_state.dtype)
            pooled = (out.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return self.head(pooled).squeeze(-1)

    return ReaderModule().eval()


def _weights_digest(weights: Path) -> str:
    return hashlib.sha256(weights.read_bytes()).hexdigest()[:12]


def export_reader_onnx(folder: Path, weights: Path, low: int, dest: Path) -> Path:
    """Export the assembled reader to int8 ONNX at ``dest`` (temporary names, renamed into place)."""
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    module = build_module(folder, weights, low)
    sample = encode_pairs(load_tokenizer(folder), "你好", [pair_text("标题", "荆州二医在封城期间接诊发热患者。")] * 2)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".export-") as tmp:
        plain, quantized = Path(tmp) / "plain.onnx", Path(tmp) / "int8.onnx"
        with torch.inference_mode():
            torch.onnx.export(
                module, (torch.from_numpy(sample["input_ids"]), torch.from_numpy(sample["attention_mask"])),
                str(plain), input_names=["input_ids", "attention_mask"], output_names=["logit"],
                dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                              "logit": {0: "batch"}},
                opset_version=17, dynamo=False,
            )
        quantize_dynamic(str(plain), str(quantized), weight_type=QuantType.QInt8, per_channel=True,
                         reduce_range=True, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        os.replace(quantized, dest)
    return dest


class Reader:
    """Scores (question, sentence) pairs with the trained reader.

    Args:
        folder: the base model's sentence-transformers folder (its lower layers and tokenizer).
        weights: the trained top layers and head (safetensors).
        low: the first layer ``weights`` replaces.
        backend: ``"onnx"`` or ``"torch"``.
    """

    def __init__(self, folder: Path, weights: Path, low: int, backend: str = "onnx") -> None:
        if not (folder / "tokenizer.json").is_file() or not weights.is_file():
            raise ModelLoadError(f"the reader needs {folder}/tokenizer.json and {weights}")
        self.backend = backend
        self.tokenizer = load_tokenizer(folder)
        if backend == "onnx":
            self.path = folder / "onnx" / f"reader-{_weights_digest(weights)}-v{READER_EXPORT_VERSION}.onnx"
            if not self.path.is_file():
                export_reader_onnx(folder, weights, low, self.path)
            self._sessions = OnnxSessions(self.path)
            self._sessions.get(None)
        elif backend == "torch":
            import torch

            self._torch = torch
            self._module = build_module(folder, weights, low)
        else:
            raise ModelLoadError(f"unknown backend {backend!r}: use 'torch' or 'onnx'")

    def scores(self, question: str, seconds: Sequence[str], threads: int | None = None) -> np.ndarray:
        """One logit per second segment (:func:`pair_text`): higher means the sentence more likely answers."""
        if not seconds:
            return np.zeros(0, dtype=np.float32)
        feeds = encode_pairs(self.tokenizer, question, seconds)
        if self.backend == "onnx":
            return np.asarray(self._sessions.get(threads).run(None, feeds)[0], dtype=np.float32).reshape(-1)
        torch = self._torch
        with torch.inference_mode():
            logits = self._module(torch.from_numpy(feeds["input_ids"]), torch.from_numpy(feeds["attention_mask"]))
        return logits.numpy().astype(np.float32).reshape(-1)


def read_meta(path: Path) -> dict:
    """The reader's description (``reader.json``: weights file, base model fingerprint, layers), or {}."""
    return _read_json(path)
