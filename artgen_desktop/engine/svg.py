"""SVG pictures: a print style's geometry (engine/styles/) as a standalone SVG that remembers how it was
made, and reading those settings back.

- The same metadata as the PNG (pngmeta.py): the caption in <title>, the `parameters` text in <desc>, the
  exact JSON in <metadata><artgen:settings>, written first so a reader finds it in the file's first KB.
- Deterministic bytes: fixed decimals, fixed element order, no dates, no ids that depend on anything else.
- A picture: white paper, variable-width lines as filled outlines, even lines as stroked paths, dots as
  circles, in px (viewBox = the PNG's pixels). Plotter mode (engine/plotter.py): strokes only, in mm, one
  Inkscape layer per pen pass.
- Reading uses the standard library's expat with no DTD: a document type declaration (which could declare
  entities to expand) is refused, and only the first MAX_SCAN bytes are looked through.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from xml.parsers import expat
from xml.sax.saxutils import escape

import numpy as np

from .errors import ArtGenError
from .fileio import open_regular, write_bytes_atomic
from .plotter import MAX_DOTS, Page, Plot, plot_tone
from .pngmeta import MAX_SETTINGS_BYTES, check_metadata, parameters_text
from .styles import Geometry, render_paths
from .styles.common import polyline_normals

SVG_NS = "http://www.w3.org/2000/svg"
ARTGEN_NS = "urn:artgen-desktop:settings"  # a name, never fetched
INKSCAPE_NS = "http://www.inkscape.org/namespaces/inkscape"
MAX_SCAN = 4 << 20  # the settings come first; a file without them this far in is not ours


def _fmt(x: float, decimals: int) -> str:
    text = f"{x:.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _points(p: np.ndarray, decimals: int, lengths=None) -> list[str]:
    """'x,y x,y …' with fixed decimals for each polyline of `p` ((N, 2): polylines of `lengths` points one
    after another; one polyline without `lengths`), all at once.

    The text is what "%.{decimals}f" makes of np.round(p, decimals) (-0 written 0), typed by numpy: np.round
    is rint(p * 10**decimals) / 10**decimals, so each number is the whole number k = rint(p * 10**decimals)
    with a point `decimals` digits from its end, and its characters are put in place column by column.
    Python's float formatting, even as one %-format for the whole picture, was most of an SVG's writing."""
    lengths = [len(p)] if lengths is None else list(lengths)
    scale = 10 ** decimals
    k = np.rint(np.asarray(p, np.float64) * scale).ravel()
    if not len(k) or not (np.isfinite(k).all() and np.abs(k).max() < 1e15):
        return _points_slow(p, decimals, lengths)
    neg = k < 0
    whole, part = np.divmod(np.abs(k).astype(np.int32 if np.abs(k).max() < 2 ** 31 else np.int64), scale)
    digits = np.ones(len(k), np.int16)  # of the whole part
    for power in range(1, 16):
        more = whole >= 10 ** power
        if not more.any():
            break
        digits += more
    # each number right-aligned in a row of a table, its separator in the last column; the rows read
    # left to right without their blank start are the text
    width = int(digits.max()) + 3 + decimals  # "-", whole part, ".", decimals, separator
    table = np.empty((len(k), width), np.uint8)
    sep = table[:, -1]
    sep[0::2], sep[1::2] = ord(","), ord(" ")
    sep[2 * (np.cumsum(lengths) - 1) + 1] = ord("\n")  # after a polyline's last y
    for j in range(decimals):
        table[:, -2 - j] = ord("0") + (part // 10 ** j) % 10
    table[:, -2 - decimals] = ord(".")
    for power in range(int(digits.max())):
        table[:, -3 - decimals - power] = ord("0") + (whole // 10 ** power) % 10
    size = neg + digits + (2 + decimals)
    table[np.flatnonzero(neg), width - size[neg]] = ord("-")
    text = table[np.arange(width, dtype=np.int16)[None, :] >= (width - size)[:, None]]
    return text[:-1].tobytes().decode("ascii").split("\n")


def _points_slow(p: np.ndarray, decimals: int, lengths) -> list[str]:
    """_points by Python's float formatting (also for what is not a finite number of a sensible size)."""
    p = np.round(np.asarray(p, np.float64), decimals) + 0.0  # (+ 0.0: no "-0.0")
    pair = f"%.{decimals}f,%.{decimals}f"
    return ("\n".join(" ".join((pair,) * n) for n in lengths) % tuple(p.ravel().tolist())).split("\n")


def _fmts(values: np.ndarray, decimals: int) -> list[str]:
    """_fmt of each value, with one %-format (the same digits: % and format() round alike)."""
    text = ("\n".join((f"%.{decimals}f",) * len(values)) % tuple(np.asarray(values, np.float64).tolist()))
    out = [t.rstrip("0").rstrip(".") for t in text.split("\n")] if len(values) else []
    return ["0" if t in ("", "-0") else t for t in out]


def _joined(strokes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The strokes' points and widths one after another, and each stroke's start and length there."""
    lengths = np.array([len(st.points) for st in strokes], np.int64)
    starts = np.cumsum(lengths) - lengths
    return (np.concatenate([st.points for st in strokes]), np.concatenate([st.widths for st in strokes]),
            starts, lengths)


def _even(strokes) -> np.ndarray:
    """Per stroke: drawn as a stroked path, an even line wider than a pixel (else as a filled outline)."""
    if not strokes:
        return np.zeros(0, bool)
    widths = [st.widths for st in strokes]
    if len({w.dtype for w in widths}) > 1:  # (one dtype: the same comparisons as Stroke.constant's)
        return np.array([st.constant and st.widths[0] > 1.05 for st in strokes], bool)
    w = np.concatenate(widths)
    starts = np.cumsum([len(x) for x in widths]) - [len(x) for x in widths]
    spread = np.maximum.reduceat(w, starts) - np.minimum.reduceat(w, starts)
    return (spread < 1e-6) & (w[starts] > 1.05)


def _outlines(strokes) -> tuple[np.ndarray, np.ndarray]:
    """The outline of each variable-width stroke, its left side out and its right side back, one after
    another, and their lengths: the numbers a loop over the strokes gives, in one pass."""
    p, w, starts, lengths = _joined(strokes)
    half = polyline_normals(p, starts, lengths) * (w[:, None] / 2)
    stroke = np.repeat(np.arange(len(lengths)), 2 * lengths)
    j = np.arange(2 * len(p)) - np.repeat(2 * starts, 2 * lengths)  # place in its outline
    s, n = starts[stroke], lengths[stroke]
    index = np.where(j < n, s + j, len(p) + s + 2 * n - 1 - j)
    return np.concatenate([p + half, p - half])[index], 2 * lengths


def _head(meta: dict, width: str, height: str, view: str, extra_ns: str = "") -> list[str]:
    settings = json.dumps(meta, sort_keys=True, ensure_ascii=True)
    return ['<?xml version="1.0" encoding="UTF-8"?>',
            f'<svg xmlns="{SVG_NS}" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:artgen="{ARTGEN_NS}"{extra_ns} '
            f'version="1.1" width="{width}" height="{height}" viewBox="{view}">',
            f"<metadata><artgen:settings>{escape(settings)}</artgen:settings></metadata>",
            f"<title>{escape(str(meta.get('caption', '')))}</title>",
            f"<desc>{escape(parameters_text(meta))}</desc>"]


def picture_svg(geometry: Geometry, meta: dict) -> bytes:
    """The geometry as a picture in px: what the PNG shows."""
    s = geometry.size
    out = _head(meta, str(s), str(s), f"0 0 {s} {s}")
    out.append(f'<rect width="{s}" height="{s}" fill="#fff"/>')
    # a stroke a pixel wide or less goes as an outline too: QtSvg draws those with its cosmetic line
    # stroker, which puts down up to a fifth less ink on diagonals than the line's area
    is_even = _even(geometry.strokes)
    even = [st for st, e in zip(geometry.strokes, is_even.tolist()) if e]
    filled = [st for st, e in zip(geometry.strokes, is_even.tolist()) if not e]
    if filled or len(geometry.dots):
        out.append('<g fill="#000" stroke="none">')
        if filled:  # a line whose width varies: its outline, left side out and right side back
            ring, lengths = _outlines(filled)
            out.extend(f'<path d="M{d}Z"/>' for d in _points(ring, 1, lengths.tolist()))
        if len(geometry.dots):
            x, y, r = (_fmts(v, 2) for v in geometry.dots.T)
            out.extend(f'<circle cx="{a}" cy="{b}" r="{c}"/>' for a, b, c in zip(x, y, r))
        out.append("</g>")
    if even:
        out.append('<g fill="none" stroke="#000" stroke-linecap="round" stroke-linejoin="round">')
        p, _, _, lengths = _joined(even)
        widths = _fmts(np.array([st.widths[0] for st in even], np.float64), 3)
        out.extend(f'<path stroke-width="{w}" d="M{d}"/>' for w, d in zip(widths, _points(p, 1, lengths.tolist())))
        out.append("</g>")
    out.append("</svg>\n")
    return "\n".join(out).encode("utf-8")


def plotter_svg(result: Plot, meta: dict) -> bytes:
    """Pen strokes in mm on the page, one Inkscape layer per pass, no fills."""
    page = result.page
    w, h = _fmt(page.width, 2), _fmt(page.height, 2)
    out = _head(meta, f"{w}mm", f"{h}mm", f"0 0 {w} {h}", f' xmlns:inkscape="{INKSCAPE_NS}"')
    out.append(f"<!-- plotter: {result.paths} paths (from {result.paths_before}); pen-up travel "
               f"{result.travel_before / 1000:.2f} m in drawing order, {result.travel_after / 1000:.2f} m ordered; "
               f"pen {_fmt(page.pen, 3)} mm -->")
    if result.coarser != 1:
        out.append(f"<!-- plotter: stipple dots {result.coarser:.2f}x further apart and larger than the picture's, "
                   f"to stay within {MAX_DOTS} paths -->")
    for i, layer in enumerate(result.layers, 1):
        out.append(f'<g inkscape:groupmode="layer" id="layer{i}" inkscape:label="{i} pass {i}" fill="none" '
                   f'stroke="#000" stroke-width="{_fmt(page.pen, 3)}" stroke-linecap="round" stroke-linejoin="round">')
        out.extend(f'<path d="M{d}"/>' for d in _points(np.concatenate(layer), 2, [len(p) for p in layer]))
        out.append("</g>")
    out.append("</svg>\n")
    return "\n".join(out).encode("utf-8")


def tone_svg(image, meta: dict) -> bytes:
    """The raw tone view has no lines: the picture embedded as a PNG."""
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=6)
    s = image.width
    out = _head(meta, str(s), str(s), f"0 0 {s} {s}")
    out.append(f'<image width="{s}" height="{s}" xlink:href="data:image/png;base64,'
               f'{base64.b64encode(buf.getvalue()).decode("ascii")}"/>')
    out.append("</svg>\n")
    return "\n".join(out).encode("utf-8")


def render_svg(tone, settings, meta: dict, page: Page | None = None, image=None) -> tuple[bytes, Plot | None]:
    """SVG bytes of a tone image (PIL 'L' at the model's size, as Result.tone) in `settings`' style, and
    the plot's report in plotter mode. `image` (the rendered PNG picture) is only needed for the raw tone."""
    style = settings.style
    if style.mode == "tone":
        if page is not None:
            raise ArtGenError("the raw tone view has no lines for a plotter: pick a print style")
        if image is None:
            raise ArtGenError("the raw tone view needs its picture to be written as SVG")
        return tone_svg(image, meta), None
    t = np.asarray(tone.convert("L"), dtype=np.float32) / 255
    if page is None:
        return picture_svg(render_paths(t, style, settings.size), meta), None
    result = plot_tone(t, style, settings.size, page)
    return plotter_svg(result, meta), result


def write_svg(path, data: bytes) -> None:
    write_bytes_atomic(path, data)


def write_result_svg(path, result, page: Page | None = None) -> Plot | None:
    """An engine Result as an SVG file (the app's Save as): same settings, same look as its PNG."""
    data, report = render_svg(result.tone, result.settings, result.metadata, page, result.image)
    write_svg(path, data)
    return report


# ---- reading -----------------------------------------------------------------------------------------------

class _Done(Exception):
    pass


def _refuse_dtd(*_args):
    raise ArtGenError("has a document type declaration (refused: it could declare entities)")


def read_svg_text(path) -> str | None:
    """The ArtGen settings text of an SVG, or None if it has none; nothing is fetched or expanded."""
    path = Path(path)
    f = open_regular(path, "picture")
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.ExternalEntityRefHandler = lambda *a: _refuse_dtd()
    state = {"root": None, "inside": False, "text": [], "size": 0}

    def start(name, _attrs):
        if state["root"] is None:
            state["root"] = name
            if name != f"{SVG_NS} svg":
                raise ArtGenError("is not an SVG picture")
        elif name == f"{ARTGEN_NS} settings":
            state["inside"] = True

    def text(data):
        if state["inside"]:
            state["size"] += len(data)
            if state["size"] > MAX_SETTINGS_BYTES:
                raise ArtGenError("holds ArtGen settings that are too large (damaged)")
            state["text"].append(data)

    def end(name):
        if name == f"{ARTGEN_NS} settings":
            raise _Done

    parser.StartElementHandler, parser.CharacterDataHandler, parser.EndElementHandler = start, text, end
    with f:
        try:
            read = 0
            while read < MAX_SCAN:
                chunk = f.read(1 << 16)
                read += len(chunk)
                parser.Parse(chunk, not chunk)
                if not chunk:
                    break
        except _Done:
            return "".join(state["text"])
        except ArtGenError as e:
            raise ArtGenError(f"{path}: {e}") from None
        except expat.ExpatError as e:
            raise ArtGenError(f"{path}: not a readable SVG picture ({expat.ErrorString(e.code)})") from None
    return None


def read_svg_metadata(path) -> dict:
    """The exact settings stored by ArtGen in an SVG, checked as a PNG's are (pngmeta.check_metadata)."""
    text = read_svg_text(path)
    if text is None:
        raise ArtGenError(f"{path}: this picture holds no ArtGen settings (it was not made by ArtGen)")
    return check_metadata(path, text)


def read_metadata(path) -> dict:
    """Settings from an ArtGen PNG or SVG, told apart by their first bytes (not the name)."""
    path = Path(path)
    f = open_regular(path, "picture")
    try:
        with f:
            head = f.read(8)
    except OSError as e:
        raise ArtGenError(f"{path}: cannot be read ({e.strerror or e})") from None
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return read_svg_metadata(path)
    from .pngmeta import read_png_metadata
    return read_png_metadata(path)
