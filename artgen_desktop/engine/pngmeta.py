"""PNG files that remember how they were made.

Two text chunks: `parameters` in the convention artists know from other generators (caption first,
then `Seed: …, Temperature: …, Model: …`), and `artgen` with an exact JSON copy for round-trips.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from .errors import ArtGenError
from .fileio import write_bytes_atomic

JSON_KEY = "artgen"
_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def parameters_text(meta: dict) -> str:
    style = meta.get("style", {})
    style_text = "tone" if style.get("mode") == "tone" else (
        f"engraving spacing {style.get('spacing')} angle {style.get('angle')} cross {style.get('cross_threshold')} "
        f"outline {style.get('outline')} bend {style.get('bend')}")
    return (f"{meta['caption']}\n"
            f"Seed: {meta['seed']}, Temperature: {meta['temperature']}, Variety: {meta['variety']}, "
            f"Model: {meta['model']}, Model hash: {meta['model_hash']}, Size: {meta['size']}x{meta['size']}, "
            f"Style: {style_text}")


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(tag)))


def _text_chunk(key: str, value: str) -> bytes:
    """tEXt (Latin-1) where the text allows it, else uncompressed iTXt (UTF-8), as Pillow's PngInfo.add_text."""
    try:
        return _chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1"))
    except UnicodeEncodeError:
        return _chunk(b"iTXt", key.encode("latin-1") + b"\0\0\0\0\0" + value.encode("utf-8"))


def _gray_png(pixels: np.ndarray, texts: list[tuple[str, str]], compress_level: int) -> bytes:
    """An 8-bit grayscale PNG: no row filters, zlib's run-length strategy.

    Engravings are white paper with anti-aliased lines: long runs of equal bytes, which run-length
    deflate finds without searching. This is ~4x faster than Pillow at its fastest level (whose adaptive
    row filters cost more than the compression) and the files come out smaller. Pillow reads them as usual.
    """
    h, w = pixels.shape
    rows = np.empty((h, w + 1), np.uint8)
    rows[:, 0] = 0  # filter type None on every row
    rows[:, 1:] = pixels
    strategy = zlib.Z_RLE if compress_level else zlib.Z_DEFAULT_STRATEGY  # (level 0 stores)
    packer = zlib.compressobj(compress_level, zlib.DEFLATED, 15, 9, strategy)
    data = packer.compress(rows.data) + packer.flush()
    return b"".join([_SIGNATURE, _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)),
                     *(_text_chunk(k, v) for k, v in texts), _chunk(b"IDAT", data), _chunk(b"IEND", b"")])


def png_bytes(image: Image.Image, meta: dict, compress_level: int = 1) -> bytes:
    """A PNG with the generation parameters in text chunks.

    Grayscale pictures at levels 0-1 go through `_gray_png` (fast; the default); other modes and the
    higher levels (smaller files, slower) through Pillow.
    """
    texts = [("parameters", parameters_text(meta)), (JSON_KEY, json.dumps(meta, sort_keys=True, ensure_ascii=False))]
    if image.mode == "L" and compress_level <= 1:
        return _gray_png(np.asarray(image), texts, compress_level)
    info = PngImagePlugin.PngInfo()
    for key, value in texts:
        info.add_text(key, value)
    buf = io.BytesIO()
    image.save(buf, format="PNG", pnginfo=info, compress_level=compress_level)
    return buf.getvalue()


def write_png(path, image: Image.Image, meta: dict) -> None:
    write_bytes_atomic(path, png_bytes(image, meta))


def read_png_metadata(path) -> dict:
    """The exact settings stored by ArtGen in a PNG; a clear error for anything else."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            text = dict(getattr(im, "text", {}) or {})
    except FileNotFoundError:
        raise ArtGenError(f"{path}: no such file") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ArtGenError(f"{path}: not a readable image ({e})") from None
    if JSON_KEY not in text:
        raise ArtGenError(f"{path}: this picture holds no ArtGen settings (it was not made by ArtGen)")
    try:
        meta = json.loads(text[JSON_KEY])
        int(meta["seed"])
    except (ValueError, KeyError, TypeError):
        raise ArtGenError(f"{path}: the ArtGen settings in this picture are damaged") from None
    return meta
