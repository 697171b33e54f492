"""The public generation API shared by the GUI, the CLI and scripts.

    engine = Engine.load()                      # bundled model, or Engine.load("my.safetensors")
    results = engine.generate([1, 2, 3], Settings(temperature=0.8))
    frames = engine.interpolate(1, 2, frames=9, easing="ease-in-out")

Results carry PIL images and strings only: callers never see a tensor.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .checkpoint import ModelInfo, bundled_model_path, load_checkpoint
from .errors import ArtGenError, ModelFileError
from .model import ArtGenModel
from .render import engrave
from .sampling import caption_generators, interpolation_times, sample_tokens, seed_noise
from .seeds import check_seed
from .settings import Settings
from .tokenizer import Tokenizer, split_words


@dataclass
class Result:
    seed: int
    caption: str
    image: Image.Image  # grayscale engraving (or tone) at settings.size
    tone: Image.Image  # the model's tone image at its own resolution
    settings: Settings
    model: ModelInfo
    label: str = ""  # e.g. "frame 3/9 (t=0.375)" for interpolation frames
    seed_b: int | None = None  # an interpolation frame: seed is A, this is B, t the position between them
    t: float | None = None  # (easing already applied): interpolate(seed, seed_b, positions=[t]) remakes it

    @property
    def metadata(self) -> dict:
        """Everything needed to make this result again (stored in PNGs and export rows)."""
        frame = {"seed_b": self.seed_b, "t": self.t} if self.seed_b is not None else {}
        return {"seed": self.seed, "caption": self.caption, **self.settings.to_dict(),
                "model": self.model.name, "model_hash": self.model.hash, "label": self.label, **frame}


_DEFAULT_THREADS = torch.get_num_threads()


def set_threads(n: int | None) -> None:
    """CPU threads for generation in the calling thread; None = torch's default (one per core).

    With another busy process on a small machine (a fine-tune running beside the app), two OpenMP
    threads collapse when a core is taken and one thread is many times faster.
    """
    torch.set_num_threads(max(1, n) if n else _DEFAULT_THREADS)


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ArtGenError("device 'cuda' was asked for, but no CUDA GPU is available")
    if device not in ("cpu", "cuda"):
        raise ArtGenError(f"device must be auto, cpu or cuda, not {device!r}")
    return torch.device(device)


class Engine:
    def __init__(self, model: ArtGenModel, tokenizer: Tokenizer, info: ModelInfo, device="cpu"):
        self.device = torch.device(device)
        self.model = model.eval().to(self.device)
        self.tokenizer = tokenizer
        self.info = info
        self.last_seconds = 0.0

    @classmethod
    def load(cls, path: str | Path | None = None, device: str = "auto") -> Engine:
        """Loads a model file; None means the bundled default model."""
        if path is None:
            path = bundled_model_path()
            if not path.exists():
                raise ModelFileError(path, "the bundled default model is missing from this installation; "
                                           "pass a model file with --model")
        dev = pick_device(device)
        model, tokenizer, info = load_checkpoint(path, dev)
        return cls(model, tokenizer, info, dev)

    @property
    def device_name(self) -> str:
        if self.device.type == "cuda":
            return f"CUDA: {torch.cuda.get_device_name(self.device)}"
        return "CPU"

    # ---- the pipeline: noise -> latent -> tone + caption -> engraving -------------------------------

    @torch.no_grad()
    def latents(self, noise: torch.Tensor, variety: float = 1.0) -> torch.Tensor:
        """Seed noise (B, latent_dim) -> latents where the decoders work (variety: see FlowPrior.sample)."""
        return self.model.prior.sample(noise.to(self.device), self.model.cfg.prior_steps, variety)

    @torch.no_grad()
    def captions(self, z: torch.Tensor, temperature: float, gens: Sequence[torch.Generator]) -> list[str]:
        tok, cap = self.tokenizer, self.model.captioner
        b = z.shape[0]
        banned = torch.zeros(len(tok), dtype=torch.bool, device=self.device)
        banned[[tok.pad, tok.bos, tok.unk]] = True
        logits, cache = cap.start(z, torch.full((b,), tok.bos, device=self.device))
        out = torch.full((b, 0), tok.eos, dtype=torch.long, device=self.device)
        done = torch.zeros(b, dtype=torch.bool, device=self.device)
        prev = torch.full((b,), -1, dtype=torch.long, device=self.device)
        rows = torch.arange(b, device=self.device)
        for pos in range(self.model.cfg.max_caption_tokens):
            logits = logits.float().masked_fill(banned, -torch.inf)
            if pos == 0:  # a caption starts with a word
                logits[:, [tok.eos, *tok.punctuation]] = -torch.inf
            # no immediate repeats ("the the"): the stutter the prototype's captions had
            has_prev = prev >= 0
            logits[rows[has_prev], prev[has_prev]] = -torch.inf
            if pos == self.model.cfg.max_caption_tokens - 1:
                nxt = torch.full((b,), tok.eos, device=self.device)
            else:
                nxt = sample_tokens(logits, temperature, gens)
            nxt = torch.where(done, torch.full_like(nxt, tok.eos), nxt)
            out = torch.cat([out, nxt[:, None]], dim=1)
            done |= nxt == tok.eos
            if bool(done.all()):
                break
            prev = nxt
            logits, cache = cap.step(nxt, pos + 1, cache)
        return [tok.decode(row) for row in out.tolist()]

    def score_text(self, z, words: str, batch_size: int = 256) -> np.ndarray:
        """How well `words` fit each latent z (B, latent_dim; numpy or tensor) as the start of its caption:
        the caption decoder's mean log-probability per token of the words, teacher forced after BOS. A plain
        numpy array (B,), higher fits better. Used by the seed atlas's word search (engine/atlas.py)."""
        tok = self.tokenizer
        ids = [tok.index.get(w, tok.unk) for w in split_words(words)][: self.model.cfg.max_caption_tokens - 1]
        if not ids:
            raise ArtGenError("no words to score")
        seq = torch.tensor([tok.bos] + ids, device=self.device)
        z = z if isinstance(z, torch.Tensor) else torch.from_numpy(np.asarray(z, dtype=np.float32))
        out = []
        # with grad mode on, model.py's Linear runs one GEMM rather than blocks of 8 rows (batch invariance
        # is not needed to rank candidates, and the blocks cost ~3x); nothing here asks for gradients
        with torch.enable_grad():
            for i in range(0, z.shape[0], batch_size):
                zb = z[i:i + batch_size].to(self.device, torch.float32)
                tokens = seq.expand(zb.shape[0], -1)
                # logits[:, j] predicts seq[j + 1]; the last position (after the final word) is not needed
                logp = torch.log_softmax(self.model.captioner(zb, tokens)[:, :-1].float(), dim=-1)
                lp = logp.gather(2, tokens[:, 1:, None])[..., 0]
                out.append(lp.mean(1).detach().cpu())
        return torch.cat(out).numpy() if out else np.zeros(0, np.float32)

    @torch.no_grad()
    def _make(self, labels_seeds: Sequence[tuple[str, int]], z: torch.Tensor, settings: Settings) -> list[Result]:
        """Results from latents z (B, latent_dim): tone, caption and engraving for each."""
        t0 = time.perf_counter()
        seeds = [s for _, s in labels_seeds]
        # tones are quantised to 8 bits before rendering: what is shown, saved and re-rendered is the same
        tone_u8 = (self.model.decoder(z)[:, 0].float().clamp(0, 1) * 255).round().to(torch.uint8)
        captions = self.captions(z, settings.temperature, caption_generators(seeds))
        images = engrave(tone_u8.float() / 255, settings.style, settings.size).cpu().numpy()
        tones = tone_u8.cpu().numpy()
        out = [Result(seed, cap, Image.fromarray(img, "L"), Image.fromarray(tn, "L"), settings, self.info, label)
               for (label, seed), cap, img, tn in zip(labels_seeds, captions, images, tones)]
        self.last_seconds = time.perf_counter() - t0
        return out

    def generate(self, seeds: Sequence[int], settings: Settings = Settings(), batch_size: int = 16) -> list[Result]:
        return [r for chunk in self.iter_generate(seeds, settings, batch_size) for r in chunk]

    def iter_generate(self, seeds: Sequence[int], settings: Settings = Settings(),
                      batch_size: int = 16) -> Iterator[list[Result]]:
        """Yields results batch by batch (for progress bars and progressive galleries)."""
        seeds = [check_seed(s) for s in seeds]
        if batch_size < 1:
            raise ArtGenError("batch size must be at least 1")
        dim = self.model.cfg.latent_dim
        for i in range(0, len(seeds), batch_size):
            chunk = seeds[i:i + batch_size]
            noise = seed_noise(chunk, dim)
            yield self._make([("", s) for s in chunk], self.latents(noise, settings.variety), settings)

    def interpolate(self, seed_a: int, seed_b: int, frames: int = 9, easing: str = "ease-in-out",
                    settings: Settings = Settings(), positions: Sequence[float] | None = None) -> list[Result]:
        """Frames between two seeds: the prior's frames between their noise (see FlowPrior.between), each
        through the decoders.

        Frame captions sample with seed A's generator, so a caption changes only where the picture does.
        `positions` (0..1, eased already) overrides the evenly spaced frames, e.g. for a live slider.
        """
        a, b = check_seed(seed_a), check_seed(seed_b)
        times = list(positions) if positions is not None else interpolation_times(frames, easing)
        na, nb = seed_noise([a, b], self.model.cfg.latent_dim).to(self.device)
        labels = [(f"{a}→{b} t={t:.3f}", a) for t in times]
        z = self.model.prior.between(na, nb, times, self.model.cfg.prior_steps, settings.variety)
        results = self._make(labels, z, settings)
        for r, t in zip(results, times):
            r.seed_b, r.t = b, float(t)
        return results

    def render(self, tone: Image.Image, settings: Settings) -> Image.Image:
        """Re-renders a stored tone image with another style or size (no network needed)."""
        t = torch.from_numpy(np.asarray(tone.convert("L"), dtype=np.float32) / 255)[None]
        return Image.fromarray(engrave(t, settings.style, settings.size)[0].numpy(), "L")
