"""woodcut: the engraving's logic inverted: black masses with white lines cut into them, the cuts closing
up as the tone darkens (faster with `contrast`), and bold black outlines around forms. Drawn as black lines
between the cuts (so a plotter can draw it), whose widths reach the full pitch in the darkest tones."""

from __future__ import annotations

import math

import numpy as np

from .common import (
    REF,
    Geometry,
    darkness,
    draw,
    drawn_width,
    hatch_distance,
    line_cover,
    outline_strokes,
    runs,
    sample,
    to_gray,
    trace_lines,
    upsample,
)

NAME = "woodcut"


def _black(dark: np.ndarray, style) -> np.ndarray:
    """Fraction of the pitch that stays black: 0 on paper, 1 in solid masses."""
    return np.clip(0.5 + (dark - 0.5) * style.contrast, 0, 1) * (dark > 0)


def render_png(tone: np.ndarray, style, size: int) -> np.ndarray:
    up = upsample(tone, size)
    scale = size / REF
    pitch = style.spacing * scale
    width = pitch * _black(darkness(up), style)
    ink = line_cover(hatch_distance(size, math.radians(style.angle), pitch, 0.5), width).astype(np.float32)
    np.maximum(ink, draw(size, outline_strokes(up, style.bold * scale, size)), out=ink)
    return to_gray(ink)


def render_paths(tone: np.ndarray, style, size: int) -> Geometry:
    up = upsample(tone, size)
    scale = size / REF
    pitch = style.spacing * scale
    step = 2.0 * max(1.0, scale)
    pts = trace_lines(size, math.radians(style.angle), pitch, 0.5, None, step)
    w = pitch * _black(sample(darkness(up), pts), style)
    # neighbours that meet in solid black overlap by up to a pixel: abutting anti-aliased edges would leave
    # faint seams where the PNG is solid
    drawn = drawn_width(w) + np.maximum(0, w - (pitch - 1))
    g = Geometry(size, runs(pts, drawn, w > 0.1, size, step))
    g.strokes += outline_strokes(up, style.bold * scale, size)
    return g
