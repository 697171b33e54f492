"""The judge: a small contrastive image–caption encoder (CLIP-style) for evaluation only.

Trained on the dataset's training split, never used as a loss for the generator, cached on disk by
dataset fingerprint. Images are tone images at JUDGE_SIZE px; captions are bags of words.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file

from artgen_desktop.engine import Tokenizer
from artgen_desktop.engine.fileio import atomic_path

JUDGE_SIZE = 64
JUDGE_VERSION = 2


class Judge(nn.Module):
    def __init__(self, vocab_size: int, dim: int = 128):
        super().__init__()
        chans = (16, 32, 64, 128)
        layers: list[nn.Module] = []
        c_in = 1
        for c in chans:
            layers += [nn.Conv2d(c_in, c, 3, 2, 1), nn.GroupNorm(8, c), nn.SiLU(),
                       nn.Conv2d(c, c, 3, 1, 1), nn.GroupNorm(8, c), nn.SiLU()]
            c_in = c
        self.image = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, dim))
        self.words = nn.EmbeddingBag(vocab_size, 256, mode="mean")
        self.text = nn.Sequential(nn.Linear(256, 256), nn.SiLU(), nn.Linear(256, dim))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(10.0)))

    def embed_images(self, tones: torch.Tensor) -> torch.Tensor:
        """tones (B, S, S) uint8 or float in [0, 1] at JUDGE_SIZE -> unit vectors (B, dim)."""
        x = tones.float() / (255.0 if tones.dtype == torch.uint8 else 1.0)
        return F.normalize(self.image(x[:, None] * 2 - 1), dim=-1)

    def embed_texts(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text(self.words(ids, offsets)), dim=-1)


def _bags(tok: Tokenizer, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    ids, offsets = [], []
    for c in captions:
        offsets.append(len(ids))
        words = tok.encode(c)[1:-1] or [tok.unk]
        ids.extend(words)
    return torch.tensor(ids, dtype=torch.long), torch.tensor(offsets, dtype=torch.long)


class TrainedJudge:
    def __init__(self, model: Judge, tok: Tokenizer):
        self.model = model.eval()
        self.tok = tok

    @torch.no_grad()
    def images(self, tones: np.ndarray | torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(tones)
        return torch.cat([self.model.embed_images(t[i:i + 256]) for i in range(0, len(t), 256)])

    @torch.no_grad()
    def texts(self, captions: list[str]) -> torch.Tensor:
        out = []
        for i in range(0, len(captions), 512):
            out.append(self.model.embed_texts(*_bags(self.tok, captions[i:i + 512])))
        return torch.cat(out)


def fingerprint(captions: list[str], tones: np.ndarray) -> str:
    h = hashlib.sha256(f"judge-v{JUDGE_VERSION}".encode())
    h.update(json.dumps(captions).encode())
    h.update(hashlib.sha256(np.ascontiguousarray(tones).tobytes()).digest())
    return h.hexdigest()[:16]


def train_judge(tones: np.ndarray, captions: list[str], seconds: float = 120.0, epochs: int = 40,
                min_steps: int = 400, seed: int = 0, log=print) -> TrainedJudge:
    """InfoNCE on (tone, caption) pairs of the training split; flips as augmentation."""
    torch.manual_seed(seed)
    tok = Tokenizer.build(captions)
    model = Judge(len(tok))
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    x_all = torch.from_numpy(tones)
    n = len(captions)
    batch = min(128, max(16, n // 2))  # small datasets still get several steps per epoch
    rng = np.random.default_rng(seed)
    t0 = time.time()
    per_epoch = max(1, n // batch)
    epochs = max(epochs, -(-min_steps // per_epoch))
    total_steps = epochs * per_epoch
    step = 0
    epoch = 0
    for epoch in range(epochs):  # noqa: B007 (reported after the loop)
        perm = rng.permutation(n)
        for i in range(0, per_epoch * batch, batch):
            idx = perm[i:i + batch]
            x = x_all[idx]
            flip = torch.from_numpy(rng.random(len(idx)) < 0.5)
            x = torch.where(flip.view(-1, 1, 1), x.flip(-1), x)
            caps = [captions[j] for j in idx]
            # pairs with the same caption are positives of each other, not negatives
            same = torch.tensor([[a == b for b in caps] for a in caps], dtype=torch.float32)
            img = model.embed_images(x)
            txt = model.embed_texts(*_bags(tok, caps))
            logits = model.logit_scale.exp().clamp(max=100) * img @ txt.T
            target = same / same.sum(1, keepdim=True)
            loss = 0.5 * (-(target * logits.log_softmax(1)).sum(1).mean()
                          - (target.T * logits.log_softmax(0)).sum(0).mean())
            lr = 2e-3 * 0.5 * (1 + math.cos(math.pi * min(1.0, step / total_steps)))
            for g in opt.param_groups:
                g["lr"] = lr
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
        if time.time() - t0 > seconds:
            break
    log(f"judge: {epoch + 1} epochs, {step} steps in {time.time() - t0:.0f}s, last loss {loss.item():.3f}")
    return TrainedJudge(model, tok)


def cached_judge(cache_dir: Path, tones: np.ndarray, captions: list[str], seconds: float, log=print) -> TrainedJudge:
    key = fingerprint(captions, tones)
    path = Path(cache_dir) / f"judge-{key}.safetensors"
    if path.exists():
        with safe_open(str(path), framework="pt") as f:
            tok = Tokenizer(json.loads(f.metadata()["vocab"]))
            model = Judge(len(tok))
            model.load_state_dict({k: f.get_tensor(k) for k in f.keys()})
        log(f"judge: cached {path}")
        return TrainedJudge(model, tok)
    judge = train_judge(tones, captions, seconds=seconds, log=log)
    with atomic_path(path) as tmp:
        save_file({k: v.contiguous() for k, v in judge.model.state_dict().items()}, str(tmp),
                  metadata={"vocab": json.dumps(judge.tok.words)})
    return judge
