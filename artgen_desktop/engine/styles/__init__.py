"""The print styles behind one interface. Each module has NAME and

    render_png(tone, style, size) -> (size, size) uint8   (paper 255, ink 0)
    render_paths(tone, style, size) -> Geometry             (strokes with widths, dots; px)

with `tone` one (h, w) float array in [0, 1] (1 = paper) and `style` an EngraveStyle whose fields for the
style's parameters are checked against engine/params.py. Both are deterministic and draw from the same
rules, so the SVG (engine/svg.py) rasterised back matches the PNG. The raw tone view has no geometry.
"""

from __future__ import annotations

from . import contour, crosshatch, engraving, stipple, woodcut
from .common import Geometry, Stroke

MODULES = {m.NAME: m for m in (engraving, crosshatch, stipple, woodcut, contour)}

__all__ = ["MODULES", "Geometry", "Stroke", "render_paths", "render_png"]


def render_png(tone, style, size: int):
    return MODULES[style.mode].render_png(tone, style, size)


def render_paths(tone, style, size: int) -> Geometry:
    if style.mode not in MODULES:
        from ..errors import ArtGenError
        raise ArtGenError(f"the {style.mode} view has no lines to write as vectors")
    return MODULES[style.mode].render_paths(tone, style, size)
