"""trainer/data.py against hostile folders: paths that lead out, special files, extreme shapes, damaged
metadata and duplicate rows. Every fixture is made here, in tmp_path."""

from __future__ import annotations

import io
import json
import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from trainer import data
from trainer.data import ImageLoadError, Item, load_image_gray, load_tones, read_regular, scan_folder


def picture(seed: int, size=(40, 30)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def save(path: Path, im: Image.Image) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)
    return path


def used(scan, root: Path) -> dict[str, str | None]:
    return {os.path.relpath(it.path, root): it.caption for it in scan.items}


def skipped(scan, root: Path) -> dict[str, str]:
    return {os.path.relpath(p, root): r for p, r in scan.skipped}


# --- nothing outside the folder -------------------------------------------------------------


def test_metadata_paths_that_leave_the_folder_are_skipped_and_listed(tmp_path):
    outside = save(tmp_path / "private" / "x.png", picture(1))
    root = tmp_path / "a" / "set"
    save(root / "ok.png", picture(2))
    rows = [{"file_name": "ok.png", "text": "A boat."},
            {"file_name": "../../private/x.png", "text": "A secret."},
            {"file_name": str(outside), "text": "An absolute secret."}]
    (root / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    scan = scan_folder(root)
    assert used(scan, root) == {"ok.png": "A boat."}
    got = skipped(scan, root)
    assert got["metadata.jsonl:2"].startswith("outside the dataset folder")
    assert got["metadata.jsonl:2"].endswith("; listed as ../../private/x.png)")
    assert got["metadata.jsonl:3"].startswith("outside the dataset folder")
    assert scan.report()["skipped_by_reason"]["outside the dataset folder"] == 2


def test_symlinked_image_folder_and_caption_that_lead_out_are_skipped(tmp_path):
    private = tmp_path / "private"
    save(private / "secret.png", picture(3))
    save(private / "album" / "p.png", picture(4))
    (private / "hostname").write_text("secretword anotherword\n")
    root = tmp_path / "set"
    save(root / "fine.png", picture(5))
    (root / "fine.txt").write_text("A fine picture.")
    os.symlink(private / "secret.png", root / "linked.png")
    (root / "linked.txt").write_text("A linked picture.")
    os.symlink(private / "album", root / "album")
    save(root / "a.png", picture(6))
    os.symlink(private / "hostname", root / "a.txt")
    # a link that stays inside the folder is an ordinary file
    save(root / "sub" / "inner.png", picture(7))
    (root / "sub" / "inner.txt").write_text("An inner picture.")
    os.symlink("sub/inner.png", root / "alias.png")
    (root / "alias.txt").write_text("The same inner picture.")

    scan = scan_folder(root)
    assert used(scan, root) == {"fine.png": "A fine picture.", "sub/inner.png": "An inner picture.",
                                "alias.png": "The same inner picture."}
    got = skipped(scan, root)
    assert got["linked.png"].startswith("outside the dataset folder")
    assert got["album"].startswith("outside the dataset folder")
    assert got["a.png"].startswith("caption a.txt: outside the dataset folder")
    words = " ".join(it.caption or "" for it in scan.items)
    assert "secretword" not in words


def test_metadata_file_that_is_a_link_out_is_not_read(tmp_path):
    private = tmp_path / "private"
    private.mkdir()
    (private / "meta.jsonl").write_text(json.dumps({"file_name": "ok.png", "text": "Words from outside."}) + "\n")
    root = tmp_path / "set"
    save(root / "ok.png", picture(8))
    os.symlink(private / "meta.jsonl", root / "metadata.jsonl")
    scan = scan_folder(root)
    assert skipped(scan, root)["metadata.jsonl"].startswith("outside the dataset folder")
    assert all(it.caption != "Words from outside." for it in scan.items)


# --- special files and bounded reads --------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_fifo_and_device_links_are_refused_without_reading(tmp_path):
    root = tmp_path / "set"
    save(root / "fine.png", picture(9))
    (root / "fine.txt").write_text("A fine picture.")
    os.mkfifo(root / "pipe.png")  # reading it would block until a writer comes: forever
    os.mkfifo(root / "caption_pipe.txt")
    save(root / "caption_pipe.png", picture(10))
    os.symlink("/dev/zero", root / "zeros.png")  # never ends
    scan = scan_folder(root)
    got = skipped(scan, root)
    assert got["pipe.png"] == "not a regular file (a named pipe (FIFO))"
    assert got["caption_pipe.png"] == "caption caption_pipe.txt: not a regular file (a named pipe (FIFO))"
    assert got["zeros.png"].startswith("outside the dataset folder")
    assert list(used(scan, root)) == ["fine.png"]
    # a device inside the folder (or reached some other way) is refused by its file type, unread
    with pytest.raises(ImageLoadError, match=r"not a regular file \(a character device\)"):
        read_regular(Path("/dev/zero"), 1 << 20)
    with pytest.raises(ImageLoadError, match="not a regular file"):
        load_image_gray(root / "pipe.png")


def test_reads_are_bounded(tmp_path, monkeypatch):
    root = tmp_path / "set"
    save(root / "big.png", picture(11, (8, 8)))
    (root / "big.txt").write_text("A caption. " * 10_000)  # 110 KB: no caption is that long
    save(root / "ok.png", picture(12, (8, 8)))
    (root / "ok.txt").write_text("A small caption.")
    monkeypatch.setattr(data, "MAX_IMAGE_BYTES", 4096)
    save(root / "heavy.png", picture(13, (200, 200)))  # ~120 KB of noise
    (root / "heavy.txt").write_text("A heavy picture.")
    scan = scan_folder(root)
    got = skipped(scan, root)
    assert got["big.png"] == "caption big.txt: file too large (over 64 KB)"
    assert got["heavy.png"] == "file too large (over 4 KB)"
    assert list(used(scan, root)) == ["ok.png"]


# --- extreme shapes -------------------------------------------------------------------------


def test_extreme_aspect_ratio_is_refused_before_decoding(tmp_path):
    root = tmp_path / "set"
    save(root / "line.png", Image.new("L", (1_000_000, 79), 255))  # 77 KB, 3.6 TiB as a padded square
    save(root / "tall.png", Image.new("L", (20, 400), 255))
    save(root / "ok.png", picture(14))
    scan = scan_folder(root)
    got = skipped(scan, root)
    assert got["line.png"] == "extreme shape (1000000x79 px: one side is over 10 times the other)"
    assert got["tall.png"].startswith("extreme shape (20x400 px")
    assert list(used(scan, root)) == ["ok.png"]
    assert scan.report()["skipped_by_reason"]["extreme shape"] == 2
    with pytest.raises(ImageLoadError, match="extreme shape"):
        load_image_gray(root / "line.png")


def test_huge_picture_is_reduced_before_conversion(tmp_path):
    im = Image.new("L", (20000, 3950), 255)
    ImageDraw.Draw(im).rectangle([0, 0, 9999, 3949], fill=0)  # left half black
    path = save(tmp_path / "set" / "scan.png", im)
    del im
    tracemalloc.start()
    try:
        gray = load_image_gray(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert max(gray.shape) <= data.MAX_DECODE_SIDE and gray.shape == (790, 4000)
    assert peak < 100 << 20  # the unreduced float copy alone is 316 MB, its padded square 1.6 GB
    assert gray[:, :1999].max() == 0.0 and gray[:, 2001:].min() == 1.0
    items = [Item(path=path, caption="A scan.", split="train")]
    tones = load_tones(items, 32, cache_dir=tmp_path / "cache")
    assert tones.shape == (1, 32, 32) and len(items) == 1
    # the picture sits in the middle band of its white square, black on the left half
    band = tones[0, 14:18]
    assert band[:, :15].max() < 10 and band[:, 17:].min() > 245


def test_large_jpegs_decode_at_reduced_scale_or_are_reduced(tmp_path):
    for size in ((9000, 1000), (9000, 6000)):  # too wide for JPEG's own 1/2..1/8 scaling; then scaled by it
        buf = io.BytesIO()
        Image.new("L", size, 0).save(buf, format="JPEG")
        path = tmp_path / "big.jpg"
        path.write_bytes(buf.getvalue())
        gray = load_image_gray(path)
        assert max(gray.shape) <= data.MAX_DECODE_SIDE and gray.max() < 0.05
        assert gray.shape[1] / gray.shape[0] == pytest.approx(size[0] / size[1], rel=0.02)


# --- damaged metadata and duplicates --------------------------------------------------------


def test_one_latin1_byte_costs_its_line_not_the_file(tmp_path):
    for i in range(4):
        save(tmp_path / f"{i}.png", picture(20 + i))
    lines = [json.dumps({"file_name": f"{i}.png", "text": f"Picture {i}."}).encode() for i in range(4)]
    lines[2] = '{"file_name": "2.png", "text": "Un caf\xe9."}'.encode("latin-1")
    (tmp_path / "metadata.jsonl").write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines) + b"\n")
    scan = scan_folder(tmp_path)
    assert used(scan, tmp_path) == {"0.png": "Picture 0.", "1.png": "Picture 1.", "3.png": "Picture 3."}
    got = skipped(scan, tmp_path)
    assert got["metadata.jsonl:3"] == "metadata line is not UTF-8 (byte 39)"
    assert got["2.png"] == "not listed in metadata.jsonl"


def test_csv_row_with_latin1_byte_is_listed(tmp_path):
    for i in range(3):
        save(tmp_path / f"{i}.png", picture(30 + i))
    body = b"file_name,text\n0.png,A boat.\n1.png,Un caf\xe9.\n2.png,A ship.\n"
    (tmp_path / "metadata.csv").write_bytes(body)
    scan = scan_folder(tmp_path)
    assert used(scan, tmp_path) == {"0.png": "A boat.", "2.png": "A ship."}
    assert skipped(scan, tmp_path)["metadata.csv:3"] == "metadata row is not UTF-8"


def test_duplicate_file_name_rows_are_listed(tmp_path):
    save(tmp_path / "a.png", picture(40))
    save(tmp_path / "b.png", picture(41))
    rows = [{"file_name": "a.png", "text": "A first caption."},
            {"file_name": "./a.png", "text": "A second caption."},
            {"file_name": "b.png", "text": "A bee."},
            {"file_name": "sub/../b.png", "text": "Another bee."}]
    (tmp_path / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    scan = scan_folder(tmp_path)
    assert used(scan, tmp_path) == {"a.png": "A first caption.", "b.png": "A bee."}
    got = skipped(scan, tmp_path)
    assert got["metadata.jsonl:2"] == "duplicate row (a.png is listed first at metadata.jsonl:1)"
    assert got["metadata.jsonl:4"] == "duplicate row (b.png is listed first at metadata.jsonl:3)"
    assert scan.report()["skipped_by_reason"]["duplicate row"] == 2


def test_deeply_nested_metadata_line_is_one_bad_line(tmp_path):
    save(tmp_path / "a.png", picture(42))
    (tmp_path / "metadata.jsonl").write_text("[" * 100_000 + "\n" + json.dumps({"file_name": "a.png",
                                                                                 "text": "A."}) + "\n")
    scan = scan_folder(tmp_path)
    assert used(scan, tmp_path) == {"a.png": "A."}
    assert skipped(scan, tmp_path)["metadata.jsonl:1"] == "invalid JSON line in metadata"


def test_missing_folder_and_file_say_so(tmp_path):
    with pytest.raises(NotADirectoryError, match="does not exist"):
        scan_folder(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file, not a dataset folder"):
        scan_folder(tmp_path / "file")
