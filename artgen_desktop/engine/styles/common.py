"""What the print styles share: the upsampled tone, line coverage, hatch-line tracing, iso-lines, and a
rasteriser for stroke geometry.

Every style draws its PNG and its SVG from one set of rules: either the PNG is rasterised here from the
very geometry the SVG writes (stipple, contour, outlines), or both evaluate the same per-pixel rule, the
PNG at pixel centres and the SVG along traced centre lines (hatching). tests/test_styles.py rasterises the
SVGs with QtSvg and compares.
Numpy (and torch for the bicubic resampling, as render.py), one picture at a time: deterministic and
independent of the batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

REF = 512.0  # sizes in the styles' parameters are pixels at this output size (as render.py)
PAPER = 0.06  # darkness below this stays paper-white (render.py's _PAPER)
OUTLINE_LEVEL = 1 - 2.5 * PAPER  # the tone level outlines trace (render.py's outline)


@dataclass
class Stroke:
    """A polyline in output pixels, with the full width of the line at each point (px)."""

    points: np.ndarray  # (n, 2) x, y
    widths: np.ndarray  # (n,)

    @property
    def constant(self) -> bool:
        return bool(np.ptp(self.widths) < 1e-6)


@dataclass
class Geometry:
    """A picture as vectors: strokes and dots (x, y, radius in px), on white paper of size x size px."""

    size: int
    strokes: list[Stroke] = field(default_factory=list)
    dots: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))


def upsample(tone: np.ndarray, size: int) -> np.ndarray:
    """(h, w) tone in [0, 1] -> (size, size) float32, bicubic as the engraving renderer resamples."""
    t = torch.from_numpy(np.ascontiguousarray(tone, dtype=np.float32))[None, None]
    with torch.no_grad():
        return F.interpolate(t, size=(size, size), mode="bicubic", align_corners=False)[0, 0].clamp(0, 1).numpy()


def darkness(up: np.ndarray) -> np.ndarray:
    return np.clip((1 - up - PAPER) / (1 - PAPER), 0, 1).astype(np.float32)


def sample(img: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Bilinear values of a per-pixel field at points (..., 2) in pixel coordinates (pixel i's centre is
    i + 0.5), edge-clamped: torch's grid_sample (align_corners=False is exactly this convention), one C++ op
    where numpy's gathers were most of tracing a picture's lines."""
    pts = np.asarray(pts)
    return sample_xy(img, pts[..., 0], pts[..., 1]).reshape(pts.shape[:-1])


def sample_xy(img: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """`sample` at points given as x and y arrays (flat result). Numpy's loops over a last axis of two
    (x, y) run element pair by element pair: the coordinates are scaled a column at a time."""
    h, w = img.shape
    grid = np.empty((x.size, 2), np.float32)  # (the float32 casts, products and differences of x and y as
    grid[:, 0] = x.ravel()  # before, elementwise: the same numbers)
    grid[:, 1] = y.ravel()
    grid[:, 0] *= np.float32(2 / w)
    grid[:, 1] *= np.float32(2 / h)
    grid -= 1
    with torch.no_grad():
        out = F.grid_sample(torch.from_numpy(np.ascontiguousarray(img, np.float32))[None, None],
                            torch.from_numpy(grid)[None, None], mode="bilinear", padding_mode="border",
                            align_corners=False)
    return out.numpy().reshape(-1)


def line_cover(dist: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage of a line `width` px wide at `dist` px from its centre (render.py's _line_ink):
    a box filter, and hairlines fade instead of jumping to one pixel."""
    return np.clip(width / 2 + 0.5 - dist, 0, 1) * np.minimum(width, 1)


def drawn_width(width: np.ndarray) -> np.ndarray:
    """The width a vector line needs to put down the ink `line_cover` does: equal below one pixel, where
    line_cover's ink across the line is w (w + 1)^2 / 4 rather than w."""
    return np.where(width < 1, width * (width + 1) ** 2 / 4, width)


def pixel_centres(size: int) -> tuple[np.ndarray, np.ndarray]:
    c = np.arange(size, dtype=np.float32) + 0.5
    return c[None, :], c[:, None]  # x (1, size), y (size, 1)


def hatch_distance(size: int, angle: float, pitch: float, phase0: float = 0.0) -> np.ndarray:
    """Distance (px) from each pixel centre to the nearest line of the family phase = k + phase0, where
    phase = (x cos a + y sin a) / pitch."""
    x, y = pixel_centres(size)
    phase = (x * math.cos(angle) + y * math.sin(angle)) / pitch - phase0
    return np.abs(phase - np.round(phase)) * pitch


def trace_lines(size: int, angle: float, pitch: float, phase0: float = 0.0, shift: np.ndarray | None = None,
                step: float = 2.0, slope: np.ndarray | None = None, iterations: int = 4) -> np.ndarray:
    """Centre lines of the family (x cos a + y sin a + shift(x, y)) / pitch = k + phase0, every `step` px
    along each line: (lines, samples, 2), covering the picture and `step` beyond its edges (points further
    out are approximate: strokes never reach them). With `slope`, the per-pixel derivative of the shift
    along the family's normal (cos a, sin a), each point is solved by `iterations` Newton steps: for shift
    fields that turn the lines far (the engraving's `follow`), where plain fixed-point steps converge slowly
    or not at all; the derivative is kept above 0.2 (a line folding back on itself is not traced)."""
    n = np.array([math.cos(angle), math.sin(angle)])
    d = np.array([-math.sin(angle), math.cos(angle)])
    c = size / 2
    reach = size * 0.7072 + pitch + step
    cn = c * (n[0] + n[1])
    ks = np.arange(math.floor((cn - reach) / pitch - phase0), math.ceil((cn + reach) / pitch - phase0) + 1)
    s0 = (ks + phase0) * pitch - cn  # each line's offset from the centre along n
    t = np.arange(-reach, reach + step / 2, step)
    # x and y apart (numpy runs a loop per point over a last axis of two); the same numbers as
    # along = c + t d, pts = along + s0 n with (…, 2) arrays
    ax, ay = c + t * d[0], c + t * d[1]  # (T,)
    x, y = ax[None, :] + (s0 * n[0])[:, None], ay[None, :] + (s0 * n[1])[:, None]  # (lines, T)
    if shift is not None:  # solve phase(p) = k by fixed-point steps (the shift field is smooth and slow)
        # a point moves along n by a value of the shift field, so one further than its largest value (and a
        # step) outside the picture ends outside, where no stroke goes: only the others are solved (the
        # same numbers for them: each point's steps are its own), about half the lines' length
        reach_out = step + float(np.abs(shift).max()) + 1
        near = (x > -reach_out) & (x < size + reach_out) & (y > -reach_out) & (y < size + reach_out)
        li, ti = np.nonzero(near)
        sx, sy, offset = ax[ti], ay[ti], s0[li]
        px, py = x[li, ti], y[li, ti]
        if slope is None:
            for _ in range(4):
                move = offset - sample_xy(shift, px, py)
                px, py = sx + move * n[0], sy + move * n[1]
        else:  # solve move + shift(s + move n) = offset
            move = offset  # (the straight line's points)
            for _ in range(iterations):
                miss = move + sample_xy(shift, px, py) - offset
                move = move - miss / np.maximum(1 + sample_xy(slope, px, py), 0.2)
                px, py = sx + move * n[0], sy + move * n[1]
        x[li, ti], y[li, ti] = px, py
    return np.stack([x, y], axis=-1)


def runs(pts: np.ndarray, widths: np.ndarray, keep: np.ndarray, size: int, step: float,
         every: int = 8) -> list[Stroke]:
    """Strokes along each traced line where `keep` holds, inside the picture and a step beyond (the SVG's
    viewport clips there), with their points thinned where a straight line between neighbours will do
    (keeping at least every `every`-th: lines that curve all along need more).
    All runs at once (a loop over them was a fifth of an engraving's SVG)."""
    inside = ((pts[..., 0] > -step) & (pts[..., 0] < size + step)
              & (pts[..., 1] > -step) & (pts[..., 1] < size + step))
    on = np.zeros((keep.shape[0], keep.shape[1] + 2), np.int8)
    on[:, 1:-1] = keep & inside
    edge = np.diff(on, axis=1)
    rows, a = np.nonzero(edge == 1)  # (row-major: line by line, along each line: the order strokes are made in)
    b = np.nonzero(edge == -1)[1]
    long = b - a >= 2
    rows, a, n = rows[long], a[long], (b - a)[long]
    if not len(n):
        return []
    keep_pt = _thin_mask(pts, widths, rows, a, n, every=every)
    run = np.repeat(np.arange(len(n)), n)
    col = np.repeat(a, n) + (np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n))
    r, c = np.repeat(rows, n)[keep_pt], col[keep_pt]
    ends = np.cumsum(np.bincount(run[keep_pt], minlength=len(n))).tolist()
    p, w = pts[r, c], widths[r, c]
    return [Stroke(p[i:j], w[i:j]) for i, j in zip([0, *ends[:-1]], ends)]


def _thin_mask(pts: np.ndarray, widths: np.ndarray, rows: np.ndarray, a: np.ndarray, n: np.ndarray,
               tol: float = 0.04, every: int = 8) -> np.ndarray:
    """Which points of the runs (line `rows`, from `a`, `n` points) to keep: a point goes where it lies (in
    position and width) within `tol` px of the midpoint of its neighbours, but at least every `every`-th stays
    so drift along gentle curves stays below a few tenths of a pixel; the ends always stay."""
    mid_p = np.zeros(pts.shape[:2])
    mid_w = np.zeros(pts.shape[:2], widths.dtype)
    x, y = pts[..., 0], pts[..., 1]  # (x and y apart: the max over a last axis of two is slow)
    mid_p[:, 1:-1] = np.maximum(np.abs(x[:, :-2] + x[:, 2:] - 2 * x[:, 1:-1]),
                                np.abs(y[:, :-2] + y[:, 2:] - 2 * y[:, 1:-1])) / 2
    mid_w[:, 1:-1] = np.abs(widths[:, :-2] + widths[:, 2:] - 2 * widths[:, 1:-1]) / 2
    i = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)  # place in its run
    r, c = np.repeat(rows, n), np.repeat(a, n) + i
    end = (i == 0) | (i == np.repeat(n, n) - 1)
    return end | (mid_p[r, c] > tol) | (mid_w[r, c] > tol) | (i % every == 0)


# ---- iso-lines (marching squares) ------------------------------------------------------------------------

# segments per cell case; corners: bit 0 top-left, 1 top-right, 2 bottom-right, 3 bottom-left;
# edges: 0 top, 1 right, 2 bottom, 3 left. Saddles (5, 10) are resolved by the cell's centre: with a high
# centre they become cases 16 and 17.
_CASES = {1: [(3, 0)], 2: [(0, 1)], 3: [(3, 1)], 4: [(1, 2)], 6: [(0, 2)], 7: [(3, 2)], 8: [(3, 2)],
          9: [(0, 2)], 11: [(1, 2)], 12: [(3, 1)], 13: [(0, 1)], 14: [(3, 0)],
          16: [(0, 1), (3, 2)], 5: [(3, 0), (1, 2)], 17: [(3, 0), (1, 2)], 10: [(0, 1), (3, 2)]}
_TABLE = np.full((18, 2, 2), -1, np.int64)  # case, segment slot, (edge a, edge b)
for _k, _segs in _CASES.items():
    _TABLE[_k, :len(_segs)] = _segs


def iso_lines(field: np.ndarray, level: float, stride: int = 1) -> list[np.ndarray]:
    """Polylines (n, 2), in pixel coordinates, where the per-pixel `field` (sampled every `stride` px)
    crosses `level`; closed loops repeat their first point at the end."""
    f = field[::stride, ::stride].astype(np.float64)
    hh, ww = f.shape
    b = (f > level).view(np.uint8)  # (8-bit: the steps over the whole grid were half of the time here)
    case = b[:-1, :-1] | (b[:-1, 1:] << 1) | (b[1:, 1:] << 2) | (b[1:, :-1] << 3)
    cell = np.flatnonzero(case.ravel() - np.uint8(1) < 14)  # neither 0 nor 15 (0 - 1 wraps to 255)
    ci, cj = np.divmod(cell, ww - 1)  # (row-major, as np.nonzero)
    k = case.ravel()[cell].astype(np.int64)
    saddle = np.flatnonzero((k == 5) | (k == 10))
    if len(saddle):  # the cell's centre decides (a saddle's corners are the same sum as over the grid)
        si, sj = ci[saddle], cj[saddle]
        centre = (f[si, sj] + f[si, sj + 1] + f[si + 1, sj + 1] + f[si + 1, sj]) / 4 > level
        high = saddle[centre]
        k[high] = np.where(k[high] == 5, 16, 17)
    two = _TABLE[k, 1, 0] >= 0
    ci, cj = np.concatenate([ci, ci[two]]), np.concatenate([cj, cj[two]])
    ea = np.concatenate([_TABLE[k, 0, 0], _TABLE[k[two], 1, 0]])
    eb = np.concatenate([_TABLE[k, 0, 1], _TABLE[k[two], 1, 1]])
    if not len(ci):
        return []
    nh = hh * (ww - 1)  # horizontal edges first, then vertical ones
    n = len(ci)
    ci, cj = np.concatenate([ci, ci]), np.concatenate([cj, cj])  # both ends of every segment in one pass

    def edge(e):
        ii = ci + (e == 2)
        jj = cj + (e == 1)
        horizontal = (e == 0) | (e == 2)
        ident = np.where(horizontal, ii * (ww - 1) + cj, nh + ci * ww + jj)
        f0 = np.where(horizontal, f[ii, cj], f[ci, jj])
        f1 = np.where(horizontal, f[ii, np.minimum(cj + 1, ww - 1)], f[np.minimum(ci + 1, hh - 1), jj])
        frac = np.clip((level - f0) / np.where(f1 == f0, 1, f1 - f0), 0, 1)
        x = np.where(horizontal, cj + frac, jj)
        y = np.where(horizontal, ii, ci + frac)
        return ident, np.stack([x * stride + 0.5, y * stride + 0.5], axis=1)

    ids, points = edge(np.concatenate([ea, eb]))
    order = np.argsort(ids, kind="stable")
    other = np.full(2 * n, -1, np.int64)  # for end j (j < n: segment j's a, else j - n's b): the other end there
    same = np.flatnonzero(ids[order][1:] == ids[order][:-1])
    other[order[same]] = order[same + 1]
    other[order[same + 1]] = order[same]
    return _join(other, points, ids)


def _join(other: np.ndarray, points: np.ndarray, ids: np.ndarray) -> list[np.ndarray]:
    """The segments (ends j and j + n of segment j, `other` pairing ends at a shared edge) joined into
    polylines, in numpy (a loop over the segments took ~4 ms of a 512 px contour picture's ~40):

    each line starts from its lowest-numbered segment m, runs through m from end a to end b, and reaches the
    line's ends both ways; the lines come in the order of their m. A line is a chain of exits: leaving a
    segment by end e one enters the next by other[e] and leaves it by that segment's far end. Pointer
    jumping (log2 of the ends rounds) gives each exit the lowest segment it reaches and the end it gets to;
    on loops, the exit leading back into m is cut, and a second pass counts each exit's steps to its line's
    end: its place in the line."""
    n = len(other) // 2
    ends = np.arange(2 * n)
    nxt = np.where(other >= 0, np.where(other < n, other + n, other - n), -1)  # exit -> the next exit
    rounds = max(1, (2 * n).bit_length())

    def jump(nxt, low=None):
        last = np.where(nxt >= 0, nxt, ends)  # (line ends point to themselves)
        steps = (nxt >= 0).astype(np.int64)
        for _ in range(rounds):
            if low is not None:
                np.minimum(low, low[last], out=low)
            else:
                steps += steps[last]
            last = last[last]
        return last, steps

    seg = np.arange(n)
    low = np.concatenate([seg, seg])
    last, _ = jump(nxt, low)
    m = np.minimum(low[:n], low[n:])  # each segment's line, by its lowest segment
    head = np.flatnonzero(m == seg)  # those lowest segments, ascending: the lines in order
    loop = nxt[last[head + n]] >= 0  # a loop never reaches an end
    cut = nxt.copy()
    cut[other[head[loop]]] = -1  # (other[m] is the exit entering m through end a)
    last, steps = jump(cut)
    exit_ = np.where(last[seg + n] == last[m + n], seg + n, seg)  # the end each segment leaves by, m's way
    count = np.bincount(m, minlength=n)[head]  # segments per line
    line = np.zeros(n, np.int64)
    line[head] = np.arange(len(head))
    start = np.cumsum(count + 1) - (count + 1)  # each line's first point in `out`
    first = np.where(loop, head, last[head])  # the end a line starts at: m's a on a loop, else the far end
    out = np.empty((int((count + 1).sum()), 2), points.dtype)
    out[start] = points[first]
    li = line[m]
    out[start[li] + count[li] - steps[exit_]] = points[exit_]
    final = exit_[np.flatnonzero(steps[exit_] == 0)]  # the exit each line ends at, in line order
    final = final[np.argsort(li[final % n], kind="stable")]
    closed = (other[final] == first) | ((count + 1 > 2) & (ids[final] == ids[first]))
    stops = (start + count).tolist()
    for i in np.flatnonzero(closed).tolist():
        out[stops[i]] = out[start[i]]
    return [out[a:b + 1] for a, b in zip(start.tolist(), stops)]


def gradient_length(up: np.ndarray) -> np.ndarray:
    """|grad| of the upsampled tone per pixel (torch.gradient's differences, as render.py's outline)."""
    gy, gx = np.gradient(up)
    return np.sqrt(gx * gx + gy * gy)


def outline_strokes(up: np.ndarray, width: float, size: int) -> list[Stroke]:
    """render.py's outline as geometry: the iso-line of the tone at OUTLINE_LEVEL, where it is a real edge
    (its strength), `width` px wide times that strength."""
    if width <= 0:
        return []
    strength_px = np.clip((gradient_length(up) * size - 3) / 6, 0, 1).astype(np.float32)
    stride = max(1, round(size / 256))
    out = []
    for line in iso_lines(up, OUTLINE_LEVEL, stride):
        w = width * sample(strength_px, line)
        on = np.concatenate([[False], w > 0.05, [False]])
        edges = np.flatnonzero(on[1:] != on[:-1])
        for a, b in zip(edges[::2], edges[1::2]):
            if b - a >= 2:
                out.append(Stroke(line[a:b], w[a:b]))
    return out


# ---- a rasteriser for strokes and dots (the PNG drawn from the SVG's geometry) ---------------------------

def draw(size: int, strokes: list[Stroke], dots: np.ndarray | None = None) -> np.ndarray:
    """Ink coverage (size, size) float32 of round-capped strokes and discs: each segment is a capsule
    (line_cover of the distance to it), overlaps take the darker (torch's scatter max: order-free).

    Each capsule is worked out on the pixels whose centres lie within its half width + 0.5 px (+ a margin)
    of its bounding box along x and along y, the only ones it can cover; capsules with the same patch
    shape go together."""
    p0, p1, hw = [], [], []
    for s in strokes:
        p0.append(s.points[:-1]), p1.append(s.points[1:]), hw.append((s.widths[:-1] + s.widths[1:]) / 4)
    if dots is not None and len(dots):
        p0.append(dots[:, :2]), p1.append(dots[:, :2]), hw.append(dots[:, 2])
    ink = torch.zeros(size * size, dtype=torch.float32)
    if not p0:
        return ink.view(size, size).numpy()
    a, b, h = np.concatenate(p0), np.concatenate(p1), np.concatenate(hw)
    # pixel p can be covered only if |p + 0.5 - c| < h + 0.5 for some c of the box: a margin of 0.01 px
    # beyond that (far more than the float32 rounding of the distances) leaves out only pixels of no ink
    first = np.floor(np.minimum(a, b) - h[:, None] - 1.01).astype(np.int64) + 1  # (n, 2) patch corner x, y
    shape = np.ceil(np.maximum(a, b) + h[:, None] + 0.01).astype(np.int64) - first  # (n, 2) patch width, height
    shape += shape % 2  # (even sizes: fewer groups, each a few more pixels)
    key = shape[:, 0] * (1 << 20) + shape[:, 1]
    _, group, count = np.unique(key, return_inverse=True, return_counts=True)
    few = count[group] < 256  # a group costs ~0.1 ms: small ones go into square patches of a power of two
    if few.any():
        shape[few] = (2 ** np.ceil(np.log2(shape[few].max(axis=1)))).astype(np.int64)[:, None]
        key = shape[:, 0] * (1 << 20) + shape[:, 1]
    order = np.argsort(key, kind="stable")
    cuts = np.flatnonzero(np.diff(key[order])) + 1
    for sel in np.split(order, cuts):  # patches of one shape together, a few million pixels at a time
        nx, ny = (int(v) for v in shape[sel[0]])
        chunk = max(1, (1 << 22) // (nx * ny))
        for start in range(0, len(sel), chunk):
            part = sel[start:start + chunk]
            _capsules(ink, size, a[part], b[part], h[part], first[part], nx, ny)
    return ink.view(size, size).numpy()


def _capsules(ink: torch.Tensor, size: int, a: np.ndarray, b: np.ndarray, h: np.ndarray, first: np.ndarray,
              nx: int, ny: int) -> None:
    px = first[:, 0, None, None] + np.arange(nx)[None, None, :]  # (n, 1, nx)
    py = first[:, 1, None, None] + np.arange(ny)[None, :, None]  # (n, ny, 1)
    a32, d = a.astype(np.float32), (b - a).astype(np.float32)
    rx = (px + 0.5).astype(np.float32) - a32[:, 0, None, None]  # pixel centre relative to the segment start
    ry = (py + 0.5).astype(np.float32) - a32[:, 1, None, None]
    dx, dy = d[:, 0, None, None], d[:, 1, None, None]
    inv = (1 / np.maximum(dx * dx + dy * dy, 1e-12)).astype(np.float32)
    t = np.clip((rx * dx + ry * dy) * inv, 0, 1)
    dist = np.hypot(rx - t * dx, ry - t * dy)
    w = (2 * h).astype(np.float32)[:, None, None]
    # a box filter across the edge; below a pixel's width scaled so the ink across the line is w, as a
    # vector renderer's area coverage gives
    fade = np.where(w < 1, 4 * w / (w + 1) ** 2, 1).astype(np.float32)
    cover = np.clip(w / 2 + 0.5 - dist, 0, 1) * fade
    valid = ((px >= 0) & (px < size)) & ((py >= 0) & (py < size)) & (cover > 0)
    index = np.broadcast_to(py * size + px, cover.shape)[valid]
    ink.scatter_reduce_(0, torch.from_numpy(index), torch.from_numpy(cover[valid]), reduce="amax")


def to_gray(ink: np.ndarray) -> np.ndarray:
    """Ink coverage -> 8-bit paper-minus-ink, rounded."""
    return np.clip(255.5 - 255 * ink, 0, 255).astype(np.uint8)


def polyline_normals(p: np.ndarray, starts: np.ndarray | None = None, lengths: np.ndarray | None = None) -> np.ndarray:
    """Unit normals of a polyline (N, 2), by central differences (ends by one-sided ones). With `starts` and
    `lengths`, of several polylines (2 points or more each) stored one after another in `p`, in one pass:
    the same numbers as one call per polyline."""
    t = np.empty_like(p)
    t[1:-1] = (p[2:] - p[:-2]) / 2
    if starts is None:
        t[0], t[-1] = p[1] - p[0], p[-1] - p[-2]
    else:
        ends = starts + lengths - 1
        t[starts] = p[starts + 1] - p[starts]
        t[ends] = p[ends] - p[ends - 1]
    length = np.hypot(t[:, 0], t[:, 1])[:, None]
    t = t / np.where(length > 0, length, 1)
    return np.stack([-t[:, 1], t[:, 0]], axis=1)
