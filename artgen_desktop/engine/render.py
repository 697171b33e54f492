"""The engraving renderer: tone image -> black hatching on white paper. Deterministic, no learning.

A tone image holds light and shade only (1.0 = white paper). The renderer draws:
- a family of parallel lines whose width follows darkness (so ink coverage ~ darkness),
- a second, crossing family where the tone is darker than `cross_threshold`,
- lines displaced by a smoothed darkness "height field", so they bend over forms,
- outlines along iso-contours of the tone (silhouettes), drawn with a constant pixel width.
Sizes are given for a 512 px output and scale with it, so a picture looks the same at any size.
Everything is vectorised torch over a batch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F

MODES = ("engraving", "tone")
_REF = 512.0  # sizes in EngraveStyle are pixels at this output size
_PAPER = 0.06  # darkness below this stays paper-white, so flat white tone never gets ink


@dataclass(frozen=True)
class EngraveStyle:
    spacing: float = 6.0  # line pitch, px at 512
    angle: float = 35.0  # degrees of the main hatching
    cross_threshold: float = 0.55  # darkness above which cross-hatching starts (0..1)
    outline: float = 1.6  # outline width, px at 512; 0 = none
    bend: float = 1.0  # how far lines follow forms (0 = straight)
    mode: str = "engraving"  # or "tone": the raw tone image, upsampled

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"style mode must be one of {MODES}, not {self.mode!r}")
        if not 1.5 <= self.spacing <= 64:
            raise ValueError(f"line spacing {self.spacing} is outside 1.5–64")
        if not 0 <= self.cross_threshold <= 1:
            raise ValueError(f"cross-hatch threshold {self.cross_threshold} is outside 0–1")
        if not 0 <= self.outline <= 16:
            raise ValueError(f"outline width {self.outline} is outside 0–16")
        if not 0 <= self.bend <= 4:
            raise ValueError(f"bend {self.bend} is outside 0–4")
        if not math.isfinite(self.angle):
            raise ValueError("angle must be a finite number")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> EngraveStyle:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def describe(self) -> str:
        if self.mode == "tone":
            return "tone"
        return (f"engraving (spacing {self.spacing:g}, angle {self.angle:g}, cross {self.cross_threshold:g}, "
                f"outline {self.outline:g}, bend {self.bend:g})")


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
    up = F.interpolate(tone[:, None], size=(size, size), mode="bicubic", align_corners=False)[:, 0].clamp(0, 1)
    if style.mode == "tone":
        return (up * 255).round().to(torch.uint8)

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
