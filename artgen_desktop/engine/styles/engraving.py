"""engraving: hatching whose width swells with darkness, bent over the forms, crossed in dark tones, with
outlines. The PNG is render.py's `engrave` (today's look); the SVG traces the same lines: centres where the
line phase is a whole number, widths from the darkness there, the same bend field and thresholds."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .common import PAPER, REF, Geometry, darkness, drawn_width, outline_strokes, runs, sample, trace_lines, upsample

NAME = "engraving"


def render_png(tone: np.ndarray, style, size: int) -> np.ndarray:
    from ..render import engrave
    return engrave(torch.from_numpy(np.asarray(tone, np.float32))[None], style, size)[0].numpy()


def _height(tone: np.ndarray, size: int) -> np.ndarray:
    """render.py's bend field: darkness area-resampled to 64 x 64, blurred, bilinear back up."""
    from ..render import _blur
    t = torch.from_numpy(np.asarray(tone, np.float32))[None]
    with torch.no_grad():
        small = F.interpolate(((1 - t - PAPER) / (1 - PAPER)).clamp(0, 1)[:, None], size=(64, 64), mode="area")[:, 0]
        return F.interpolate(_blur(small, 3)[:, None], size=(size, size), mode="bilinear",
                             align_corners=False)[0, 0].numpy()


def render_paths(tone: np.ndarray, style, size: int) -> Geometry:
    up = upsample(tone, size)
    dark = darkness(up)
    scale = size / REF
    pitch = style.spacing * scale
    step = 2.0 * max(1.0, scale)
    a = math.radians(style.angle)
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
