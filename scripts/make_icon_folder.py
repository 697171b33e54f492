"""Make an artist-style training folder from an Iconify icon-set tarball (`npm pack @iconify-json/NAME`):

    python scripts/make_icon_folder.py iconify-json-healthicons-1.2.13.tgz OUT_DIR \
        [--categories Body,Devices,...] [--limit 500] [--license MIT]

Each kept icon (no -outline / -negative variants, a plain English name) becomes a 512 px engraving with
its name as the caption, written as OUT_DIR/images/*.png + metadata.jsonl: the folder layout the
trainer and the fine-tune dialog read. This is how the README's fine-tune example set was made.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from trainer import build_default as bd
from trainer import captions as cap


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tarball", type=Path)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--categories", default="", help="comma-separated metadata.json categories (default: all)")
    ap.add_argument("--limit", type=int, default=500)
    ap.add_argument("--license", default="see the package")
    a = ap.parse_args(argv)
    cache = bd.default_cache_dir()
    wl_root = bd.fetch_package(bd.PACKAGES["wamerican"], cache)
    wl = cap.WordList.from_lines((wl_root / bd.WORDS_FILE).read_text(encoding="utf-8").splitlines())
    icons, meta = bd.read_icon_tarball(a.tarball)
    keep = frozenset(c for c in a.categories.split(",") if c) or None
    spec = bd.IconSet(a.tarball.name, "", "", a.license, a.tarball.name, keep)
    svg_dir = a.out_dir / ".svg"
    cands = [c for c in bd.icon_candidates(a.tarball.stem, spec, icons, meta, svg_dir, wl)
             if c.excluded is None and not any(v in c.key for v in ("-outline", "-negative", "px"))]
    rows, seen = [], set()
    (a.out_dir / "images").mkdir(parents=True, exist_ok=True)
    for c in cands:
        if len(rows) >= a.limit or c.text in seen:  # one drawing per caption: the folder's subjects
            continue
        r = bd.render_candidate((c.key, c.path))
        if r.reason:
            continue
        name = f"images/{c.key.split('/')[-1]}.png"
        bd.engrave_and_write((str(a.out_dir / name), r.gray.tobytes(), r.gray.shape, spec.ink_cap))
        rows.append({"file_name": name, "text": c.text, "license": a.license})
        seen.add(c.text)
    (a.out_dir / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"{len(rows)} pictures -> {a.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
