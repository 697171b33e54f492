"""engraving: hatching whose width swells with darkness, bent over the forms, crossed in dark tones, with
outlines. The PNG is render.py's `engrave` (today's look); the SVG traces the same lines: centres where the
line phase is a whole number, widths from the darkness there, the same bend field and thresholds.

`follow` > 0 turns the hatching to run along the forms' contours, as a burin follows a form: both families'
phases get a smooth offset field (`_follow_phase`) whose lines turn towards the iso-contours of the
strongly blurred darkness, so they wrap around shapes. That PNG is drawn here (render.py hands it over), by
render.py's per-pixel rule with the offset added; the SVG traces the same phase."""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

from .common import (
    PAPER,
    REF,
    Geometry,
    darkness,
    drawn_width,
    outline_strokes,
    pixel_centres,
    runs,
    sample,
    trace_lines,
    upsample,
)

NAME = "engraving"

FORM = 64  # the bend and follow fields' grid (render.py's _SMALL)
_FORM_BLUR = 6  # follow: the forms are the darkness blurred over about a tenth of the picture (box radius, cells)
_GRAIN = 4  # the contours' direction is averaged over this many cells around (box radius)
_FIRM = 0.02  # a form's slope (darkness per cell) from which the lines follow it fully; flatter, less
_TURN = math.radians(60)  # the furthest a line turns; contours further across it turn it less (none at 90°)
_NEWTON = 6  # steps solving each traced point of a turned line (the residual is < 0.01 px after them)


def render_png(tone: np.ndarray, style, size: int) -> np.ndarray:
    if style.follow > 0:
        return _render_png_follow(tone, style, size)
    from ..render import engrave
    return engrave(torch.from_numpy(np.asarray(tone, np.float32))[None], style, size)[0].numpy()


def _small(tone: np.ndarray) -> torch.Tensor:
    """(1, 64, 64) darkness, area-resampled (render.py's bend field before its blur)."""
    t = torch.from_numpy(np.asarray(tone, np.float32))[None]
    return F.interpolate(((1 - t - PAPER) / (1 - PAPER)).clamp(0, 1)[:, None], size=(FORM, FORM), mode="area")[:, 0]


def _up(field: torch.Tensor, size: int) -> np.ndarray:
    """(1, 64, 64) -> (size, size) bilinear, as render.py brings its bend field up."""
    return F.interpolate(field[:, None], size=(size, size), mode="bilinear", align_corners=False)[0, 0].numpy()


def _height(tone: np.ndarray, size: int) -> np.ndarray:
    """render.py's bend field: darkness area-resampled to 64 x 64, blurred, bilinear back up."""
    from ..render import _blur
    with torch.no_grad():
        return _up(_blur(_small(tone), 3), size)


@functools.lru_cache(maxsize=1)
def _dct() -> tuple[np.ndarray, np.ndarray]:
    """The orthonormal DCT-II basis (columns) of FORM cells and its eigenvalues for the 1-D Laplacian with
    free ends: the basis that solves `_poisson`."""
    k = np.arange(FORM)
    c = np.cos(np.pi * np.outer(k + 0.5, k) / FORM) * np.sqrt(2 / FORM)
    c[:, 0] = np.sqrt(1 / FORM)
    return c, 2 - 2 * np.cos(np.pi * k / FORM)


def _mm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,jk->ik", a, b)  # (numpy's own loop, not BLAS: the same sums on any thread count)


def _poisson(vx: np.ndarray, vy: np.ndarray) -> np.ndarray:
    """The field (FORM, FORM) whose differences between neighbouring cells come closest (least squares) to
    the wanted gradient (vx, vy) per cell, mean 0: a direction field with curl has no exact phase."""
    ex = (vx[:, 1:] + vx[:, :-1]) / 2  # wanted differences between neighbours along x, along y
    ey = (vy[1:] + vy[:-1]) / 2
    rhs = np.zeros((FORM, FORM))  # D^T e
    rhs[:, :-1] -= ex
    rhs[:, 1:] += ex
    rhs[:-1] -= ey
    rhs[1:] += ey
    c, lam = _dct()
    hat = _mm(_mm(c.T, rhs), c)
    den = lam[:, None] + lam[None, :]
    den[0, 0] = 1
    hat /= den
    hat[0, 0] = 0
    return _mm(_mm(c, hat), c.T)


def _follow_phase(tone: np.ndarray, style) -> list[np.ndarray]:
    """The phase offsets (FORM, FORM) of the main and the crossing family that turn them along the forms.

    The forms' direction is that of the iso-contours of the darkness blurred wide (a dark shape becomes a
    mound; its contours run around it), averaged as an orientation (the doubled-angle structure tensor).
    Each cell's lines turn towards it by `follow` times the share of a firm slope, at most _TURN (lines at
    90° to the contours stay as they are, so the turn never jumps); the phase whose gradient best matches
    the turned normals, spaced at the pitch (`_poisson`), less the straight family's phase, is the offset.
    Independent of the output size (in cells and pitches)."""
    from ..render import _blur
    with torch.no_grad():
        form = _blur(_small(tone), _FORM_BLUR)[0].double().numpy()
        gy, gx = np.gradient(form)
        jxx, jxy, jyy = (_blur(torch.from_numpy(v)[None], _GRAIN)[0].numpy() for v in (gx * gx, gx * gy, gy * gy))
    ux, uy = jxx - jyy, 2 * jxy
    firm = np.clip(np.sqrt(np.hypot(ux, uy)) / _FIRM, 0, 1)
    a = math.radians(style.angle)
    off = (0.5 * np.arctan2(uy, ux) - a + np.pi / 2) % np.pi - np.pi / 2  # contours' normal - lines' normal
    turn = np.where(np.abs(off) <= _TURN, off, np.sign(off) * _TURN * (np.pi / 2 - np.abs(off)) / (np.pi / 2 - _TURN))
    alpha = style.follow * firm * turn
    per_cell = REF / (FORM * style.spacing)  # phase per cell of the straight family
    centre = np.arange(FORM) + 0.5
    out = []
    for base in (a, a + np.pi / 2):
        phase = _poisson(per_cell * np.cos(base + alpha), per_cell * np.sin(base + alpha))
        offset = phase - per_cell * (centre[None, :] * math.cos(base) + centre[:, None] * math.sin(base))
        out.append(offset - offset.mean())
    return out


def _shifts(tone: np.ndarray, style, size: int) -> list[np.ndarray]:
    """With follow: the main and the crossing family's shift fields, px per pixel: the bend field (times
    0.6 for the crossing family, as render.py) and the follow offset, added on the 64 x 64 grid and brought
    up bilinearly together."""
    from ..render import _blur
    pitch = style.spacing * size / REF
    with torch.no_grad():
        height = _blur(_small(tone), 3)[0].double().numpy()
    return [_up(torch.from_numpy((pitch * (style.bend * 2.5 * bend * height + offset)).astype(np.float32))[None], size)
            for bend, offset in zip((1, 0.6), _follow_phase(tone, style))]


def _render_png_follow(tone: np.ndarray, style, size: int) -> np.ndarray:
    """render.py's engraving rule (`_engrave_batched`) with the follow shifts."""
    from ..render import _line_ink
    up = torch.from_numpy(upsample(tone, size))
    scale = size / REF
    pitch = style.spacing * scale
    dark = torch.from_numpy(darkness(up.numpy()))
    x, y = (torch.from_numpy(v) for v in pixel_centres(size))
    a = math.radians(style.angle)
    main, crossing = (torch.from_numpy(s) for s in _shifts(tone, style, size))
    with torch.no_grad():
        ink = _line_ink((x * math.cos(a) + y * math.sin(a) + main) / pitch, 0.5 * pitch * dark, pitch)
        thr = style.cross_threshold
        if thr < 1 and float(dark.max()) > thr:
            cross = ((dark - thr) / max(1 - thr, 1e-3)).clamp(0, 1)
            b = a + math.pi / 2
            ink = torch.maximum(ink, _line_ink((x * math.cos(b) + y * math.sin(b) + crossing) / pitch,
                                               0.5 * pitch * cross * 0.8, pitch))
        if style.outline > 0:  # (render.py's outline)
            gy, gx = torch.gradient(up)
            grad = torch.sqrt(gx * gx + gy * gy)
            dist = (up - (1 - 2.5 * PAPER)).abs() / (grad + 1e-6)
            strength = ((grad * size - 3) / 6).clamp(0, 1)
            ink = torch.maximum(ink, (0.5 * style.outline * scale - dist + 0.5).clamp(0, 1) * strength)
        return ((1 - ink) * 255).round().to(torch.uint8).numpy()


def _frame(tone: np.ndarray, style, size: int):
    """What both line tracers start from: the tone at `size`, its darkness, px per px at 512, the line
    pitch and tracing step in px, and the main family's angle in radians."""
    up = upsample(tone, size)
    scale = size / REF
    return up, darkness(up), scale, style.spacing * scale, 2.0 * max(1.0, scale), math.radians(style.angle)


def render_paths(tone: np.ndarray, style, size: int) -> Geometry:
    if style.follow > 0:
        return _paths_follow(tone, style, size)
    up, dark, scale, pitch, step, a = _frame(tone, style, size)
    shift = style.bend * 2.5 * pitch * _height(tone, size) if style.bend > 0 else None
    g = Geometry(size)
    pts = trace_lines(size, a, pitch, 0.0, shift, step)
    w = pitch * sample(dark, pts)
    g.strokes += runs(pts, drawn_width(w), w > 0.1, size, step)
    thr = style.cross_threshold
    if thr < 1:
        pts = trace_lines(size, a + math.pi / 2, pitch, 0.0, None if shift is None else 0.6 * shift, step)
        w = 0.8 * pitch * np.clip((sample(dark, pts) - thr) / max(1 - thr, 1e-3), 0, 1)
        g.strokes += runs(pts, drawn_width(w), w > 0.1, size, step)
    g.strokes += outline_strokes(up, style.outline * scale, size)
    return g


def _paths_follow(tone: np.ndarray, style, size: int) -> Geometry:
    """The follow PNG's lines: each family's phase solved with Newton steps (the lines turn far), widths
    divided by the phase's gradient in pitches (where turned lines spread apart the PNG's rule draws them
    wider in the same proportion: the ink stays the darkness), and a point kept at least every 4 steps
    (lines that curve all along drift from a polyline thinned to every 8th by up to ~0.3 px: the test's
    gradient tone at 256 px differed from the PNG by 3.2 %, 1.7 % with every 4th)."""
    up, dark, scale, pitch, step, a = _frame(tone, style, size)
    thr = style.cross_threshold
    g = Geometry(size)
    for k, shift in enumerate(_shifts(tone, style, size)):
        if k == 1 and thr >= 1:
            break
        angle = a + k * math.pi / 2
        n = math.cos(angle), math.sin(angle)
        gy, gx = np.gradient(shift)
        pts = trace_lines(size, angle, pitch, 0.0, shift, step, gx * n[0] + gy * n[1], _NEWTON)
        d = sample(dark, pts)
        w = pitch * d if k == 0 else 0.8 * pitch * np.clip((d - thr) / max(1 - thr, 1e-3), 0, 1)
        spread = np.hypot(n[0] + sample(gx, pts), n[1] + sample(gy, pts))
        g.strokes += runs(pts, drawn_width(w) / spread, w > 0.1, size, step, every=4)
    g.strokes += outline_strokes(up, style.outline * scale, size)
    return g
