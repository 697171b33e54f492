"""Seeds as the user gives them: one integer, or ranges like "0-99,120". No torch: the CLI checks seeds
before it loads a model (sampling.py turns a seed into noise)."""

from __future__ import annotations

import numpy as np

from .errors import SeedError

MAX_SEED = 2**63


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise SeedError(f"seed must be an integer, not {seed!r}")
    seed = int(seed)
    if not 0 <= seed < MAX_SEED:
        raise SeedError(f"seed {seed} is outside 0 … 2**63-1")
    return seed


def parse_seeds(text: str) -> list[int]:
    """'0-99', '5', '1,2,10-12' -> list of seeds, in order, duplicates kept once."""
    seeds: list[int] = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            a = int(lo)
            b = int(hi) if sep else a
        except ValueError:
            raise SeedError(f"bad seed range {part!r}: use numbers like 7, 0-99 or 1,5,9") from None
        check_seed(a)
        check_seed(b)
        if b < a:
            raise SeedError(f"bad seed range {part!r}: the end is before the start")
        if b - a >= 10_000_000:
            raise SeedError(f"seed range {part!r} is too long (at most 10 million seeds at once)")
        seeds.extend(range(a, b + 1))
    if not seeds:
        raise SeedError("no seeds given")
    return list(dict.fromkeys(seeds))
