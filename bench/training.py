"""Training speed: images/s of the model's stage-one step (autoencoder + captions), fp32 vs bf16, on the CPU
or (--device cuda) on the GPU.

The step is the trainer's own: trainer.train.StageOne forward, trainer.losses' reconstruction loss
(L1 + MSE + edge term; without the adversarial critic) + caption cross-entropy, backward, gradient
clipping, AdamW, at batch 32 on tone images of the model's resolution.
bf16 is torch.autocast(<device>, bfloat16), as `python -m trainer train --precision bf16` runs it;
`auto_precision` is what the trainer's --precision auto picks on this device (bf16 on CUDA and on CPUs
with AMX). CPUs without AMX or avx512_bf16 emulate bf16 arithmetic, so expect it to be slower there.
"""

from __future__ import annotations

import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from .common import CpuWatch, Options, cpu_flags, say, write_result


def _step_fn(model, precision: str, batch: int, seed: int = 0, device: str = "cpu"):
    from trainer.losses import EDGE_WEIGHT, reconstruction_loss
    from trainer.train import StageOne, autocast
    cfg = model.cfg
    device = torch.device(device)
    model.to(device)  # before the optimizer, as the trainer does: AdamW's state follows the parameters
    stage = StageOne(model).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01, betas=(0.9, 0.99))
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, 1, cfg.image_size, cfg.image_size, generator=g).to(device)
    tokens = torch.randint(4, cfg.vocab_size, (batch, cfg.max_caption_tokens + 1), generator=g)
    tokens[:, 0] = 1  # BOS
    tokens = tokens.to(device)

    def step() -> float:
        with autocast(device, precision):
            recon, logits = stage(x, tokens)
        rec = reconstruction_loss(recon, x, EDGE_WEIGHT)
        cap = F.cross_entropy(logits.float().flatten(0, 1), tokens[:, 1:].flatten())
        loss = rec + 0.5 * cap
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return float(loss.detach())  # (waits for the GPU: the step's time includes its work)

    return step


def run(opts: Options) -> dict:
    from artgen_desktop.engine import ArtGenModel, read_info
    from trainer.config import auto_precision
    info, tok = read_info(opts.model)
    cfg = info.config
    batch = 8 if opts.quick else 32
    gpu = opts.device == "cuda"
    rows = {}
    watch = CpuWatch()
    # a GPU step takes milliseconds: time more of them
    fp32_steps, bf16_steps = (1, 1) if opts.quick else ((50, 50) if gpu else (5, 3))
    for precision, steps, budget in (("fp32", fp32_steps, 120.0), ("bf16", bf16_steps, 240.0)):
        torch.manual_seed(0)
        model = ArtGenModel(cfg)
        step = _step_fn(model, precision, batch, device=opts.device)
        t0 = time.perf_counter()
        step()  # warm-up: first-call allocations and kernel choices
        warm = time.perf_counter() - t0
        times = []
        for _ in range(steps):
            t0 = time.perf_counter()
            loss = step()
            times.append(time.perf_counter() - t0)
            if sum(times) + warm > budget:
                break
        per_step = sorted(times)[len(times) // 2]
        rows[precision] = {"images_per_s": round(batch / per_step, 2), "seconds_per_step": round(per_step, 3),
                           "steps_timed": len(times), "warmup_step_s": round(warm, 2), "loss_finite": loss == loss}
        say(f"training {precision} on {opts.device}: {batch / per_step:.1f} images/s ({per_step:.2f} s per step "
            f"of {batch}, median of {len(times)})")
    flags = cpu_flags()
    figures = {"batch": batch, "image_size": cfg.image_size, "device": opts.device,
               "auto_precision": auto_precision(opts.device), "torch_threads": torch.get_num_threads(),
               "other_processes_cores": watch.stop(),
               "cpu_has_amx_bf16": "amx_bf16" in flags, "cpu_has_avx512_bf16": "avx512_bf16" in flags,
               **rows, "bf16_vs_fp32": round(rows["bf16"]["images_per_s"] / rows["fp32"]["images_per_s"], 3),
               "method": "trainer.train.StageOne forward + reconstruction loss (L1/MSE/edge) + caption CE, "
                         "backward, clip, AdamW; "
                         "median step after one warm-up step; random images and tokens"}
    say(f"training: bf16 autocast runs at {figures['bf16_vs_fp32']:.2f}x fp32 on this {'GPU' if gpu else 'CPU'}")
    write_result(opts, "training", figures, device=opts.device)
    return figures
