"""Plotter mode: a picture's geometry as pen strokes on a page, in mm.

- Strokes only: a line wider than the pen is drawn as extra parallel passes either side of its centre
  (pass 1 the centre line, pass k + 1 the pair k pens out, where the line is that wide); a dot is drawn
  in one pen-down path, its outline circle and then a spiral in to its centre one pen width per turn (a
  dot smaller than the pen as one touch of the pen).
- A stipple plot draws at most MAX_DOTS dots, so at most that many paths: a dark picture whose dots would
  be more is plotted with its dots spaced further apart and larger in proportion (about the same ink;
  `Plot.coarser` says how much), deterministically (plot_tone).
- Each pass is one layer (engine/svg.py writes Inkscape layer groups), so a pen can be changed between.
- Within a layer, paths whose ends lie closer than half a pen width are joined, and the paths are ordered
  greedily, nearest end first (a path may be drawn backwards), to cut pen-up travel, as vpype's linemerge
  and linesort do. `Plot.travel_before` / `travel_after` report the pen-up travel of the paths in the
  order the style made them and after ordering.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from .errors import ArtGenError
from .styles import Geometry
from .styles.common import polyline_normals

PAGES_MM = {"a4": (210.0, 297.0), "a3": (297.0, 420.0), "letter": (215.9, 279.4)}
MAX_PAIRS = 8  # passes either side of a centre line; wider lines are drawn this wide
MAX_DOTS = 5000  # a stipple plot's dots (a path each): the "an A4 plot has at most 5,000 paths"


@dataclass(frozen=True)
class Page:
    width: float  # mm
    height: float
    margin: float = 15.0
    pen: float = 0.3  # the pen's line width, mm

    def __post_init__(self):
        if not (self.width > 0 and self.height > 0 and math.isfinite(self.width) and math.isfinite(self.height)):
            raise ArtGenError(f"the page must have a positive size, not {self.width} x {self.height} mm")
        if not (0 <= self.margin and 2 * self.margin < min(self.width, self.height)):
            raise ArtGenError(f"the margin {self.margin:g} mm leaves no room on a {self.width:g} x {self.height:g} "
                              "mm page")
        if not 0.05 <= self.pen <= 5:
            raise ArtGenError(f"the pen width must be between 0.05 and 5 mm, not {self.pen:g}")

    @property
    def side(self) -> float:
        """The square picture's side, mm: as large as the margins allow, centred."""
        return min(self.width, self.height) - 2 * self.margin


def parse_page(text: str, margin: float = 15.0, pen: float = 0.3) -> Page:
    """A4, A3, letter (portrait) or WxHmm (e.g. 300x300mm)."""
    key = text.strip().lower()
    if key in PAGES_MM:
        return Page(*PAGES_MM[key], margin, pen)
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*x\s*(\d+(?:\.\d+)?)\s*(?:mm)?", key)
    if not m:
        raise ArtGenError(f"page must be A4, A3, letter or WxHmm (e.g. 300x300mm), not {text!r}")
    w, h = float(m.group(1)), float(m.group(2))
    if not (10 <= w <= 5000 and 10 <= h <= 5000):
        raise ArtGenError(f"page {text!r}: each side must be 10 to 5000 mm")
    return Page(w, h, margin, pen)


@dataclass
class Plot:
    page: Page
    layers: list[list[np.ndarray]] = field(default_factory=list)  # per pass: polylines (n, 2) in mm
    travel_before: float = 0.0  # pen-up travel, mm, in the order the style made the paths
    travel_after: float = 0.0  # ... after joining and ordering
    paths_before: int = 0
    coarser: float = 1.0  # a stipple's dots this much further apart and larger than the picture's (MAX_DOTS)

    @property
    def paths(self) -> int:
        return sum(len(layer) for layer in self.layers)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return [(a, b) for a, b in zip(edges[::2], edges[1::2]) if b - a >= 2]


def _dot(cx: float, cy: float, r: float, pen: float) -> np.ndarray:
    """A filled dot of radius `r` mm as one pen path: the circle a pen's half-width inside its edge, then
    on round in a spiral that closes in by one pen width per turn to the centre. ~0.3 mm chords."""
    rr = r - pen / 2
    n = max(8, min(48, int(math.ceil(2 * math.pi * rr / 0.3))))  # points on the outline circle
    turns = rr / pen
    m = max(2, int(math.ceil(n * turns)))  # points on the spiral: n a turn (ample as the turns get smaller)
    spiral = 2 * math.pi + np.linspace(0, 2 * math.pi * turns, m + 1)[1:]
    a = np.concatenate([np.linspace(0, 2 * math.pi, n + 1), spiral])
    radius = np.concatenate([np.full(n + 1, rr), rr * (1 - np.arange(1, m + 1) / m)])
    return np.stack([cx + radius * np.cos(a), cy + radius * np.sin(a)], axis=1)


def passes(geometry: Geometry, page: Page) -> list[list[np.ndarray]]:
    """The geometry as pen paths in mm, one list per pass, unordered (as the style made them)."""
    k = page.side / geometry.size
    x0 = (page.width - page.side) / 2
    y0 = (page.height - page.side) / 2
    offset = np.array([x0, y0])
    pen = page.pen
    layers: list[list[np.ndarray]] = [[] for _ in range(MAX_PAIRS + 1)]
    for s in geometry.strokes:
        p = np.clip(s.points, 0, geometry.size) * k + offset  # (the SVG's viewport clips there too)
        w = s.widths * k
        normal = polyline_normals(p) if len(p) > 1 else None
        for a, b in _runs(w >= 0.5 * pen):  # thinner than half the pen: left to the paper
            layers[0].append(p[a:b])
        for pair in range(1, MAX_PAIRS + 1):
            present = w >= (2 * pair + 0.5) * pen
            if not present.any():
                break
            for a, b in _runs(present):
                for side in (1, -1):
                    layers[pair].append(p[a:b] + side * pair * pen * normal[a:b])
    for x, y, r in geometry.dots.tolist():
        cx, cy, r = x * k + x0, y * k + y0, r * k
        if r <= 0.75 * pen:  # one touch of the pen
            layers[0].append(np.array([[cx - 0.01, cy], [cx + 0.01, cy]]))
        else:
            layers[0].append(_dot(cx, cy, min(r, (MAX_PAIRS + 1) * pen), pen))
    return [layer for layer in layers if layer]


def travel(paths: list[np.ndarray]) -> float:
    """Pen-up travel in mm drawing `paths` in order, from the page's corner."""
    if not paths:
        return 0.0
    starts = np.array([p[0] for p in paths])
    ends = np.array([[0.0, 0.0]] + [p[-1] for p in paths[:-1]])
    return float(np.hypot(*(starts - ends).T).sum())


def order(paths: list[np.ndarray], join: float) -> list[np.ndarray]:
    """Greedy nearest-end ordering from the page's corner, drawing a path backwards when its far end is
    nearer; a path starting within `join` mm of the pen is appended to the current one (no pen-up).
    The nearest end is found in a grid of buckets, ring by ring, with a full scan only when the nearby rings
    are empty: about linear in the number of paths (a stipple has thousands of dots)."""
    n = len(paths)
    if n == 0:
        return []
    ends = np.concatenate([np.array([p[0] for p in paths]), np.array([p[-1] for p in paths])])  # (2n, 2)
    lo = ends.min(axis=0)
    extent = float(max((ends.max(axis=0) - lo).max(), 1e-6))
    cell = extent / max(1, int(math.sqrt(n)))  # about one path per bucket
    cells = np.floor((ends - lo) / cell).astype(np.int64)
    buckets: dict[tuple[int, int], list[int]] = {}
    for j, (cx, cy) in enumerate(cells.tolist()):
        buckets.setdefault((cx, cy), []).append(j)
    alive = np.ones(2 * n, bool)
    xs, ys = ends[:, 0].tolist(), ends[:, 1].tolist()
    span = int(cells.max()) + 1
    pos = (0.0, 0.0)
    out: list[np.ndarray] = []
    current: list[np.ndarray] = []
    for _ in range(n):
        px, py = pos
        cx, cy = int((px - lo[0]) // cell), int((py - lo[1]) // cell)
        best, best_d = -1, math.inf
        for ring in range(4):
            for bx in range(cx - ring, cx + ring + 1):
                for by in range(cy - ring, cy + ring + 1):
                    if max(abs(bx - cx), abs(by - cy)) != ring:
                        continue
                    bucket = buckets.get((bx, by))
                    if not bucket:
                        continue
                    bucket[:] = [j for j in bucket if alive[j]]  # (drops the ends already drawn)
                    for j in bucket:
                        d = math.hypot(xs[j] - px, ys[j] - py)
                        if d < best_d or (d == best_d and j < best):
                            best, best_d = j, d
            # every end outside rings 0..ring is at least `ring` cells from the pen's own cell
            if best >= 0 and best_d <= ring * cell and 0 <= cx < span and 0 <= cy < span:
                break
        else:
            if best < 0 or not (0 <= cx < span and 0 <= cy < span) or best_d > 3 * cell:
                idx = np.flatnonzero(alive)  # nothing near: the nearest of all that are left
                d = np.hypot(ends[idx, 0] - px, ends[idx, 1] - py)
                k = int(np.argmin(d))
                best, best_d = int(idx[k]), float(d[k])
        i = best % n
        alive[i] = alive[i + n] = False
        path = paths[i] if best < n else paths[i][::-1]
        if current and best_d <= join:
            current.append(path[1:] if best_d == 0 else path)
        else:
            if current:
                out.append(np.concatenate(current))
            current = [path]
        pos = (float(path[-1][0]), float(path[-1][1]))
    out.append(np.concatenate(current))
    return out


def plot_tone(tone: np.ndarray, style, size: int, page: Page) -> Plot:
    """A tone (h, w, in [0, 1]) in a print style as a plot on `page`; a stipple's dots spaced out (and
    enlarged) until there are at most MAX_DOTS of them. Deterministic: the same tone gives the same plot."""
    from .styles import render_paths, stipple
    geometry = render_paths(tone, style, size)
    coarser = 1.0
    if style.mode == stipple.NAME:
        while len(geometry.dots) > MAX_DOTS:  # dots go as the square of the spacing: ~1 step, then 5 % steps
            coarser *= max(1.05, 1.02 * math.sqrt(len(geometry.dots) / MAX_DOTS))
            geometry = Geometry(size, dots=stipple.dots(tone, style, size, coarser))
    return plot(geometry, page, coarser)


def plot(geometry: Geometry, page: Page, coarser: float = 1.0) -> Plot:
    layers = passes(geometry, page)
    result = Plot(page, paths_before=sum(len(layer) for layer in layers), coarser=coarser)
    for layer in layers:
        result.travel_before += travel(layer)
        ordered = order(layer, 0.5 * page.pen)
        result.travel_after += travel(ordered)
        result.layers.append(ordered)
    return result
