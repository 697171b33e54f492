"""Reading an artist's folder for training (docs/architecture.md, "Training data"), one code path after
layout detection.

Layouts, detected in this order:
1. `metadata.jsonl` / `metadata.csv` (Hugging Face imagefolder) rows with `file_name` + `text` or `caption`
   (images the metadata does not list are skipped and listed);
2. sidecar captions: `name.png` + `name.txt` / `name.caption`, including kohya `10_horse/` folders;
3. images without captions: a caption from the class folder name ("engraving/" -> "An engraving."),
   or image-only training when no folder name means anything.
Every bad file is skipped and listed with its reason; scanning never raises for a file's content.
Nothing outside the dataset folder is read (symlinks and metadata paths that lead out are listed), only
regular files are opened (a FIFO or /dev/zero named like an image would hang or never end), every read is
bounded, and pictures of extreme shape are refused before they are decoded.
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
import stat
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
# a tone image is the picture padded to a square: past this ratio it is a thin line on white paper, and the
# square it is padded to is what runs out of memory (1,000,000 x 79 px asks for 3.6 TiB)
MAX_ASPECT = 10
# pictures are reduced (box filter, as the tone image's own averaging) to at most this many pixels a side
# before conversion, so a 20000 x 3950 scan costs what a 4096 px one does
MAX_DECODE_SIDE = 4096
MAX_IMAGE_BYTES = 256 << 20  # reads are bounded: a file is refused rather than read past these sizes
MAX_CAPTION_BYTES = 64 << 10
MAX_METADATA_BYTES = 64 << 20
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


def _outside(path: Path, real_root: str) -> str | None:
    """The skip reason when `path` (a symlink, `..` or an absolute path) resolves outside the folder."""
    real = os.path.realpath(path)
    if real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep):
        return None
    return f"outside the dataset folder (leads to {real})"


def _walk(root: Path, skipped: list[tuple[str, str]]) -> list[Path]:
    """All files under root (following directory symlinks once), sorted; loops, dangling links and
    folders that lead outside root listed."""
    out: list[Path] = []
    seen_dirs: set[tuple[int, int]] = set()
    real_root = os.path.realpath(root)

    def visit(d: Path, chain: frozenset[tuple[int, int]]) -> None:
        try:
            st = d.stat()
        except OSError as e:
            skipped.append((str(d), _os_reason(e)))
            return
        if chain and (why := _outside(d, real_root)):
            skipped.append((str(d), why))
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


_SPECIAL = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
            (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _check_regular(mode: int, what: str) -> None:
    if stat.S_ISDIR(mode):
        raise ImageLoadError(f"a directory named like {what}")
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _SPECIAL if test(mode)), "a special file")
        raise ImageLoadError(f"not a regular file ({kind})")


def read_regular(path: Path, limit: int, what: str = "an image") -> bytes:
    """The bytes of a regular file of at most `limit` bytes; ImageLoadError with the reason otherwise.

    Pipes, devices and sockets are refused before they are opened (reading a FIFO blocks until a writer
    comes, /dev/zero never ends); O_NONBLOCK and fstat close the gap if the file is swapped meanwhile."""
    try:
        _check_regular(os.stat(path).st_mode, what)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            _check_regular(st.st_mode, what)
            # read(n) allocates n bytes up front: ask for the size stat gives, then for any growth since
            data = f.read(st.st_size + 1) if st.st_size <= limit else b""
            if len(data) > st.st_size:
                data += f.read(limit + 1 - len(data))
            if st.st_size > limit or len(data) > limit:
                raise ImageLoadError(f"file too large (over {_size(limit)})")
            return data
    except ImageLoadError:
        raise
    except OSError as e:
        raise ImageLoadError(_os_reason(e)) from e


def _size(n: int) -> str:
    return f"{n >> 20} MB" if n % (1 << 20) == 0 else f"{n >> 10} KB" if n % 1024 == 0 else f"{n:,} bytes"


def _read_bytes(path: Path) -> bytes:
    """Image file bytes, or ImageLoadError with the reason a user can act on."""
    return read_regular(path, MAX_IMAGE_BYTES)


def _open_checked(data: bytes) -> Image.Image:
    """A fully decoded image from bytes; ImageLoadError for empty, non-image, truncated, bomb files and
    extreme shapes (refused from the header, before anything is decoded)."""
    if not data:
        raise ImageLoadError("empty file (0 bytes)")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
                if w * h > MAX_PIXELS:
                    raise ImageLoadError(f"decompression bomb ({w}x{h} px is over the {MAX_PIXELS:,} px limit)")
                if max(w, h) > MAX_ASPECT * max(min(w, h), 1):
                    raise ImageLoadError(f"extreme shape ({w}x{h} px: one side is over {MAX_ASPECT} times "
                                         "the other)")
                im.verify()  # structure and checksums, without decoding
            im = Image.open(io.BytesIO(data))
            # JPEG decodes at 1/2, 1/4 or 1/8 scale for free; other formats are reduced after decoding
            im.draft(None, (MAX_DECODE_SIDE, MAX_DECODE_SIDE))
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


def load_image_gray(path, max_side: int | None = MAX_DECODE_SIDE) -> np.ndarray:
    """float32 H x W in [0, 1], 1 = white: EXIF rotation applied, transparency composited on white,
    CMYK / palette / LA / RGBA / 16-bit / float images converted, and pictures larger than `max_side`
    reduced by a whole factor (box filter). Raises ImageLoadError for bad files."""
    path = Path(path)
    try:
        im = _open_checked(_read_bytes(path))
    except ImageLoadError as e:
        raise ImageLoadError(f"{path}: {e}") from None
    try:
        return _to_gray(im, max_side)
    except Exception as e:  # an exotic mode Pillow opens but cannot convert
        raise ImageLoadError(f"{path}: cannot convert {im.mode} image ({e})") from e


def _reduced(im: Image.Image, max_side: int | None) -> Image.Image:
    side = max(im.size)
    if not max_side or side <= max_side:
        return im
    return im.reduce(-(-side // max_side))  # ceil: the result fits within max_side


def _to_gray(im: Image.Image, max_side: int | None = MAX_DECODE_SIDE) -> np.ndarray:
    with contextlib.suppress(Exception):  # a broken EXIF block must not lose the picture
        im = ImageOps.exif_transpose(im)
    mode = im.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        if max_side and max(im.size) > max_side and mode.startswith("I;16"):
            im = im.convert("I")  # Pillow cannot reduce 16-bit modes
        im = _reduced(im, max_side)
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
    im = _reduced(im, max_side)
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
    """The caption in a sidecar file; ImageLoadError for unreadable, special, huge, non-UTF-8 or empty
    captions."""
    try:
        data = read_regular(path, MAX_CAPTION_BYTES, "a caption")
    except ImageLoadError as e:
        raise ImageLoadError(f"caption {path.name}: {e}") from None
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


_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # bytes that surrogateescape kept from a non-UTF-8 text


def _metadata_rows(meta: Path, skipped: list[tuple[str, str]]) -> list[tuple[str, str, object]]:
    """(where, file_name, caption field) rows of a metadata.jsonl / .csv, `where` being "file:line";
    bad rows are listed in skipped. Each line is decoded on its own: one non-UTF-8 byte costs its row,
    not the file."""
    rows: list[tuple[str, str, object]] = []
    try:
        raw = read_regular(meta, MAX_METADATA_BYTES, "a metadata file")
    except ImageLoadError as e:
        skipped.append((str(meta), f"metadata file unusable: {e}"))
        return rows
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    records: list[tuple[int, dict | None]] = []
    if meta.suffix == ".jsonl":
        for n, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line.decode("utf-8"))
            except UnicodeDecodeError as e:
                skipped.append((f"{meta}:{n}", f"metadata line is not UTF-8 (byte {e.start + 1})"))
                continue
            except (json.JSONDecodeError, RecursionError):
                skipped.append((f"{meta}:{n}", "invalid JSON line in metadata"))
                continue
            records.append((n, obj if isinstance(obj, dict) else None))
    else:
        reader = csv.DictReader(io.StringIO(raw.decode("utf-8", "surrogateescape")))
        try:
            for n, r in enumerate(reader, 2):
                if any(isinstance(v, str) and _NOT_UTF8.search(v) for v in (*r.keys(), *r.values())):
                    skipped.append((f"{meta}:{n}", "metadata row is not UTF-8"))
                    continue
                records.append((n, r))
        except csv.Error as e:
            skipped.append((f"{meta}:{reader.line_num}", f"invalid CSV in metadata ({e}); rows after it unread"))
    for n, rec in records:
        if not rec or not isinstance(rec.get("file_name"), str) or not rec["file_name"].strip():
            skipped.append((f"{meta}:{n}", "metadata row has no file_name"))
            continue
        text = rec.get("text", rec.get("caption"))
        rows.append((f"{meta}:{n}", rec["file_name"].strip(), text))
    return rows


# --- scanning -------------------------------------------------------------------------------


def _split(sha: str) -> str:
    return "val" if int(sha[:8], 16) % VAL_FRACTION == 0 else "train"


def scan_folder(folder, caption_from_folders: bool = True) -> FolderScan:
    """Detect the folder's layout, read captions, check every image; never raises for a bad file."""
    root = Path(os.path.normpath(Path(folder).expanduser()))
    if not root.is_dir():
        raise NotADirectoryError(f"dataset folder {root} does not exist" if not root.exists()
                                 else f"{root} is a file, not a dataset folder")
    skipped: list[tuple[str, str]] = []
    real_root = os.path.realpath(root)
    files = []
    for p in _walk(root, skipped):
        why = _outside(p, real_root)  # a symlinked image, caption or metadata file that leads out
        if not why:
            files.append(p)
        elif p.suffix.lower() in IMAGE_EXTS or p.name in METADATA_FILES:
            skipped.append((str(p), why))
        # a caption that leads out is never read: its image is listed with the reason below
    images = [p for p in files if p.suffix.lower() in IMAGE_EXTS]
    by_path = {p: i for i, p in enumerate(images)}

    # 1. detection: which layout, and the caption (or caption error) for each candidate image
    metas = [p for p in files if p.name in METADATA_FILES]
    entries: list[tuple[Path, str | None, str | None]] = []  # (image, caption, caption problem)
    if metas:
        jsonl = [m for m in metas if m.name == "metadata.jsonl"]
        layout = "metadata.jsonl" if jsonl else "metadata.csv"
        listed: dict[Path, str] = {}  # image -> the row that listed it first
        for meta in sorted(jsonl or metas):
            for where, name, text in _metadata_rows(meta, skipped):
                p = Path(os.path.normpath(meta.parent / name))
                if p in listed:
                    first = listed[p]
                    skipped.append((where, f"duplicate row ({os.path.relpath(p, root)} is listed first at "
                                           f"{os.path.relpath(first, root)})"))
                    continue
                why = _outside(p, real_root)  # "../../x.png", "/home/x.png", or a link that leads out
                if why:
                    skipped.append((where, f"{why[:-1]}; listed as {name})"))
                    continue
                listed[p] = where
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
                if os.path.lexists(c) and not c.is_dir():  # a FIFO or device caption is listed, not ignored
                    sidecars[p] = c
                    break
        kohya = any(_KOHYA.match(part) for p in images for part in p.parent.relative_to(root).parts)
        if sidecars or kohya:
            layout, caption_mode = "sidecar", "captions"
            for p in images:
                if p in sidecars:
                    why = _outside(sidecars[p], real_root)
                    if why:
                        entries.append((p, None, f"caption {sidecars[p].name}: {why}"))
                        continue
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
        if why := _outside(p, real_root):
            return ImageLoadError(why)
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


def refuse_empty(scan: FolderScan, report_path) -> Exception:
    """The error for a folder with no usable images, saying why (the commonest skip reasons); the scan's
    report, every skipped file with its reason, is written to `report_path` first."""
    from artgen_desktop.engine.fileio import write_text_atomic
    from trainer.errors import TrainerError
    report = scan.report()
    reasons = sorted(Counter(_reason_kind(r) for _, r in scan.skipped).items(), key=lambda kv: (-kv[1], kv[0]))
    why = "; ".join(f"{n} {kind}" for kind, n in reasons[:3]) + ("; ..." if len(reasons) > 3 else "")
    text = f"no usable images in {scan.root}"
    if not scan.skipped:
        text += " (no image files found)"
    else:
        text += f" ({len(scan.skipped)} skipped: {why})"
    try:
        write_text_atomic(report_path, json.dumps({"error": text, "dataset": report}, indent=2))
        text += f"; every skipped file and its reason: {report_path}"
    except OSError as e:
        text += f"; the report could not be written ({e.strerror or e})"
    return TrainerError(text)


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
