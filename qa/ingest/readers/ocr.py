"""Optical character recognition for scanned pages and images: RapidOCR (PP-OCRv4 models shipped inside the
``rapidocr-onnxruntime`` wheel, run by ONNX Runtime: offline, CPU). Optional: the ``ocr`` extra."""

from __future__ import annotations

import threading
from functools import lru_cache

NEEDS_OCR = "no text layer (needs OCR: install the ocr extra, pip install -e '.[ocr]')"
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _engine():
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR()


def available() -> bool:
    try:
        import rapidocr_onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def recognise(image) -> str:
    """The text of an image (a path, bytes, a numpy array or a PIL image), one recognised line per line,
    top to bottom; "" when nothing is found. Raises ImportError without the ocr extra."""
    import numpy as np

    if hasattr(image, "convert"):  # PIL
        image = np.asarray(image.convert("RGB"))[:, :, ::-1]  # RapidOCR wants BGR like OpenCV
    with _lock:  # one recognition at a time: the engine is not documented as thread-safe
        result, _ = _engine()(image)
    if not result:
        return ""
    boxes = sorted(result, key=lambda r: (round(min(p[1] for p in r[0]) / 12), min(p[0] for p in r[0])))
    return "\n".join(str(r[1]).strip() for r in boxes if str(r[1]).strip())
