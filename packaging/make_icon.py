"""Draws the app icon, resources/icons/artgen.png: a hatched sphere on a paper tile, in the app's ink colours.

    python packaging/make_icon.py [OUT.png]

Drawn at 4x and reduced, so the hatching is anti-aliased. The PNG is committed; rerun this only to change it.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw

SIZE = 256
PAPER, INK, EDGE = (243, 241, 236, 255), (29, 27, 24, 255), (138, 90, 43, 255)


def draw_icon(size: int = SIZE) -> Image.Image:
    s = 4 * size
    tile = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(tile)
    d.rounded_rectangle([s * 0.03, s * 0.03, s * 0.97, s * 0.97], radius=s * 0.16, fill=PAPER,
                        outline=EDGE, width=int(s * 0.035))

    # a sphere lit from the upper left: line spacing shrinks (the tone darkens) away from the light
    cx, cy, r = s * 0.5, s * 0.52, s * 0.31
    hatch = Image.new("L", (s, s), 0)
    h = ImageDraw.Draw(hatch)
    y = cy - r
    while y < cy + r:
        h.line([(cx - r, y), (cx + r, y)], fill=255, width=int(s * 0.012))
        y += s * 0.028
    light = Image.new("L", (s, s), 0)
    px = light.load()
    lx, ly = cx - r * 0.45, cy - r * 0.5
    for yy in range(int(cy - r), int(cy + r) + 1, 2):
        for xx in range(int(cx - r), int(cx + r) + 1, 2):
            if (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r:
                dark = min(1.0, math.hypot(xx - lx, yy - ly) / (1.6 * r))
                v = 255 if dark > 0.35 else 0
                for oy in (0, 1):
                    for ox in (0, 1):
                        if xx + ox < s and yy + oy < s:
                            px[xx + ox, yy + oy] = v
    # cross-hatching in the deepest shadow
    cross = Image.new("L", (s, s), 0)
    c = ImageDraw.Draw(cross)
    for k in range(-40, 40):
        x0 = cx + k * s * 0.03
        c.line([(x0 - r, cy - r), (x0 + r, cy + r)], fill=255, width=int(s * 0.01))
    shadow = Image.new("L", (s, s), 0)
    ImageDraw.Draw(shadow).ellipse([cx - r * 0.55, cy - r * 0.2, cx + r * 1.5, cy + r * 1.6], fill=255)
    disc = Image.new("L", (s, s), 0)
    ImageDraw.Draw(disc).ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)

    strokes = ImageChops.lighter(ImageChops.multiply(hatch, light),
                                 ImageChops.multiply(ImageChops.multiply(cross, shadow), disc))
    tile.paste(Image.new("RGBA", (s, s), INK), mask=strokes)
    ImageDraw.Draw(tile).ellipse([cx - r, cy - r, cx + r, cy + r], outline=INK, width=int(s * 0.014))
    # the ground line the sphere rests on
    ImageDraw.Draw(tile).line([(s * 0.16, cy + r + s * 0.04), (s * 0.84, cy + r + s * 0.04)], fill=INK,
                              width=int(s * 0.014))
    return tile.resize((size, size), Image.Resampling.LANCZOS)


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else Path(__file__).resolve().parents[1] / "resources" / "icons" / "artgen.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    draw_icon().save(out, optimize=True)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
