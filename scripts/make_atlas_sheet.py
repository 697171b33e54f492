"""A results sheet for one atlas search (docs/), and a caption-based quality proxy for common words.

    python scripts/make_atlas_sheet.py cat --seeds 0-99999 --out docs/atlas_search_cat.png
    python scripts/make_atlas_sheet.py --like 1418 --seeds 0-1999 --out /tmp/like.png
    python scripts/make_atlas_sheet.py --quality --seeds 0-1999 [--sheets DIR]
    python scripts/make_atlas_sheet.py --judged docs/atlas_judged_b10dfc30a4.json --seeds 0-99999

The atlas is the model's own (engine/atlas.py; --db for another file) and is built first for the seeds
that are missing. --quality prints, for the model's 20 most frequent content words that are not colour
names, the share of the top 24 results whose greedy caption holds the word: a proxy for "shows the thing"
(a person has to look at the sheets for the real figure), bounded by how many seeds of the atlas have the
word at all, and how many different pictures the results show (engine/atlas.py picture_groups); with
--sheets, one results sheet per word in DIR to count them by eye. --judged FILE counts the real figure from
pictures a person judged once (the FILE's "how"): each result counts as the judged picture it redraws, and
a result that redraws none as not showing the word (printed as "unjudged"), for "counted" and "tuning",
with the best any ranking of the seeds whose caption holds the word could reach.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from artgen_desktop.engine import Engine, Settings, parse_seeds  # noqa: E402
from artgen_desktop.engine.atlas import (  # noqa: E402
    SAME_PICTURE,
    Atlas,
    build,
    like_seed,
    picture_groups,
    search_words,
)
from artgen_desktop.engine.fileio import atomic_path  # noqa: E402
from artgen_desktop.engine.tokenizer import split_words  # noqa: E402

COLUMNS, ROWS, THUMB = 6, 4, 128


def _wrap(text: str, draw: ImageDraw.ImageDraw, font, width: int, lines: int = 2) -> list[str]:
    out, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if draw.textlength(trial, font=font) <= width or not line:
            line = trial
        else:
            out.append(line)
            line = word
    out.append(line)
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1].rstrip(".") + "…"
    return out


def sheet(engine: Engine, hits, query: str, atlas_size: int) -> Image.Image:
    results = engine.generate([h.seed for h in hits], Settings(temperature=0.0, size=256), batch_size=8)
    try:
        font = ImageFont.truetype("DejaVuSansCondensed.ttf", 10)
    except OSError:  # (not on every system)
        font = ImageFont.load_default()
    cell_w, cell_h, top = THUMB + 8, THUMB + 40, 24
    im = Image.new("L", (COLUMNS * cell_w + 8, top + ROWS * cell_h + 4), 255)
    d = ImageDraw.Draw(im)
    d.text((8, 6), f"artgen search {query}: top {len(hits)} of {atlas_size:,} seeds (model {engine.info.hash})",
           fill=0, font=font)
    for i, r in enumerate(results):
        x, y = 8 + (i % COLUMNS) * cell_w, top + (i // COLUMNS) * cell_h
        im.paste(r.image.resize((THUMB, THUMB), Image.LANCZOS), (x, y))
        d.text((x, y + THUMB + 2), f"seed {r.seed}", fill=110, font=font)
        for k, line in enumerate(_wrap(r.caption, d, font, THUMB)):
            d.text((x, y + THUMB + 13 + 11 * k), line, fill=0, font=font)
    return im


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("query", nargs="?", default="")
    p.add_argument("--model")
    p.add_argument("--db")
    p.add_argument("--like", type=int, metavar="SEED", help="a sheet of the seeds most like SEED")
    p.add_argument("--seeds", default="0-1999")
    p.add_argument("--out", help="the sheet's PNG")
    p.add_argument("--quality", action="store_true")
    p.add_argument("--sheets", help="with --quality: a results sheet per word in this folder")
    p.add_argument("--judged", metavar="FILE", help="the share of the top 24 that show the word, from judged pictures")
    args = p.parse_args()
    engine = Engine.load(args.model, device="cpu")
    with Atlas.for_engine(engine, args.db) as atlas:
        build(engine, atlas, parse_seeds(args.seeds))
        n = len(atlas)
        if (args.query or args.like is not None) and args.out:
            if args.like is not None:
                hits = like_seed(engine, atlas, args.like, limit=COLUMNS * ROWS)
                title = f"--like {args.like}"
            else:
                hits = search_words(engine, atlas, args.query, limit=COLUMNS * ROWS)
                title = f'"{args.query}"'
            with atomic_path(args.out) as tmp:
                sheet(engine, hits, title, n).save(tmp, format="PNG", optimize=True)
            print(f"wrote {args.out}")
        if args.quality:
            from bench.atlas import common_words
            total = []
            for w in common_words(engine, 20, things=True):
                hits = search_words(engine, atlas, w, limit=24)
                held = sum(w in split_words(h.caption) for h in hits)
                have = len(atlas.word_matches([w], 10**6))
                pictures = len(set(picture_groups(atlas.unit(atlas.latents_of([h.seed for h in hits])[1]))))
                total.append(held / len(hits))
                print(f"{w:>12}: {held}/{len(hits)} of the top results say it ({have} seeds of {n:,} do); "
                      f"{pictures} different pictures among them")
                if args.sheets:
                    Path(args.sheets).mkdir(parents=True, exist_ok=True)
                    with atomic_path(Path(args.sheets) / f"{w}.png") as tmp:
                        sheet(engine, hits, f'"{w}"', n).save(tmp, format="PNG", optimize=True)
            print(f"mean: {100 * sum(total) / len(total):.0f} %")
        if args.judged:
            judged(engine, atlas, json.loads(Path(args.judged).read_text()))
    return 0


def _showing(atlas: Atlas, seen: dict, seeds: list[int]) -> tuple[int, int]:
    """How many of `seeds` redraw a judged picture (`seen`) that shows the word, and how many no judged one."""
    found, z_seen = atlas.latents_of(seen["shows"] + seen["not"])
    sims = atlas.unit(atlas.latents_of(seeds)[1]) @ atlas.unit(z_seen).T
    known = sims.max(1) >= SAME_PICTURE
    return int(sum(k and found[i] in seen["shows"] for i, k in zip(sims.argmax(1), known))), int((~known).sum())


def judged(engine, atlas: Atlas, judgements: dict) -> None:
    """Prints, per word and set, how many of the top 24 results show the word (see the module's text)."""
    if judgements["model"] != engine.info.hash:
        raise SystemExit(f"the judgements are for model {judgements['model']}, not {engine.info.hash}")
    for key in ("counted", "tuning"):
        shares, best, pictures, line = [], [], [], []
        for word, seen in judgements[key].items():
            hits = search_words(engine, atlas, word, limit=24)
            shows, unjudged = _showing(atlas, seen, [h.seed for h in hits])
            shares.append(shows / len(hits))
            # the best any ranking of the seeds whose caption holds the word could do
            best.append(min(len(hits), _showing(atlas, seen, atlas.word_matches([word], len(atlas)))[0]) / len(hits))
            pictures.append(len(set(picture_groups(atlas.unit(atlas.latents_of([h.seed for h in hits])[1])))))
            line.append(f"{word} {shows}" + (f" ({unjudged} unjudged)" if unjudged else ""))
        print(f"{key}: {100 * sum(shares) / len(shares):.1f} % of the top 24 show the word "
              f"(at most {100 * sum(best) / len(best):.1f} % from the caption matches); "
              f"{sum(pictures) / len(pictures):.1f} different pictures")
        print("  " + ", ".join(line))


if __name__ == "__main__":
    raise SystemExit(main())
