"""Reading an artist's folder for training (DESIGN.md §5), with one code path after layout detection.

Layouts, detected in this order:
1. `metadata.jsonl` / `metadata.csv` (Hugging Face imagefolder) rows with `file_name` + `text` or `caption`
   (images the metadata does not list are skipped and listed);
2. sidecar captions: `name.png` + `name.txt` / `name.caption`, including kohya `10_horse/` folders;
3. images without captions: a caption from the class folder name ("engraving/" -> "An engraving."),
   or image-only training when no folder name means anything.
Every bad file is skipped and listed with its reason; scanning never raises for a file's content.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import hashlib
import io
import json
import logging
import os
import re
import struct
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

log = logging.getLogger(__name__)

IMAGE_EXTS = frozenset(".png .jpg .jpeg .jpe .jfif .bmp .gif .tif .tiff .webp .ppm .pgm .pbm .pnm .tga .ico "
                       ".avif .qoi".split())
CAPTION_EXTS = (".txt", ".caption")  # sidecar caption files, in order of preference
METADATA_FILES = ("metadata.jsonl", "metadata.csv")
MAX_PIXELS = 80_000_000  # larger images are treated as decompression bombs (Pillow's own limit is ~89 Mpx)
VAL_FRACTION = 20  # 1 in 20 (~5%) goes to validation
TONE_CACHE_VERSION = 1

# Folder names that say nothing about the pictures in them.
MEANINGLESS_FOLDERS = frozenset("""
images image imgs img pics pictures picture photos photo data dataset datasets train training training_set
trainset test testing test_set testset val valid validation validation_set raw input inputs output outputs
samples sample files misc other others new old all unsorted export exports scans scan art artwork artworks
download downloads folder stuff tmp temp
""".split())


class ImageLoadError(ValueError):
    """An image file that cannot be used; the message says which file and why."""


@dataclass
class Item:
    path: Path  # image file
    caption: str | None  # None = no caption (image-side-only)
    split: str  # "train" or "val", deterministic by file-content hash


@dataclass
class FolderScan:
    root: Path
    layout: str  # "metadata.jsonl" | "metadata.csv" | "sidecar" | "folders" | "images"
    caption_mode: str  # "captions" | "folder-names" | "image-only"
    items: list[Item]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    def report(self) -> dict:
        reasons = Counter(_reason_kind(r) for _, r in self.skipped)
        captioned = sum(it.caption is not None for it in self.items)
        return {
            "root": str(self.root),
            "layout": self.layout,
            "caption_mode": self.caption_mode,
            "caption_note": {
                "captions": "captions read from the dataset",
                "folder-names": "no caption files; captions made from folder names",
                "image-only": "no captions and no meaningful folder names; training the image side only",
            }[self.caption_mode],
            "counts": {
                "items": len(self.items),
                "train": sum(it.split == "train" for it in self.items),
                "val": sum(it.split == "val" for it in self.items),
                "captioned": captioned,
                "uncaptioned": len(self.items) - captioned,
                "skipped": len(self.skipped),
            },
            "skipped_by_reason": dict(sorted(reasons.items())),
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
        }


def _reason_kind(reason: str) -> str:
    return re.split(r"[:(]", reason, maxsplit=1)[0].strip()


# --- file walking ---------------------------------------------------------------------------


def _walk(root: Path, skipped: list[tuple[str, str]]) -> list[Path]:
    """All files under root (following directory symlinks once), sorted; loops and dangling links listed."""
    out: list[Path] = []
    seen_dirs: set[tuple[int, int]] = set()

    def visit(d: Path, chain: frozenset[tuple[int, int]]) -> None:
        try:
            st = d.stat()
        except OSError as e:
            skipped.append((str(d), _os_reason(e)))
            return
        ident = (st.st_dev, st.st_ino)
        if ident in chain:
            skipped.append((str(d), "symlink loop (directory links back to a parent)"))
            return
        if ident in seen_dirs:
            skipped.append((str(d), "duplicate directory (symlink to a folder already read)"))
            return
        seen_dirs.add(ident)
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as e:
            skipped.append((str(d), _os_reason(e)))
            return
        for e in entries:
            if e.name.startswith("."):
                continue  # .git, .DS_Store, editor temp files
            p = Path(e.path)
            try:
                is_dir = e.is_dir(follow_symlinks=True)
            except OSError as err:
                skipped.append((str(p), _os_reason(err)))
                continue
            if is_dir and p.suffix.lower() not in IMAGE_EXTS:
                visit(p, chain | {ident})
            else:
                out.append(p)  # files, broken links and directories named like images: checked later

    visit(root, frozenset())
    return out


def _os_reason(e: OSError) -> str:
    if e.errno == errno.ELOOP:
        return "symlink loop"
    if e.errno == errno.ENOENT:
        return "missing file (dangling symlink)"
    if isinstance(e, PermissionError) or e.errno in (errno.EACCES, errno.EPERM):
        return "unreadable (permission denied)"
    return f"unreadable ({e.strerror or e})"


# --- image checks ---------------------------------------------------------------------------


def _read_bytes(path: Path) -> bytes:
    """File bytes, or ImageLoadError with the reason a user can act on."""
    try:
        if path.is_dir():
            raise ImageLoadError("a directory named like an image")
        with open(path, "rb") as f:
            return f.read()
    except ImageLoadError:
        raise
    except OSError as e:
        raise ImageLoadError(_os_reason(e)) from e


def _open_checked(data: bytes) -> Image.Image:
    """A fully decoded image from bytes; ImageLoadError for empty, non-image, truncated or bomb files."""
    if not data:
        raise ImageLoadError("empty file (0 bytes)")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
                if w * h > MAX_PIXELS:
                    raise ImageLoadError(f"decompression bomb ({w}x{h} px is over the {MAX_PIXELS:,} px limit)")
                im.verify()  # structure and checksums, without decoding
            im = Image.open(io.BytesIO(data))
            im.load()  # decodes: catches truncated data that verify() lets through
            return im
        except ImageLoadError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise ImageLoadError(f"decompression bomb ({e})") from e
        except UnidentifiedImageError as e:
            raise ImageLoadError("not an image (Pillow cannot identify the file)") from e
        except (OSError, SyntaxError, ValueError, EOFError, MemoryError, IndexError, struct.error) as e:
            msg = str(e) or type(e).__name__
            kind = "truncated image" if "truncat" in msg.lower() else "corrupt image"
            raise ImageLoadError(f"{kind} ({msg})") from e


def check_image(path: Path) -> str:
    """sha1 of a usable image's bytes; ImageLoadError(reason) otherwise."""
    data = _read_bytes(path)
    _open_checked(data).close()
    return hashlib.sha1(data).hexdigest()


def load_image_gray(path) -> np.ndarray:
    """float32 H x W in [0, 1], 1 = white: EXIF rotation applied, transparency composited on white,
    CMYK / palette / LA / RGBA / 16-bit / float images converted. Raises ImageLoadError for bad files."""
    path = Path(path)
    try:
        im = _open_checked(_read_bytes(path))
    except ImageLoadError as e:
        raise ImageLoadError(f"{path}: {e}") from None
    try:
        return _to_gray(im)
    except Exception as e:  # an exotic mode Pillow opens but cannot convert
        raise ImageLoadError(f"{path}: cannot convert {im.mode} image ({e})") from e


def _to_gray(im: Image.Image) -> np.ndarray:
    with contextlib.suppress(Exception):  # a broken EXIF block must not lose the picture
        im = ImageOps.exif_transpose(im)
    mode = im.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        a = np.asarray(im, dtype=np.float32)
        if mode == "F":
            top = 1.0 if a.size and float(np.nanmax(a)) <= 1.0 else (255.0 if float(np.nanmax(a)) <= 255 else 65535.0)
        else:
            top = 65535.0 if mode.startswith("I;16") or (a.size and a.max() > 255) else 255.0
        return np.clip(np.nan_to_num(a / top, nan=1.0), 0.0, 1.0).astype(np.float32)
    if mode == "CMYK":
        im = im.convert("RGB")
    elif mode not in ("RGBA", "LA", "RGB", "L"):
        im = im.convert("RGBA")  # palette (with tRNS), 1-bit, PA, YCbCr, LAB, HSV ...
    if im.mode in ("RGBA", "LA"):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    return np.asarray(im.convert("L"), dtype=np.float32) / 255.0


def to_tone(gray: np.ndarray, size: int) -> np.ndarray:
    """The tone image: `gray` padded to a white square (aspect kept) and area-averaged to size x size.

    Averaging is the low-pass filter that turns an engraving's lines into light and shade."""
    g = np.asarray(gray, dtype=np.float32)
    if g.ndim != 2 or g.size == 0:
        raise ValueError(f"expected a non-empty 2-D gray image, got shape {g.shape}")
    h, w = g.shape
    side = max(h, w)
    sq = np.ones((side, side), np.float32)
    oy, ox = (side - h) // 2, (side - w) // 2
    sq[oy:oy + h, ox:ox + w] = g
    im = Image.fromarray(sq, mode="F")
    resample = Image.Resampling.BOX if side >= size else Image.Resampling.BILINEAR
    out = np.asarray(im.resize((size, size), resample), np.float32)
    return np.clip(out, 0.0, 1.0)


# --- captions -------------------------------------------------------------------------------


def _clean_caption(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def read_caption_file(path: Path) -> str:
    """The caption in a sidecar file; ImageLoadError for unreadable, non-UTF-8 or empty captions."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ImageLoadError(f"caption {path.name}: {_os_reason(e)}") from e
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ImageLoadError(f"caption is not UTF-8 ({path.name}, byte {e.start})") from None
    text = _clean_caption(text)
    if not text:
        raise ImageLoadError(f"empty caption ({path.name})")
    return text


_KOHYA = re.compile(r"^\d+_(.+)$")


def folder_caption(name: str) -> str | None:
    """'engraving' -> 'An engraving.', '10_old_ships' -> 'Old ships.'; None for names that mean nothing."""
    m = _KOHYA.match(name)
    if m:
        name = m.group(1)
    words = [w.lower() for w in re.split(r"[^A-Za-z0-9']+", re.sub(r"([a-z])([A-Z])", r"\1 \2", name)) if w]
    words = [w for w in words if not w.isdigit()]
    if not words or " ".join(words) in MEANINGLESS_FOLDERS or "_".join(words) in MEANINGLESS_FOLDERS:
        return None
    if all(len(w) < 2 or re.fullmatch(r"(class|cls|cat|category|folder|dir|set|group)\d*", w) for w in words):
        return None
    last = words[-1]
    plural = len(last) > 3 and last.endswith("s") and not last.endswith(("ss", "us", "is"))
    if not plural and words[0] not in ("a", "an", "the"):
        words.insert(0, "an" if words[0][0] in "aeiou" else "a")
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


def _caption_from_folders(path: Path, root: Path) -> str | None:
    """Caption from the nearest meaningful folder between the image and the root (root itself excluded)."""
    try:
        parts = path.parent.relative_to(root).parts
    except ValueError:
        return None
    for name in reversed(parts):
        cap = folder_caption(name)
        if cap:
            return cap
    return None


# --- metadata files -------------------------------------------------------------------------


def _metadata_rows(meta: Path, skipped: list[tuple[str, str]]) -> list[tuple[str, object]]:
    """(file_name, caption field) rows of a metadata.jsonl / .csv; bad rows are listed in skipped."""
    rows: list[tuple[str, object]] = []
    try:
        raw = meta.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        skipped.append((str(meta), "metadata file is not UTF-8"))
        return rows
    except OSError as e:
        skipped.append((str(meta), _os_reason(e)))
        return rows
    records: list[tuple[int, dict | None]] = []
    if meta.suffix == ".jsonl":
        for n, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                skipped.append((f"{meta}:{n}", "invalid JSON line in metadata"))
                continue
            records.append((n, obj if isinstance(obj, dict) else None))
    else:
        reader = csv.DictReader(io.StringIO(raw))
        records = [(n, r) for n, r in enumerate(reader, 2)]
    for n, rec in records:
        if not rec or not isinstance(rec.get("file_name"), str) or not rec["file_name"].strip():
            skipped.append((f"{meta}:{n}", "metadata row has no file_name"))
            continue
        text = rec.get("text", rec.get("caption"))
        rows.append((rec["file_name"].strip(), text))
    return rows


# --- scanning -------------------------------------------------------------------------------


def _split(sha: str) -> str:
    return "val" if int(sha[:8], 16) % VAL_FRACTION == 0 else "train"


def scan_folder(folder, caption_from_folders: bool = True) -> FolderScan:
    """Detect the folder's layout, read captions, check every image; never raises for a bad file."""
    root = Path(os.path.normpath(Path(folder).expanduser()))
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a folder")
    skipped: list[tuple[str, str]] = []
    files = _walk(root, skipped)
    images = [p for p in files if p.suffix.lower() in IMAGE_EXTS]
    by_path = {p: i for i, p in enumerate(images)}

    # 1. detection: which layout, and the caption (or caption error) for each candidate image
    metas = [p for p in files if p.name in METADATA_FILES]
    entries: list[tuple[Path, str | None, str | None]] = []  # (image, caption, caption problem)
    if metas:
        jsonl = [m for m in metas if m.name == "metadata.jsonl"]
        layout = "metadata.jsonl" if jsonl else "metadata.csv"
        listed: set[Path] = set()
        for meta in sorted(jsonl or metas):
            for name, text in _metadata_rows(meta, skipped):
                p = Path(os.path.normpath(meta.parent / name))
                if p in listed:
                    continue
                listed.add(p)
                if not (p.exists() or p.is_symlink()):
                    skipped.append((str(p), f"missing file (listed in {meta.name})"))
                    continue
                if not isinstance(text, str) or not _clean_caption(text):
                    entries.append((p, None, f"empty caption (in {meta.name})"))
                else:
                    entries.append((p, _clean_caption(text), None))
        # the metadata defines the dataset (as in Hugging Face imagefolder); other images beside it, such
        # as a contact sheet, are listed as skipped rather than trained on
        skipped += [(str(p), f"not listed in {layout}") for p in images if p not in listed]
        caption_mode = "captions"
    else:
        sidecars = {}
        for p in images:
            for ext in CAPTION_EXTS:
                c = p.with_suffix(ext)
                if c.is_file() or c.is_symlink():
                    sidecars[p] = c
                    break
        kohya = any(_KOHYA.match(part) for p in images for part in p.parent.relative_to(root).parts)
        if sidecars or kohya:
            layout, caption_mode = "sidecar", "captions"
            for p in images:
                if p in sidecars:
                    try:
                        entries.append((p, read_caption_file(sidecars[p]), None))
                    except ImageLoadError as e:
                        entries.append((p, None, str(e)))
                else:  # kohya trains these with the concept name as caption
                    entries.append((p, _caption_from_folders(p, root) if caption_from_folders else None, None))
        else:
            caps = {p: _caption_from_folders(p, root) if caption_from_folders else None for p in images}
            nested = any(p.parent != root for p in images)
            layout = "folders" if nested else "images"
            caption_mode = "folder-names" if any(caps.values()) else "image-only"
            entries = [(p, caps[p], None) for p in images]

    # 2. one path for every layout: check the image, then the caption
    entries.sort(key=lambda e: (by_path.get(e[0], -1), str(e[0])))

    def check(p: Path) -> str | ImageLoadError:
        if p.suffix.lower() not in IMAGE_EXTS:
            return ImageLoadError("not an image file name")
        try:
            return check_image(p)
        except ImageLoadError as e:
            return e

    # decoding every image is the slow part of a scan; Pillow releases the GIL while it decodes
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as ex:
        checked = list(ex.map(check, [e[0] for e in entries]))
    items: list[Item] = []
    hashes: list[str] = []
    for (p, caption, problem), sha in zip(entries, checked):
        if isinstance(sha, ImageLoadError):
            skipped.append((str(p), str(sha)))
            continue
        if problem:
            skipped.append((str(p), problem))
            continue
        items.append(Item(path=p, caption=caption, split=_split(sha)))
        hashes.append(sha)
    if len(items) >= 20 and not any(it.split == "val" for it in items):
        # guarantee a validation set: the item whose hash is smallest (still content-determined)
        items[min(range(len(items)), key=lambda i: hashes[i])].split = "val"
    # dangling links and loops among image names are found by check_image; anything else is just ignored
    skipped.sort(key=lambda s: s[0])
    return FolderScan(root=root, layout=layout, caption_mode=caption_mode, items=items, skipped=skipped)


# --- tone images, cached --------------------------------------------------------------------


def default_tone_cache() -> Path:
    from platformdirs import user_cache_dir
    return Path(user_cache_dir("artgen-desktop")) / "tones"


def _tone_key(path: Path, size: int) -> str:
    st = path.stat()
    ident = f"v{TONE_CACHE_VERSION}|{path.resolve()}|{st.st_mtime_ns}|{st.st_size}|{size}"
    return hashlib.sha1(ident.encode("utf-8", "surrogateescape")).hexdigest()


def _load_one(path: Path, size: int, cache: Path | None) -> np.ndarray:
    key = None
    if cache is not None:
        try:
            key = _tone_key(path, size)
            cached = cache / key[:2] / f"{key}.npy"
            if cached.is_file():
                arr = np.load(cached, allow_pickle=False)
                if arr.shape == (size, size) and arr.dtype == np.uint8:
                    return arr
        except (OSError, ValueError):
            pass  # a damaged cache entry is rebuilt below
    arr = np.round(to_tone(load_image_gray(path), size) * 255.0).astype(np.uint8)
    if cache is not None and key is not None:
        from artgen_desktop.engine.fileio import atomic_path
        try:
            target = cache / key[:2] / f"{key}.npy"
            with atomic_path(target) as tmp, open(tmp, "wb") as f:
                np.save(f, arr, allow_pickle=False)
        except OSError as e:  # a full or read-only cache only costs speed
            log.warning("tone cache not written (%s)", e)
    return arr


def load_tones(items: list[Item], size: int, cache_dir=None, workers: int = 1,
               skipped: list[tuple[str, str]] | None = None) -> np.ndarray:
    """(N, size, size) uint8 tone images, 255 = white, one row per item in `items`.

    Cached on disk (keyed by path, mtime, byte size and tone size), so runs after the first are fast.
    An item that fails to load here (changed or deleted since the scan) is removed from `items` in place,
    so rows stay aligned with items, and listed in `skipped` (e.g. pass scan.skipped) with its reason.
    """
    cache = Path(cache_dir) if cache_dir is not None else default_tone_cache()

    def one(it: Item) -> np.ndarray | str:
        try:
            return _load_one(Path(it.path), size, cache)
        except (ImageLoadError, OSError, ValueError) as e:
            return str(e)

    if workers > 1 and len(items) > 1:
        with ThreadPoolExecutor(max_workers=workers) as ex:  # Pillow decodes without holding the GIL
            results = list(ex.map(one, items))
    else:
        results = [one(it) for it in items]
    ok_items, rows = [], []
    for it, r in zip(items, results):
        if isinstance(r, str):
            if skipped is not None:
                skipped.append((str(it.path), r))
            log.warning("skipped %s: %s", it.path, r)
        else:
            ok_items.append(it)
            rows.append(r)
    items[:] = ok_items
    return np.stack(rows) if rows else np.zeros((0, size, size), np.uint8)
