"""The ArtGen network: one latent z shared by an image autoencoder, a caption decoder and a latent prior.

    seed -> eps ~ N(0, I) -> FlowPrior (flow-matching ODE) -> z -> ImageDecoder -> tone image
                                                                 z -> CaptionDecoder -> words

The encoder exists for training: the decoders learn from E(x) of real images, and the prior learns to
carry noise into the region of latent space where those E(x) live (the prototype skipped this and fed
raw N(0, I) to its decoders, which is why its samples were black gradients).

There is exactly one definition of the network; the trainer imports it from here.
Normalisation is GroupNorm/LayerNorm only, so a sample never depends on the batch it is in.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

from .sampling import slerp


@dataclass(frozen=True)
class ModelConfig:
    # tone images are image_size x image_size grayscale, 1.0 = white paper. 64 px by default: on a
    # 2-core CPU without AMX it trains 4x faster than 128 px (78 vs 21 img/s measured), and within an
    # hour that buys the epochs that make pictures recognisable; the "large" preset (GPU) uses 128.
    image_size: int = 64
    channels: tuple[int, ...] = (24, 48, 96)  # one stride-2 stage per entry
    # the image decoder's widths, coarse stage last as in `channels`; () = the same as `channels`. A
    # wider decoder than encoder: the decoder draws the edges, the encoder only has to tell pictures apart
    decoder_channels: tuple[int, ...] = ()
    latent_dim: int = 256
    # > 0: the latent is a small spatial map (latent_channels x bottleneck x bottleneck, flattened) and
    # the autoencoder is convolutional throughout, which keeps the layout of a picture; 0: a flat latent
    # behind fully connected layers (trains far slower: still blobs after 25 epochs, measured)
    latent_channels: int = 4
    vocab_size: int = 0  # set from the tokenizer when a model is built for a dataset
    text_dim: int = 256
    text_layers: int = 2
    text_heads: int = 4
    prefix_tokens: int = 4  # z enters the caption decoder as this many prefix embeddings
    max_caption_tokens: int = 24  # words + the end token
    prior_hidden: int = 512
    prior_layers: int = 4
    prior_steps: int = 16  # Heun steps of the prior ODE at generation time
    # > 0: a kernel prior instead of the MLP: the exact flow for a mixture of Gaussians (std
    # prior_bandwidth, in normalised latent units) centred on this many stored training latents. On 2,241
    # images the MLP's samples stayed averaged blobs; this one lands on pictures (see KernelPrior)
    prior_bank: int = 0
    prior_bandwidth: float = 0.3

    @classmethod
    def preset(cls, name: str, **overrides) -> ModelConfig:
        presets = {
            "default": {},
            # trains in seconds; for tests
            "tiny": dict(image_size=32, channels=(8, 16), latent_dim=16, latent_channels=0, text_dim=32, text_layers=1,
                         text_heads=2, prefix_tokens=2, max_caption_tokens=12, prior_hidden=64,
                         prior_layers=2, prior_steps=4),
            # for a CUDA card: wider everywhere
            "large": dict(image_size=128, channels=(32, 64, 128, 256), latent_dim=256, latent_channels=4,
                          text_dim=384, text_layers=4, text_heads=6, prior_hidden=1024, prior_layers=6),
        }
        if name not in presets:
            raise ValueError(f"unknown model preset {name!r}; choose from {', '.join(presets)}")
        return cls(**{**presets[name], **overrides})

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        raw = json.loads(text)
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown config fields: {', '.join(sorted(unknown))}")
        for key in ("channels", "decoder_channels"):
            if isinstance(raw.get(key), list):
                raw[key] = tuple(raw[key])
        return cls(**raw)

    @property
    def prior_kind(self) -> str:
        """"kernel" (stored latents, prior_bank of them) or "mlp" (a learned velocity field)."""
        return "kernel" if self.prior_bank else "mlp"

    @property
    def bottleneck(self) -> int:
        return self.image_size >> len(self.channels)


ROW_BLOCK = 8
POSTERIOR_TOP = 64  # KernelPrior.posterior_mean: latents in the short sum ...
POSTERIOR_TAIL = 1e-6  # ... taken when the others together weigh less than this


class Linear(nn.Linear):
    """nn.Linear whose inference result for a row never depends on the other rows.

    BLAS libraries pick kernels by matrix shape (one row takes a gemv path that sums in another
    order), so a seed's picture would change with the batch it was in. At inference rows go through
    in blocks of exactly ROW_BLOCK, so every GEMM has one shape; training keeps the single fast GEMM.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            return super().forward(x)
        return in_row_blocks(x, lambda block: F.linear(block, self.weight, self.bias))


def in_row_blocks(x: torch.Tensor, fn) -> torch.Tensor:
    """fn(rows) applied to blocks of exactly ROW_BLOCK rows: a row's result does not depend on the batch."""
    flat = x.reshape(-1, x.shape[-1])
    n = flat.shape[0]
    if n % ROW_BLOCK:
        flat = torch.cat([flat, flat.new_zeros(ROW_BLOCK - n % ROW_BLOCK, flat.shape[1])])
    out = torch.cat([fn(block) for block in flat.split(ROW_BLOCK)])
    return out[:n].reshape(*x.shape[:-1], out.shape[-1])


def on_sphere(z: torch.Tensor) -> torch.Tensor:
    """z scaled to RMS 1 per row: where latents live, so training noise has a fixed meaning and the prior
    a bounded target."""
    return z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-6)


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, channels // 4) or 1, channels)


class ImageEncoder(nn.Module):
    """Tone image (B, 1, S, S) in [0, 1] -> latent (B, latent_dim) with RMS 1."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for c in cfg.channels:
            layers += [nn.Conv2d(c_in, c, 4, 2, 1), _norm(c), nn.SiLU(),
                       nn.Conv2d(c, c, 3, 1, 1), _norm(c), nn.SiLU()]
            c_in = c
        self.conv = nn.Sequential(*layers)
        if cfg.latent_channels:
            self.to_latent = nn.Conv2d(c_in, cfg.latent_channels, 1)
        else:
            self.fc = Linear(c_in * cfg.bottleneck**2, cfg.latent_dim)

    def forward(self, tone: torch.Tensor) -> torch.Tensor:
        h = self.conv(tone * 2 - 1)
        z = self.to_latent(h).flatten(1) if hasattr(self, "to_latent") else self.fc(h.flatten(1))
        return on_sphere(z)


class ImageDecoder(nn.Module):
    """Latent (B, latent_dim) -> tone image (B, 1, S, S) in [0, 1]."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        chans = list(reversed(cfg.decoder_channels or cfg.channels))
        self.start = (chans[0], cfg.bottleneck)
        self.spatial = cfg.latent_channels
        if self.spatial:
            self.from_latent = nn.Conv2d(cfg.latent_channels, chans[0], 3, 1, 1)
        else:
            self.fc = Linear(cfg.latent_dim, chans[0] * cfg.bottleneck**2)
        layers: list[nn.Module] = []
        for c_in, c_out in zip(chans, chans[1:] + chans[-1:]):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"),
                       nn.Conv2d(c_in, c_out, 3, 1, 1), _norm(c_out), nn.SiLU(),
                       nn.Conv2d(c_out, c_out, 3, 1, 1), _norm(c_out), nn.SiLU()]
        layers.append(nn.Conv2d(chans[-1], 1, 3, 1, 1))
        self.conv = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        c, s = self.start
        if self.spatial:
            h = self.from_latent(z.view(-1, self.spatial, s, s))
        else:
            h = self.fc(z).view(-1, c, s, s)
        return torch.sigmoid(self.conv(h))


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = Linear(dim, 3 * dim)
        self.proj = Linear(dim, dim)

    def forward(self, x, cache=None):
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        if cache is not None:  # incremental decoding: attend to everything seen so far
            k = torch.cat([cache[0], k], dim=2)
            v = torch.cat([cache[1], v], dim=2)
        # causal within the new chunk; a single new token sees the whole cache
        y = F.scaled_dot_product_attention(q, k, v, is_causal=(cache is None and t > 1))
        return self.proj(y.transpose(1, 2).reshape(b, t, d)), (k, v)


class Block(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads)
        self.ln2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(Linear(dim, 4 * dim), nn.GELU(), Linear(4 * dim, dim))

    def forward(self, x, cache=None):
        a, cache = self.attn(self.ln1(x), cache)
        x = x + a
        return x + self.mlp(self.ln2(x)), cache


class CaptionDecoder(nn.Module):
    """Autoregressive word decoder; z enters as `prefix_tokens` learned prefix embeddings."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.text_dim
        self.prefix = Linear(cfg.latent_dim, cfg.prefix_tokens * d)
        self.tok_emb = nn.Embedding(max(cfg.vocab_size, 1), d)
        self.pos_emb = nn.Parameter(torch.zeros(cfg.prefix_tokens + cfg.max_caption_tokens + 1, d))
        self.blocks = nn.ModuleList(Block(d, cfg.text_heads) for _ in range(cfg.text_layers))
        self.ln_f = nn.LayerNorm(d)
        self.head = Linear(d, max(cfg.vocab_size, 1), bias=False)
        self.tie_weights()
        # small embeddings (GPT-2's 0.02): with tied weights, unit-variance rows give huge first logits
        nn.init.normal_(self.tok_emb.weight, std=0.02)
        nn.init.normal_(self.pos_emb, std=0.02)

    def tie_weights(self) -> None:
        """The output head shares the token embeddings (as in GPT-2); loading a state dict or copying a
        model unties them, so every such place calls this again."""
        self.head.weight = self.tok_emb.weight

    def _run(self, x, caches=None):
        new_caches = []
        for i, block in enumerate(self.blocks):
            x, c = block(x, None if caches is None else caches[i])
            new_caches.append(c)
        return self.head(self.ln_f(x)), new_caches

    def _prefix(self, z):
        return self.prefix(z).view(z.shape[0], self.cfg.prefix_tokens, self.cfg.text_dim)

    def forward(self, z: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher forcing. tokens (B, T) start with BOS; returns logits (B, T, V) predicting tokens[:, 1:] + EOS."""
        p = self.cfg.prefix_tokens
        x = torch.cat([self._prefix(z), self.tok_emb(tokens)], dim=1)
        x = x + self.pos_emb[: x.shape[1]]
        logits, _ = self._run(x)
        return logits[:, p:]

    def start(self, z: torch.Tensor, bos: torch.Tensor):
        """Runs prefix + BOS; returns the logits for the first word and the KV cache."""
        x = torch.cat([self._prefix(z), self.tok_emb(bos)[:, None]], dim=1)
        x = x + self.pos_emb[: x.shape[1]]
        logits, caches = self._run(x)
        return logits[:, -1], caches

    def step(self, token: torch.Tensor, position: int, caches):
        """One new token at sequence `position` (counted after the prefix); returns next logits and cache."""
        x = self.tok_emb(token)[:, None] + self.pos_emb[self.cfg.prefix_tokens + position]
        logits, caches = self._run(x, caches)
        return logits[:, -1], caches


class FlowPrior(nn.Module):
    """A velocity field v(x, t) that carries x(0) = eps ~ N(0, I) to x(1) ~ normalised data latents."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        # statistics of the encoder's latents, set by the trainer; the prior works in normalised units
        self.register_buffer("latent_mean", torch.zeros(cfg.latent_dim))
        self.register_buffer("latent_std", torch.ones(cfg.latent_dim))

    def velocity(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def normalise(self, z: torch.Tensor) -> torch.Tensor:
        return (z - self.latent_mean) / self.latent_std

    def fit_statistics(self, z: torch.Tensor) -> None:
        """Sets the normalisation from the encoder's latents z (N, latent_dim)."""
        self.latent_mean.copy_(z.mean(0))
        self.latent_std.copy_(z.std(0).clamp(min=1e-3))

    @torch.no_grad()
    def between(self, eps_a: torch.Tensor, eps_b: torch.Tensor, times: list[float], steps: int,
                variety: float = 1.0) -> torch.Tensor:
        """Latents of the frames between two seeds' noise: each frame's noise (slerp) through the ODE."""
        return self.sample(torch.stack([slerp(eps_a, eps_b, t) for t in times]), steps, variety)

    @torch.no_grad()
    def sample(self, eps: torch.Tensor, steps: int, variety: float = 1.0) -> torch.Tensor:
        """Latents in the encoder's units for seed noise eps. Variety 1 is the prior's own spread; lower
        is more typical, higher wilder. This smooth field has no modes to fall back on, so variety scales
        the noise by 0.5 + variety / 2 (variety 0: half the spread, still one picture per seed)."""
        return self.integrate(eps * (0.5 + 0.5 * variety), steps) * self.latent_std + self.latent_mean

    def integrate(self, eps: torch.Tensor, steps: int) -> torch.Tensor:
        """Heun integration of dx/dt = v(x, t) from t=0 to 1, in normalised units."""
        x = eps
        dt = 1.0 / steps
        for i in range(steps):
            t0 = torch.tensor(i * dt, device=x.device)
            v0 = self.velocity(x, t0)
            x1 = x + dt * v0
            v1 = self.velocity(x1, t0 + dt)
            x = x + 0.5 * dt * (v0 + v1)
        return x


class MLPFlowPrior(FlowPrior):
    """Flow matching with a residual MLP: learns a smooth field (it generalises, and on small data blurs)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        h = cfg.prior_hidden
        self.inp = Linear(cfg.latent_dim + 32, h)
        self.layers = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(h), Linear(h, h), nn.SiLU(), Linear(h, h))
            for _ in range(cfg.prior_layers))
        self.out = nn.Sequential(nn.LayerNorm(h), Linear(h, cfg.latent_dim))
        self.register_buffer("freqs", torch.exp(torch.linspace(0, math.log(1000.0), 16)), persistent=False)

    def velocity(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        angles = t.reshape(-1, 1) * self.freqs
        emb = torch.cat([angles.sin(), angles.cos()], dim=1).expand(x.shape[0], -1)
        h = self.inp(torch.cat([x, emb], dim=1))
        for layer in self.layers:
            h = h + layer(h)
        return self.out(h)

    forward = velocity  # so the trainer can wrap the prior in DDP


class KernelPrior(FlowPrior):
    """The flow-matching optimum in closed form for p1 = mean_i N(mu_i, s^2 I), mu_i = stored latents.

    On the straight path x_t = (1-t) eps + t x1, given component i, x_t ~ N(t mu_i, ((1-t)^2 + t^2 s^2) I)
    and E[x1 - eps | x_t, i] = mu_i + k (x_t - t mu_i) with k = (t s^2 - (1-t)) / var_t; the velocity is
    that averaged under the posterior softmax(-|x_t - t mu_i|^2 / 2 var_t). No weights to learn: fitting it
    is encoding the training images. Seeds land near (not on) real pictures' latents, so it copies more
    than a learned prior: evaluate reports how close samples sit to their nearest training image.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.bandwidth = cfg.prior_bandwidth
        self.register_buffer("bank", torch.zeros(cfg.prior_bank, cfg.latent_dim))  # normalised latents
        self._tables_key: tuple | None = None
        self._tables_cache: tuple[torch.Tensor, ...] | None = None

    def _tables(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The bank in float, transposed (both contiguous: each product below takes the layout BLAS runs
        fastest for a block of few rows), |mu_i|^2 and the bank's mean: computed once per bank contents."""
        key = (self.bank.data_ptr(), self.bank._version, self.bank.device)
        if self._tables_key != key:
            mu = self.bank.float().contiguous()
            self._tables_cache = (mu, mu.T.contiguous(), mu.pow(2).sum(1), mu.mean(0))
            self._tables_key = key
        return self._tables_cache

    def posterior_mean(self, x: torch.Tensor, t: float) -> torch.Tensor:
        """E[mu_i | x_t = x]: the stored latents weighted by how likely each one's path passes x at t."""
        mu, mu_t, mu_sq, mu_mean = self._tables()
        if t == 0:  # every path starts from the same noise: the posterior is uniform
            return mu_mean.expand_as(x)
        var = (1 - t) ** 2 + t * t * self.bandwidth**2
        # |x - t mu|^2 = |x|^2 - 2t x.mu + t^2 |mu|^2, and |x|^2 is the same for every i: softmax drops it.
        # Row-blocked products keep a seed's result independent of the batch it is in.
        dots = in_row_blocks(x, lambda b: (mu @ b.T).T)
        w = torch.softmax((2 * t * dots - t * t * mu_sq) / (2 * var), dim=1)
        # Past the first steps a row's posterior sits on a few latents: summing those few reads
        # POSTERIOR_TOP of the bank's rows instead of all of them. A row takes the short sum only when the
        # rest weigh under POSTERIOR_TAIL together, a test on the row alone, so the result stays
        # independent of the batch.
        k = min(POSTERIOR_TOP, w.shape[1])
        top_w, top_i = w.topk(k, dim=1)
        sparse = top_w.sum(1) >= 1 - POSTERIOR_TAIL
        out = torch.empty_like(x)
        if sparse.any():
            out[sparse] = (top_w[sparse, :, None] * mu[top_i[sparse]]).sum(1)
        if not sparse.all():
            out[~sparse] = in_row_blocks(w[~sparse], lambda b: F.linear(b, mu_t))
        return out

    def velocity(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = float(t)
        s2 = self.bandwidth**2
        var = (1 - t) ** 2 + t * t * s2
        m = self.posterior_mean(x, t)
        return m + (t * s2 - (1 - t)) / var * (x - t * m)

    @torch.no_grad()
    def sample(self, eps: torch.Tensor, steps: int, variety: float = 1.0) -> torch.Tensor:
        """The ODE's sample x lands near stored latents; variety scales how far it strays from them:
        z = m + variety (x - m), m = E[mu_i | x]. Variety 0 gives the seed's typical picture (the latents it
        landed among), 1 the prior's own spread, higher wilder variations of it."""
        x = self.integrate(eps, steps)
        if variety != 1.0:
            m = self.posterior_mean(x, 1.0)
            x = m + variety * (x - m)
        return x * self.latent_std + self.latent_mean

    def fit(self, z: torch.Tensor) -> None:
        """Stores the encoder's latents z (N = prior_bank rows) and their statistics."""
        if z.shape != self.bank.shape:
            raise ValueError(f"kernel prior holds {tuple(self.bank.shape)} latents, got {tuple(z.shape)}")
        self.fit_statistics(z)
        self.bank.copy_(self.normalise(z))

    @torch.no_grad()
    def between(self, eps_a: torch.Tensor, eps_b: torch.Tensor, times: list[float], steps: int,
                variety: float = 1.0) -> torch.Tensor:
        """Seeds land near different pictures, so noise between two seeds would jump from picture to
        picture: the frames blend the two seeds' latents instead (a morph)."""
        za, zb = self.sample(torch.stack([eps_a, eps_b]), steps, variety)
        return torch.stack([torch.lerp(za, zb, t) for t in times])


class ArtGenModel(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if cfg.image_size % (1 << len(cfg.channels)) or cfg.bottleneck < 1:
            raise ValueError(f"image_size {cfg.image_size} must be divisible by 2**{len(cfg.channels)}")
        if cfg.latent_channels and cfg.latent_dim != cfg.latent_channels * cfg.bottleneck**2:
            raise ValueError(f"latent_dim must be latent_channels x {cfg.bottleneck}² = "
                             f"{cfg.latent_channels * cfg.bottleneck**2}")
        if cfg.decoder_channels and len(cfg.decoder_channels) != len(cfg.channels):
            raise ValueError("decoder_channels needs one width per encoder stage")
        if cfg.text_dim % cfg.text_heads:
            raise ValueError("text_dim must be divisible by text_heads")
        if cfg.prior_bank < 0 or (cfg.prior_bank and not cfg.prior_bandwidth > 0):
            raise ValueError("a kernel prior needs prior_bank > 0 latents and prior_bandwidth > 0")
        self.cfg = cfg
        self.encoder = ImageEncoder(cfg)
        self.decoder = ImageDecoder(cfg)
        self.captioner = CaptionDecoder(cfg)
        self.prior = KernelPrior(cfg) if cfg.prior_kind == "kernel" else MLPFlowPrior(cfg)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
