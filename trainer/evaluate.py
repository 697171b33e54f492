"""Measure a model against a dataset (docs/architecture.md, "Evaluation"):

    python -m trainer.evaluate MODEL DATASET [--seeds 1000] [--out DIR]

Writes DIR/metrics.json and the contact sheets DIR/contact_sheet.png (seeds 0–63) and
DIR/contact_sheet_1000.png (seeds 1000–1063), engravings with their captions under them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from artgen_desktop.engine import Engine, Settings
from artgen_desktop.engine.fileio import write_text_atomic
from artgen_desktop.engine.params import VARIETY
from trainer.data import load_tones, scan_folder
from trainer.judge import JUDGE_SIZE, cached_judge
from trainer.losses import edge_sharpness
from trainer.sheets import contact_sheet

FALLBACKS = {"", "an engraving", "engraving", "an image", "a picture"}
_WORDS = re.compile(r"[a-z0-9']+")

# the bundled model's targets (README, "The bundled default model")
TARGETS = {
    "r_precision_ratio": (">=", 0.9),  # generated / real held-out
    "fd_ratio": ("<=", 1.5),  # FD(generated, held-out) / FD(train, held-out)
    "fallback_count": ("<=", 0),
    "well_formed_rate": (">=", 0.99),
    "distinct_rate": (">=", 0.5),
    "sharpness_ratio": (">=", 0.8),  # edge sharpness of generated tones / of real held-out tones
    "novelty_ratio": (">=", 0.75),  # median nearest-training distance: generated / real held-out
}
SHEETS = {"contact_sheet.png": 0, "contact_sheet_1000.png": 1000}  # file -> first of 64 seeds


def well_formed(caption: str) -> bool:
    """Ends like a sentence, has a word, and does not stutter (no repeated word or bigram)."""
    words = _WORDS.findall(caption.lower())
    if not words or not caption.rstrip().endswith((".", "!", "?")):
        return False
    if any(a == b for a, b in zip(words, words[1:])):
        return False
    bigrams = list(zip(words, words[1:]))
    return len(bigrams) == len(set(bigrams))


def is_fallback(caption: str) -> bool:
    return " ".join(_WORDS.findall(caption.lower())) in FALLBACKS


def r_precision(img: torch.Tensor, txt_of: dict[str, torch.Tensor], captions: list[str], pool: list[str],
                rng: np.random.Generator, distractors: int = 99) -> float:
    """Share of images whose own caption out-scores `distractors` other captions drawn from `pool`."""
    pool_arr = np.array(sorted(set(pool)))
    pool_emb = torch.stack([txt_of[c] for c in pool_arr])
    hits = 0
    for i, cap in enumerate(captions):
        choices = np.flatnonzero(pool_arr != cap)
        pick = rng.choice(choices, size=min(distractors, len(choices)), replace=False)
        true_score = float(img[i] @ txt_of[cap])
        hits += true_score > float((pool_emb[pick] @ img[i]).max())
    return hits / max(len(captions), 1)


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64), b.astype(np.float64)
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(s1)
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = root @ s2 @ root
    tr_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)


def mean_pairwise_distance(e: torch.Tensor) -> float:
    """Mean cosine distance over all pairs of unit vectors."""
    n = len(e)
    s = e.sum(0)
    return float(1 - (s @ s - n) / (n * (n - 1)))


def nearest_distance(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """RMS pixel distance from each row of x to its nearest row of ref (tones at 32 px, 0..1)."""
    xt, rt = torch.from_numpy(x).float(), torch.from_numpy(ref).float()
    d = torch.cdist(xt, rt).min(dim=1).values / np.sqrt(x.shape[1])
    return d.numpy()


def _small(tones: np.ndarray, size: int) -> np.ndarray:
    t = torch.from_numpy(tones).float()[:, None]
    return torch.nn.functional.interpolate(t, size=(size, size), mode="area")[:, 0].round().byte().numpy()


def evaluate(model_path, dataset, seeds: int = 1000, out_dir=None, temperature: float = 0.7,
             judge_seconds: float = 150.0, cache_dir=None, log=print, variety: float | None = None) -> dict:
    t0 = time.time()
    engine = Engine.load(model_path, device="cpu")
    scan = scan_folder(dataset)
    items = [it for it in scan.items if it.caption]
    if not items:
        raise SystemExit(f"evaluate: {dataset} has no captioned images")
    size = engine.model.cfg.image_size
    tones = load_tones(items, size, cache_dir=cache_dir, workers=2)
    train = [i for i, it in enumerate(items) if it.split == "train"]
    val = [i for i, it in enumerate(items) if it.split == "val"]
    if len(val) < 3:
        raise SystemExit(f"evaluate: only {len(val)} held-out images; need at least 3")
    captions = [it.caption for it in items]
    small = _small(tones, JUDGE_SIZE)

    from platformdirs import user_cache_dir
    cache = Path(cache_dir) if cache_dir else Path(user_cache_dir("artgen-desktop")) / "judge"
    judge = cached_judge(cache, small[train], [captions[i] for i in train], judge_seconds, log=log)

    log(f"generating {seeds} seeds …")
    settings = Settings(temperature=temperature, size=256)
    if variety is not None:
        settings = replace(settings, variety=VARIETY.check(variety, "--variety"))
    g_caps, g_tones = [], []
    t_gen = time.time()
    for batch in engine.iter_generate(list(range(seeds)), settings, batch_size=64):
        for r in batch:
            g_caps.append(r.caption)
            g_tones.append(np.asarray(r.tone, dtype=np.uint8))
    gen_seconds = time.time() - t_gen
    g_tones_arr = np.stack(g_tones)
    g_small = _small(g_tones_arr, JUDGE_SIZE)

    rng = np.random.default_rng(0)
    txt_of = dict(zip(sorted(set(captions) | set(g_caps)),
                      judge.texts(sorted(set(captions) | set(g_caps)))))
    g_img = judge.images(g_small)
    r_img = judge.images(small)
    val_caps = [captions[i] for i in val]
    shuffled = [g_caps[j] for j in rng.permutation(len(g_caps))]
    rp_gen = r_precision(g_img, txt_of, g_caps, g_caps, rng)
    rp_real = r_precision(r_img[val], txt_of, val_caps, captions, rng)
    rp_shuffled = r_precision(g_img, txt_of, shuffled, g_caps, rng)

    train_sample = rng.choice(train, size=min(len(train), seeds), replace=False)
    fd_gen = frechet(g_img.numpy(), r_img[val].numpy())
    fd_train = frechet(r_img[train_sample].numpy(), r_img[val].numpy())

    # held-out reconstructions: how much of a real picture the autoencoder keeps
    val_x = torch.from_numpy(tones[val]).float().div(255).unsqueeze(1)
    with torch.no_grad():
        val_rec = torch.cat([engine.model.decoder(engine.model.encoder(chunk)).float().clamp(0, 1)
                             for chunk in val_x.split(128)])
    sharp_gen = float(edge_sharpness(torch.from_numpy(g_tones_arr).float().div(255)).mean())
    sharp_real = float(edge_sharpness(val_x).mean())

    train_caps = {captions[i] for i in train}
    # training pictures and their mirror images: a prior that stores mirrored latents would otherwise
    # pass a mirrored copy off as a new picture
    small_train = _small(tones[train], 32)
    tiny_train = np.concatenate([small_train, small_train[:, :, ::-1]]).reshape(2 * len(train), -1) / 255.0
    near_gen = nearest_distance(_small(g_tones_arr, 32).reshape(seeds, -1) / 255.0, tiny_train)
    near_val = nearest_distance(_small(tones[val], 32).reshape(len(val), -1) / 255.0, tiny_train)

    metrics = {
        "model": str(model_path), "model_hash": engine.info.hash, "model_mb": round(engine.info.size_bytes / 1e6, 2),
        "dataset": str(dataset), "train_images": len(train), "heldout_images": len(val), "seeds": seeds,
        "temperature": temperature, "variety": settings.variety,
        "r_precision": {"generated": rp_gen, "real_heldout": rp_real, "shuffled": rp_shuffled,
                        "distractors": 99},
        "r_precision_ratio": rp_gen / rp_real if rp_real else None,
        "frechet_judge": {"generated_vs_heldout": fd_gen, "train_vs_heldout": fd_train},
        "fd_ratio": fd_gen / fd_train if fd_train else None,
        "well_formed_rate": float(np.mean([well_formed(c) for c in g_caps])),
        "fallback_count": int(sum(is_fallback(c) for c in g_caps)),
        "distinct_rate": len(set(g_caps)) / seeds,
        "distinct_per_1000": round(len(set(g_caps)) * 1000 / seeds, 1),
        "verbatim_copy_rate": float(np.mean([c in train_caps for c in g_caps])),
        "diversity": {"generated": mean_pairwise_distance(g_img),
                      "real_train": mean_pairwise_distance(r_img[train_sample])},
        "sharpness": {"generated": sharp_gen, "real_heldout": sharp_real,
                      "reconstructed_heldout": float(edge_sharpness(val_rec).mean()),
                      "measure": f"RMS gradient magnitude of {size} px tone images"},
        "sharpness_ratio": sharp_gen / sharp_real if sharp_real else None,
        "heldout_reconstruction_l1": float((val_rec - val_x).abs().mean()),
        "novelty_ratio": float(np.median(near_gen) / np.median(near_val)) if np.median(near_val) else None,
        "nearest_train_distance": {"generated_median": float(np.median(near_gen)),
                                   "heldout_real_median": float(np.median(near_val)),
                                   "generated_share_closer_than_heldout_p10":
                                       float(np.mean(near_gen < np.percentile(near_val, 10)))},
        "generation_seconds": round(gen_seconds, 2), "eval_seconds": round(time.time() - t0, 1),
    }
    metrics["targets"] = {}
    for name, (op, bound) in TARGETS.items():
        v = metrics[name]
        met = v is not None and (v >= bound if op == ">=" else v <= bound)
        metrics["targets"][name] = {"value": v, "target": f"{op} {bound}", "met": bool(met)}

    out = Path(out_dir) if out_dir else Path(str(model_path).removesuffix(".safetensors") + ".eval")
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    for name, first in SHEETS.items():
        sheet_results = engine.generate(list(range(first, first + 64)), settings)
        sheet = contact_sheet([r.image for r in sheet_results],
                              [f"{r.seed}: {r.caption}" for r in sheet_results], cols=8, cell=160)
        sheet.save(out / name, optimize=True)
    log(f"wrote {out / 'metrics.json'} and the contact sheets in {out}")
    return metrics


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m trainer.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("model")
    p.add_argument("dataset")
    p.add_argument("--seeds", type=int, default=1000)
    p.add_argument("--out", help="output folder (default: MODEL without suffix + '.eval')")
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--variety", type=float, help="the prior's variety (default: the app's default)")
    p.add_argument("--judge-seconds", type=float, default=150.0, help="training time for an uncached judge")
    p.add_argument("--cache", help="cache folder for tone images and the judge")
    args = p.parse_args(argv)
    from artgen_desktop.engine import ArtGenError
    try:
        m = evaluate(args.model, args.dataset, args.seeds, args.out, args.temperature, args.judge_seconds,
                     args.cache, log=lambda s: print(s, file=sys.stderr), variety=args.variety)
    except (ArtGenError, NotADirectoryError) as e:
        print(f"evaluate: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps({k: m[k] for k in ("r_precision", "frechet_judge", "well_formed_rate", "fallback_count",
                                        "distinct_per_1000", "verbatim_copy_rate", "sharpness",
                                        "heldout_reconstruction_l1", "nearest_train_distance", "targets")},
                     indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
