"""Train an ArtGen model on a dataset folder. Reads top to bottom:

    python -m trainer train DATASET --out MODEL.safetensors [--preset default] [--time-budget 60m]
                                   [--init MODEL] [--resume] [--device auto|cpu|cuda]

Stage 1 "autoencoder": encoder, image decoder and caption decoder together. The decoders see
noisy latents (z + sigma*noise), so they also work a little away from the encoder's exact outputs;
the caption loss reaches the encoder scaled down, which makes the latent carry what captions name.
With --finetune captions-prior the image side is frozen and stage 1 trains the caption decoder alone;
with --finetune decoder-prior it trains the image decoder together with the latents the kernel prior
will store (trainer/redraw.py), the encoder and caption decoder frozen.
Stage 2 "prior": the prior is fitted to the encoder's latents of the training images (and their mirror
images; --prior-keep keeps those redrawn best, --prior-drawings those a list names; decoder-prior's
trained latents instead), so that a seed's noise lands where the decoders work (the piece the prototype
lacked). The default kernel prior stores those latents (seconds; the autoencoder gets the whole time
budget); the MLP prior (--prior mlp) learns a flow-matching velocity field, with EMA weights.

Checkpoints go to RUN_DIR/state.safetensors every few minutes (atomic); --resume continues from it.
Ctrl-C / SIGTERM saves and exits. Under torchrun (WORLD_SIZE > 1) it runs DDP (gloo on CPU, nccl on CUDA).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import json
import logging
import math
import os
import re
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

from artgen_desktop.engine import (
    ArtGenModel,
    Engine,
    ModelConfig,
    ModelInfo,
    Settings,
    Tokenizer,
    load_checkpoint,
    save_checkpoint,
)
from artgen_desktop.engine.errors import ModelFileError
from artgen_desktop.engine.model import KernelPrior, on_sphere
from trainer.config import TrainConfig
from trainer.data import MAX_METADATA_BYTES, ImageLoadError, load_tones, read_regular, refuse_empty, scan_folder
from trainer.errors import TrainerError, TrainingDiverged
from trainer.events import CheckpointEvent, DoneEvent, Pacer, ProgressEvent, SampleEvent, to_line
from trainer.losses import (
    PatchDiscriminator,
    adaptive_weight,
    discriminator_loss,
    edges_kept,
    generator_loss,
    reconstruction_loss,
)
from trainer.redraw import LATENT_LR, NOISE_REACH, LatentTable
from trainer.sheets import contact_sheet
from trainer.state import load_state, peek_run, save_state
from trainer.threads import ThreadTuner

log = logging.getLogger("trainer")
STAGES = ("autoencoder", "prior")
STAGE_SHARE = {"autoencoder": 0.8, "prior": 0.2}  # of the time budget, with the MLP prior
LATENT_NOISE = 0.2  # training noise on latents, relative to their per-dimension spread in the batch
CAPTION_GRAD_TO_ENCODER = 0.1
KERNEL_PRIOR_STEPS = 4
ADV_WEIGHT_EVERY = 16


def parse_duration(text: str) -> float:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"duration must look like 90s, 45m or 1.5h, not {text!r}")
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, None: 60}[m.group(2)]


@dataclass
class Dist:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def any(self, flag: bool, device) -> bool:
        """True on every rank if it is True on any (stop decisions must agree)."""
        if self.world == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)


def autocast(device: torch.device, precision: str):
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def grad_scaled(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Same value as x; the gradient flowing back through it is multiplied by scale."""
    return x.detach() + scale * (x - x.detach())


class Trainer:
    """config: the run's TrainConfig (resolved); model_cfg: the model's ModelConfig."""

    def __init__(self, config: TrainConfig, dist_info: Dist):
        if config.device_resolved is None:
            raise ValueError("Trainer takes a resolved TrainConfig (config.resolved())")
        self.config = config
        self.dist = dist_info
        self.device = torch.device(config.device_resolved)
        self.precision = config.precision_resolved
        self.run_dir = Path(config.run_dir)
        self.state_path = self.run_dir / "state.safetensors"
        self.stop_requested = False
        if config.tuned == "decoder-prior" and dist_info.world > 1:
            raise TrainerError("--finetune decoder-prior runs in one process (each stored latent is updated "
                               "where its drawing is drawn); start it without torchrun")
        self._prepare_data()
        self._build_model()

    # ---- data --------------------------------------------------------------------------------
    def _prepare_data(self):
        c = self.config
        try:
            scan = scan_folder(c.dataset)
        except NotADirectoryError as e:
            raise TrainerError(str(e)) from None
        if not scan.items:
            raise refuse_empty(scan, self.run_dir / "report.json")
        init_cfg = None
        if c.init:
            try:
                self.init_model, self.init_tok, init_info = load_checkpoint(c.init)
            except ModelFileError as e:
                raise TrainerError(f"--init {e}") from None
            init_cfg = init_info.config
            self.init_summary = init_info.summary  # kept in the new model's summary: its whole history
        size = init_cfg.image_size if init_cfg else ModelConfig.preset(c.preset).image_size
        items = scan.items
        tones = load_tones(items, size, cache_dir=c.tone_cache, workers=2, skipped=scan.skipped)
        if not items:  # every image failed to load after the scan
            raise refuse_empty(scan, self.run_dir / "report.json")
        self.scan = scan
        train_idx = [i for i, it in enumerate(items) if it.split == "train"] or list(range(len(items)))
        self.val_idx = [i for i, it in enumerate(items) if it.split == "val"]
        self.items = items
        self.tones = torch.from_numpy(tones)  # uint8 (N, S, S); 255 = white
        self.train_idx = np.array(train_idx)
        self.listed = self._listed_drawings() if c.prior_drawings else None
        captions = [it.caption for it in items]
        self.has_captions = any(captions)
        train_caps = [captions[i] for i in train_idx if captions[i]]
        if c.init:
            # keep the model's words (their embeddings are trained) and append the dataset's new ones
            known = set(self.init_tok.words)
            new = [w for w in Tokenizer.build(train_caps).words if w not in known]
            self.tokenizer = Tokenizer(self.init_tok.words + new)
            if new and c.tuned == "decoder-prior":
                raise TrainerError(f"--finetune decoder-prior keeps the caption decoder as it is, and the dataset's "
                                   f"captions use {len(new)} words the model does not know ({', '.join(new[:5])}"
                                   f"{', …' if len(new) > 5 else ''}): fine-tune with captions-prior or all first")
        else:
            self.tokenizer = Tokenizer.build(train_caps)
        max_tok = (init_cfg or ModelConfig.preset(c.preset)).max_caption_tokens
        self.tokens = torch.full((len(items), max_tok + 1), self.tokenizer.pad, dtype=torch.long)
        for i, text in enumerate(captions):
            if text:
                ids = self.tokenizer.encode(text, max_tok)
                self.tokens[i, : len(ids)] = torch.tensor(ids)
        self.captioned = torch.tensor([bool(text) for text in captions])

    def _listed_drawings(self) -> np.ndarray:
        """--prior-drawings: the positions in train_idx of the drawings FILE lists (dataset-relative paths,
        as metadata.jsonl names them). Listed drawings that are held out or missing are left out with a
        count; a list that names none of the training drawings is refused."""
        path = self.config.prior_drawings
        try:
            text = read_regular(Path(path), MAX_METADATA_BYTES, "a drawing list").decode("utf-8")
        except (ImageLoadError, UnicodeDecodeError) as e:
            raise TrainerError(f"--prior-drawings {path}: {e}") from None
        names = {line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")}
        root = Path(os.path.normpath(Path(self.config.dataset).expanduser()))
        listed = [k for k, i in enumerate(self.train_idx) if self.items[i].path.relative_to(root).as_posix() in names]
        if not listed:
            raise TrainerError(f"--prior-drawings {path}: none of its {len(names)} names is a training image "
                               f"of {self.config.dataset}")
        if len(listed) < len(names):
            log.info("--prior-drawings: %d of the %d listed drawings are not training images here (held out "
                     "or not in the dataset)", len(names) - len(listed), len(names))
        return np.array(listed)

    # ---- model -------------------------------------------------------------------------------
    def _build_model(self):
        c = self.config
        # the kernel prior stores every training image's latent (and its mirror image's, unless told not to)
        per_image = 2 if c.prior_mirror else 1
        stored = len(self.listed) if self.listed is not None else kept_count(len(self.train_idx), c.prior_keep)
        prior = {"prior_bank": per_image * stored if c.prior == "kernel" else 0,
                 "prior_bandwidth": c.prior_bandwidth}
        if c.prior == "kernel":
            # its field is smooth: 4 Heun steps end a small fraction of a bandwidth from where 64 end, and
            # the prior's cost (every step reads all stored latents) is most of a single picture's latency
            prior["prior_steps"] = KERNEL_PRIOR_STEPS
        elif c.init and self.init_model.cfg.prior_bank:  # an MLP prior from a kernel model: the MLP's steps
            prior["prior_steps"] = ModelConfig().prior_steps
        if c.init:
            model_cfg = dataclasses.replace(self.init_model.cfg, vocab_size=len(self.tokenizer), **prior)
            model = ArtGenModel(model_cfg)
            sd = self.init_model.state_dict()
            if model_cfg.prior_bank or self.init_model.cfg.prior_bank:  # a kernel prior is refitted, never carried over
                sd = {k: v for k, v in sd.items() if not k.startswith("prior.")}
            emb = sd["captioner.tok_emb.weight"]
            if emb.shape[0] < len(self.tokenizer):  # grow the vocabulary: new rows start small and random
                grown = torch.randn(len(self.tokenizer), emb.shape[1]) * emb.std()
                grown[: emb.shape[0]] = emb
                sd["captioner.tok_emb.weight"] = grown
                sd["captioner.head.weight"] = grown
            missing, unexpected = model.load_state_dict(sd, strict=False)
            if unexpected or any(not k.startswith("prior.") for k in missing):
                raise SystemExit(f"trainer: {c.init} does not fit the model it configures "
                                 f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
        else:
            torch.manual_seed(c.seed)
            widths = {"decoder_channels": c.decoder_channels} if c.decoder_channels else {}
            model_cfg = ModelConfig.preset(c.preset, vocab_size=len(self.tokenizer), **prior, **widths)
            model = ArtGenModel(model_cfg)
        model.captioner.tie_weights()
        self.model_cfg = model_cfg
        self.model = model.to(self.device)
        ae_params = [p for n, p in self.model.named_parameters() if not n.startswith("prior.")]
        # with --init, --finetune may freeze parts of the autoencoder: these are the parts it trains
        finetuned = {"captions-prior": ("captioner.",), "decoder-prior": ("decoder.",)}
        trained = finetuned.get(c.tuned)
        if trained:
            for n, p in self.model.named_parameters():
                if not n.startswith(("prior.", *trained)):
                    p.requires_grad_(False)
            ae_params = [p for n, p in self.model.named_parameters() if n.startswith(trained)]
        self.opt_ae = torch.optim.AdamW(ae_params, lr=c.lr, weight_decay=0.01, betas=(0.9, 0.99))
        self.kernel_prior = isinstance(self.model.prior, KernelPrior)
        self.optimizers = {"ae": self.opt_ae}
        # the adversarial edge critic: trained beside the decoder, never saved in the model file
        self.disc, self._adv_w = None, None
        self.captions_only = c.tuned == "captions-prior"
        if c.adv_weight > 0 and not self.captions_only:
            torch.manual_seed(c.seed + 1)
            self.disc = PatchDiscriminator().to(self.device)
            self.optimizers["disc"] = self.opt_disc = torch.optim.AdamW(
                self.disc.parameters(), lr=c.lr * 0.5, weight_decay=0.0, betas=(0.5, 0.9))
            self.ddp_disc = nn.parallel.DistributedDataParallel(self.disc) if self.dist.world > 1 else self.disc
        if not self.kernel_prior:
            self.optimizers["prior"] = self.opt_prior = torch.optim.AdamW(
                self.model.prior.parameters(), lr=c.prior_lr, weight_decay=0.0)
        self.prior_ema = copy.deepcopy(self.model.prior).requires_grad_(False)
        # the latents --finetune decoder-prior trains with the decoder, then stores in the kernel prior
        self.table = None
        if c.tuned == "decoder-prior":
            self.table = LatentTable(model_cfg.prior_bank, model_cfg.latent_dim).to(self.device)
        # with the image autoencoder frozen only the caption decoder learns: it reads latents encoded once
        self.stage_ae = CaptionStage(self.model) if self.captions_only else StageOne(self.model)
        if self.dist.world > 1:
            self.ddp_ae = nn.parallel.DistributedDataParallel(self.stage_ae)
            self.ddp_prior = None if self.kernel_prior else nn.parallel.DistributedDataParallel(self.model.prior)
        else:
            self.ddp_ae, self.ddp_prior = self.stage_ae, self.model.prior
        self.run = {"stage": STAGES[0], "step": 0, "elapsed": {s: 0.0 for s in STAGES}, "losses": {},
                    "started": time.time()}

    # ---- checkpoints -------------------------------------------------------------------------
    def _modules(self):
        return {"model": self.model, "prior_ema": self.prior_ema, **({"disc": self.disc} if self.disc else {}),
                **({"table": self.table} if self.table is not None else {})}

    def save(self):
        if self.dist.main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            run = {**self.run, "vocab": self.tokenizer.words, "config": self.model_cfg.to_json()}
            save_state(self.state_path, self._modules(), self.optimizers, run)
            self.emit(CheckpointEvent(str(self.state_path), self.run["stage"], self.run["step"]))

    def resume(self) -> bool:
        if not self.state_path.exists():
            return False
        saved = peek_run(self.state_path)  # CheckpointError (named, with how to start over) if damaged
        if saved["vocab"] != self.tokenizer.words or saved["config"] != self.model_cfg.to_json():
            raise TrainerError(f"{self.state_path} belongs to another dataset or config; "
                               "use another --run-dir or delete it")
        self.run = load_state(self.state_path, self._modules(), self.optimizers)
        self.run.pop("vocab", None)
        self.run.pop("config", None)
        self.model.captioner.tie_weights()
        log.info("resumed at stage %s step %d", self.run["stage"], self.run["step"])
        return True

    # ---- output ------------------------------------------------------------------------------
    def emit(self, event):
        if self.dist.main and self.config.progress_json:
            print(to_line(event), flush=True)

    def sample_grid(self, name: str):
        if not self.dist.main:
            return
        engine = self.engine()
        results = engine.generate(list(range(16)), Settings(temperature=0.7, size=256))
        path = self.run_dir / f"samples-{name}.png"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        contact_sheet([r.image for r in results], [f"{r.seed}: {r.caption}" for r in results],
                      cols=8, cell=128).save(path)
        self.emit(SampleEvent(str(path), name))
        self.model.train()

    def engine(self) -> Engine:
        """The model as the app will see it: EMA prior, eval mode."""
        model = copy.deepcopy(self.model).cpu().eval()
        model.prior.load_state_dict(self.prior_ema.state_dict())
        model.captioner.tie_weights()
        return Engine(model, self.tokenizer, ModelInfo(None, self.model_cfg), "cpu")

    # ---- the loop ----------------------------------------------------------------------------
    def batches(self, stage: str, batch: int, pool: np.ndarray | None = None):
        """Endless batches of `pool` (default: the training items' indices): a fresh permutation per epoch
        from (seed, stage, epoch), rank-strided."""
        pool = self.train_idx if pool is None else pool
        epoch = 0
        n = len(pool)
        while True:
            rng = np.random.default_rng([self.config.seed, STAGES.index(stage), epoch])
            perm = pool[rng.permutation(n)]
            per_rank = perm[self.dist.rank::self.dist.world]
            for i in range(0, len(per_rank) - batch + 1 if len(per_rank) >= batch else 1, batch):
                yield torch.from_numpy(per_rank[i:i + batch])
            epoch += 1

    def stage_budget(self, stage: str) -> tuple[float, int]:
        c = self.config
        share = 1.0 if self.kernel_prior else STAGE_SHARE[stage]
        seconds = c.time_budget * share if c.time_budget else math.inf
        steps = (c.steps if stage == "autoencoder" else c.prior_steps) or 10**12
        if not c.time_budget and not (c.steps or c.prior_steps):
            raise SystemExit("trainer: give --time-budget and/or --steps")
        return seconds, steps

    def run_stage(self, stage: str, step_fn, tuner: ThreadTuner | None):
        seconds, steps = self.stage_budget(stage)
        start_elapsed = self.run["elapsed"][stage]
        t0 = time.time() - start_elapsed
        last_ckpt = time.time()
        total = steps if steps < 10**12 else None
        bar = tqdm(total=total, initial=self.run["step"], desc=stage, unit="step", file=sys.stderr,
                   disable=not self.dist.main or self.config.quiet, dynamic_ncols=True)
        losses: dict[str, float] = {}
        pace = Pacer()  # the first step's line at once, then at least one a second: short runs show progress too
        while True:
            elapsed = time.time() - t0
            done = self.run["step"] >= steps or elapsed >= seconds
            if self.dist.any(done or self.stop_requested, self.device):
                break
            t_step = time.perf_counter()
            step_losses = step_fn(self.run["step"], steps, seconds, elapsed)
            # a NaN loss means the step just taken left NaN weights: stop before anything saves them
            bad = sorted(k for k, v in step_losses.items() if not math.isfinite(v))
            if self.dist.any(bool(bad), self.device):
                bar.close()
                raise TrainingDiverged(f"the {stage} loss{' (' + ', '.join(bad) + ')' if bad else ''} became "
                                       f"NaN or infinite at step {self.run['step'] + 1}", self.state_path)
            if tuner:
                tuner.observe(time.perf_counter() - t_step)
            for k, v in step_losses.items():
                losses[k] = 0.95 * losses.get(k, v) + 0.05 * v
            self.run["step"] += 1
            self.run["elapsed"][stage] = time.time() - t0
            bar.update(1)
            if self.run["step"] % 20 == 0 or pace.due():
                remaining = min(seconds - elapsed, (steps - self.run["step"]) * (elapsed / max(self.run["step"], 1)))
                bar.set_postfix({k: f"{v:.4f}" for k, v in losses.items()})
                self.emit(ProgressEvent(stage, self.run["step"], steps if steps < 10**12 else None,
                                        round(sum(losses.values()), 5), dict(losses), round(max(remaining, 0), 1),
                                        round(self.run["elapsed"][stage], 1)))
            if time.time() - last_ckpt > self.config.checkpoint_every:
                self.run["losses"][stage] = losses
                self.save()
                last_ckpt = time.time()
        bar.close()
        self.run["losses"][stage] = losses
        self.run.setdefault("steps_done", {})[stage] = self.run["step"]

    def train_autoencoder(self):
        if self.captions_only:
            return self.train_captions()
        if self.table is not None:
            return self.train_redraw()
        model, c = self.model, self.config
        model.train()
        it = self.batches("autoencoder", c.batch_size)
        pad = self.tokenizer.pad

        def step(i, steps, seconds, elapsed):
            idx = next(it)
            x = self.tones[idx].float().div(255).unsqueeze(1).to(self.device)
            flip = torch.rand(len(idx)) < 0.5
            x = torch.where(flip.view(-1, 1, 1, 1).to(self.device), x.flip(-1), x)
            tokens = self.tokens[idx].to(self.device)
            has_cap = self.captioned[idx].to(self.device)
            with autocast(self.device, self.precision):
                recon, logits = self.ddp_ae(x, tokens)
            rec = reconstruction_loss(recon, x, c.edge_weight)
            return self.drawing_update(x, recon, rec, caption_loss(logits, tokens, has_cap, pad),
                                       i, steps, elapsed, seconds)

        return step

    def drawing_update(self, x: torch.Tensor, recon: torch.Tensor, rec: torch.Tensor, cap: torch.Tensor,
                       i: int, steps: int, elapsed: float, seconds: float) -> dict[str, float]:
        """The end of a step that draws (x redrawn as recon, with losses rec and cap): the adversarial term
        once the critic is on, one update of what stage 1 trains, then the critic's own step. The losses."""
        adv_on = self.adversarial_on(i, steps, elapsed, seconds)
        adv, losses = self.adversarial_loss(rec, recon, i) if adv_on else (0.0, {})
        self.update_autoencoder(rec + self.config.caption_weight * cap + adv,
                                cosine_lr(self.config.lr, i, steps, elapsed, seconds))
        if adv_on:
            losses["disc"] = self.critic_step(x, recon)
        return {"rec": rec.item(), "cap": cap.item(), **losses}

    def adversarial_on(self, step: int, steps: int, elapsed: float, seconds: float) -> bool:
        # ranks decide together: one switching the critic on alone would mismatch DDP's collectives
        return self.disc is not None and self.dist.any(
            adversarial_started(self.config.adv_start, step, steps, elapsed, seconds), self.device)

    def adversarial_loss(self, rec: torch.Tensor, recon: torch.Tensor, step: int) -> tuple[torch.Tensor, dict]:
        """The decoder's adversarial term (weighted) for this step, and its raw value for the log."""
        self.disc.requires_grad_(False)
        with autocast(self.device, self.precision):
            g_adv = generator_loss(self.ddp_disc(recon).float())
        # the adaptive weight needs extra autograd passes (DDP's reducer allows none): refreshed
        # every ADV_WEIGHT_EVERY steps, it drifts slowly
        if self.dist.world == 1 and (self._adv_w is None or step % ADV_WEIGHT_EVERY == 0):
            self._adv_w = adaptive_weight(rec, g_adv, self.model.decoder.conv[-1].weight)
        weight = self.config.adv_weight * (self._adv_w if self._adv_w is not None else 1.0)
        return weight * g_adv, {"adv": g_adv.item()}

    def critic_step(self, real: torch.Tensor, recon: torch.Tensor) -> float:
        """One step of the critic on real tones against this step's (detached) redraws; its loss."""
        self.disc.requires_grad_(True)
        with autocast(self.device, self.precision):
            d_loss = discriminator_loss(self.ddp_disc(real).float(), self.ddp_disc(recon.detach()).float())
        self.opt_disc.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_disc.step()
        return d_loss.item()

    def train_captions(self):
        """Stage 1 of --finetune captions-prior. The encoder is frozen, so each training image's latent and
        its mirror image's are encoded once (that time counts in the stage's budget); a step then runs the
        caption decoder alone, about twice as fast as a step through the whole autoencoder."""
        c = self.config
        t0 = time.time()
        # latents[k, 0 / 1]: the image train_idx[k] / its mirror image; row[item] = k (batches only draw
        # training items, so the -1 of a held-out item is never read)
        latents = torch.empty(len(self.train_idx), 2, self.model_cfg.latent_dim, device=self.device)
        k = 0
        for _, z, z_mirror in self.encoded_chunks():
            latents[k:k + len(z), 0], latents[k:k + len(z), 1] = z.float(), z_mirror.float()
            k += len(z)
        row = torch.full((len(self.items),), -1, dtype=torch.long)
        row[torch.from_numpy(self.train_idx)] = torch.arange(len(self.train_idx))
        self.run["elapsed"]["autoencoder"] += time.time() - t0
        self.model.train()
        it = self.batches("autoencoder", c.batch_size)
        pad = self.tokenizer.pad

        def step(i, steps, seconds, elapsed):
            idx = next(it)
            flip = (torch.rand(len(idx)) < 0.5).long()
            z = latents[row[idx], flip].to(self.device)
            tokens = self.tokens[idx].to(self.device)
            with autocast(self.device, self.precision):
                logits = self.ddp_ae(z, tokens)
            cap = caption_loss(logits, tokens, self.captioned[idx].to(self.device), pad)
            # weighted as in the joint stage, so the gradient clipping sees the same scale
            self.update_autoencoder(c.caption_weight * cap, cosine_lr(c.lr, i, steps, elapsed, seconds))
            return {"cap": cap.item()}

        return step

    def train_redraw(self):
        """Stage 1 of --finetune decoder-prior (trainer/redraw.py). The table starts as the encoder's latents
        of the drawings the prior keeps (encoded once; that time counts in the budget); a step draws a batch
        of rows with noise up to NOISE_REACH prior bandwidths and moves the decoder and those rows."""
        c, table = self.config, self.table
        if not bool(table.filled):  # (on resume the rows come from the checkpoint)
            t0 = time.time()
            best, z, z_mirror = self.drawable(c.prior_keep)
            items = torch.from_numpy(self.train_idx)[best]
            mirrored = [z_mirror] if c.prior_mirror else []
            table.fill(torch.cat([z, *mirrored]), items.repeat(1 + len(mirrored)).to(self.device),
                       torch.arange(len(table.latents), device=self.device) >= len(z))
            self.run["elapsed"]["autoencoder"] += time.time() - t0
        reach = NOISE_REACH * self.model_cfg.prior_bandwidth
        items_of = table.items.cpu()  # the tones and captions stay on the CPU
        self.model.train()
        it = self.batches("autoencoder", c.batch_size, np.arange(len(table.latents)))
        pad = self.tokenizer.pad

        def step(i, steps, seconds, elapsed):
            picked = next(it)
            rows, items = picked.to(self.device), items_of[picked]
            x = self.tones[items].float().div(255).unsqueeze(1).to(self.device)
            x = torch.where(table.mirrored[rows].view(-1, 1, 1, 1), x.flip(-1), x)
            u = table.latents[rows].requires_grad_(True)  # (indexing copies: a leaf of its own)
            z = on_sphere(u)
            sigma = reach * torch.rand(len(rows), 1, device=self.device)
            zn = z + sigma * table.spread * torch.randn_like(z)
            tokens = self.tokens[items].to(self.device)
            with autocast(self.device, self.precision):
                recon = self.model.decoder(zn)
                # the frozen caption decoder pulls each latent towards its words, as it pulls the encoder
                logits = self.model.captioner(grad_scaled(zn, CAPTION_GRAD_TO_ENCODER), tokens[:, :-1])
            rec = reconstruction_loss(recon, x, c.edge_weight)
            cap = caption_loss(logits, tokens, self.captioned[items].to(self.device), pad)
            losses = self.drawing_update(x, recon, rec, cap, i, steps, elapsed, seconds)
            # (Adam ignores the gradient's scale: the batch mean's gradient serves as each row's own)
            table.adam_step(rows, u.grad, cosine_lr(LATENT_LR, i, steps, elapsed, seconds))
            return losses

        return step

    def update_autoencoder(self, loss: torch.Tensor, lr: float) -> None:
        """One optimizer step of stage 1 (any kind): at `lr`, gradients clipped to norm 1."""
        for g in self.opt_ae.param_groups:
            g["lr"] = lr
        self.opt_ae.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt_ae.step()

    def encoded_chunks(self):
        """(tones, their latents, their mirror images' latents) for the training images, 128 at a time,
        in eval mode without gradients."""
        self.model.eval()
        try:
            with torch.no_grad():
                for i in range(0, len(self.train_idx), 128):
                    x = self.tones[self.train_idx[i:i + 128]].float().div(255).unsqueeze(1).to(self.device)
                    yield x, self.model.encoder(x), self.model.encoder(x.flip(-1))
        finally:
            self.model.train()

    def encode_all(self) -> torch.Tensor:
        """Latents of every training image and its mirror image."""
        return torch.cat([z for _, z_img, z_mirror in self.encoded_chunks() for z in (z_img, z_mirror)]).float()

    def drawable(self, keep: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The drawings the kernel prior stores, as positions in train_idx, with their latents and their
        mirror images' latents: those --prior-drawings lists, in training order, or else the share `keep`
        of training images that the decoder redraws most faithfully. Faithful means keeping the image's
        edges: the ratio of the redrawing's edge sharpness to the image's. Pictures whose redrawing goes soft
        (shaded colour drawings, intricate line work, lettering) come back as blobs, and a seed that lands
        on one shows a caption it does not draw; the plain reconstruction error ranks them worse (white
        paper rewards blur)."""
        z, z_mirror, kept_edges = [], [], []
        for x, z_img, z_mir in self.encoded_chunks():
            if self.listed is None:
                with torch.no_grad():
                    redrawn = self.model.decoder(z_img).float().clamp(0, 1)
                kept_edges.append(edges_kept(x, redrawn))
            z.append(z_img)
            z_mirror.append(z_mir)
        if self.listed is not None:
            best = torch.from_numpy(self.listed)
        else:
            best = torch.cat(kept_edges).argsort(descending=True, stable=True)[: kept_count(len(self.train_idx), keep)]
        return best.cpu(), torch.cat(z)[best].float(), torch.cat(z_mirror)[best].float()

    def drawable_latents(self, keep: float) -> torch.Tensor:
        """The kernel prior's latents: those of drawable(keep), and their mirror images' with --prior-mirror."""
        _, z, z_mirror = self.drawable(keep)
        return torch.cat([z, z_mirror]) if self.config.prior_mirror else z

    def fit_kernel_prior(self):
        """The kernel prior has nothing to learn: it stores the encoder's latents (seconds), or with
        --finetune decoder-prior the latents trained with the decoder."""
        t0 = time.time()
        if self.table is not None:
            self.model.prior.fit(self.table.latents)
        else:
            self.model.prior.fit(self.drawable_latents(self.config.prior_keep))
        self.prior_ema.load_state_dict(self.model.prior.state_dict())
        self.run["elapsed"]["prior"] = time.time() - t0
        self.run.setdefault("steps_done", {})["prior"] = 1  # one fit
        self.emit(ProgressEvent("prior", 1, 1, 0.0, {}, 0.0, round(self.run["elapsed"]["prior"], 1)))

    def train_prior(self):
        c = self.config
        prior = self.model.prior
        z = self.encode_all()
        if self.run["step"] == 0:  # (on resume the buffers come from the checkpoint)
            prior.fit_statistics(z)
            self.prior_ema.load_state_dict(prior.state_dict())
        data = prior.normalise(z)
        gen_rank = torch.Generator().manual_seed(c.seed * 7919 + self.dist.rank)

        def step(i, steps, seconds, elapsed):
            idx = torch.randint(len(data), (c.prior_batch,), generator=gen_rank)
            x1 = data[idx]
            x0 = torch.randn_like(x1)
            t = torch.rand(len(x1), 1, device=x1.device)
            xt = (1 - t) * x0 + t * x1
            lr = cosine_lr(c.prior_lr, i, steps, elapsed, seconds)
            for g in self.opt_prior.param_groups:
                g["lr"] = lr
            v = self.ddp_prior(xt, t)
            loss = F.mse_loss(v, x1 - x0)
            self.opt_prior.zero_grad(set_to_none=True)
            loss.backward()
            self.opt_prior.step()
            with torch.no_grad():
                decay = min(0.999, (1 + i) / (10 + i))
                for pe, p in zip(self.prior_ema.parameters(), prior.parameters()):
                    pe.lerp_(p, 1 - decay)
                self.prior_ema.latent_mean.copy_(prior.latent_mean)
                self.prior_ema.latent_std.copy_(prior.latent_std)
            return {"flow": loss.item()}

        return step

    def fit(self) -> dict:
        tuner = ThreadTuner() if (self.device.type == "cpu" and self.dist.world == 1 and self.config.adapt_threads) \
            else None
        for stage in STAGES[STAGES.index(self.run["stage"]):]:
            if self.run["stage"] != stage:
                self.run.update(stage=stage, step=0)
            if stage == "autoencoder" and self.config.finetune == "prior-only":
                continue
            if stage == "prior" and self.kernel_prior:
                self.fit_kernel_prior()
            else:
                step_fn = self.train_autoencoder() if stage == "autoencoder" else self.train_prior()
                self.run_stage(stage, step_fn, tuner)
            if self.stop_requested:
                return self.run
            self.save()
            self.sample_grid(stage)
            if stage != STAGES[-1]:
                self.run.update(stage=STAGES[STAGES.index(stage) + 1], step=0)
        return self.run

    def summary(self) -> dict:
        return {
            "dataset": str(Path(self.config.dataset).resolve().name),
            "images": len(self.items), "train_images": int(len(self.train_idx)), "val_images": len(self.val_idx),
            "caption_mode": self.scan.caption_mode, "skipped_files": len(self.scan.skipped),
            "vocabulary": len(self.tokenizer), "preset": self.config.preset, "init": self.config.init,
            "finetune": self.config.finetune if self.config.init else None,
            "prior": self.config.prior, "prior_bandwidth": self.config.prior_bandwidth if self.kernel_prior else None,
            "prior_keep": self.config.prior_keep if self.kernel_prior else None,
            **({"prior_drawings": {"file": Path(self.config.prior_drawings).name, "stored": len(self.listed)}}
               if self.listed is not None else {}),
            "prior_mirror": self.config.prior_mirror if self.kernel_prior else None,
            "losses": {"edge_weight": self.config.edge_weight,
                       "adv_weight": self.config.adv_weight if self.disc is not None else 0.0,
                       "adv_start": self.config.adv_start if self.disc is not None else None},
            "steps": self.run.get("steps_done", {}),
            "autoencoder_images_per_s": round(self.run.get("steps_done", {}).get("autoencoder", 0)
                                              * self.config.batch_size * self.dist.world
                                              / max(self.run["elapsed"]["autoencoder"], 1e-9), 1),
            "seconds": {s: round(v, 1) for s, v in self.run["elapsed"].items()},
            "final_losses": self.run["losses"], "device": str(self.device), "precision": self.precision,
            "world_size": self.dist.world, "trained_at": time.strftime("%Y-%m-%d %H:%M:%S"),
            **({"init_summary": self.init_summary} if self.config.init else {}),
        }

    def write_model(self, out: Path, dtype: torch.dtype):
        engine = self.engine()
        save_checkpoint(out, engine.model, self.tokenizer, self.summary(), dtype=dtype)


class StageOne(nn.Module):
    """Stage 1's forward pass as one module (without the prior), so DDP sees one graph of used parameters."""

    def __init__(self, model: ArtGenModel):
        super().__init__()
        self.encoder, self.decoder, self.captioner = model.encoder, model.decoder, model.captioner

    def forward(self, x, tokens):
        zn = noisy(self.encoder(x))
        recon = self.decoder(zn)
        logits = self.captioner(grad_scaled(zn, CAPTION_GRAD_TO_ENCODER), tokens[:, :-1])
        return recon, logits


class CaptionStage(nn.Module):
    """Stage 1 with the image autoencoder frozen (--finetune captions-prior): the caption decoder on latents
    encoded once, with the same noise as in StageOne. No image is encoded or drawn per step."""

    def __init__(self, model: ArtGenModel):
        super().__init__()
        self.captioner = model.captioner

    def forward(self, z, tokens):
        return self.captioner(noisy(z), tokens[:, :-1])


def noisy(z: torch.Tensor) -> torch.Tensor:
    """z plus noise relative to how far latents spread over the batch: a fixed sigma swamps the small early
    differences between images and the decoder learns one blurred blob for all of them."""
    spread = z.detach().std(dim=0, keepdim=True) if len(z) > 1 else z.detach().abs()
    return z + LATENT_NOISE * spread * torch.randn_like(z)


def caption_loss(logits: torch.Tensor, tokens: torch.Tensor, has_cap: torch.Tensor, pad: int) -> torch.Tensor:
    """Cross-entropy of the captioned images' words (logits predict tokens[:, 1:])."""
    target = tokens[:, 1:]
    mask = (target != pad) & has_cap[:, None]
    if mask.any():
        return F.cross_entropy(logits.float()[mask], target[mask])
    return logits.float().sum() * 0.0  # keeps DDP's gradient buckets in step


def adversarial_started(start: float, step: int, steps: int, elapsed: float, seconds: float) -> bool:
    """The critic joins once the stage is `start` of the way through (by steps or time, whichever is
    further): a critic facing a decoder that cannot yet draw teaches it nothing but noise."""
    progress = max(step / steps if steps < 10**12 else 0.0, elapsed / seconds if math.isfinite(seconds) else 0.0)
    return progress >= start


def kept_count(n: int, keep: float) -> int:
    return max(1, round(n * keep))


def cosine_lr(base: float, step: int, steps: int, elapsed: float, seconds: float) -> float:
    """Warm-up, then cosine decay over whichever runs out first: steps or time."""
    warm = min(1.0, (step + 1) / 200)
    progress = max(step / steps if steps < 10**12 else 0.0, elapsed / seconds if math.isfinite(seconds) else 0.0)
    return base * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m trainer train", description="Train or fine-tune an ArtGen model.")
    p.add_argument("dataset", help="dataset folder (imagefolder metadata, sidecar captions, or class folders)")
    p.add_argument("--out", required=True, help="model file to write (.safetensors)")
    p.add_argument("--run-dir", help="checkpoints and sample grids (default: OUT without suffix + '.run')")
    p.add_argument("--preset", choices=["tiny", "default", "large"])
    p.add_argument("--init", help="start from this model (fine-tuning)")
    p.add_argument("--finetune", choices=["all", "captions-prior", "decoder-prior", "prior-only"],
                   help="with --init: what to train (captions-prior keeps the image autoencoder; decoder-prior "
                        "trains the image decoder with the latents the kernel prior stores, on noise as far "
                        "as seeds stray from them)")
    p.add_argument("--time-budget", type=parse_duration,
                   help="e.g. 60m: all to the autoencoder with the kernel prior; 80%%/20%% with the MLP prior")
    p.add_argument("--steps", type=int, help="autoencoder steps (with or without a time budget)")
    p.add_argument("--prior-steps", type=int, help="prior steps")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--prior-batch", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--prior-lr", type=float)
    p.add_argument("--prior", choices=["kernel", "mlp"],
                   help="kernel: store the training latents (seconds, lands on pictures, copies more); "
                        "mlp: learn a flow-matching MLP (generalises, blurrier on small data)")
    p.add_argument("--prior-keep", type=float,
                   help="kernel prior: the share of training images it keeps, those whose edges the decoder redraws "
                        "best (the bundled model keeps 0.7)")
    p.add_argument("--prior-drawings", metavar="FILE",
                   help="kernel prior: store only the drawings listed in FILE, one image path per line as in "
                        "the dataset's metadata.jsonl (lines starting with # are comments); a curated bank, e.g. "
                        "trainer/default_prior_drawings.txt")
    p.add_argument("--prior-mirror", action=argparse.BooleanOptionalAction,
                   help="kernel prior: store each image's mirror image too (twice the variety of poses, "
                        "twice the prior's cost per picture)")
    p.add_argument("--prior-bandwidth", type=float,
                   help="kernel prior: how far seeds stray from the stored latents (normalised units)")
    p.add_argument("--caption-weight", type=float)
    p.add_argument("--edge-weight", type=float,
                   help="weight of the edge (image-gradient) term of the reconstruction loss; 0 = L1+MSE only")
    p.add_argument("--adv-weight", type=float,
                   help="weight of the adversarial patch loss (sharper edges); 0 = off")
    p.add_argument("--adv-start", type=float,
                   help="share of the autoencoder stage after which the adversarial loss starts (0-1)")
    p.add_argument("--decoder-channels", type=lambda t: tuple(int(v) for v in t.split(",")),
                   help="image decoder widths, e.g. 32,64,128 (default: the preset's encoder widths)")
    p.add_argument("--seed", type=int)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"])
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"],
                   help="auto: bf16 autocast on CUDA and on CPUs with AMX, else fp32")
    p.add_argument("--checkpoint-every", type=parse_duration, help="default 3m")
    p.add_argument("--resume", action="store_true", help="continue from RUN_DIR/state.safetensors")
    p.add_argument("--half", action="store_true", help="store the model in float16 (half the size)")
    p.add_argument("--tone-cache", help="folder for cached tone images (default: the user cache)")
    p.add_argument("--no-adapt-threads", dest="adapt_threads", action="store_false")
    p.add_argument("--progress-json", action="store_true", help="one JSON event per line on stdout (for the app)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(**TrainConfig.option_defaults())
    return p


def _refused(e: TrainerError, d: Dist, world: int, progress_json: bool) -> int:
    """One line for a problem the user can act on (no traceback), an error event for the app, and the exit
    code."""
    from trainer.events import ErrorEvent
    if d.main and progress_json:
        print(to_line(ErrorEvent(str(e))), flush=True)
    print(f"trainer: error: {e}" if d.main else f"trainer (rank {d.rank}): error: {e}", file=sys.stderr)
    _leave_group(world, together=False)  # (another rank may not be here to wait for)
    return e.exit_code


def _leave_group(world: int, together: bool = True) -> None:
    """Destroys the process group on every way out. A process that exits with the group alive leaves gloo's
    threads holding tensors while the interpreter shuts down, which can abort it (SIGABRT); and a rank that
    left the moment its last collective returned (rank 1, while rank 0 wrote the model) closed its
    connections under a peer that still had the group open. So ranks wait for each other, then destroy."""
    if world > 1 and dist.is_initialized():
        if together:
            dist.barrier()
        dist.destroy_process_group()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        options = TrainConfig(**vars(args))
    except ValueError as e:  # TrainConfig's checks of the values
        parser.error(str(e))
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", 0)) if world > 1 else None
    config = options.resolved(local_rank)
    if config.device_resolved.startswith("cuda") and not torch.cuda.is_available():
        print("trainer: error: --device cuda but no CUDA GPU is available", file=sys.stderr)
        return 2
    d = Dist()
    if world > 1:
        backend = "nccl" if config.device_resolved.startswith("cuda") else "gloo"
        dist.init_process_group(backend)
        d = Dist(dist.get_rank(), dist.get_world_size())
        if config.device_resolved.startswith("cuda"):
            torch.cuda.set_device(local_rank)
    out = Path(config.out)
    try:
        trainer = Trainer(config, d)
        if config.resume and not trainer.resume() and d.main:
            log.info("no checkpoint in %s; starting fresh", config.run_dir)
    except TrainerError as e:
        return _refused(e, d, world, config.progress_json)
    except BaseException:
        _leave_group(world, together=False)
        raise
    if d.main:
        log.info("%d images (%d train, %d val), vocabulary %d, %s params, device %s, %s",
                 len(trainer.items), len(trainer.train_idx), len(trainer.val_idx), len(trainer.tokenizer),
                 f"{trainer.model.num_parameters():,}", trainer.device, trainer.precision)

    def on_signal(signum, frame):
        trainer.stop_requested = True
    old_term = signal.signal(signal.SIGTERM, on_signal)
    old_int = signal.signal(signal.SIGINT, on_signal)
    try:
        trainer.fit()
    except TrainerError as e:
        return _refused(e, d, world, config.progress_json)
    except BaseException:
        _leave_group(world, together=False)
        raise
    finally:
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGINT, old_int)
    if trainer.stop_requested:
        try:
            trainer.save()
        except TrainerError as e:  # NaN weights are not saved over the last good checkpoint
            return _refused(e, d, world, config.progress_json)
        if d.main:
            print(f"trainer: stopped; checkpoint saved in {trainer.state_path} (continue with --resume)",
                  file=sys.stderr)
        _leave_group(world)
        return 130
    if d.main:
        trainer.write_model(out, torch.float16 if config.half else torch.float32)
        (Path(config.run_dir) / "report.json").write_text(json.dumps(
            {"summary": trainer.summary(), "dataset": trainer.scan.report()}, indent=2))
        trainer.emit(DoneEvent(str(out)))
        log.info("wrote %s", out)
    _leave_group(world)
    return 0
