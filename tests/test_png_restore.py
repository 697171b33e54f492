"""Reading an ArtGen PNG's settings back: chunks walked without decoding pixels, every bad value refused
with the engine's error (the app shows it as "Could not restore …")."""

import json
import os
import struct
import time
import zlib

import pytest
from PIL import Image, PngImagePlugin

from artgen_desktop.engine import ArtGenError, Settings, read_png_metadata
from artgen_desktop.engine.pngmeta import read_png_text

GOOD = {"seed": 42, "caption": "A red ball.", **Settings().to_dict(), "model": "tiny", "model_hash": "abc",
        "label": ""}


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(tag)))


def png_with(path, text: str | bytes, width: int = 8, height: int = 8, tag: bytes = b"tEXt",
             after_pixels: bool = False) -> None:
    """A PNG whose header claims width x height, with one `artgen` text chunk and a tiny (bogus) IDAT:
    reading the settings must never need the pixels."""
    raw = text if isinstance(text, bytes) else text.encode("latin-1")
    chunks = [_chunk(tag, b"artgen\0" + raw), _chunk(b"IDAT", zlib.compress(b"\0" * 9))]
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + b"".join(chunks[::-1] if after_pixels else chunks) + _chunk(b"IEND", b""))


def test_a_30000_square_png_is_read_without_decoding(tmp_path):
    path = tmp_path / "huge.png"
    png_with(path, json.dumps(GOOD), 30000, 30000)
    t0 = time.perf_counter()
    assert read_png_metadata(path)["seed"] == 42
    assert time.perf_counter() - t0 < 1
    with pytest.raises(Exception):  # noqa: B017 - what decoding it would do: Pillow refuses the bomb
        Image.open(path).load()


@pytest.mark.parametrize("seed", [-1, 2**63, "1e400", "true", "1.9", '"42"', "null", "[1]"])
def test_seeds_that_are_not_integers_in_range_are_refused(tmp_path, seed):
    path = tmp_path / "s.png"
    text = json.dumps({**GOOD, "seed": 0}).replace('"seed": 0', f'"seed": {seed}')
    png_with(path, text)
    with pytest.raises(ArtGenError, match="seed"):
        read_png_metadata(path)


@pytest.mark.parametrize("style", ["null", "[1, 2]", '"engraving"', "3", '{"spacing": "wide"}',
                                   '{"spacing": 1000}', '{"mode": "watercolour"}', '{"angle": NaN}'])
def test_bad_styles_are_refused(tmp_path, style):
    path = tmp_path / "s.png"
    png_with(path, json.dumps(GOOD).replace(json.dumps(GOOD["style"]), style))
    with pytest.raises(ArtGenError, match="settings stored in this picture are not usable"):
        read_png_metadata(path)


@pytest.mark.parametrize("text", [
    "[" * 100_000 + "]" * 100_000,  # deeper than Python's recursion limit
    json.dumps({**GOOD, "label": [[[[[[[[[["deep"]]]]]]]]]]}),
    json.dumps([GOOD]),
    "{not json",
    json.dumps({k: v for k, v in GOOD.items() if k != "seed"}),
    json.dumps({**GOOD, "caption": {"a": 1}}),
    json.dumps({**GOOD, "temperature": True}),
    json.dumps({**GOOD, "size": 512.5}),
    json.dumps({**GOOD, "seed_b": -3}),
    json.dumps({**GOOD, "seed_b": 7, "t": 1.5}),
])
def test_damaged_settings_are_clear_errors(tmp_path, text):
    path = tmp_path / "d.png"
    png_with(path, text)
    with pytest.raises(ArtGenError) as e:
        read_png_metadata(path)
    assert str(path) in str(e.value)


def test_bad_files_are_clear_errors(tmp_path):
    good = tmp_path / "good.png"
    png_with(good, json.dumps(GOOD))
    data = good.read_bytes()
    cases = {
        "cut.png": data[:40],  # inside the settings chunk
        "crc.png": data.replace(b"A red ball.", b"A red bell."),
        "empty.png": b"",
        "text.png": b"not a picture at all",
        "huge-chunk.png": data[:33] + struct.pack(">I", 0x7FFFFFFF) + b"tEXtartgen\0",
    }
    for name, blob in cases.items():
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(ArtGenError):
            read_png_metadata(tmp_path / name)
    with pytest.raises(ArtGenError, match="no such file"):
        read_png_metadata(tmp_path / "missing.png")
    with pytest.raises(ArtGenError, match="not a regular file"):
        read_png_metadata(tmp_path)
    os.mkfifo(tmp_path / "pipe.png")  # would hang a plain open().read()
    with pytest.raises(ArtGenError, match="not a regular file"):
        read_png_metadata(tmp_path / "pipe.png")


def test_compressed_and_unicode_text_chunks_and_text_after_the_pixels(tmp_path):
    meta = {**GOOD, "caption": "Ein Bär über der Brücke — ☃"}
    info = PngImagePlugin.PngInfo()
    info.add_itxt("artgen", json.dumps(meta, ensure_ascii=False), zip=True)
    Image.new("L", (4, 4)).save(tmp_path / "itxt.png", pnginfo=info)
    assert read_png_metadata(tmp_path / "itxt.png")["caption"] == meta["caption"]
    png_with(tmp_path / "ztxt.png", b"\0" + zlib.compress(json.dumps(GOOD).encode()), tag=b"zTXt")
    assert read_png_metadata(tmp_path / "ztxt.png") == GOOD
    # a text chunk after IDAT (the PNG spec allows it) is found too
    png_with(tmp_path / "late.png", json.dumps(GOOD), after_pixels=True)
    assert read_png_metadata(tmp_path / "late.png") == GOOD
    # a foreign PNG and another keyword
    Image.new("L", (4, 4)).save(tmp_path / "plain.png")
    with pytest.raises(ArtGenError, match="not made by ArtGen"):
        read_png_metadata(tmp_path / "plain.png")
    assert read_png_text(tmp_path / "plain.png") is None


def test_exported_pictures_restore(tmp_path, tiny_engine):
    from artgen_desktop.engine import export_results
    r = tiny_engine.generate([7], Settings(size=256, temperature=0.3))[0]
    export_results([r], tmp_path)
    meta = read_png_metadata(tmp_path / "seed-000007.png")
    assert meta["seed"] == 7 and Settings.from_dict(meta) == r.settings
