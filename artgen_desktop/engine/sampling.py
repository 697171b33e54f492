"""Seeds, noise and the randomness of generation, all derived from the seed (never global RNG).

Noise is drawn on the CPU from a generator seeded by the seed alone, so a seed means the same
latent on any machine and in any batch; the caption sampler gets its own generator per seed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch

from .seeds import check_seed

EASINGS = ("linear", "ease-in-out", "ease-in", "ease-out")


def _derived(seed: int, stream: int) -> int:
    """An independent 63-bit seed for one use (stream) of a user seed."""
    return int(np.random.SeedSequence([seed, stream]).generate_state(1, dtype=np.uint64)[0] >> 1)


def seed_noise(seeds: Iterable[int], dim: int) -> torch.Tensor:
    """(B, dim) standard normal noise, row i a function of seeds[i] only."""
    rows = [torch.randn(dim, generator=torch.Generator().manual_seed(check_seed(s))) for s in seeds]
    return torch.stack(rows)


def caption_generators(seeds: Iterable[int]) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(_derived(check_seed(s), 1)) for s in seeds]


def ease(t: float, easing: str) -> float:
    if easing == "linear":
        return t
    if easing == "ease-in-out":
        return t * t * (3 - 2 * t)
    if easing == "ease-in":
        return t * t
    if easing == "ease-out":
        return 1 - (1 - t) ** 2
    raise ValueError(f"easing must be one of {', '.join(EASINGS)}, not {easing!r}")


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation of two noise vectors: stays on the shell where N(0, I) samples live."""
    an, bn = a / a.norm(), b / b.norm()
    omega = torch.arccos((an * bn).sum().clamp(-1, 1))
    if omega.abs() < 1e-4:
        return (1 - t) * a + t * b
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def interpolation_times(frames: int, easing: str) -> list[float]:
    if frames < 2:
        raise ValueError("an interpolation needs at least 2 frames")
    return [ease(i / (frames - 1), easing) for i in range(frames)]


def sample_tokens(logits: torch.Tensor, temperature: float, gens: Sequence[torch.Generator]) -> torch.Tensor:
    """One token per row: argmax at temperature 0, else inverse-CDF sampling with row i's generator."""
    if temperature <= 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    u = torch.cat([torch.rand(1, generator=g, dtype=torch.float64) for g in gens]).to(probs.device)
    cdf = probs.double().cumsum(-1)
    cdf = cdf / cdf[:, -1:]
    idx = torch.searchsorted(cdf, u[:, None], right=True).squeeze(1)  # never a zero-probability token
    return idx.clamp(max=logits.shape[-1] - 1)
