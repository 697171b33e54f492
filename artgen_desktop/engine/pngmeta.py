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

from .errors import ArtGenError, SeedError
from .fileio import open_regular, write_bytes_atomic
from .seeds import check_seed
from .settings import Settings

JSON_KEY = "artgen"
_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def parameters_text(meta: dict) -> str:
    from .params import STYLES
    style = meta.get("style", {})
    mode = style.get("mode", "engraving")
    spec = STYLES.get(mode)
    style_text = " ".join([str(mode), *(f"{p.name.replace('_', ' ')} {style.get(p.name)}"
                                        for p in (spec.every if spec else ()))])
    if mode == "engraving":  # (the words PNGs have always carried)
        style_text = (f"engraving spacing {style.get('spacing')} angle {style.get('angle')} "
                      f"cross {style.get('cross_threshold')} outline {style.get('outline')} bend {style.get('bend')}")
    return (f"{meta['caption']}\n"
            f"Seed: {meta['seed']}, "
            + (f"Seed B: {meta['seed_b']}, t: {meta['t']}, " if meta.get("seed_b") is not None else "")
            + f"Temperature: {meta['temperature']}, Variety: {meta['variety']}, "
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


MAX_SETTINGS_BYTES = 1 << 20  # an ArtGen settings chunk is ~1 KB: one this large is not ours
_MAX_CHUNKS = 1 << 20  # a walk through a pathological file ends here
_MAX_DEPTH = 8  # the settings are a flat object with one object (style) inside


def _damaged(path, why: str) -> ArtGenError:
    return ArtGenError(f"{path}: the ArtGen settings in this picture are damaged ({why})")


def _text_value(path, tag: bytes, data: bytes) -> str:
    """The text of a tEXt, zTXt or iTXt chunk whose keyword is already checked; bounded decompression."""
    rest = data.split(b"\0", 1)[1]
    try:
        if tag == b"tEXt":
            return rest.decode("latin-1")
        if tag == b"zTXt":  # method byte, then zlib data
            return _inflate(path, rest[1:]).decode("latin-1")
        compressed, body = rest[0], rest[2:]  # iTXt: flag, method, language \0 translated keyword \0 text
        _language, _translated, text = body.split(b"\0", 2)
        return (_inflate(path, text) if compressed else text).decode("utf-8")
    except (IndexError, ValueError, zlib.error) as e:
        raise _damaged(path, f"unreadable text chunk: {e}") from None


def _inflate(path, data: bytes) -> bytes:
    d = zlib.decompressobj()
    out = d.decompress(data, MAX_SETTINGS_BYTES + 1)
    if len(out) > MAX_SETTINGS_BYTES:
        raise _damaged(path, "the settings are too large")
    return out


def read_png_text(path, keyword: str = JSON_KEY) -> str | None:
    """The text stored under `keyword` in a PNG, found by walking its chunks: no pixel is decoded, so a
    huge picture costs no more than a small one. None if the PNG has no such text."""
    path = Path(path)
    f = open_regular(path, "image")
    key = keyword.encode("latin-1")
    with f:
        if f.read(8) != _SIGNATURE:
            raise ArtGenError(f"{path}: not a readable image (not a PNG file)")
        for index in range(_MAX_CHUNKS):
            head = f.read(8)
            if len(head) < 8:
                break  # the end, or a file cut short after its last whole chunk
            length, tag = struct.unpack(">I4s", head)
            if index == 0 and (tag != b"IHDR" or length != 13):
                raise ArtGenError(f"{path}: not a readable image (a damaged PNG header)")
            if length > 0x7FFFFFFF:
                raise ArtGenError(f"{path}: not a readable image (a damaged PNG chunk)")
            if tag == b"IEND":
                break
            if tag not in (b"tEXt", b"zTXt", b"iTXt"):
                f.seek(length + 4, 1)  # data and CRC, unread
                continue
            start = f.read(min(length, 80))  # a keyword is 1-79 bytes and a 0 byte
            if start.split(b"\0", 1)[0] != key:
                f.seek(length - len(start) + 4, 1)
                continue
            if length > MAX_SETTINGS_BYTES:
                raise _damaged(path, "the settings are too large")
            data = start + f.read(length - len(start))
            crc = f.read(4)
            if len(data) != length or len(crc) != 4:
                raise _damaged(path, "the file is cut short")
            if struct.unpack(">I", crc)[0] != zlib.crc32(data, zlib.crc32(tag)):
                raise _damaged(path, "checksum mismatch")
            return _text_value(path, tag, data)
    return None


def _depth(value) -> int:
    depth, level = 0, [value]
    while level:
        depth += 1
        level = [v for x in level if isinstance(x, (dict, list))
                 for v in (x.values() if isinstance(x, dict) else x)]
    return depth - 1


def read_png_metadata(path) -> dict:
    """The exact settings stored by ArtGen in a PNG, checked: the seed is an integer in range and the
    settings are valid (`Settings.from_dict(meta)` succeeds). Anything else is an ArtGenError with a
    message for a person."""
    text = read_png_text(path, JSON_KEY)
    if text is None:
        raise ArtGenError(f"{path}: this picture holds no ArtGen settings (it was not made by ArtGen)")
    return check_metadata(path, text)


def check_metadata(path, text: str) -> dict:
    """Stored settings text (a PNG's or an SVG's, engine/svg.py) -> the settings dict, checked as
    `read_png_metadata` describes."""
    try:
        meta = json.loads(text)
    except RecursionError:
        raise _damaged(path, "nested too deeply") from None
    except ValueError:
        raise _damaged(path, "not valid JSON") from None
    if not isinstance(meta, dict):
        raise _damaged(path, "not a JSON object")
    if _depth(meta) > _MAX_DEPTH:
        raise _damaged(path, "nested too deeply")
    if "seed" not in meta:
        raise _damaged(path, "no seed")
    try:
        check_seed(meta["seed"])
        if meta.get("seed_b") is not None:  # an interpolation frame: its second seed and position
            check_seed(meta["seed_b"])
    except SeedError as e:
        raise ArtGenError(f"{path}: the seed stored in this picture is not usable: {e}") from None
    t = meta.get("t")
    if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t <= 1):
        raise _damaged(path, "the frame position t is not a number from 0 to 1")
    for key in ("caption", "model", "model_hash", "label"):
        if key in meta and not isinstance(meta[key], str):
            raise _damaged(path, f"{key} is not text")
    try:
        Settings.from_dict(meta)
    except ArtGenError as e:
        raise ArtGenError(f"{path}: the settings stored in this picture are not usable: {e}") from None
    return meta
