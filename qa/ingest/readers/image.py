"""Images (scans, photos of pages): read by OCR when the ocr extra is installed, else skipped saying so."""

from __future__ import annotations

from pathlib import Path

from ..extracted import ExtractedDocument, Skip
from . import ocr
from ._text import read_bytes

MAX_PIXELS = 60_000_000


class ImageReader:
    name = "image"
    suffixes = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")

    def read(self, path: Path) -> ExtractedDocument:
        from PIL import Image, UnidentifiedImageError

        raw = read_bytes(path)
        if not raw:
            raise Skip("empty file")
        if not ocr.available():
            raise Skip(f"image: {ocr.NEEDS_OCR}")
        try:
            with Image.open(path) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise Skip(f"image of {image.width}x{image.height} pixels is too large", 413)
                image.load()
                text = ocr.recognise(image)
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
            raise Skip("not an image: the content does not match its extension", 415) from None
        if not text.strip():
            raise Skip("no text found in the image (OCR)")
        return ExtractedDocument(text=text, encoding="ocr", format=self.name, pages=[0], notes=["read by OCR"])
