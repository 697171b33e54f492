"""Build the default engraving dataset from pinned Debian and npm packages (docs/dataset.md).

    python -m trainer.build_default OUT_DIR [--public-domain-only] [--cache-dir DIR] [--workers N]
                                            [--icon-sets game-icons,fluent-emoji-high-contrast,openmoji]

Fetches openclipart-svg, tuxpaint-stamps-default and wamerican (an English word list for caption
clean-up) with `apt-get download`, and three Iconify icon sets (bold named drawings made to read small)
with npm's own client (`npm pack`); checks their sha256, unpacks into a cache folder (never installs
them), renders every drawing, filters out what is not a drawing of a thing, captions the rest (icons
from their names) and writes engravings made by the engine's own renderer in the Hugging Face
`imagefolder` layout: images/*.png + metadata.jsonl (with each row's source and licence), plus
report.json, CREDITS.md and contact_sheet.png. Without npm the icon sets are skipped with one line.
metadata.jsonl is written last, so its presence means the build finished.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import multiprocessing as mp
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from trainer import captions as cap

# --- pinned packages ------------------------------------------------------------------------


@dataclass(frozen=True)
class DebPackage:
    name: str
    version: str
    sha256: str
    license: str


PACKAGES = {
    "openclipart-svg": DebPackage(
        "openclipart-svg", "1:0.18+dfsg-19",
        "989712d90d57dfa3230049f553bb43b76c30ee4d4b8c5f6e106e33f7db5cbdc5", "Public Domain"),
    "tuxpaint-stamps-default": DebPackage(
        "tuxpaint-stamps-default", "2022.06.04-1",
        "6db6c1bfc870a47f1499d6203b083522eacb57c5f9c87d468f2e92eb6d9d5f34", "GPL-2.0-or-later"),
    "wamerican": DebPackage(
        "wamerican", "2020.12.07-2",
        "c8f8e2b2ad0d37bfdd41f0e40f1e4c8e5f907467d768a1d3698b164e9617f0b4", "wamerican (free, see package)"),
}

@dataclass(frozen=True)
class IconSet:
    """A pinned Iconify icon set from npm: icons.json (SVG bodies by name) + metadata.json (categories)."""
    name: str  # npm package
    version: str
    sha256: str  # of the `npm pack` tarball
    license: str  # SPDX
    attribution: str  # what the licence asks us to credit
    keep_categories: frozenset[str] | None = None  # None: every icon (the set has no categories)
    ink_cap: float = 0.75  # darkest tone drawn: solid masses keep visible engraved lines


ICON_SETS = {
    "game-icons": IconSet(
        "@iconify-json/game-icons", "1.2.4", "f5758efb34d91c4f50b941f355f16ee73938625e5996fabc25171288404460a4",
        "CC-BY-3.0", "Game Icons (https://game-icons.net) by Lorc, Delapouite and contributors, CC BY 3.0"),
    "fluent-emoji-high-contrast": IconSet(
        "@iconify-json/fluent-emoji-high-contrast", "1.2.6",
        "0b92d48c90d2200bd499e3cdd09a127ca6a8c8ddefd34c35eb5a1e4994012ae0",
        "MIT", "Fluent Emoji High Contrast, Copyright (c) Microsoft Corporation, MIT licence",
        frozenset({"Activities", "Animals & Nature", "Food & Drink", "Objects", "Travel & Places",
                   "Smileys & Emotion"})),
    "openmoji": IconSet(
        "@iconify-json/openmoji", "1.2.29", "03181e2c156cab35cf4a62f1f7886bd971d59212e75ac3f189d5a4cae3930fc5",
        "CC-BY-SA-4.0", "OpenMoji (https://openmoji.org), the open-source emoji and icon project, CC BY-SA 4.0",
        frozenset({"Activities", "Animals Nature", "Food Drink", "Objects", "Travel Places", "Smileys Emotion"})),
}
# icon names with these words are variants or not things (skin tones, keycaps, game-icons' abstract shapes)
ICON_EXCLUDE_WORDS = {"skin": "skin-tone variant", "tone": "skin-tone variant", "keycap": "keycap",
                      "abstract": "abstract shape", "button": "UI icon", "sign": "sign", "symbol": "sign"}


OPENCLIPART_DIR = "usr/share/openclipart/svg"
TUXPAINT_DIR = "usr/share/tuxpaint/stamps"
WORDS_FILE = "usr/share/dict/american-english"


class FetchError(RuntimeError):
    """A pinned package could not be fetched or did not match its checksum."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def default_cache_dir() -> Path:
    from platformdirs import user_cache_dir
    return Path(user_cache_dir("artgen-desktop")) / "default-dataset"


def fetch_package(pkg: DebPackage, cache: Path, log=print) -> Path:
    """Unpacked root of a pinned package: downloaded with apt-get, sha256-checked, dpkg-deb -x'd."""
    safe_ver = pkg.version.replace(":", "%3a")
    root = cache / "unpacked" / f"{pkg.name}_{safe_ver}"
    marker = root / ".complete"
    if marker.is_file() and marker.read_text().strip() == pkg.sha256:
        return root
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    deb = debs / f"{pkg.name}_{safe_ver}_all.deb"
    if not (deb.is_file() and sha256_file(deb) == pkg.sha256):
        for tool in ("apt-get", "dpkg-deb"):
            if shutil.which(tool) is None:
                raise FetchError(f"{tool} is not available: the default dataset is built from Debian packages "
                                 f"and needs apt-get and dpkg-deb (or put {deb.name} in {debs})")
        log(f"downloading {pkg.name}={pkg.version} with apt-get ...")
        with tempfile.TemporaryDirectory(dir=debs) as tmp:
            r = subprocess.run(["apt-get", "download", f"{pkg.name}={pkg.version}"], cwd=tmp,
                               capture_output=True, text=True)
            got = sorted(Path(tmp).glob(f"{pkg.name}_*.deb"))
            if r.returncode != 0 or not got:
                tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
                raise FetchError(
                    f"apt-get could not download {pkg.name}={pkg.version}: {' / '.join(tail) or 'no file'}\n"
                    "This builder needs Debian's package archive: run `apt-get update` and check network "
                    f"access, or copy {deb.name} (sha256 {pkg.sha256}) into {debs}.")
            os.replace(got[0], deb)
    digest = sha256_file(deb)
    if digest != pkg.sha256:
        deb.unlink()
        raise FetchError(f"{pkg.name}={pkg.version}: sha256 {digest} does not match the pinned {pkg.sha256}")
    if root.exists():
        shutil.rmtree(root)
    tmp_root = root.with_name(root.name + ".part")
    if tmp_root.exists():
        shutil.rmtree(tmp_root)
    tmp_root.mkdir(parents=True)
    r = subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_root)], capture_output=True, text=True)
    if r.returncode != 0:
        shutil.rmtree(tmp_root, ignore_errors=True)
        raise FetchError(f"dpkg-deb -x {deb.name} failed: {r.stderr.strip()}")
    (tmp_root / ".complete").write_text(pkg.sha256 + "\n")
    os.replace(tmp_root, root)
    return root


# --- candidates and filters ----------------------------------------------------------------


@dataclass
class Candidate:
    key: str  # "source/relative/path": stable id and sort key
    path: str  # file to render
    source: str  # openclipart | tuxpaint
    category: str
    license: str
    text: str | None = None
    caption_from: str = ""
    excluded: str | None = None  # reason, when filtered out before rendering


# Folders whose contents are not drawings of things (prefix match on the relative folder).
OPENCLIPART_EXCLUDE_DIRS = {
    "buttons": "UI icon", "computer/icons": "UI icon", "computer/buttons": "UI icon",
    "computer/folders": "UI icon", "computer/diagrams": "diagram", "computer/network": "diagram",
    "logos": "logo", "shapes/arrows": "arrow", "shapes/stars": "generated star",
    "shapes/callouts": "callout", "shapes/flowchart": "diagram", "shapes/jigsaw": "pattern",
    "signs_and_symbols/flags": "flag", "signs_and_symbols/led": "letter or number",
    "signs_and_symbols/map_symbols": "map symbol", "signs_and_symbols/money": "money symbol",
    "signs_and_symbols/hazard": "sign", "signs_and_symbols/disability": "sign",
    "transportation/roadsigns": "road sign", "transportation/aiga-symbols": "sign",
    "special/patterns": "pattern", "special/gradients": "gradient", "special/examples": "border or frame",
    "recreation/games/cards": "playing card", "unsorted/duplicates": "duplicate",
    "people/clothing/pantyhose": "sign",
}
# signs_and_symbols/ itself is mostly warning signs and symbols; its clocks/weather/awards are things
OPENCLIPART_EXCLUDE_EXACT = {"signs_and_symbols": "sign", "computer/icons": "UI icon"}
# geography/ is mostly region maps; keep the globes, planets and devices
GEOGRAPHY_KEEP = frozenset("globe earth planet gps moon eclipse rock drum umbrella seal calebasse".split())

TUXPAINT_EXCLUDE_DIRS = {
    "symbols/alphabets": "letter or number", "symbols/math": "letter or number",
    "symbols/money": "money symbol", "symbols/shapes": "shape", "symbols/music": "sign",
    "symbols/faces": "UI icon", "town/flags": "flag", "town/roadsigns": "road sign",
}

# Words in a title or file name that mark a non-thing (whole words only: "starfish" stays).
EXCLUDE_WORDS = {
    "flag": "flag", "flags": "flag", "bandiera": "flag", "arrow": "arrow", "arrows": "arrow",
    "freccia": "arrow", "icon": "UI icon", "button": "UI icon", "buttons": "UI icon",
    "map": "map", "maps": "map", "mappa": "map", "carte": "map", "mapsym": "map",
    "pattern": "pattern", "patterns": "pattern", "texture": "pattern", "textures": "pattern",
    "background": "pattern", "wallpaper": "pattern", "tile": "pattern", "tiles": "pattern",
    "border": "border or frame", "borders": "border or frame", "frame": "border or frame",
    "corner": "border or frame", "flourish": "border or frame", "divider": "border or frame",
    "gradient": "gradient", "gradients": "gradient",
    "alphabet": "letter or number", "letter": "letter or number", "letters": "letter or number",
    "font": "letter or number", "digit": "letter or number", "number": "letter or number",
    "numbers": "letter or number", "numeral": "letter or number", "kanji": "letter or number",
    "star": "generated star", "stars": "generated star", "gramastar": "generated star",
    "roadsign": "road sign", "roadsigns": "road sign", "sign": "sign", "signs": "sign",
    "symbol": "sign", "symbols": "sign", "simbol": "sign", "simbolo": "sign", "logo": "logo",
    "card": "playing card", "cards": "playing card",
    "dollar": "money symbol", "euro": "money symbol", "currency": "money symbol", "money": "money symbol",
    "diagram": "diagram", "diagramma": "diagram", "flowchart": "diagram", "chart": "diagram",
    "graph": "diagram", "istogramma": "diagram", "barcode": "sign", "callout": "callout",
    "tangram": "shape", "question": "sign", "exclamation": "sign", "smiley": "UI icon",
}
# Keywords are noisier than titles; only these mark a non-thing.
EXCLUDE_KEYWORDS = {"flag": "flag", "flags": "flag", "icon": "UI icon", "map": "map",
                    "maps": "map", "mapsym": "map", "pattern": "pattern", "gradients": "gradient",
                    "roadsign": "road sign", "roadsigns": "road sign", "alphabet": "letter or number",
                    "font": "letter or number", "arrow": "arrow", "arrows": "arrow"}


def folder_exclusion(rel_dir: str, table: dict[str, str], exact: dict[str, str] | None = None) -> str | None:
    for prefix, why in table.items():
        if rel_dir == prefix or rel_dir.startswith(prefix + "/"):
            return why
    if exact and rel_dir in exact:
        return exact[rel_dir]
    return None


def word_exclusion(texts: list[str], keywords: list[str] = ()) -> str | None:
    """Reason a title / file name / keyword marks a non-thing, or None."""
    for t in texts:
        for w in cap.split_name(t):
            why = EXCLUDE_WORDS.get(w.lower())
            if why:
                return f"{why} ({w.lower()})"
    for k in keywords:
        for w in cap.split_name(k):
            why = EXCLUDE_KEYWORDS.get(w.lower())
            if why:
                return f"{why} (keyword {w.lower()})"
    return None


def license_name(url: str, package_default: str) -> str:
    u = url.lower()
    if "publicdomain" in u:
        return "Public Domain"
    if "/gpl/" in u:
        return "GPL-2.0"
    return package_default


def openclipart_candidates(root: Path, wl: cap.WordList) -> list[Candidate]:
    base = root / OPENCLIPART_DIR
    files = sorted(p for p in base.rglob("*.svg"))
    out: list[Candidate] = []
    metas: dict[Path, cap.SvgMeta] = {}
    for p in files:
        if not p.is_symlink() and p.is_file():
            metas[p] = cap.svg_metadata(p.read_bytes())
    collections = cap.collection_titles((m.title, p.stem) for p, m in metas.items())
    # (a set: one drawing filed in two folders is one picture, not an upload of two)
    shared_descriptions = cap.collection_titles({(m.description, p.stem) for p, m in metas.items() if m.description},
                                                min_count=2)
    kw_counts = Counter(k.lower() for m in metas.values() for k in m.keywords)
    for p in files:
        rel = p.relative_to(base).as_posix()
        rel_dir = os.path.dirname(rel)
        c = Candidate(key=f"openclipart/{rel}", path=str(p), source="openclipart",
                      category=rel_dir.split("/")[0] if rel_dir else "unsorted",
                      license=PACKAGES["openclipart-svg"].license)
        out.append(c)
        if p.is_symlink() or p not in metas:
            c.excluded = "duplicate (symlink)"
            continue
        m = metas[p]
        c.license = license_name(m.license, c.license)
        why = folder_exclusion(rel_dir, OPENCLIPART_EXCLUDE_DIRS, OPENCLIPART_EXCLUDE_EXACT)
        if why is None and rel_dir == "geography":
            words = {w.lower() for w in cap.split_name(p.stem) + cap.split_name(m.title)}
            if not words & GEOGRAPHY_KEEP:
                why = "map"
        if why is None:
            why = word_exclusion([m.title, p.stem], m.keywords)
        if why is not None:
            c.excluded = why
            continue
        text, frm = cap.openclipart_caption(m, p.stem, rel_dir.split("/"), wl, collections, kw_counts,
                                            shared_descriptions)
        if text is None:
            c.excluded = "no meaningful caption"
            c.caption_from = frm
            continue
        c.text, c.caption_from = text, frm
    return out


def tuxpaint_candidates(root: Path) -> list[Candidate]:
    base = root / TUXPAINT_DIR
    stems: dict[Path, list[Path]] = {}
    for p in sorted(base.rglob("*")):
        if p.suffix.lower() in (".svg", ".png") and p.is_file():
            stems.setdefault(p.with_suffix(""), []).append(p)
    out: list[Candidate] = []
    for stem, paths in sorted(stems.items()):
        # Tux Paint shows the SVG when a stamp has both; the PNG is the same picture
        paths.sort(key=lambda q: q.suffix.lower() != ".svg")
        p = paths[0]
        rel = p.relative_to(base).as_posix()
        rel_dir = os.path.dirname(rel)
        parts = [d for d in rel_dir.split("/") if d != "cartoon"]
        c = Candidate(key=f"tuxpaint/{rel}", path=str(p), source="tuxpaint",
                      category=parts[0] if parts else "misc", license=PACKAGES["tuxpaint-stamps-default"].license)
        out.append(c)
        if stem.name.endswith("_mirror"):
            c.excluded = "duplicate (mirrored copy)"
            continue
        why = folder_exclusion(rel_dir, TUXPAINT_EXCLUDE_DIRS)
        if why:
            c.excluded = why
            continue
        txt = stem.with_suffix(".txt")
        text = None
        if txt.is_file():
            text = cap.tuxpaint_caption(txt.read_text(encoding="utf-8", errors="replace"))
        if not text:
            c.excluded = "no meaningful caption"
            c.caption_from = "no English line in .txt"
            continue
        c.text, c.caption_from = text, "tuxpaint txt"
    return out


class SourceUnavailable(RuntimeError):
    """An optional source could not be fetched here (no npm): the build goes on without it."""


def fetch_icon_set(spec: IconSet, cache: Path, log=print) -> Path:
    """The `npm pack` tarball of a pinned icon set (npm's own client and registry; sha256-checked)."""
    folder = cache / "npm"
    folder.mkdir(parents=True, exist_ok=True)
    tgz = folder / (spec.name.lstrip("@").replace("/", "-") + f"-{spec.version}.tgz")
    if tgz.is_file() and sha256_file(tgz) == spec.sha256:
        return tgz
    if shutil.which("npm") is None:
        raise SourceUnavailable(f"npm is not available (or put {tgz.name} in {folder})")
    log(f"fetching {spec.name}@{spec.version} with npm pack ...")
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        r = subprocess.run(["npm", "pack", f"{spec.name}@{spec.version}", "--pack-destination", tmp],
                           capture_output=True, text=True)
        got = sorted(Path(tmp).glob("*.tgz"))
        if r.returncode != 0 or not got:
            tail = (r.stderr or r.stdout).strip().splitlines()[-2:]
            raise SourceUnavailable(f"npm pack {spec.name}@{spec.version} failed: {' / '.join(tail) or 'no file'}")
        os.replace(got[0], tgz)
    digest = sha256_file(tgz)
    if digest != spec.sha256:
        tgz.unlink()
        raise FetchError(f"{spec.name}@{spec.version}: sha256 {digest} does not match the pinned {spec.sha256}")
    return tgz


def read_icon_tarball(tgz: Path) -> tuple[dict, dict]:
    """(icons.json, metadata.json) of an Iconify npm package, read from the tarball without unpacking it."""
    import tarfile
    out = {}
    with tarfile.open(tgz, "r:gz") as tar:
        for member in ("package/icons.json", "package/metadata.json"):
            try:
                f = tar.extractfile(member)
            except KeyError:
                f = None
            out[member] = json.loads(f.read().decode("utf-8")) if f else {}
    return out["package/icons.json"], out["package/metadata.json"]


def icon_svg(icon: dict, width: float, height: float) -> str:
    """A standalone SVG document for one Iconify icon body, drawn in black where it says currentColor."""
    left, top = icon.get("left", 0), icon.get("top", 0)
    w, h = icon.get("width", width), icon.get("height", height)
    body = icon["body"].replace("currentColor", "#000")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{left} {top} {w} {h}" '
            f'width="{w}" height="{h}">{body}</svg>')


def icon_caption(name: str, wl: cap.WordList) -> tuple[str | None, str]:
    """'swiss-army-knife' -> 'A swiss army knife.'; (None, why) when the name is not a plain English phrase."""
    words = cap.tidy([w for w in name.split("-") if w])
    why = cap.judge(words, wl, max_words=6)
    if why:
        return None, f"name {why}"
    return cap.sentence(words, wl), "icon name"


def icon_candidates(key: str, spec: IconSet, icons: dict, metadata: dict, svg_dir: Path,
                    wl: cap.WordList) -> list[Candidate]:
    """Candidates of one icon set: each kept icon written as an SVG file under svg_dir for the renderers."""
    category_of = {n: c for c, names in (metadata.get("categories") or {}).items() for n in names}
    width, height = icons.get("width", 16), icons.get("height", 16)
    svg_dir.mkdir(parents=True, exist_ok=True)
    out: list[Candidate] = []
    for name in sorted(icons.get("icons", {})):
        icon = icons["icons"][name]
        c = Candidate(key=f"{key}/{name}", path=str(svg_dir / f"{name}.svg"), source=key,
                      category=category_of.get(name, "icons"), license=spec.license)
        out.append(c)
        if not re.fullmatch(r"[a-z0-9-]+", name) or not isinstance(icon, dict) or \
                not isinstance(icon.get("body"), str):
            c.excluded = "malformed icon entry"
            continue
        if spec.keep_categories is not None and c.category not in spec.keep_categories:
            c.excluded = f"category not kept ({c.category})"
            continue
        why = next((ICON_EXCLUDE_WORDS[w] for w in name.split("-") if w in ICON_EXCLUDE_WORDS), None) \
            or word_exclusion([name.replace("-", " ")])
        if why:
            c.excluded = why
            continue
        c.text, c.caption_from = icon_caption(name, wl)
        if c.text is None:
            c.excluded = "no meaningful caption"
            continue
        svg = icon_svg(icon, width, height)
        target = Path(c.path)
        if not (target.is_file() and target.read_text(encoding="utf-8") == svg):
            target.write_text(svg, encoding="utf-8")
    return out


# --- rendering (worker processes) ----------------------------------------------------------

GRAY_PX = 256  # the drawing, cropped and centred; the tone fed to the engraver
RENDER_PX = 512  # Qt renders at this size, then it is area-downsampled to GRAY_PX
MARGIN = 0.08  # white margin around the drawing, per side, as a fraction of the square
INK = 0.06  # darkness above which a pixel counts as drawn (matches the renderer's paper threshold)

_qt_app = None


def _init_worker() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        pass


def _qt():
    global _qt_app
    from PySide6.QtCore import qInstallMessageHandler

    # a QApplication (not QGuiApplication): in a process that later shows widgets (the test run),
    # a QGuiApplication instance would make every widget abort
    from PySide6.QtWidgets import QApplication
    if _qt_app is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        _qt_app = QApplication.instance() or QApplication(["artgen-build"])
        qInstallMessageHandler(lambda *a: None)  # SVG files warn about every unknown element
    return _qt_app


def _qimage_to_gray(img) -> np.ndarray:
    """ARGB32-premultiplied QImage -> darkness-free gray in [0,1], composited on white."""
    w, h = img.width(), img.height()
    a = np.frombuffer(img.constBits(), np.uint8, count=img.sizeInBytes()).reshape(h, img.bytesPerLine() // 4, 4)
    a = a[:, :w].astype(np.float32) / 255.0
    b, g, r, al = a[..., 0], a[..., 1], a[..., 2], a[..., 3]  # little-endian ARGB32 = BGRA bytes
    lum = 0.299 * r + 0.587 * g + 0.114 * b  # premultiplied: colour over transparent black
    return np.clip(lum + (1.0 - al), 0.0, 1.0)


def _render_svg_qt(path: str, target: tuple[float, float, float, float] | None, canvas: tuple[int, int]):
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer
    _qt()
    r = QSvgRenderer(path)
    if not r.isValid():
        return None, None
    img = QImage(canvas[0], canvas[1], QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(0)
    vb = r.viewBoxF()
    size = (vb.width(), vb.height()) if vb.width() > 0 and vb.height() > 0 else (
        r.defaultSize().width(), r.defaultSize().height())
    if size[0] <= 0 or size[1] <= 0:
        return None, None
    if target is None:  # fit the whole page into the canvas
        s = min(canvas[0] / size[0], canvas[1] / size[1])
        target = ((canvas[0] - size[0] * s) / 2, (canvas[1] - size[1] * s) / 2, size[0] * s, size[1] * s)
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    r.render(p, QRectF(*target))
    p.end()
    return _qimage_to_gray(img), target


def _render_svg_resvg(path: str) -> np.ndarray | None:
    """Fallback renderer, used only when a resvg binding happens to be installed."""
    try:
        import resvg_py  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        png = resvg_py.svg_to_bytes(svg_path=path, width=RENDER_PX)
        im = Image.open(io.BytesIO(bytes(png))).convert("RGBA")
    except Exception:
        return None
    return composite_gray(im)


def composite_gray(im: Image.Image) -> np.ndarray:
    """Any PIL image -> float gray in [0,1] with transparency composited on white."""
    im = im.convert("RGBA")
    white = Image.new("RGBA", im.size, (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(white, im).convert("L"), np.float32) / 255.0


def ink_bbox(gray: np.ndarray, thresh: float = INK) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of the drawn pixels, or None for a blank picture."""
    ink = (1.0 - gray) > thresh
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    if rows.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def center_square(gray: np.ndarray, bbox: tuple[int, int, int, int], size: int = GRAY_PX,
                  margin: float = MARGIN) -> np.ndarray:
    """Crop to bbox, centre on a white square with `margin` per side, area-resample to size x size."""
    x0, y0, x1, y1 = bbox
    crop = gray[y0:y1, x0:x1]
    h, w = crop.shape
    side = int(round(max(h, w) / (1 - 2 * margin)))
    sq = np.ones((side, side), np.float32)
    oy, ox = (side - h) // 2, (side - w) // 2
    sq[oy:oy + h, ox:ox + w] = crop
    im = Image.fromarray(np.round(sq * 255).astype(np.uint8))
    return np.asarray(im.resize((size, size), Image.Resampling.BOX if side >= size else Image.Resampling.BICUBIC),
                      np.float32) / 255.0


def dhash(gray: np.ndarray, n: int = 16) -> np.ndarray:
    """n*n-bit difference hash (bool array): brighter-than-right-neighbour on an (n+1) x n thumbnail."""
    im = Image.fromarray(np.round(gray * 255).astype(np.uint8)).resize((n + 1, n), Image.Resampling.BOX)
    a = np.asarray(im, np.int16)
    return (a[:, 1:] > a[:, :-1]).ravel()


def ahash(gray: np.ndarray, n: int = 16) -> np.ndarray:
    a = np.asarray(Image.fromarray(np.round(gray * 255).astype(np.uint8)).resize((n, n), Image.Resampling.BOX),
                   np.float32)
    return (a > a.mean()).ravel()


@dataclass
class Rendered:
    key: str
    gray: np.ndarray | None = None  # GRAY_PX square uint8
    reason: str | None = None  # why it is excluded
    renderer: str = ""


def analyse(gray: np.ndarray) -> str | None:
    """Reason a rendered, centred drawing is not usable, or None."""
    dark = 1.0 - gray
    ink = dark > INK
    frac = float(ink.mean())
    if frac < 0.004:
        return "blank (almost all white)"
    inner = int(round(GRAY_PX * MARGIN)) + 2
    core = ink[inner:-inner, inner:-inner]
    if core.mean() > 0.97 and float(dark[inner:-inner, inner:-inner].std()) < 0.25:
        return "background or texture (fills its square)"
    return None


def render_candidate(c: tuple[str, str]) -> Rendered:
    """Worker: render one file to a centred GRAY_PX grayscale drawing, or say why not."""
    key, path = c
    out = Rendered(key)
    try:
        if path.lower().endswith(".svg"):
            gray, target = _render_svg_qt(path, None, (RENDER_PX, RENDER_PX))
            out.renderer = "qt"
            bbox = ink_bbox(gray) if gray is not None else None
            if bbox is None:
                g2 = _render_svg_resvg(path)
                if g2 is not None and ink_bbox(g2) is not None:
                    gray, bbox, out.renderer = g2, ink_bbox(g2), "resvg"
            if gray is None:
                out.reason = "render failed (Qt rejects the SVG)"
                return out
            if bbox is None:
                out.reason = "blank (almost all white)"
                return out
            if out.renderer == "qt":
                # second pass: re-render so the drawing's box fills the inner square at full resolution
                x0, y0, x1, y1 = bbox
                bw, bh = x1 - x0, y1 - y0
                inner = RENDER_PX * (1 - 2 * MARGIN)
                s = inner / max(bw, bh)
                tx, ty, tw, th = target
                nx = RENDER_PX / 2 - (x0 + bw / 2 - tx) * s
                ny = RENDER_PX / 2 - (y0 + bh / 2 - ty) * s
                g2, _ = _render_svg_qt(path, (nx, ny, tw * s, th * s), (RENDER_PX, RENDER_PX))
                b2 = ink_bbox(g2)
                gray, bbox = (g2, b2) if b2 is not None else (gray, bbox)
        else:
            with Image.open(path) as im:
                im.load()
                gray = composite_gray(im)
            out.renderer = "pillow"
            bbox = ink_bbox(gray)
            if bbox is None:
                out.reason = "blank (almost all white)"
                return out
        sq = center_square(gray, bbox)
    except Exception as e:  # one broken file must not stop a build of thousands
        out.reason = f"render failed ({type(e).__name__}: {e})"
        return out
    out.reason = analyse(sq)
    out.gray = np.round(sq * 255).astype(np.uint8)
    return out


def hamming(h: np.ndarray) -> np.ndarray:
    """All-pairs Hamming distances of bool hash rows."""
    h = h.astype(np.float32)
    return h @ (1 - h).T + (1 - h) @ h.T


def near_duplicates(dh: np.ndarray, ah: np.ndarray, max_dist: int) -> dict[int, int]:
    """{index: earlier kept index} for rows within max_dist bits of an earlier kept row in both hashes."""
    dist = np.maximum(hamming(dh), hamming(ah))
    dup: dict[int, int] = {}
    kept: list[int] = []
    for i in range(len(dist)):
        if kept:
            d = dist[i, kept]
            j = int(np.argmin(d))
            if d[j] <= max_dist:
                dup[i] = kept[j]
                continue
        kept.append(i)
    return dup


# --- engraving (worker processes) ----------------------------------------------------------

ENGRAVE_PX = 512


def engrave_and_write(job: tuple[str, bytes, tuple[int, int], float]) -> str:
    """Worker: blur the drawing slightly into a tone (no darker than ink_cap), engrave it with the engine,
    write the PNG."""
    import torch

    from artgen_desktop.engine.fileio import write_bytes_atomic
    from artgen_desktop.engine.render import EngraveStyle, engrave
    target, raw, shape, ink_cap = job
    gray = Image.frombytes("L", (shape[1], shape[0]), raw).filter(ImageFilter.GaussianBlur(0.8))
    tone = torch.from_numpy(np.maximum(np.asarray(gray, np.float32) / 255.0, 1.0 - ink_cap))[None]
    out = engrave(tone, EngraveStyle(), size=ENGRAVE_PX)[0].numpy()
    buf = io.BytesIO()
    Image.fromarray(out).save(buf, format="PNG", optimize=False, compress_level=6)
    write_bytes_atomic(target, buf.getvalue())
    _readable(target)
    return target


def _readable(path) -> None:
    """Atomic writes make 0600 temp files; a dataset is for others to read too (umask permitting)."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


# --- output ---------------------------------------------------------------------------------


def slug(key: str) -> str:
    s = re.sub(r"\.(svg|png)$", "", key, flags=re.I)
    s = re.sub(r"[^A-Za-z0-9]+", "-", s).strip("-").lower()
    return s[:120]


def contact_sheet(rows: list[dict], out_dir: Path, n: int = 48, cols: int = 8, cell: int = 200) -> Image.Image:
    picks = sorted(random.Random(0).sample(range(len(rows)), min(n, len(rows))))
    text_h = 44
    nrows = (len(picks) + cols - 1) // cols
    sheet = Image.new("L", (cols * cell, max(1, nrows) * (cell + text_h)), 255)
    draw = ImageDraw.Draw(sheet)
    try:
        font = ImageFont.load_default(size=11)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    for k, i in enumerate(picks):
        r = rows[i]
        x, y = (k % cols) * cell, (k // cols) * (cell + text_h)
        with Image.open(out_dir / r["file_name"]) as im:
            sheet.paste(im.convert("L").resize((cell - 8, cell - 8), Image.Resampling.BOX), (x + 4, y + 4))
        words, lines, line = r["text"].split(), [], ""
        for w in words:
            if len(line) + len(w) + 1 > 34 and line:
                lines.append(line)
                line = w
            else:
                line = f"{line} {w}".strip()
        lines.append(line)
        for j, ln in enumerate(lines[:3]):
            draw.text((x + 4, y + cell + 1 + 13 * j), ln, fill=0, font=font)
    return sheet


SOURCE_CREDITS = {
    "openclipart": "Openclipart drawings (Debian package openclipart-svg), released into the public domain",
    "tuxpaint": "Tux Paint stamps (Debian package tuxpaint-stamps-default), GPL-2.0-or-later, "
                "by the Tux Paint project and its contributors",
    **{k: spec.attribution for k, spec in ICON_SETS.items()},
}


def credits(rows: list[dict]) -> str:
    """CREDITS.md: every source with its licence and attribution, and how many pictures came from it."""
    counts = Counter(r["source"] for r in rows)
    lines = ["# Credits", "",
             "The pictures this dataset (and a model trained on it) learned from, by source. Each row of",
             "metadata.jsonl names its source and licence.", ""]
    for src in sorted(counts):
        licences = sorted({r["license"] for r in rows if r["source"] == src})
        lines.append(f"- **{src}** ({counts[src]} pictures; {', '.join(licences)}): "
                     f"{SOURCE_CREDITS.get(src, src)}.")
    return "\n".join(lines) + "\n"


class _InProcess:
    """Pool stand-in for workers=1: no process start-up (tests, tiny builds)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def imap(self, fn, items, chunksize: int = 1):
        return map(fn, items)


def _pool(workers: int):
    if workers <= 1:
        return _InProcess()
    return mp.get_context("spawn").Pool(workers, initializer=_init_worker)  # Qt and torch dislike fork


def build(out_dir: Path, public_domain_only: bool = False, cache_dir: Path | None = None, workers: int = 2,
          dup_bits: int = 8, icon_sets: tuple[str, ...] = tuple(ICON_SETS), log=print) -> dict:
    from tqdm import tqdm

    from artgen_desktop.engine.fileio import remove_stale_parts, write_bytes_atomic, write_text_atomic
    t0 = time.time()
    out_dir = Path(out_dir)
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metadata.jsonl").unlink(missing_ok=True)  # absent until this build is complete
    img_dir = out_dir / "images"
    img_dir.mkdir(exist_ok=True)
    remove_stale_parts(img_dir)

    names = ["openclipart-svg", "wamerican"] + ([] if public_domain_only else ["tuxpaint-stamps-default"])
    roots = {n: fetch_package(PACKAGES[n], cache, log) for n in names}
    wl = cap.WordList.from_lines((roots["wamerican"] / WORDS_FILE).read_text(encoding="utf-8").splitlines())

    log("reading metadata and captions ...")
    cands = openclipart_candidates(roots["openclipart-svg"], wl)
    if not public_domain_only:
        cands += tuxpaint_candidates(roots["tuxpaint-stamps-default"])
    sources_skipped: dict[str, str] = {}
    for key in icon_sets if not public_domain_only else ():
        spec = ICON_SETS[key]
        try:
            tgz = fetch_icon_set(spec, cache, log)
        except SourceUnavailable as e:
            log(f"skipping {key}: {e}")
            sources_skipped[key] = str(e)
            continue
        icons, meta = read_icon_tarball(tgz)
        cands += icon_candidates(key, spec, icons, meta, cache / "unpacked" / f"{key}-{spec.version}", wl)
    if public_domain_only:
        for c in cands:
            if c.excluded is None and c.license != "Public Domain":
                c.excluded = f"not public domain ({c.license})"
    cands.sort(key=lambda c: c.key)
    todo = [c for c in cands if c.excluded is None]

    rendered: dict[str, Rendered] = {}
    renderers: Counter = Counter()
    with _pool(workers) as pool:
        it = pool.imap(render_candidate, [(c.key, c.path) for c in todo], chunksize=8)
        for r in tqdm(it, total=len(todo), desc="render", unit="file"):
            rendered[r.key] = r
            renderers[r.renderer] += 1
    for c in todo:
        r = rendered[c.key]
        if r.reason:
            c.excluded = r.reason
    keep = [c for c in todo if c.excluded is None]

    # near-duplicates: an item within dup_bits of an earlier (sorted) one in both dHash and aHash. Copies
    # in two folders and colour variants (a lemon and a lime slice are one drawing in gray) land at 0-8
    # bits of 256; different pictures start at ~11 (measured on this collection).
    if keep:
        dh = np.stack([dhash(rendered[c.key].gray / 255.0) for c in keep])
        ah = np.stack([ahash(rendered[c.key].gray / 255.0) for c in keep])
        dups = near_duplicates(dh, ah, dup_bits)
        for i, j in dups.items():
            keep[i].excluded = f"near-duplicate of {keep[j].key}"
        keep = [c for c in keep if c.excluded is None]

    rows, jobs = [], []
    slugs = Counter(slug(c.key) for c in keep)
    for c in keep:
        s = slug(c.key)
        if slugs[s] > 1:  # "a_b.svg" and "a-b.svg" both exist: keep both names apart
            s += "-" + hashlib.sha1(c.key.encode()).hexdigest()[:8]
        fname = f"images/{s}.png"
        g = rendered[c.key].gray
        ink_cap = ICON_SETS[c.source].ink_cap if c.source in ICON_SETS else 1.0
        jobs.append((str(out_dir / fname), g.tobytes(), g.shape, ink_cap))
        rows.append({"file_name": fname, "text": c.text, "source": c.source, "category": c.category,
                     "license": c.license, "caption_from": c.caption_from})
    wanted = {Path(j[0]).name for j in jobs}
    for old in img_dir.glob("*.png"):  # leftovers of an earlier build with other items
        if old.name not in wanted:
            old.unlink()
    with _pool(workers) as pool:
        for _ in tqdm(pool.imap(engrave_and_write, jobs, chunksize=4), total=len(jobs), desc="engrave",
                      unit="img"):
            pass

    reasons: dict[str, list[str]] = {}
    for c in cands:
        if c.excluded:
            base = "near-duplicate" if c.excluded.startswith("near-duplicate") else re.sub(r" \(.*", "", c.excluded)
            reasons.setdefault(base, []).append(c.key + ("" if base == c.excluded else f" [{c.excluded}]"))
    report = {
        "items": len(rows),
        "by_source": dict(sorted(Counter(r["source"] for r in rows).items())),
        "by_category": dict(sorted(Counter(f"{r['source']}/{r['category']}" for r in rows).items())),
        "caption_from": dict(sorted(Counter(r["caption_from"] for r in rows).items())),
        "license": dict(sorted(Counter(r["license"] for r in rows).items())),
        "candidates": len(cands),
        "excluded": {k: {"count": len(v), "examples": v[:6]} for k, v in
                     sorted(reasons.items(), key=lambda kv: (-len(kv[1]), kv[0]))},
        "renderers": dict(sorted(renderers.items())),
        "packages": [asdict(PACKAGES[n]) for n in names],
        "icon_sets": {k: {"package": ICON_SETS[k].name, "version": ICON_SETS[k].version,
                          "license": ICON_SETS[k].license} for k in icon_sets if k not in sources_skipped},
        "sources_skipped": sources_skipped,
        "public_domain_only": public_domain_only,
        "settings": {"gray_px": GRAY_PX, "engrave_px": ENGRAVE_PX, "margin": MARGIN, "dup_bits": dup_bits,
                     "workers": workers},
        "build_seconds": round(time.time() - t0, 1),
    }
    buf = io.BytesIO()
    contact_sheet(rows, out_dir).save(buf, format="PNG")
    write_bytes_atomic(out_dir / "contact_sheet.png", buf.getvalue())
    report["build_seconds"] = round(time.time() - t0, 1)
    write_text_atomic(out_dir / "report.json", json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    write_text_atomic(out_dir / "CREDITS.md", credits(rows))
    # last: its presence means the build is complete
    write_text_atomic(out_dir / "metadata.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    for name in ("contact_sheet.png", "report.json", "CREDITS.md", "metadata.jsonl"):
        _readable(out_dir / name)
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m trainer.build_default", description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--public-domain-only", action="store_true", help="openclipart only (no GPL Tux Paint stamps)")
    ap.add_argument("--cache-dir", type=Path, default=None, help="where packages are downloaded and unpacked")
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--icon-sets", default=",".join(ICON_SETS),
                    help=f"npm icon sets to add, comma-separated (default: all of {', '.join(ICON_SETS)}; "
                         "'' for none)")
    a = ap.parse_args(argv)
    sets = tuple(k for k in a.icon_sets.split(",") if k)
    unknown = [k for k in sets if k not in ICON_SETS]
    if unknown:
        ap.error(f"unknown icon set {unknown[0]!r}; choose from {', '.join(ICON_SETS)}")
    try:
        rep = build(a.out_dir, a.public_domain_only, a.cache_dir, max(1, a.workers), icon_sets=sets)
    except FetchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{rep['items']} items {rep['by_source']} in {rep['build_seconds']} s -> {a.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
