"""Side-by-side contact sheets of two models on the same seeds (the README's old / new comparison):

    python scripts/compare_models.py OLD.safetensors NEW.safetensors OUT_DIR [--first 0 1000] [--variety 1]

Writes OUT_DIR/compare_seeds_<first>.png: 64 seeds from `first`, the old model's sheet on the left and the
new one's on the right, each picture with its caption, default settings otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from artgen_desktop.engine import Engine, Settings
from trainer.sheets import contact_sheet


def sheet(engine: Engine, first: int, settings: Settings) -> Image.Image:
    results = engine.generate(list(range(first, first + 64)), settings)
    return contact_sheet([r.image for r in results], [f"{r.seed}: {r.caption}" for r in results], cols=8, cell=128)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--first", type=int, nargs="+", default=[0, 1000])
    ap.add_argument("--variety", type=float, default=1.0)
    a = ap.parse_args(argv)
    engines = [(label, Engine.load(path, device="cpu")) for label, path in (("old", a.old), ("new", a.new))]
    settings = Settings(size=256, variety=a.variety)
    font = ImageFont.load_default(size=22)
    a.out_dir.mkdir(parents=True, exist_ok=True)
    for first in a.first:
        sheets = [(f"{label}: {engine.info.name}, seeds {first} to {first + 63}", sheet(engine, first, settings))
                  for label, engine in engines]
        w, h = sheets[0][1].size
        out = Image.new("L", (2 * w + 20, h + 40), "white")  # (the sheets are grey)
        draw = ImageDraw.Draw(out)
        for k, (title, s) in enumerate(sheets):
            out.paste(s, (k * (w + 20), 40))
            draw.text((k * (w + 20) + 8, 8), title, fill="black", font=font)
        path = a.out_dir / f"compare_seeds_{first}.png"
        out.save(path, optimize=True)
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
