"""cross-hatch: 2-4 families of thin, even lines at angles 180/n apart; family k draws only where the
darkness passes its threshold, so darker tones collect more crossings."""

from __future__ import annotations

import math

import numpy as np

from .common import (
    REF,
    Geometry,
    darkness,
    drawn_width,
    hatch_distance,
    line_cover,
    runs,
    sample,
    to_gray,
    trace_lines,
    upsample,
)

NAME = "crosshatch"


def _families(style, size: int):
    n = style.families
    for k in range(n):
        yield math.radians(style.angle) + k * math.pi / n, 0.05 + 0.85 * k / n  # angle, darkness threshold


def render_png(tone: np.ndarray, style, size: int) -> np.ndarray:
    dark = darkness(upsample(tone, size))
    scale = size / REF
    pitch, width = style.spacing * scale, style.line_width * scale
    paper = np.ones((size, size), np.float32)  # the light left through every family's lines
    for angle, thr in _families(style, size):
        paper *= 1 - line_cover(hatch_distance(size, angle, pitch), width) * (dark > thr)
    # crossing lines darken each other as layers of ink (and as an SVG renderer composites them)
    return to_gray(1 - paper)


def render_paths(tone: np.ndarray, style, size: int) -> Geometry:
    dark = darkness(upsample(tone, size))
    scale = size / REF
    pitch, width = style.spacing * scale, float(drawn_width(np.float64(style.line_width * scale)))
    step = 2.0 * max(1.0, scale)
    g = Geometry(size)
    for angle, thr in _families(style, size):
        pts = trace_lines(size, angle, pitch, 0.0, None, step)
        g.strokes += runs(pts, np.full(pts.shape[:2], width), sample(dark, pts) > thr, size, step)
    return g
