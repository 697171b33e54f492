"""The engraving renderer: tone image -> black hatching on white paper. Deterministic, no learning.

A tone image holds light and shade only (1.0 = white paper). The renderer draws:
- a family of parallel lines whose width follows darkness (so ink coverage ~ darkness),
- a second, crossing family where the tone is darker than `cross_threshold`,
- lines displaced by a smoothed darkness "height field", so they bend over forms,
- outlines along iso-contours of the tone (silhouettes), drawn with a constant pixel width.
Sizes are given for a 512 px output and scale with it, so a picture looks the same at any size.
Everything is torch: on a CPU one picture at a time in cache-sized strips, elsewhere over the whole batch.
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .settings import EngraveStyle

_REF = 512.0  # sizes in EngraveStyle are pixels at this output size
_PAPER = 0.06  # darkness below this stays paper-white, so flat white tone never gets ink


def _line_ink(phase: torch.Tensor, half_width: torch.Tensor, pitch: float) -> torch.Tensor:
    """Anti-aliased coverage of lines at integer phases; half_width in pixels."""
    dist = (phase - torch.round(phase)).abs() * pitch  # pixels to the nearest line centre
    cover = (half_width - dist + 0.5).clamp(0, 1)
    return cover * (2 * half_width).clamp(max=1)  # hairlines fade instead of jumping to 1 px


def _blur(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Separable box blur x3 (≈ Gaussian) of (B, H, W), edge-replicated."""
    k = 2 * radius + 1
    y = x[:, None]
    for _ in range(3):
        y = F.avg_pool2d(F.pad(y, (radius, radius, 0, 0), mode="replicate"), (1, k), stride=1)
        y = F.avg_pool2d(F.pad(y, (0, 0, radius, radius), mode="replicate"), (k, 1), stride=1)
    return y[:, 0]


@torch.no_grad()
def engrave(tone: torch.Tensor, style: EngraveStyle = EngraveStyle(), size: int = 512) -> torch.Tensor:
    """tone (B, h, w) float in [0, 1], 1 = white -> (B, size, size) uint8 grayscale engraving."""
    if not 64 <= size <= 4096:
        raise ValueError(f"output size {size} is outside 64–4096")
    tone = tone.float().clamp(0, 1)
    if style.mode == "tone":
        up = F.interpolate(tone[:, None], size=(size, size), mode="bicubic", align_corners=False)[:, 0]
        return (up.clamp(0, 1) * 255).round().to(torch.uint8)
    if style.mode != "engraving" or style.follow > 0:  # the other print styles and form-following
        # hatching: numpy, one picture at a time (styles/)
        from .styles import render_png
        pictures = tone.cpu().numpy()
        return torch.from_numpy(np.stack([render_png(t, style, size) for t in pictures])).to(tone.device)
    if tone.device.type != "cpu":
        return _engrave_batched(tone, style, size)
    # one thread: the strips' ops are too small for OpenMP to pay, and two OpenMP threads crawl as soon as
    # another process takes a core (docs/architecture.md, "Threads"); set for this call and
    # restored after
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _engrave_strips(tone, style, size)
    finally:
        torch.set_num_threads(threads)


# ---- the CPU path: one picture at a time, in cache-sized strips ------------------------------------------
#
# The picture is the same as `_engrave_batched` (up to float rounding: a grey level here and there),
# computed for speed on a CPU:
# - every resampling is linear, so it is a matrix: bicubic tone -> size is A @ tone @ A.T, and the bend
#   field (area-down to 64, blur, bilinear up) is L @ c @ L.T; the 64-row steps run once per picture, the
#   last step per strip, on the matrix band the strip touches (bicubic) or as a two-row blend (bilinear);
# - the line ramps are linear in y, so they ride through the bilinear blend with the bend field
#   (exact away from the top and bottom rows, which get a small correction): a line phase is 3 passes;
# - work happens in place in buffers allocated once (a fresh 1 MB tensor costs page faults on every
#   op), with constants as 0-d tensors (a Python number costs each op a conversion), in strips sized
#   so torch's per-op overhead stays small; strips with no ink skip the hatching and strips with no
#   edges the outline (exactly: their terms are zero there).
# Each picture is computed on its own with the same shapes, so a picture never depends on its batch.

_STRIP_PIXELS = 1 << 17
_SMALL = 64  # the bend field's resolution


def _resize_matrix(n_out: int, n_in: int, mode: str) -> torch.Tensor:
    """(n_out, n_in) float64 matrix M with M @ v == 1-D resampling of v, exactly as F.interpolate does it."""
    eye = torch.eye(n_in, dtype=torch.float64)[None, None]
    if mode == "area":
        m = F.interpolate(eye, size=(n_out, n_in), mode="area")
    else:  # resampling along the other axis to the same length is the identity for these modes
        m = F.interpolate(eye, size=(n_out, n_in), mode=mode, align_corners=False)
    return m[0, 0]


def _blur_1d(n: int, radius: int) -> torch.Tensor:
    """(n, n) matrix B of one axis of `_blur`: _blur(x) == B @ x @ B.T."""
    k = 2 * radius + 1
    y = torch.eye(n, dtype=torch.float64)[None, None]  # rows of the identity, blurred along x: I @ B.T
    for _ in range(3):
        y = F.avg_pool2d(F.pad(y, (radius, radius, 0, 0), mode="replicate"), (1, k), stride=1)
    return y[0, 0].t().float().contiguous()


def _band(m: torch.Tensor, r0: int, r1: int) -> tuple[int, int]:
    """The columns where rows r0:r1 of m are not zero."""
    cols = (m[r0:r1] != 0).any(dim=0).nonzero()[:, 0]
    return int(cols[0]), int(cols[-1]) + 1


@dataclass(frozen=True)
class _Strip:
    r0: int
    r1: int
    e0: int  # rows e0:e1 of the upsampled tone: the strip and its neighbours (for the gradient)
    e1: int
    up_rows: torch.Tensor  # bicubic matrix rows e0:e1, columns c0:c1
    c0: int
    c1: int
    fix: tuple[int, int] | None  # rows (of the picture) whose line ramp the bilinear blend gets wrong


@dataclass(frozen=True)
class _Plan:
    rows: int  # the tallest strip
    up_x_t: torch.Tensor  # (w, size): bicubic along x, transposed
    down: tuple[torch.Tensor, torch.Tensor]  # (64, h) and (w, 64): area resampling to the bend field
    blur: torch.Tensor  # (64, 64): one axis of the bend field's blur
    bend_x_t: torch.Tensor  # (64, size): bilinear along x, transposed
    blend_row: torch.Tensor  # (size,) int: output row y blends bend-field rows blend_row[y] and +1 ...
    blend_w: torch.Tensor  # (size, 1): ... with this weight on the second
    src_y: torch.Tensor  # (64, 1): bend-field row centres in output pixels
    ramp_error: torch.Tensor  # (size, 1): y + 0.5 minus the blend of src_y (zero but near the edges)
    strips: tuple[_Strip, ...]


@functools.lru_cache(maxsize=16)
def _plan(size: int, h: int, w: int) -> _Plan:
    rows = max(8, min(size, _STRIP_PIXELS // size))
    up_y, up_x = _resize_matrix(size, h, "bicubic"), _resize_matrix(size, w, "bicubic")
    bend_y, bend_x = _resize_matrix(size, _SMALL, "bilinear"), _resize_matrix(size, _SMALL, "bilinear")
    first = (bend_y != 0).to(torch.int8).argmax(dim=1)  # each output row blends rows first and first + 1
    second = bend_y[torch.arange(size), (first + 1).clamp(max=_SMALL - 1)] * (first + 1 < _SMALL)
    src_y = (torch.arange(_SMALL, dtype=torch.float64) + 0.5) * (size / _SMALL)
    ramp_error = torch.arange(size, dtype=torch.float64) + 0.5 - bend_y @ src_y
    bad = (ramp_error.abs() > 1e-9).nonzero()[:, 0].tolist()
    strips: list[_Strip] = []
    for r0 in range(0, size, rows):
        r1 = min(size, r0 + rows)
        if r1 - r0 < 2 and strips:  # a strip needs two rows for its gradient: fold a last single row in
            r0 = strips.pop().r0
        e0, e1 = max(r0 - 1, 0), min(r1 + 1, size)
        c0, c1 = _band(up_y, e0, e1)
        fix = [y for y in bad if r0 <= y < r1]
        strips.append(_Strip(r0, r1, e0, e1, up_y[e0:e1, c0:c1].float().contiguous(), c0, c1,
                             (fix[0], fix[-1] + 1) if fix else None))
    down = (_resize_matrix(_SMALL, h, "area").float(), _resize_matrix(_SMALL, w, "area").t().float().contiguous())
    return _Plan(max(s.r1 - s.r0 for s in strips), up_x.t().float().contiguous(), down,
                 _blur_1d(_SMALL, 3), bend_x.t().float().contiguous(), first.long(), second.float()[:, None],
                 src_y.float()[:, None], ramp_error.float()[:, None], tuple(strips))


class _Buffers:
    """Work buffers for one strip height, reused across strips, pictures and calls (per thread)."""

    def __init__(self, rows: int, size: int):
        self.key = (rows, size)
        self.up = torch.empty(rows + 2, size)
        self.dark, self.width, self.half, self.ink, self.ink2, self.tmp, self.gx, self.gy = (
            torch.empty(rows, size) for _ in range(8))


_local = threading.local()


def _buffers(rows: int, size: int) -> _Buffers:
    buf = getattr(_local, "buffers", None)
    if buf is None or buf.key != (rows, size):
        buf = _Buffers(rows, size)
        if rows * size <= 2 * _STRIP_PIXELS:  # keep the usual ones for the next call (a few MB)
            _local.buffers = buf
    return buf


def _c(value: float) -> torch.Tensor:
    return torch.tensor(value, dtype=torch.float32)


@dataclass
class _Family:
    """One family of hatching lines for one picture: the line phase at the bend field's 64 rows."""

    at_rows: torch.Tensor  # (64, size) phase at the bend-field rows
    step: torch.Tensor  # (64, size) phase difference to the next row (0 after the last)
    slope_y: float  # phase per pixel down the picture
    width: float  # full line width at full amount, px
    width_t: torch.Tensor
    half_width: float


def _family(bend_x: torch.Tensor, plan: _Plan, angle: float, pitch: float, bend: float, width: float,
            size: int) -> _Family:
    coords = torch.arange(size, dtype=torch.float32) + 0.5
    slope_x, slope_y = math.cos(angle) / pitch, math.sin(angle) / pitch
    # phase = (x cos a + y sin a) / pitch + bend * 2.5 * height; all linear in y, so blending these rows
    # bilinearly gives every output row its phase
    at_rows = bend_x * bend + (coords * slope_x)[None] + plan.src_y * slope_y
    step = torch.zeros_like(at_rows)
    torch.sub(at_rows[1:], at_rows[:-1], out=step[:-1])
    return _Family(at_rows, step, slope_y, width, _c(width), 0.5 * width)


def _hatch(out: torch.Tensor, amount: torch.Tensor, fam: _Family, plan: _Plan, s: _Strip, pitch: float,
           buf: _Buffers, n: int, one_half: torch.Tensor) -> None:
    """out = coverage of the family's lines, `width` * amount px wide: anti-aliased, hairlines fading."""
    rows = plan.blend_row[s.r0:s.r1]
    torch.index_select(fam.at_rows, 0, rows, out=out)
    tmp = buf.tmp[:n]
    out.addcmul_(torch.index_select(fam.step, 0, rows, out=tmp), plan.blend_w[s.r0:s.r1])
    if s.fix is not None:  # the blend holds the line ramp still at the edges; give those rows theirs
        out[s.fix[0] - s.r0:s.fix[1] - s.r0].add_(plan.ramp_error[s.fix[0]:s.fix[1]] * fam.slope_y)
    torch.round(out, out=tmp)
    out.sub_(tmp).abs_()  # distance to the nearest line centre, in pitches
    half = torch.add(one_half, amount, alpha=fam.half_width, out=buf.half[:n])  # half width + 0.5 px
    torch.add(half, out, alpha=-pitch, out=out).clamp_(0, 1)
    out.mul_(torch.mul(amount, fam.width_t, out=buf.width[:n]).clamp_(max=1))  # hairlines fade


def _engrave_strips(tone: torch.Tensor, style: EngraveStyle, size: int) -> torch.Tensor:
    b, h, w = tone.shape
    plan = _plan(size, h, w)
    scale = size / _REF
    pitch = style.spacing * scale
    k = 1 / (1 - _PAPER)
    a = math.radians(style.angle)
    thr = style.cross_threshold
    c = {"one": _c(1.0), "one_half": _c(0.5), "white": _c(255.5), "cross0": _c(-thr / max(1 - thr, 1e-3)),
         "level": _c(1 - 2.5 * _PAPER), "eps": _c(2e-6), "reach": _c(0.5 * style.outline * scale + 0.5),
         "strength0": _c(-0.5)}
    buf = _buffers(plan.rows, size)
    out = torch.empty(b, size, size, dtype=torch.uint8)
    out_np = out.numpy()
    for i in range(b):
        t = tone[i]
        t_up = t @ plan.up_x_t  # (h, size): bicubic along x
        # bend field: darkness at 64x64, blurred, bilinear along x; its rows blend per strip
        dark_small = t.mul(-k).add_(1.0).clamp_(0, 1)  # (1 - t - paper) / (1 - paper)
        small = plan.down[0] @ dark_small @ plan.down[1]
        bend_x = (plan.blur @ small @ plan.blur.t()) @ plan.bend_x_t
        main = _family(bend_x, plan, a, pitch, style.bend * 2.5, pitch, size)
        crossing = _family(bend_x, plan, a + math.pi / 2, pitch, style.bend * 2.5 * 0.6, 0.8 * pitch, size) \
            if thr < 1 else None
        for s in plan.strips:
            n = s.r1 - s.r0
            up_ext = buf.up[: s.e1 - s.e0]
            torch.mm(s.up_rows, t_up[s.c0:s.c1], out=up_ext).clamp_(0, 1)
            o = s.r0 - s.e0
            up = up_ext[o:o + n]
            dark = torch.add(c["one"], up, alpha=-k, out=buf.dark[:n]).clamp_(min=0)
            ink = buf.ink[:n]
            darkest = float(dark.max())
            if darkest > 0:  # (else no ink from the hatching: its line width is zero everywhere)
                _hatch(ink, dark, main, plan, s, pitch, buf, n, c["one_half"])
                if crossing is not None and darkest > thr:
                    cross = torch.add(c["cross0"], dark, alpha=1 / max(1 - thr, 1e-3), out=buf.dark[:n])
                    ink2 = buf.ink2[:n]
                    _hatch(ink2, cross.clamp_(0, 1), crossing, plan, s, pitch, buf, n, c["one_half"])
                    torch.maximum(ink, ink2, out=ink)
            else:
                ink.zero_()
            if style.outline > 0:
                _outline(ink, up_ext, o, n, s.r0 == 0, s.r1 == size, size, buf, c)
            torch.add(c["white"], ink, alpha=-255, out=ink)  # paper minus ink; +0.5 so the cast rounds
            np.copyto(out_np[i, s.r0:s.r1], ink.numpy(), casting="unsafe")  # (numpy's cast is ~3x torch's)
    return out


def _outline(ink: torch.Tensor, up_ext: torch.Tensor, o: int, n: int, top: bool, bottom: bool, size: int,
             buf: _Buffers, c: dict[str, torch.Tensor]) -> None:
    """ink = max(ink, outline): iso-contour of the tone at `level`, distance ≈ |t - level| / |grad t|."""
    up = up_ext[o:o + n]
    gx, gy = buf.gx[:n], buf.gy[:n]
    # doubled central differences (one-sided, times two, at the picture's edges), as torch.gradient
    torch.sub(up[:, 2:], up[:, :-2], out=gx[:, 1:-1])
    torch.sub(up[:, 1:2], up[:, 0:1], out=gx[:, 0:1]).mul_(2)
    torch.sub(up[:, -1:], up[:, -2:-1], out=gx[:, -1:]).mul_(2)
    lo, hi = int(top), n - int(bottom)
    torch.sub(up_ext[o + lo + 1:o + hi + 1], up_ext[o + lo - 1:o + hi - 1], out=gy[lo:hi])
    if top:
        torch.sub(up[1], up[0], out=gy[0]).mul_(2)
    if bottom:
        torch.sub(up[-1], up[-2], out=gy[-1]).mul_(2)
    grad = gx.mul_(gx).addcmul_(gy, gy)
    np.sqrt(grad.numpy(), out=grad.numpy())  # twice the gradient's length (torch's sqrt is slow at zeros)
    if not float(grad.max()) * size > 6:
        return  # no edge strong enough for an outline anywhere in this strip (strength is 0)
    dist = torch.sub(up, c["level"], out=buf.tmp[:n]).abs_().div_(torch.add(grad, c["eps"], out=gy))
    outline = torch.add(c["reach"], dist, alpha=-2, out=dist).clamp_(0, 1)  # (half width + 0.5) - distance
    # only real edges (a silhouette changes tone by ~0.5 over ~1/40 of the picture), not shading
    outline.mul_(torch.add(c["strength0"], grad, alpha=size / 12, out=grad).clamp_(0, 1))
    torch.maximum(ink, outline, out=ink)


@torch.no_grad()
def _engrave_batched(tone: torch.Tensor, style: EngraveStyle, size: int) -> torch.Tensor:
    """The renderer as whole-batch tensor ops (the reference; used on GPUs, where it is fast as it is)."""
    up = F.interpolate(tone[:, None], size=(size, size), mode="bicubic", align_corners=False)[:, 0].clamp(0, 1)

    scale = size / _REF
    pitch = style.spacing * scale
    dark = ((1 - up - _PAPER) / (1 - _PAPER)).clamp(0, 1)

    # bending: treat blurred darkness as a height field and shift the line phase by it
    small = F.interpolate(((1 - tone - _PAPER) / (1 - _PAPER)).clamp(0, 1)[:, None], size=(64, 64),
                          mode="area")[:, 0]
    height = F.interpolate(_blur(small, 3)[:, None], size=(size, size), mode="bilinear",
                           align_corners=False)[:, 0]

    coords = (torch.arange(size, dtype=torch.float32, device=tone.device) + 0.5)
    y, x = coords[:, None], coords[None, :]
    a = math.radians(style.angle)
    shift = style.bend * 2.5 * pitch * height
    phase1 = (x * math.cos(a) + y * math.sin(a) + shift) / pitch
    phase2 = (x * math.cos(a + math.pi / 2) + y * math.sin(a + math.pi / 2) + 0.6 * shift) / pitch

    thr = style.cross_threshold
    cross = ((dark - thr) / max(1 - thr, 1e-3)).clamp(0, 1) if thr < 1 else torch.zeros_like(dark)
    # main family: coverage ≈ darkness; crossing family only in dark tones
    ink = torch.maximum(_line_ink(phase1, 0.5 * pitch * dark, pitch),
                        _line_ink(phase2, 0.5 * pitch * cross * 0.8, pitch))

    if style.outline > 0:
        # iso-contour of the tone near the paper: distance in pixels ≈ |t - level| / |grad t|
        gy, gx = torch.gradient(up, dim=(1, 2))
        grad = torch.sqrt(gx * gx + gy * gy)
        level = 1 - 2.5 * _PAPER
        dist = (up - level).abs() / (grad + 1e-6)
        # only real edges (a silhouette changes tone by ~0.5 over ~1/40 of the picture), not shading
        strength = ((grad * size - 3) / 6).clamp(0, 1)
        outline = ((0.5 * style.outline * scale - dist + 0.5).clamp(0, 1)) * strength
        ink = torch.maximum(ink, outline)

    return ((1 - ink) * 255).round().to(torch.uint8)
