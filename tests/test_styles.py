"""Print styles (engine/styles/), SVG pictures (engine/svg.py) and plotter mode (engine/plotter.py).

The SVG of every style, rasterised back by QtSvg at the PNG's size, matches the PNG; both are byte-identical
at any batch size; the SVG's settings restore as a PNG's do; plotter SVGs are strokes only, in mm.
"""

import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from artgen_desktop.engine import ArtGenError, EngraveStyle, Settings, engrave
from artgen_desktop.engine.export import ExportWriter
from artgen_desktop.engine.params import PARAMS, STYLES
from artgen_desktop.engine.plotter import parse_page
from artgen_desktop.engine.pngmeta import png_bytes
from artgen_desktop.engine.styles import MODULES
from artgen_desktop.engine.svg import read_metadata, render_svg

LINE_STYLES = list(MODULES)
SIZE = 256
# every style at its defaults, and the engraving's hatching turned along the forms (its own PNG and tracing)
LOOKS = [(mode, {}) for mode in LINE_STYLES] + [("engraving", {"follow": 0.5}), ("engraving", {"follow": 1.0})]
LOOK_IDS = [mode + "".join(f"-{k}{v:g}" for k, v in extra.items()) for mode, extra in LOOKS]


def _tones() -> list[np.ndarray]:
    """Three 64 x 64 tones like the model's: a shaded blob with a silhouette, a soft gradient, two forms."""
    y, x = np.mgrid[0:64, 0:64] / 63.0
    blob = np.where((x - 0.5) ** 2 / 0.12 + (y - 0.5) ** 2 / 0.06 < 1, 0.15 + 0.7 * x, 1.0)
    gradient = 1 - 0.9 * np.clip(1.2 * x * y, 0, 1)
    two = np.minimum(np.where(np.hypot(x - 0.3, y - 0.35) < 0.2, 0.3, 1.0),
                     np.where(np.hypot(x - 0.7, y - 0.7) < 0.22, 0.05 + 0.8 * y, 1.0))
    out = []
    for t in (blob, gradient, two):  # 8-bit, as the engine quantises tones, lightly smoothed
        t = torch.nn.functional.avg_pool2d(torch.tensor(t, dtype=torch.float32)[None, None], 3, 1, 1,
                                           count_include_pad=False)[0, 0]
        out.append((t.clamp(0, 1) * 255).round().to(torch.uint8).numpy())
    return out


def _meta(settings: Settings, seed: int = 7) -> dict:
    return {"seed": seed, "caption": "a test <picture> & \"quotes\"", "model": "m", "model_hash": "h" * 12,
            "label": "", **settings.to_dict()}


def _rasterise(data: bytes, size: int) -> np.ndarray:
    from PySide6.QtCore import QByteArray
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer
    renderer = QSvgRenderer(QByteArray(data))
    assert renderer.isValid()
    img = QImage(size, size, QImage.Format.Format_Grayscale8)
    img.fill(255)
    painter = QPainter(img)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return np.array(img.constBits(), np.uint8).reshape(size, img.bytesPerLine())[:, :size].copy()


@pytest.mark.parametrize("mode, extra", LOOKS, ids=LOOK_IDS)
def test_svg_rasterised_matches_the_png(qapp, mode, extra):
    settings = Settings(size=SIZE, style=EngraveStyle(mode=mode, **extra))
    for tone in _tones():
        png = engrave(torch.from_numpy(tone.astype(np.float32) / 255)[None], settings.style, SIZE)[0].numpy()
        data, _ = render_svg(Image.fromarray(tone, "L"), settings, _meta(settings))
        svg = _rasterise(data, SIZE).astype(np.float64)
        diff = np.abs(svg - png).mean()
        assert diff <= 0.03 * 255, (mode, diff)
        ink_png, ink_svg = (255 - png.astype(float)).mean(), (255 - svg).mean()
        assert ink_png > 2  # (something was drawn to compare)
        # light styles (contour) carry little ink, under the 3 % bound: the SVG must carry the same ink too
        assert abs(ink_svg - ink_png) <= 0.25 * ink_png, (mode, ink_svg, ink_png)


@pytest.mark.parametrize("mode, extra", LOOKS, ids=LOOK_IDS)
def test_png_and_svg_are_byte_identical_at_any_batch_size(tiny_engine, mode, extra):
    settings = Settings(size=SIZE, style=EngraveStyle(mode=mode, **extra))

    def files(batch):
        return {r.seed: (png_bytes(r.image, r.metadata), render_svg(r.tone, r.settings, r.metadata)[0])
                for r in tiny_engine.generate([4, 5, 6], settings, batch_size=batch)}

    assert files(3) == files(1)
    tones = _tones()
    style = settings.style
    batch = engrave(torch.from_numpy(np.stack(tones).astype(np.float32) / 255), style, SIZE)
    one = engrave(torch.from_numpy(tones[2].astype(np.float32) / 255)[None], style, SIZE)
    assert torch.equal(batch[2], one[0])


def test_follow_turns_the_hatching_along_the_forms():
    """follow: the hatch lines turn towards the forms' contours (here those of the tone blurred wide), the
    more the higher it is; the same lines in the PNG (compared above) and at 0 the plain engraving."""
    from artgen_desktop.engine.styles import render_paths
    from artgen_desktop.engine.styles.common import upsample
    for tone in _tones():
        t = tone.astype(np.float32) / 255
        form = torch.nn.functional.avg_pool2d(torch.from_numpy(upsample(t, SIZE))[None, None], 33, 1, 16,
                                              count_include_pad=False)[0, 0].numpy()
        gy, gx = np.gradient(form)
        across = []  # mean |sin| of the angle between a line and the contour it passes, where forms slope
        for follow in (0.0, 0.5, 1.0):
            style = EngraveStyle(follow=follow, cross_threshold=1.0, outline=0.0)
            strokes = render_paths(t, style, SIZE).strokes
            a = np.concatenate([s.points[:-1] for s in strokes])
            d = np.concatenate([s.points[1:] for s in strokes]) - a
            d /= np.hypot(d[:, 0], d[:, 1])[:, None]
            at = np.clip(a + d, 0, SIZE - 1).astype(int)
            g = np.stack([gx[at[:, 1], at[:, 0]], gy[at[:, 1], at[:, 0]]], axis=1)
            length = np.hypot(g[:, 0], g[:, 1])
            slope = length > np.median(length)
            across.append(float(np.mean(np.abs((d * g).sum(axis=1))[slope] / length[slope])))
        assert across[0] > across[1] > across[2] and across[2] < 0.75 * across[0], across
    plain = EngraveStyle()
    tone = torch.from_numpy(_tones()[0].astype(np.float32) / 255)[None]
    assert torch.equal(engrave(tone, plain, SIZE), engrave(tone, EngraveStyle(follow=0.0), SIZE))
    assert not torch.equal(engrave(tone, plain, SIZE), engrave(tone, EngraveStyle(follow=0.05), SIZE))


def test_settings_restore_from_an_svg(tmp_path, tiny_engine):
    settings = Settings(size=SIZE, style=EngraveStyle(mode="stipple", dot_size=4.5, dot_spacing=5.0))
    result = tiny_engine.generate([11], settings)[0]
    with ExportWriter(tmp_path, formats=("png", "svg")) as w:
        w.add(result)
    svg, png = tmp_path / "seed-000011.svg", tmp_path / "seed-000011.png"
    assert read_metadata(svg) == read_metadata(png) == json.loads(json.dumps(result.metadata))
    assert Settings.from_dict(read_metadata(svg)) == settings
    row = json.loads((tmp_path / "metadata.jsonl").read_text())
    assert row["file_name"] == "seed-000011.png"
    only = tmp_path / "svg-only"
    with ExportWriter(only, formats=("svg",)) as w:
        w.add(result)
    assert sorted(p.name for p in only.iterdir() if not p.name.startswith(".")) == [
        "metadata.jsonl", "seed-000011.svg", "seed-000011.txt"]


@pytest.mark.parametrize("body, message", [
    ('<!DOCTYPE svg [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><svg xmlns="http://www.w3.org/2000/svg">&b;</svg>',
     "document type declaration"),
    ('<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>', "holds no ArtGen settings"),
    ('<html><body/></html>', "not an SVG"),
    ('<svg xmlns="http://www.w3.org/2000/svg"><metadata>', "not a readable SVG"),  # cut short
    ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:artgen="urn:artgen-desktop:settings"><metadata><artgen:settings>'
     '{"seed": "x"}</artgen:settings></metadata></svg>', "seed"),
    ('<svg <<', "not a readable SVG"),
])
def test_bad_svgs_are_refused_with_a_reason(tmp_path, body, message):
    path = tmp_path / "bad.svg"
    path.write_text(body)
    with pytest.raises(ArtGenError, match=message):
        read_metadata(path)


def test_a_fifo_or_folder_is_refused_unread(tmp_path):
    import os
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.svg")
        with pytest.raises(ArtGenError, match="not a regular file"):
            read_metadata(tmp_path / "pipe.svg")
    with pytest.raises(ArtGenError, match="not a regular file"):
        read_metadata(tmp_path)
    with pytest.raises(ArtGenError, match="no such file"):
        read_metadata(tmp_path / "missing.svg")


def test_style_parameters_are_checked_by_name():
    with pytest.raises(ArtGenError, match="Line families must be between 2 and 4, not 9"):
        EngraveStyle(mode="crosshatch", families=9)
    with pytest.raises(ArtGenError, match="Dot size must be a number"):
        EngraveStyle(mode="stipple", dot_size="big")
    with pytest.raises(ArtGenError, match="Levels must be a whole number"):
        EngraveStyle(mode="contour", levels=2.5)
    for spec in STYLES.values():  # every style's parameters are fields of the style, with the table's defaults
        for p in spec.every:
            assert getattr(EngraveStyle(mode=spec.name), p.name) == PARAMS[p.name].default


def test_plotter_svg_is_strokes_in_mm_with_a_layer_per_pass():
    settings = Settings(size=512, style=EngraveStyle(mode="engraving"))
    tone = Image.fromarray(_tones()[0], "L")
    page = parse_page("A4", margin=20)
    data, plot = render_svg(tone, settings, _meta(settings), page)
    text = data.decode()
    assert 'width="210mm" height="297mm" viewBox="0 0 210 297"' in text
    assert not re.search(r'fill="(?!none)', text) and "<circle" not in text and "<rect" not in text
    layers = re.findall(r'<g inkscape:groupmode="layer"[^>]*fill="none"[^>]*stroke="#000"', text)
    assert len(layers) == len(plot.layers) >= 2  # wide lines took extra passes
    coords = np.array([float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", " ".join(re.findall(r' d="M([^"]*)"', text)))])
    assert coords.min() >= 20 - 1 and coords.max() <= 297 - 20 + 1  # on the page, inside the margins
    assert plot.paths <= 5000 and plot.travel_after <= 0.3 * plot.travel_before
    assert render_svg(tone, settings, _meta(settings), page)[0] == data  # deterministic
    with pytest.raises(ArtGenError, match="page must be"):
        parse_page("B7")
    assert parse_page("300x200mm").width == 300
    with pytest.raises(ArtGenError, match="no room"):
        parse_page("A4", margin=120)


def _dark_tone(level: float, texture: float, seed: int) -> np.ndarray:
    """A dark 64 x 64 8-bit tone with some texture (the darkest seeds come out like this)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:64, 0:64] / 63.0
    t = level + texture * np.sin(9 * x + 3 * y) * np.cos(7 * y) + 0.05 * rng.standard_normal((64, 64))
    t = torch.nn.functional.avg_pool2d(torch.tensor(t, dtype=torch.float32)[None, None], 3, 1, 1,
                                       count_include_pad=False)[0, 0]
    return (t.clamp(0, 1) * 255).round().to(torch.uint8).numpy()


@pytest.mark.parametrize("tone", [np.full((64, 64), 13, np.uint8), _dark_tone(0.15, 0.1, 0), _dark_tone(0.3, 0.2, 1)],
                         ids=["flat", "dark", "textured"])
def test_a_dark_picture_plots_in_at_most_5000_paths_in_every_style(tone):
    from artgen_desktop.engine.plotter import MAX_DOTS
    from artgen_desktop.engine.styles import stipple
    page = parse_page("A4")
    image = Image.fromarray(tone, "L")
    for mode in LINE_STYLES:
        settings = Settings(style=EngraveStyle(mode=mode))
        data, plot = render_svg(image, settings, _meta(settings), page)
        assert plot.paths <= 5000 and (plot.paths > 0 or mode == "contour"), (mode, plot.paths)  # (flat: no contour)
        if mode != "stipple":
            assert plot.coarser == 1
            continue
        # a stipple's ~16,000 dots (~9,800 paths were seen on dark seeds) are spaced out to fit, keeping the ink
        t = tone.astype(np.float32) / 255
        fine = stipple.dots(t, settings.style, settings.size)
        coarse = stipple.dots(t, settings.style, settings.size, plot.coarser)
        assert len(fine) > 2 * MAX_DOTS >= 2 * len(coarse) and len(coarse) > 0.8 * MAX_DOTS
        assert plot.paths <= len(coarse) and len(plot.layers) == 1  # one pen path a dot
        ink = np.pi * (coarse[:, 2] ** 2).sum() / (np.pi * (fine[:, 2] ** 2).sum())
        assert 0.85 < ink < 1.15, ink
        assert f"stipple dots {plot.coarser:.2f}x further apart" in data.decode()
        assert render_svg(image, settings, _meta(settings), page)[0] == data  # deterministic


def test_a_light_stipple_plots_its_own_dots_each_as_one_filled_pen_path():
    from artgen_desktop.engine.plotter import plot
    from artgen_desktop.engine.styles import Geometry
    settings = Settings(style=EngraveStyle(mode="stipple"))
    data, result = render_svg(Image.fromarray(_tones()[0], "L"), settings, _meta(settings), parse_page("A4"))
    assert result.coarser == 1 and "further apart" not in data.decode()
    page = parse_page("100x100mm", margin=0, pen=0.3)  # 1 px = 0.2 mm
    big = plot(Geometry(500, dots=np.array([[250.0, 250.0, 5.0], [100.0, 100.0, 0.5]])), page)
    assert len(big.layers) == 1 and big.paths == 2
    spiral, touch = sorted(big.layers[0], key=len, reverse=True)
    assert len(touch) == 2 and np.allclose(touch.mean(axis=0), [20, 20])  # smaller than the pen: one touch
    r = np.hypot(*(spiral - [50, 50]).T)
    r = r if r[0] > r[-1] else r[::-1]  # (ordering may draw a path backwards)
    assert r.max() == pytest.approx(1 - 0.15) and r[-1] == pytest.approx(0, abs=1e-9)  # edge circle, in to the centre
    assert np.all(np.diff(r[np.argmax(r < r.max() - 1e-9):]) <= 1e-9)  # closing in, never out


def _runs_one_by_one(pts, widths, keep, size, step, tol=0.04, every=8):
    """common.runs as a plain loop over the lines and runs (as it was written first): the reference."""
    inside = ((pts[..., 0] > -step) & (pts[..., 0] < size + step)
              & (pts[..., 1] > -step) & (pts[..., 1] < size + step))
    on = keep & inside
    out = []
    for i in np.flatnonzero(on.any(axis=1)):
        row = np.concatenate([[False], on[i], [False]])
        edges = np.flatnonzero(row[1:] != row[:-1])
        for a, b in zip(edges[::2], edges[1::2]):
            if b - a >= 2:
                p, w = pts[i, a:b], widths[i, a:b]
                if b - a > 2:
                    mid_p = np.abs(p[:-2] + p[2:] - 2 * p[1:-1]).max(axis=1) / 2
                    mid_w = np.abs(w[:-2] + w[2:] - 2 * w[1:-1]) / 2
                    k = np.ones(len(p), bool)
                    k[1:-1] = (mid_p > tol) | (mid_w > tol) | (np.arange(1, len(p) - 1) % every == 0)
                    p, w = p[k], w[k]
                out.append((p, w))
    return out


def test_the_svg_writers_batched_numbers_are_those_of_one_stroke_at_a_time():
    """runs, the outlines and the number formatting work on all strokes at once for speed; they must give
    exactly what a loop over the strokes gives (the SVG's bytes depend on it)."""
    from artgen_desktop.engine.styles.common import Stroke, polyline_normals, runs, trace_lines
    from artgen_desktop.engine.svg import _even, _outlines, _points
    rng = np.random.default_rng(5)
    size, step = 256, 2.0
    shift = rng.uniform(0, 20, (size, size)).astype(np.float32)
    pts = trace_lines(size, 0.7, 5.0, 0.0, shift, step)
    for widths in (rng.uniform(0, 3, pts.shape[:2]).astype(np.float32), np.full(pts.shape[:2], 1.5)):
        keep = rng.random(pts.shape[:2]) < 0.9  # (many short runs, 2-point ones too)
        got, want = runs(pts, widths, keep, size, step), _runs_one_by_one(pts, widths, keep, size, step)
        assert len(got) == len(want) > 100
        for s, (p, w) in zip(got, want):
            assert s.points.dtype == p.dtype and s.widths.dtype == w.dtype
            assert np.array_equal(s.points, p) and np.array_equal(s.widths, w)
    strokes = [Stroke(rng.uniform(-3, 40, (n, 2)), rng.uniform(0.5, 2, n).astype(np.float32)) for n in (2, 3, 7, 2)]
    strokes.append(Stroke(rng.uniform(-3, 40, (5, 2)), np.full(5, 1.5, np.float32)))
    ring, lengths = _outlines(strokes)
    one = []
    for st in strokes:
        half = polyline_normals(st.points) * (st.widths[:, None] / 2)
        one.append(np.concatenate([st.points + half, (st.points - half)[::-1]]))
    assert np.array_equal(ring, np.concatenate(one)) and lengths.tolist() == [len(r) for r in one]
    assert _even(strokes).tolist() == [st.constant and st.widths[0] > 1.05 for st in strokes] == [0, 0, 0, 0, 1]
    for decimals in (1, 2):
        texts = _points(ring, decimals, lengths.tolist())
        for text, r in zip(texts, one):
            q = np.round(r, decimals) + 0.0
            assert text == " ".join(f"{x:.{decimals}f},{y:.{decimals}f}" for x, y in q.tolist())
    assert _points(np.array([[-0.04, 0.05], [1.25, -1.0]]), 1) == ["0.0,0.0 1.2,-1.0"]  # (no -0.0; halves to even)
    # the digits are typed by numpy, not by Python's float formatting: the same text on awkward numbers
    odd = np.array([0.0, -0.0, 0.04, -0.04, -0.05, 0.05, 0.15, -0.95, 9.95, 99.95, -9.96, 1e14, -1e14, 123456.789,
                    2 ** 31 / 10, -(2 ** 31) / 10, 2 ** 31 / 100 - 0.01, 5e-324, 1e15, np.nan, np.inf])
    for decimals in (1, 2):
        for values in (odd[:-3], odd):  # (the last, not numbers of a sensible size, take Python's way)
            pairs = np.stack([values, -values[::-1]], axis=1)
            q = np.round(pairs, decimals) + 0.0
            assert _points(pairs, decimals, [1, len(pairs) - 1]) == [
                " ".join(f"{x:.{decimals}f},{y:.{decimals}f}" for x, y in part.tolist()) for part in (q[:1], q[1:])]


def _iso_lines_one_by_one(field, level, stride=1):
    """common.iso_lines as it was written first (every cell's case over the grid, the segments joined by a
    loop over them): the reference for its numpy joining."""
    from artgen_desktop.engine.styles.common import _TABLE
    f = field[::stride, ::stride].astype(np.float64)
    hh, ww = f.shape
    b = f > level
    case = (b[:-1, :-1] * 1 + b[:-1, 1:] * 2 + b[1:, 1:] * 4 + b[1:, :-1] * 8).astype(np.int64)
    centre = (f[:-1, :-1] + f[:-1, 1:] + f[1:, 1:] + f[1:, :-1]) / 4 > level
    case[(case == 5) & centre] = 16
    case[(case == 10) & centre] = 17
    ci, cj = np.nonzero((case != 0) & (case != 15))
    k = case[ci, cj]
    two = _TABLE[k, 1, 0] >= 0
    ci, cj = np.concatenate([ci, ci[two]]), np.concatenate([cj, cj[two]])
    ea = np.concatenate([_TABLE[k, 0, 0], _TABLE[k[two], 1, 0]])
    eb = np.concatenate([_TABLE[k, 0, 1], _TABLE[k[two], 1, 1]])
    if not len(ci):
        return []

    def edge(e):
        ii, jj, horizontal = ci + (e == 2), cj + (e == 1), (e == 0) | (e == 2)
        ident = np.where(horizontal, ii * (ww - 1) + cj, hh * (ww - 1) + ci * ww + jj)
        f0 = np.where(horizontal, f[ii, cj], f[ci, jj])
        f1 = np.where(horizontal, f[ii, np.minimum(cj + 1, ww - 1)], f[np.minimum(ci + 1, hh - 1), jj])
        frac = np.clip((level - f0) / np.where(f1 == f0, 1, f1 - f0), 0, 1)
        x, y = np.where(horizontal, cj + frac, jj), np.where(horizontal, ii, ci + frac)
        return ident, np.stack([x * stride + 0.5, y * stride + 0.5], axis=1)

    (ida, pa), (idb, pb) = edge(ea), edge(eb)
    n = len(ida)
    ids = np.concatenate([ida, idb])
    other = {}
    for j in range(2 * n):
        other.setdefault(int(ids[j]), []).append(j)
    other = [next((o for o in other[int(ids[j])] if o != j), -1) for j in range(2 * n)]
    seen, points, lines = bytearray(n), np.concatenate([pa, pb]), []
    for s in range(n):
        if seen[s]:
            continue
        seen[s] = 1
        chain = [s, s + n]  # end indices in drawing order
        for direction in (0, 1):  # forward from b, then backward from a
            end = chain[-1] if direction == 0 else chain[0]
            ext = []
            while (nxt := other[end]) >= 0 and not seen[nxt % n]:
                seen[nxt % n] = 1
                far = nxt % n + n if nxt < n else nxt % n  # leave through the segment's other end
                ext += [nxt, far]
                end = far
            chain = chain + ext if direction == 0 else ext[::-1] + chain
        line = points[chain[::2] + [chain[-1]]]
        if other[chain[-1]] == chain[0] or (len(chain) > 2 and ids[chain[-1]] == ids[chain[0]]):
            line[-1] = line[0]
        lines.append(line)
    return lines


def test_iso_lines_are_those_of_the_loop_over_segments():
    """iso_lines finds the cells and joins the segments with numpy (pointer jumping) for speed: the same
    lines, points, order and directions as joining them one segment at a time."""
    from artgen_desktop.engine.styles.common import iso_lines, upsample
    rng = np.random.default_rng(3)
    fields = [upsample(t.astype(np.float32) / 255, 200) for t in _tones()]
    for n in (2, 3, 17, 40):  # noise: saddles, loops, lines ending at the border, one-cell lines
        noise = rng.random((n, n))
        fields += [noise, torch.nn.functional.avg_pool2d(torch.tensor(noise)[None, None], 3, 1, 1)[0, 0].numpy()]
    fields.append(np.full((9, 9), 0.5))
    checked = 0
    for f in fields:
        for level in (0.2, 0.5, 0.8, float(np.median(f))):
            for stride in (1, 2):
                got, want = iso_lines(f, level, stride), _iso_lines_one_by_one(f, level, stride)
                assert len(got) == len(want)
                for g, w in zip(got, want):
                    assert g.dtype == w.dtype and np.array_equal(g, w)
                checked += len(got)
    assert checked > 500


def test_draw_inks_every_pixel_a_capsule_covers():
    """draw works each capsule out on a tight patch around it; every pixel of the picture gives the same."""
    from artgen_desktop.engine.styles.common import Stroke, draw
    rng = np.random.default_rng(9)
    size = 48
    strokes = [Stroke(rng.uniform(-4, size + 4, (n, 2)) if n < 4 else np.cumsum(rng.normal(0, 2, (n, 2)), 0) + 20,
                      rng.uniform(0.05, 7, n)) for n in rng.integers(2, 12, 60)]
    strokes.append(Stroke(np.array([[10.5, 10.5], [30.5, 10.5], [30.5, 30.5]]), np.full(3, 1.0)))  # on pixel centres
    dots = np.concatenate([rng.uniform(-2, size + 2, (40, 2)), rng.uniform(0.1, 5, (40, 1))], axis=1)
    a = np.concatenate([s.points[:-1] for s in strokes] + [dots[:, :2]])
    b = np.concatenate([s.points[1:] for s in strokes] + [dots[:, :2]])
    h = np.concatenate([(s.widths[:-1] + s.widths[1:]) / 4 for s in strokes] + [dots[:, 2]])
    want = np.zeros((size, size), np.float32)
    py, px = np.mgrid[0:size, 0:size]
    for a_, b_, h_ in zip(a, b, h):  # (_capsules' arithmetic, on the whole picture)
        a32, d = a_.astype(np.float32), (b_ - a_).astype(np.float32)
        rx, ry = (px + 0.5).astype(np.float32) - a32[0], (py + 0.5).astype(np.float32) - a32[1]
        inv = (1 / np.maximum(d[0] * d[0] + d[1] * d[1], 1e-12)).astype(np.float32)
        t = np.clip((rx * d[0] + ry * d[1]) * inv, 0, 1)
        dist = np.hypot(rx - t * d[0], ry - t * d[1])
        w = np.float32(2 * h_)
        fade = np.float32(4 * w / (w + 1) ** 2 if w < 1 else 1)
        np.maximum(want, np.clip(w / 2 + 0.5 - dist, 0, 1) * fade, out=want)
    got = draw(size, strokes, dots)
    assert got.dtype == np.float32 and np.array_equal(got, want) and (want > 0).mean() > 0.3
