"""trainer/data.py: every layout, a corpus of bad files, image modes, split, tone cache."""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trainer import data
from trainer.data import ImageLoadError, Item, load_image_gray, load_tones, scan_folder, to_tone


def png_bytes(size=(32, 24), color=(200, 30, 30), mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, format="PNG")
    return buf.getvalue()


def save(path: Path, im: Image.Image, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, **kw)
    return path


def picture(seed: int, size=(40, 30)) -> Image.Image:
    """A distinct small RGB picture per seed (different bytes -> different hash)."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def rel(scan, root: Path) -> dict[str, str | None]:
    return {it.path.relative_to(root).as_posix(): it.caption for it in scan.items}


def skipped(scan, root: Path) -> dict[str, str]:
    return {os.path.relpath(p, root): r for p, r in scan.skipped}


# --- layouts --------------------------------------------------------------------------------


def test_metadata_jsonl(tmp_path):
    save(tmp_path / "a.png", picture(1))
    save(tmp_path / "sub" / "b.jpg", picture(2), quality=90)
    save(tmp_path / "contact_sheet.png", picture(3))  # not listed: not part of the dataset
    rows = [{"file_name": "a.png", "text": "A red  apple."}, {"file_name": "sub/b.jpg", "caption": "A ship."}]
    (tmp_path / "metadata.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    scan = scan_folder(tmp_path)
    assert scan.layout == "metadata.jsonl" and scan.caption_mode == "captions"
    assert rel(scan, tmp_path) == {"a.png": "A red apple.", "sub/b.jpg": "A ship."}
    assert skipped(scan, tmp_path) == {"contact_sheet.png": "not listed in metadata.jsonl"}
    rep = scan.report()
    assert rep["counts"]["items"] == 2 and rep["counts"]["captioned"] == 2 and rep["counts"]["skipped"] == 1
    json.dumps(rep)  # JSON-able


def test_metadata_csv(tmp_path):
    save(tmp_path / "x.png", picture(4))
    save(tmp_path / "y.webp", picture(5))
    (tmp_path / "metadata.csv").write_text('file_name,text\nx.png,"A cat, sleeping."\ny.webp,A dog.\n',
                                           encoding="utf-8")
    scan = scan_folder(tmp_path)
    assert scan.layout == "metadata.csv"
    assert rel(scan, tmp_path) == {"x.png": "A cat, sleeping.", "y.webp": "A dog."}


def test_sidecar_txt_and_caption(tmp_path):
    save(tmp_path / "one.png", picture(6))
    (tmp_path / "one.txt").write_text("An old teapot.\n", encoding="utf-8")
    save(tmp_path / "two.jpg", picture(7))
    (tmp_path / "two.caption").write_text("A horse running.", encoding="utf-8")
    save(tmp_path / "three.png", picture(8))  # no sidecar, no concept folder: image only
    scan = scan_folder(tmp_path)
    assert scan.layout == "sidecar" and scan.caption_mode == "captions"
    assert rel(scan, tmp_path) == {"one.png": "An old teapot.", "two.jpg": "A horse running.", "three.png": None}


def test_kohya_concept_folders(tmp_path):
    save(tmp_path / "img" / "10_horse" / "h1.png", picture(9))
    (tmp_path / "img" / "10_horse" / "h1.txt").write_text("horse, galloping, field", encoding="utf-8")
    save(tmp_path / "img" / "10_horse" / "h2.png", picture(10))  # kohya uses the concept name
    save(tmp_path / "img" / "5_old_ships" / "s1.png", picture(11))
    scan = scan_folder(tmp_path)
    assert scan.layout == "sidecar"
    assert rel(scan, tmp_path) == {"img/10_horse/h1.png": "horse, galloping, field",
                                   "img/10_horse/h2.png": "A horse.", "img/5_old_ships/s1.png": "Old ships."}


def test_class_folders(tmp_path):
    for i, cls in enumerate(["engraving", "iconography", "drawings"]):
        save(tmp_path / "training_set" / cls / f"{i}.jpg", picture(20 + i), quality=90)
    scan = scan_folder(tmp_path)
    assert scan.layout == "folders" and scan.caption_mode == "folder-names"
    assert rel(scan, tmp_path) == {"training_set/engraving/0.jpg": "An engraving.",
                                   "training_set/iconography/1.jpg": "An iconography.",
                                   "training_set/drawings/2.jpg": "Drawings."}
    assert "folder names" in scan.report()["caption_note"]
    off = scan_folder(tmp_path, caption_from_folders=False)
    assert off.caption_mode == "image-only" and all(it.caption is None for it in off.items)


def test_plain_images_and_meaningless_folders(tmp_path):
    save(tmp_path / "a.png", picture(30))
    save(tmp_path / "images" / "b.png", picture(31))
    save(tmp_path / "train" / "c.png", picture(32))
    scan = scan_folder(tmp_path)
    assert scan.layout == "folders" and scan.caption_mode == "image-only"
    assert all(it.caption is None for it in scan.items) and len(scan.items) == 3
    flat = tmp_path / "flat"
    save(flat / "a.png", picture(33))
    assert scan_folder(flat).layout == "images"


def test_folder_caption_words():
    assert data.folder_caption("engraving") == "An engraving."
    assert data.folder_caption("20_red_apple") == "A red apple."
    assert data.folder_caption("OldShips") == "Old ships."
    assert data.folder_caption("training_set") is None
    assert data.folder_caption("class1") is None
    assert data.folder_caption("123") is None


# --- bad files ------------------------------------------------------------------------------


def bomb_png(w: int = 100_000, h: int = 100_000) -> bytes:
    """A valid-looking PNG header claiming w x h pixels (10 Gpx), with a tiny body."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def make_bad_corpus(root: Path) -> dict[str, str]:
    """Writes good and bad files; returns {relative path: expected reason fragment} for the bad ones."""
    root.mkdir(parents=True, exist_ok=True)
    bad: dict[str, str] = {}
    full_png = png_bytes((64, 64))
    (root / "truncated.png").write_bytes(full_png[: len(full_png) // 2])
    bad["truncated.png"] = "image"  # truncated or corrupt, depending on where the cut falls
    jb = io.BytesIO()
    picture(40, (128, 128)).save(jb, format="JPEG", quality=95)
    (root / "truncated.jpg").write_bytes(jb.getvalue()[: len(jb.getvalue()) // 2])
    bad["truncated.jpg"] = "truncated image"
    (root / "zero.png").write_bytes(b"")
    bad["zero.png"] = "empty file (0 bytes)"
    (root / "notes.png").write_text("this is not a picture\n")
    bad["notes.png"] = "not an image"
    (root / "bomb.png").write_bytes(bomb_png())
    bad["bomb.png"] = "decompression bomb"
    crc = bytearray(full_png)
    crc[crc.index(b"IDAT") + 6] ^= 0xFF  # one flipped byte inside the compressed data: CRC mismatch
    (root / "bad_crc.png").write_bytes(bytes(crc))
    bad["bad_crc.png"] = "corrupt image"
    (root / "garbage.jpg").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(200))
    bad["garbage.jpg"] = "image"
    (root / "folder.png").mkdir()
    bad["folder.png"] = "a directory named like an image"
    os.symlink("loop.png", root / "loop.png")
    bad["loop.png"] = "symlink loop"
    os.symlink("nowhere.png", root / "dangling.png")
    bad["dangling.png"] = "missing file"
    (root / "sub").mkdir()
    os.symlink("..", root / "sub" / "back")
    bad["sub/back"] = "symlink loop"
    # good images with captions, and bad captions
    save(root / "empty_caption.png", picture(41))
    (root / "empty_caption.txt").write_text("  \n")
    bad["empty_caption.png"] = "empty caption"
    save(root / "latin1_caption.png", picture(42))
    (root / "latin1_caption.txt").write_bytes("Un caf\xe9 cr\xe8me.".encode("latin-1"))
    bad["latin1_caption.png"] = "not UTF-8"
    return bad


def make_good_modes(root: Path) -> list[str]:
    """Images in awkward modes that must load; returns their relative paths."""
    root.mkdir(parents=True, exist_ok=True)
    names = []
    save(root / "cmyk.jpg", Image.new("CMYK", (20, 10), (0, 0, 0, 255)), quality=95)
    p = Image.new("P", (20, 10))
    p.putpalette([255, 0, 0] + [0, 0, 255] * 255)
    save(root / "palette.png", p)
    save(root / "la.png", Image.new("LA", (20, 10), (0, 0)))  # fully transparent black -> white paper
    save(root / "rgba.png", Image.new("RGBA", (20, 10), (0, 0, 0, 128)))
    save(root / "gray16.png", Image.fromarray(np.full((10, 20), 65535 // 2, np.uint16)))
    save(root / "float.tif", Image.fromarray(np.full((10, 20), 0.25, np.float32)))
    save(root / "bilevel.bmp", Image.new("1", (20, 10), 1))
    save(root / "anim.gif", picture(50).convert("P"))
    for n in ("cmyk.jpg", "palette.png", "la.png", "rgba.png", "gray16.png", "float.tif", "bilevel.bmp", "anim.gif"):
        (root / (Path(n).stem + ".txt")).write_text(f"A {Path(n).stem} picture.")
        names.append(n)
    return names


def test_bad_file_corpus_reported_and_good_files_loaded(tmp_path):
    root = tmp_path / "set"
    bad = make_bad_corpus(root)
    good = make_good_modes(root)
    assert len(bad) >= 12
    scan = scan_folder(root)
    assert scan.layout == "sidecar"
    got = skipped(scan, root)
    for name, reason in bad.items():
        assert name in got, f"{name} not reported; reported: {got}"
        assert reason in got[name], f"{name}: {got[name]!r} does not say {reason!r}"
    assert set(rel(scan, root)) == set(good)
    for it in scan.items:
        g = load_image_gray(it.path)
        assert g.dtype == np.float32 and g.ndim == 2 and 0.0 <= g.min() <= g.max() <= 1.0
    rep = scan.report()
    assert rep["counts"]["skipped"] == len(scan.skipped) and len(rep["skipped"]) == len(scan.skipped)
    assert rep["skipped_by_reason"]


def test_metadata_rows_for_missing_and_empty(tmp_path):
    save(tmp_path / "ok.png", picture(60))
    save(tmp_path / "blank.png", picture(61))
    lines = [json.dumps({"file_name": "ok.png", "text": "A boat."}),
             json.dumps({"file_name": "gone.png", "text": "A ghost."}),
             json.dumps({"file_name": "blank.png", "text": ""}),
             "{not json",
             json.dumps({"text": "no file name"})]
    (tmp_path / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    scan = scan_folder(tmp_path)
    got = skipped(scan, tmp_path)
    assert "missing file" in got["gone.png"]
    assert "empty caption" in got["blank.png"]
    assert got["metadata.jsonl:4"] == "invalid JSON line in metadata"
    assert got["metadata.jsonl:5"] == "metadata row has no file_name"
    assert rel(scan, tmp_path) == {"ok.png": "A boat."}


def test_bomb_limit_from_module(tmp_path, monkeypatch):
    save(tmp_path / "big.png", Image.new("L", (300, 300), 255))
    monkeypatch.setattr(data, "MAX_PIXELS", 50_000)
    scan = scan_folder(tmp_path)
    assert scan.items == [] and "decompression bomb" in skipped(scan, tmp_path)["big.png"]
    with pytest.raises(ImageLoadError, match="decompression bomb"):
        load_image_gray(tmp_path / "big.png")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode; see the simulated test")
def test_unreadable_permission_real(tmp_path):
    save(tmp_path / "locked.png", picture(70))
    os.chmod(tmp_path / "locked.png", 0)
    got = skipped(scan_folder(tmp_path), tmp_path)
    assert "permission denied" in got["locked.png"]


def test_unreadable_permission_simulated(tmp_path, monkeypatch):
    """We run as root, where chmod 000 does not stop reads: make os.open() (what data.py reads files
    with) refuse the file instead."""
    save(tmp_path / "locked.png", picture(71))
    save(tmp_path / "fine.png", picture(72))
    real_open = os.open

    def fake_open(file, *a, **kw):
        if str(file).endswith("locked.png"):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *a, **kw)

    monkeypatch.setattr(os, "open", fake_open)
    scan = scan_folder(tmp_path)
    assert skipped(scan, tmp_path) == {"locked.png": "unreadable (permission denied)"}
    assert list(rel(scan, tmp_path)) == ["fine.png"]


# --- loading --------------------------------------------------------------------------------


def test_modes_convert_to_expected_gray(tmp_path):
    make_good_modes(tmp_path)
    assert np.allclose(load_image_gray(tmp_path / "cmyk.jpg"), 0.0, atol=0.1)  # full black ink
    assert np.allclose(load_image_gray(tmp_path / "la.png"), 1.0)  # transparent -> paper
    assert np.allclose(load_image_gray(tmp_path / "rgba.png"), 0.5, atol=0.01)  # half-transparent black
    assert np.allclose(load_image_gray(tmp_path / "gray16.png"), 0.5, atol=0.01)
    assert np.allclose(load_image_gray(tmp_path / "float.tif"), 0.25, atol=1e-6)
    pal = load_image_gray(tmp_path / "palette.png")
    assert np.allclose(pal, 0.299, atol=0.01)  # palette index 0 = pure red


def test_exif_rotation(tmp_path):
    im = Image.new("L", (40, 20), 255)
    im.paste(0, (0, 0, 10, 20))  # black band on the left of a landscape picture
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    save(tmp_path / "rot.jpg", im, exif=exif.tobytes(), quality=95)
    g = load_image_gray(tmp_path / "rot.jpg")
    assert g.shape == (40, 20)  # portrait once displayed
    assert g[:10].mean() < 0.2 and g[-10:].mean() > 0.8  # the band is now at the top


def test_load_image_gray_errors_name_the_file(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"nope")
    with pytest.raises(ImageLoadError, match=r"bad\.png: not an image"):
        load_image_gray(tmp_path / "bad.png")


def test_to_tone_pads_and_averages():
    g = np.zeros((10, 40), np.float32)  # black landscape strip
    t = to_tone(g, 8)
    assert t.shape == (8, 8) and t.dtype == np.float32
    assert np.allclose(t[0], 1.0) and np.allclose(t[-1], 1.0)  # white padding above and below
    assert np.allclose(t[4], 0.0)
    stripes = np.tile(np.array([0.0, 1.0], np.float32), (64, 32))  # 1-px lines average to mid-gray
    assert np.allclose(to_tone(stripes, 8), 0.5, atol=1e-4)
    with pytest.raises(ValueError):
        to_tone(np.zeros((0, 3)), 8)


# --- split and tones ------------------------------------------------------------------------


def test_split_is_deterministic_and_has_val(tmp_path):
    for i in range(30):
        save(tmp_path / f"{i:02d}.png", picture(100 + i, (8, 8)))
    a, b = scan_folder(tmp_path), scan_folder(tmp_path)
    sa = {it.path.name: it.split for it in a.items}
    assert sa == {it.path.name: it.split for it in b.items}
    assert 1 <= sum(s == "val" for s in sa.values()) <= 6
    # the split follows content, not names: renaming keeps each picture's split
    for p in sorted(tmp_path.glob("*.png")):
        p.rename(p.with_name("r" + p.name))
    c = scan_folder(tmp_path)
    assert {it.path.name[1:]: it.split for it in c.items} == sa


def test_split_without_val_for_small_sets(tmp_path):
    for i in range(5):
        save(tmp_path / f"{i}.png", picture(200 + i, (8, 8)))
    scan = scan_folder(tmp_path)
    assert len(scan.items) == 5 and {it.split for it in scan.items} <= {"train", "val"}


def test_load_tones_caches_and_reports_failures(tmp_path):
    src = tmp_path / "src"
    for i in range(4):
        save(src / f"{i}.png", picture(300 + i, (50, 30)))
    scan = scan_folder(src)
    cache = tmp_path / "cache"
    t1 = load_tones(scan.items, 16, cache_dir=cache, workers=2)
    assert t1.shape == (4, 16, 16) and t1.dtype == np.uint8
    assert len(list(cache.rglob("*.npy"))) == 4
    # second run reads the cache: same bytes, and works even if decoding is broken
    t2 = load_tones(scan.items, 16, cache_dir=cache)
    assert np.array_equal(t1, t2)
    # a file changed after the scan is re-read (new mtime/size -> new key)
    save(src / "0.png", Image.new("RGB", (50, 30), (0, 0, 0)))
    items = list(scan.items)
    t3 = load_tones(items, 16, cache_dir=cache)
    assert t3[0][6:10].max() < 10 and np.array_equal(t3[1:], t1[1:])  # black band between white padding
    # a file deleted after the scan: reported and dropped, rows stay aligned with items
    (src / "2.png").unlink()
    items, lost = list(scan.items), []
    t4 = load_tones(items, 16, cache_dir=cache, skipped=lost)
    assert t4.shape[0] == 3 and [it.path.name for it in items] == ["0.png", "1.png", "3.png"]
    assert lost and lost[0][0].endswith("2.png")


def test_load_tones_matches_to_tone(tmp_path):
    save(tmp_path / "a.png", picture(400, (33, 17)))
    it = Item(path=tmp_path / "a.png", caption=None, split="train")
    t = load_tones([it], 12, cache_dir=tmp_path / "c")
    expect = np.round(to_tone(load_image_gray(it.path), 12) * 255).astype(np.uint8)
    assert np.array_equal(t[0], expect)
