"""contour: even lines along iso-tone contours at `levels` darkness levels, like a map's contour lines.
The PNG is drawn from the same polylines the SVG writes."""

from __future__ import annotations

import numpy as np

from .common import PAPER, REF, Geometry, Stroke, draw, iso_lines, to_gray, upsample

NAME = "contour"


def render_paths(tone: np.ndarray, style, size: int) -> Geometry:
    up = upsample(tone, size)
    width = style.line_width * (size / REF)
    stride = max(1, round(size / 256))
    g = Geometry(size)
    for k in range(style.levels):
        level = 1 - PAPER - (1 - PAPER) * (k + 0.5) / style.levels  # evenly spaced in darkness
        for line in iso_lines(up, level, stride):
            if len(line) >= 3:  # (a lone crossing is noise of the 8-bit tone, not a form)
                g.strokes.append(Stroke(line, np.full(len(line), width)))
    return g


def render_png(tone: np.ndarray, style, size: int) -> np.ndarray:
    return to_gray(draw(size, render_paths(tone, style, size).strokes))
