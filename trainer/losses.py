"""The autoencoder's losses, in one place (the trainer and bench/training.py both call them).

L1 and MSE alone reward blur on mostly white pictures: a soft edge costs little when most pixels are
paper. Two terms push back, as in the VQGAN recipe (there with a perceptual loss, which needs a
pretrained network we do not have offline):
- an edge term: L1 between the finite-difference gradients of the reconstruction and of the target,
  so a blurred outline costs as much as a missing one;
- an adversarial term (optional): a small patch discriminator judges 8x8-pixel-ish patches of tone
  images as real or reconstructed (hinge loss), and the decoder learns to make patches it cannot tell
  apart, i.e. crisp edges and flat fills. It starts after the autoencoder has learned to reconstruct,
  and its weight is adapted to the reconstruction gradient's size (VQGAN's adaptive weight).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

EDGE_WEIGHT = 1.0  # the trainer's default weight of the edge term


def image_gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward differences along x and y of (B, C, H, W)."""
    return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]


def reconstruction_loss(recon: torch.Tensor, target: torch.Tensor, edge_weight: float) -> torch.Tensor:
    """L1 + MSE + edge_weight * L1 of the gradients: the autoencoder's pixel loss."""
    recon = recon.float()
    loss = F.l1_loss(recon, target) + F.mse_loss(recon, target)
    if edge_weight:
        (rx, ry), (tx, ty) = image_gradients(recon), image_gradients(target)
        loss = loss + edge_weight * (F.l1_loss(rx, tx) + F.l1_loss(ry, ty))
    return loss


def edge_sharpness(tones: torch.Tensor) -> torch.Tensor:
    """Per image: the RMS gradient magnitude of a tone image (B, 1, H, W) or (B, H, W) in [0, 1].

    Squared, not plain, gradients: blurring an edge over k pixels keeps the sum of its |gradient| (the
    same step from dark to light) but divides the sum of squares by k, so only this figure falls with
    blur. Compare figures only between tones of the same size (evaluate uses the model's).
    """
    t = tones.float()
    if t.dim() == 3:
        t = t[:, None]
    gx, gy = image_gradients(t)
    energy = gx[..., :-1, :] ** 2 + gy[..., :, :-1] ** 2
    return energy.mean(dim=(1, 2, 3)).sqrt()


def edges_kept(original: torch.Tensor, redrawn: torch.Tensor) -> torch.Tensor:
    """Per image: the share of its edge sharpness a redrawing keeps (1 = as crisp as the original). The
    kernel prior stores the pictures that keep most (trainer.train.Trainer.drawable_latents)."""
    return edge_sharpness(redrawn) / edge_sharpness(original).clamp(min=1e-3)


class PatchDiscriminator(nn.Module):
    """Tone image -> a map of real/fake scores, one per overlapping patch (PatchGAN, small for a CPU)."""


    # two stages: each score sees a ~14 px patch of a 64 px tone, the scale of an outline or a fill edge
    def __init__(self, channels: tuple[int, ...] = (32, 64)):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for i, c in enumerate(channels):
            layers += [nn.Conv2d(c_in, c, 4, 2 if i < len(channels) - 1 else 1, 1)]
            if i:  # GroupNorm, not BatchNorm: real and fake batches must not share statistics
                layers += [nn.GroupNorm(8, c)]
            layers += [nn.LeakyReLU(0.2)]
            c_in = c
        layers.append(nn.Conv2d(c_in, 1, 3, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2 - 1)


def discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Hinge loss for the discriminator."""
    return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()


def generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """The decoder's adversarial loss: make reconstructions score as real."""
    return -fake_scores.mean()


def adaptive_weight(rec_loss: torch.Tensor, adv_loss: torch.Tensor, last_layer: torch.Tensor,
                    cap: float = 1.0) -> torch.Tensor:
    """Scale of the adversarial loss so its gradient at the decoder's last layer matches the
    reconstruction loss's (VQGAN): neither term drowns the other as their sizes drift."""
    g_rec = torch.autograd.grad(rec_loss, last_layer, retain_graph=True)[0]
    g_adv = torch.autograd.grad(adv_loss, last_layer, retain_graph=True)[0]
    return (g_rec.norm() / (g_adv.norm() + 1e-4)).clamp(0.0, cap).detach()
