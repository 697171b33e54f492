"""stipple: dots whose density and size follow the darkness. Placement is a jittered grid whose cells
switch on at thresholds half ordered-dither (Bayer), half random: evenly spread dots with few clumps and no
visible grid, in one pass (weighted Voronoi relaxation would be smoother but iterative). The PNG is drawn
from the same dots the SVG writes."""

from __future__ import annotations

import math

import numpy as np

from .common import REF, Geometry, darkness, draw, sample, to_gray, upsample

NAME = "stipple"
_SEED = 0x5717  # fixed: the dots are part of the style, never random per run
_BAYER = np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]], np.float64)


def dots(tone: np.ndarray, style, size: int, coarser: float = 1.0) -> np.ndarray:
    """(n, 3): x, y, radius in px. `coarser` > 1 spaces the dots that much further apart and makes them that
    much larger (about the same ink, fewer dots): plotter mode's cap on the number of paths."""
    dark = darkness(upsample(tone, size))
    scale = size / REF * coarser
    cell = style.dot_spacing * scale
    n = math.ceil(size / cell)
    rng = np.random.default_rng(_SEED)
    jitter = 0.1 + 0.8 * rng.random((n, n, 2))
    i = np.arange(n)
    # half ordered, half random: Bayer alone spreads dots evenly but prints its 4 x 4 grid in pale tones
    threshold = 0.5 * (_BAYER[i[:, None] % 4, i[None, :] % 4] + 0.5) / 16 + 0.5 * rng.random((n, n))
    centres = (np.stack(np.meshgrid(i, i, indexing="xy"), axis=-1) + jitter) * cell  # (n, n, 2) x, y
    d = sample(dark, centres)
    on = (d > threshold) & (centres[..., 0] < size) & (centres[..., 1] < size)
    radius = 0.5 * style.dot_size * scale * (style.dot_min + (1 - style.dot_min) * d)
    return np.concatenate([centres[on], radius[on][:, None]], axis=1)


def render_png(tone: np.ndarray, style, size: int) -> np.ndarray:
    return to_gray(draw(size, [], dots(tone, style, size)))


def render_paths(tone: np.ndarray, style, size: int) -> Geometry:
    return Geometry(size, dots=dots(tone, style, size))
