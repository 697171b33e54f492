"""docs/styles_sheet.png (the same 8 seeds in every print style, and the engraving with its hatching
following the forms) and two example SVGs, one for a pen plotter, made with the bundled model.
Run: python scripts/make_style_sheet.py [--out docs]"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from PIL import Image, ImageDraw

from artgen_desktop.engine import Engine, EngraveStyle, Settings
from artgen_desktop.engine.fileio import write_bytes_atomic
from artgen_desktop.engine.plotter import parse_page
from artgen_desktop.engine.styles import MODULES
from artgen_desktop.engine.svg import render_svg

SEEDS = list(range(8))
CELL = 256  # the smallest output size: each cell is a real render, not a reduction
LABEL_W = 96


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="docs")
    out = Path(ap.parse_args().out)
    engine = Engine.load(device="cpu")
    rows = [(mode, EngraveStyle(mode=mode)) for mode in MODULES]
    rows.insert(1, ("engraving\nfollow 1", EngraveStyle(follow=1.0)))  # (an option shown beside its style)
    sheet = Image.new("L", (LABEL_W + CELL * len(SEEDS), CELL * len(rows)), 255)
    draw = ImageDraw.Draw(sheet)
    for row, (label, style) in enumerate(rows):
        settings = Settings(temperature=0.0, size=CELL, style=style)
        for col, r in enumerate(engine.generate(SEEDS, settings, batch_size=8)):
            sheet.paste(r.image, (LABEL_W + col * CELL, row * CELL))
        draw.multiline_text((8, row * CELL + CELL // 2 - 6), label, fill=0)
    buf = io.BytesIO()  # 16 greys (4-bit): anti-aliasing survives, the file is about half the size
    sheet.point(lambda v: round(v / 17) * 17).quantize(16, dither=Image.Dither.NONE).save(
        buf, format="PNG", optimize=True, bits=4)
    write_bytes_atomic(out / "styles_sheet.png", buf.getvalue())

    seed = SEEDS[3]
    picture = engine.generate([seed], Settings(temperature=0.0, style=EngraveStyle(mode="engraving")))[0]
    data, _ = render_svg(picture.tone, picture.settings, picture.metadata, image=picture.image)
    write_bytes_atomic(out / "example_engraving.svg", data)
    data, plot = render_svg(picture.tone, picture.settings, picture.metadata, parse_page("A4", margin=20, pen=0.3))
    write_bytes_atomic(out / "example_plotter_a4.svg", data)
    print(f"plotter: {plot.paths} paths, pen-up travel {plot.travel_before / 1000:.1f} m -> "
          f"{plot.travel_after / 1000:.1f} m")


if __name__ == "__main__":
    main()
