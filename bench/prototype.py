"""The research prototype's architecture, rebuilt for timing only: randomly initialised, never trained.

What docs/architecture.md ("Benchmarks") and issue 6 give: a 1024-d latent; Linear -> 512x16x16 -> four
ConvTranspose2d -> 512x512 RGB; a non-autoregressive 4-layer, 8-head transformer caption decoder over
1,266 words; outputs written as PNG + txt. What they leave open, chosen here in the prototype's favour where it matters:
- four transposed convolutions reach 512 from 16 only if one of them upsamples x4: the first three are
  k4 s2 (16 -> 32 -> 64 -> 128, channels 512 -> 256 -> 128 -> 64), the last k8 s4 (128 -> 512, 3 channels),
  with BatchNorm (eval mode) and ReLU between, tanh at the end (a DCGAN-style decoder);
- caption decoder width 512, 32 word positions, all predicted at once from learned position queries
  plus the projected latent (one forward pass, no token loop), then sampled per position;
- the PNGs go through the same writer as ours (RGB, so Pillow at compress level 1).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn
from PIL import Image


@dataclass(frozen=True)
class ProtoConfig:
    latent_dim: int = 1024
    channels: tuple[int, ...] = (512, 256, 128, 64)
    start: int = 16
    vocab: int = 1266
    text_dim: int = 512
    text_layers: int = 4
    text_heads: int = 8
    caption_len: int = 32

    @property
    def image_size(self) -> int:
        return self.start * 2 ** (len(self.channels) - 1) * 4

    @classmethod
    def quick(cls) -> ProtoConfig:
        """A miniature for smoke runs (its figures mean nothing)."""
        return cls(latent_dim=64, channels=(32, 16, 8, 8), start=4, text_dim=64, text_layers=1, caption_len=8)

    def num_parameters(self) -> int:
        """Counted from the shapes (building the full-size network just to count it takes seconds)."""
        c, d, s2 = self.channels, self.text_dim, self.start**2
        image = self.latent_dim * c[0] * s2 + c[0] * s2
        image += sum(a * b * 16 + b + 2 * b for a, b in zip(c, c[1:]))  # ConvTranspose k4 + BatchNorm
        image += c[-1] * 3 * 64 + 3  # the last ConvTranspose, k8
        layer = (3 * d * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d) + 4 * d
        text = self.latent_dim * d + d + self.caption_len * d + self.text_layers * layer + d * self.vocab + self.vocab
        return image + text

    def to_dict(self) -> dict:
        return {**asdict(self), "image_size": self.image_size}


class PrototypeDecoder(nn.Module):
    def __init__(self, cfg: ProtoConfig):
        super().__init__()
        c = cfg.channels
        self.cfg = cfg
        self.fc = nn.Linear(cfg.latent_dim, c[0] * cfg.start**2)
        layers: list[nn.Module] = []
        for c_in, c_out in zip(c, c[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.BatchNorm2d(c_out), nn.ReLU()]
        layers += [nn.ConvTranspose2d(c[-1], 3, 8, 4, 2), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.fc(z)).view(-1, self.cfg.channels[0], self.cfg.start, self.cfg.start)
        return self.net(x)


class PrototypeCaptioner(nn.Module):
    """Non-autoregressive: every word position is predicted at once from the latent."""

    def __init__(self, cfg: ProtoConfig):
        super().__init__()
        d = cfg.text_dim
        self.cond = nn.Linear(cfg.latent_dim, d)
        self.pos = nn.Parameter(torch.randn(cfg.caption_len, d) * 0.02)
        layer = nn.TransformerEncoderLayer(d, cfg.text_heads, 4 * d, dropout=0.0, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, cfg.text_layers, enable_nested_tensor=False)
        self.head = nn.Linear(d, cfg.vocab)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.pos[None] + self.cond(z)[:, None]))


class Prototype(nn.Module):
    def __init__(self, cfg: ProtoConfig = ProtoConfig(), seed: int = 0, device: str = "cpu"):
        super().__init__()
        torch.manual_seed(seed)
        self.cfg = cfg
        self.decoder = PrototypeDecoder(cfg)
        self.captioner = PrototypeCaptioner(cfg)
        self.words = ["<eos>"] + [f"word{i}" for i in range(1, cfg.vocab)]
        self.device = torch.device(device)  # bench --device: compared on the device ours runs on
        self.eval().to(self.device)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @torch.no_grad()
    def generate(self, seeds: Sequence[int], temperature: float = 0.7) -> list[ProtoResult]:
        z = torch.stack([torch.randn(self.cfg.latent_dim, generator=torch.Generator().manual_seed(s)) for s in seeds])
        z = z.to(self.device)
        rgb = ((self.decoder(z) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        logits = self.captioner(z).float() / max(temperature, 1e-4)
        probs = torch.softmax(logits, dim=-1).flatten(0, 1).cpu()  # sampled with a CPU generator
        gen = torch.Generator().manual_seed(int(seeds[0]))
        ids = torch.multinomial(probs, 1, generator=gen).view(len(seeds), -1).tolist()
        out = []
        for seed, img, row in zip(seeds, rgb, ids):
            words = [self.words[i] for i in row[: row.index(0) if 0 in row else len(row)]] or ["an", "engraving"]
            image = Image.fromarray(np.ascontiguousarray(img), "RGB")
            out.append(ProtoResult(int(seed), " ".join(words).capitalize() + ".", image))
        return out

    def iter_generate(self, seeds: Sequence[int], batch_size: int) -> Iterator[list[ProtoResult]]:
        for i in range(0, len(seeds), batch_size):
            yield self.generate(seeds[i:i + batch_size])


@dataclass
class ProtoResult:
    """Quacks like engine.Result for ExportWriter: seed, caption, image, metadata."""

    seed: int
    caption: str
    image: Image.Image

    @property
    def metadata(self) -> dict:
        size = self.image.size[0]
        return {"seed": self.seed, "caption": self.caption, "temperature": 0.7, "variety": 1.0,
                "model": "prototype-architecture", "model_hash": "random", "size": size,
                "style": {"mode": "rgb"}, "label": ""}
