"""A sheet of what the variety slider does (README): one row per seed, one column per variety.

    python scripts/variety_strip.py OUT.png [--model F] [--seeds 0 1 3 8 11 1004] [--varieties 0 0.5 1 1.5 2]
"""

from __future__ import annotations

import argparse
import sys

from artgen_desktop.engine import Engine, Settings
from trainer.sheets import contact_sheet


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--model")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 3, 8, 11, 1004])
    ap.add_argument("--varieties", type=float, nargs="+", default=[0.0, 0.5, 1.0, 1.5, 2.0])
    a = ap.parse_args(argv)
    engine = Engine.load(a.model, device="cpu")
    images, captions = [], []
    for seed in a.seeds:
        for v in a.varieties:
            r = engine.generate([seed], Settings(size=256, variety=v, temperature=0))[0]
            images.append(r.image)
            captions.append(f"seed {seed}, variety {v:g}: {r.caption}")
    contact_sheet(images, captions, cols=len(a.varieties), cell=128).convert("L").save(a.out, optimize=True)
    print(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
