"""The seed atlas (engine/atlas.py, issue 14): build time, time until the first 1,000 seeds are searchable,
size on disk, and query latency (p95) by words and by likeness.

A real run builds the 100,000-seed atlas the issue's targets name (its build target is ten minutes) into
the bench's temporary folder, in batches of atlas.BUILD_BATCH; --quick builds 256 seeds of whatever model
it has.
"""

from __future__ import annotations

import os
import random
import time

from .common import CpuWatch, Options, percentile, say, target, write_result


def _size_mb(path) -> float:
    return sum(os.path.getsize(p) for p in (str(path), f"{path}-wal") if os.path.exists(p)) / 1e6


COLOURS = frozenset("red orange yellow green blue purple pink brown black white grey gray".split())


def common_words(engine, n: int, things: bool = False) -> list[str]:
    """The model's n most frequent content words (the vocabulary is stored most frequent first); with
    `things`, without colour names, which a grey engraving cannot show (the search quality count)."""
    from artgen_desktop.engine.atlas import STOP_WORDS
    from artgen_desktop.engine.tokenizer import SPECIALS
    return [w for w in engine.tokenizer.words if w not in SPECIALS and w.isalpha() and len(w) >= 3
            and w not in STOP_WORDS and not (things and w in COLOURS)][:n]


def run(opts: Options) -> dict:
    import torch

    from artgen_desktop.engine import Engine
    from artgen_desktop.engine.atlas import BUILD_BATCH, Atlas, iter_build, like_seed, search_words
    engine = Engine.load(opts.model, device=opts.device)
    seeds = 256 if opts.quick else 100_000
    path = opts.workdir / "atlas" / "bench.sqlite"
    for p in (path, f"{path}-wal", f"{path}-shm"):
        if os.path.exists(p):
            os.remove(p)
    watch = CpuWatch()
    with Atlas.for_engine(engine, path) as atlas:
        t0 = time.perf_counter()
        first = None
        for p in iter_build(engine, atlas, range(seeds), BUILD_BATCH):
            if first is None and p.done >= min(1000, seeds):
                first = time.perf_counter() - t0
        build_s = time.perf_counter() - t0
        atlas.con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size_mb = _size_mb(path)
        build_other = watch.stop()

        words = common_words(engine, 20)
        rng = random.Random(0)
        watch = CpuWatch()
        search_words(engine, atlas, words[0], limit=24)  # warm-up: loads the latents into memory
        word_ms = []
        for _ in range(1 if opts.quick else 3):
            for w in words:
                t = time.perf_counter()
                search_words(engine, atlas, w, limit=24)
                word_ms.append((time.perf_counter() - t) * 1000)
        like_ms = []
        for s in rng.sample(range(seeds), 10 if opts.quick else 100):
            t = time.perf_counter()
            like_seed(engine, atlas, s, limit=24)
            like_ms.append((time.perf_counter() - t) * 1000)
        query_other = watch.stop()
    figures = {
        "seeds": seeds, "device": opts.device, "torch_threads": torch.get_num_threads(),
        "build_s": round(build_s, 1), "seeds_per_s": round(seeds / build_s, 1),
        "first_1000_searchable_s": round(first or build_s, 2),
        "size_mb": round(size_mb, 2), "size_mb_per_100k": round(size_mb * 100_000 / seeds, 1),
        "words": words,
        "words_ms": {"p50": round(percentile(word_ms, 50), 1), "p95": round(percentile(word_ms, 95), 1)},
        "like_ms": {"p50": round(percentile(like_ms, 50), 1), "p95": round(percentile(like_ms, 95), 1)},
        "other_processes_cores": {"build": build_other, "queries": query_other},
        "method": f"iter_build over seeds 0..{seeds - 1} in batches of {BUILD_BATCH} (latents + greedy captions, no "
                  "images) into a fresh atlas; then search_words for the model's 20 most frequent content words "
                  "(limit 24) and like_seed for random seeds (limit 24), after one warm-up query",
    }
    say(f"atlas: {seeds} seeds in {build_s:.0f} s ({figures['seeds_per_s']:.0f}/s; first 1,000 searchable after "
        f"{figures['first_1000_searchable_s']:.1f} s), {size_mb:.1f} MB; words p95 "
        f"{figures['words_ms']['p95']:.0f} ms, likeness p95 {figures['like_ms']['p95']:.0f} ms")
    targets = {
        "build_s": target(build_s * 100_000 / seeds, "<=", 600, "s for 100,000 seeds"),
        "first_1000_searchable_s": target(figures["first_1000_searchable_s"], "<=", 10, "s"),
        "size_mb_per_100k": target(figures["size_mb_per_100k"], "<=", 60, "MB"),
        "words_p95_ms": target(figures["words_ms"]["p95"], "<=", 100, "ms"),
        "like_p95_ms": target(figures["like_ms"]["p95"], "<=", 200, "ms"),
    }
    write_result(opts, "atlas", figures, targets, opts.device)
    return figures
