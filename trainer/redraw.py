"""The stored latents of `--finetune decoder-prior`: trained together with the image decoder.

A seed lands within the kernel prior's bandwidth of a stored latent, not on it, and the jointly trained
decoder was taught a smaller latent noise: there it draws softer than at the latent itself. The encoder's
single pass also loses detail the decoder could draw (a latent moved by gradient descent on its own
drawing's reconstruction redraws it more faithfully). This stage works on both at once: each stored latent
is a free row of a table, and every step moves the decoder and a batch of rows on the reconstruction of
the rows' drawings from latents with noise as far as the prior strays. The caption decoder is frozen and
reads the same noisy latents, so a row keeps its words (the mode refuses a dataset with words the
model does not know: their embeddings would stay random).

A row is updated only when its drawing is in the batch, so each row has its own Adam moments and step
count (a shared optimizer would keep moving idle rows on stale momentum).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from artgen_desktop.engine.model import on_sphere

LATENT_LR = 0.1  # Adam on a stored latent, in units of the latent's RMS (1), at the peak of the schedule
NOISE_REACH = 1.25  # training noise reaches this many prior bandwidths: variety up to 1.25 stays drawn
ADAM_BETAS = (0.9, 0.999)


class LatentTable(nn.Module):
    """rows stored latents, on the encoder's sphere: latents[r] draws item items[r] (mirrored where
    mirrored[r]). Everything is a buffer, so a checkpoint carries the rows, their optimizer moments and
    whether they were filled."""

    def __init__(self, rows: int, latent_dim: int):
        super().__init__()
        self.register_buffer("latents", torch.zeros(rows, latent_dim))
        self.register_buffer("items", torch.zeros(rows, dtype=torch.long))
        self.register_buffer("mirrored", torch.zeros(rows, dtype=torch.bool))
        self.register_buffer("spread", torch.ones(latent_dim))  # per-dimension std of the rows when filled
        self.register_buffer("moment1", torch.zeros(rows, latent_dim))
        self.register_buffer("moment2", torch.zeros(rows, latent_dim))
        self.register_buffer("updates", torch.zeros(rows))
        self.register_buffer("filled", torch.zeros((), dtype=torch.bool))

    def fill(self, latents: torch.Tensor, items: torch.Tensor, mirrored: torch.Tensor) -> None:
        if latents.shape != self.latents.shape:
            raise ValueError(f"latent table holds {tuple(self.latents.shape)}, got {tuple(latents.shape)}")
        self.latents.copy_(on_sphere(latents.float()))
        self.items.copy_(items)
        self.mirrored.copy_(mirrored)
        self.spread.copy_(self.latents.std(0).clamp(min=1e-3))
        self.moment1.zero_()
        self.moment2.zero_()
        self.updates.zero_()
        self.filled.fill_(True)

    @torch.no_grad()
    def adam_step(self, rows: torch.Tensor, grad: torch.Tensor, lr: float) -> None:
        """One Adam step for these rows alone; grad (len(rows), latent_dim) is each row's own gradient.
        Rows must be distinct (a batch is a slice of a permutation)."""
        b1, b2 = ADAM_BETAS
        self.updates[rows] += 1
        t = self.updates[rows, None]
        m = self.moment1[rows].mul_(b1).add_(grad, alpha=1 - b1)
        v = self.moment2[rows].mul_(b2).addcmul_(grad, grad, value=1 - b2)
        self.moment1[rows], self.moment2[rows] = m, v
        step = (m / (1 - b1**t)) / ((v / (1 - b2**t)).sqrt() + 1e-8)
        self.latents[rows] = on_sphere(self.latents[rows] - lr * step)
