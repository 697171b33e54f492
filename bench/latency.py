"""Single-request latency, the 9-frame interpolation strip, and where the time of one pair goes.

All in this process, with torch's default thread count (every core): this is what the app's engine
thread sees when an artist asks for one picture. Latency and interpolation run the engine on opts.device
(--device); results come back as PIL images, so each timed call includes the GPU's work. The breakdown
times stages alone without synchronising a GPU, so it always runs on the CPU.
"""

from __future__ import annotations

import statistics
import time

import torch

from .common import CpuWatch, Options, percentile, say, target, write_result


class _Clock:
    """`with clock("stage"):` adds the block's milliseconds per pair to stages["stage"]."""

    def __init__(self, stages: dict[str, list[float]], pairs: int):
        self.stages, self.pairs, self.name, self.t0 = stages, pairs, "", 0.0

    def __call__(self, name: str) -> _Clock:
        self.name = name
        return self

    def __enter__(self) -> None:
        self.t0 = time.perf_counter()

    def __exit__(self, *exc) -> None:
        self.stages.setdefault(self.name, []).append((time.perf_counter() - self.t0) * 1000 / self.pairs)


def _engine(opts: Options, device: str | None = None):
    from artgen_desktop.engine import Engine
    return Engine.load(opts.model, device=device or opts.device)


def latency(opts: Options) -> dict:
    from artgen_desktop.engine import Settings
    from artgen_desktop.engine.pngmeta import png_bytes
    engine = _engine(opts)
    settings = Settings()
    n = 10 if opts.quick else 200
    for s in (10**9, 10**9 + 1, 10**9 + 2):  # warm-up: first-call allocations and kernel choices
        engine.generate([s], settings, batch_size=1)
    pair, with_png = [], []
    watch = CpuWatch()
    for seed in range(n):
        t0 = time.perf_counter()
        (r,) = engine.generate([seed], settings, batch_size=1)
        t1 = time.perf_counter()
        png_bytes(r.image, r.metadata)
        t2 = time.perf_counter()
        pair.append((t1 - t0) * 1000)
        with_png.append((t2 - t0) * 1000)
    figures = {
        "seeds": n, "size_px": settings.size, "device": opts.device, "torch_threads": torch.get_num_threads(),
        "other_processes_cores": watch.stop(),
        "image_and_caption_ms": {"p50": round(percentile(pair, 50), 2), "p95": round(percentile(pair, 95), 2),
                                 "mean": round(statistics.fmean(pair), 2), "max": round(max(pair), 2)},
        "plus_png_encoding_ms": {"p50": round(percentile(with_png, 50), 2), "p95": round(percentile(with_png, 95), 2)},
        "method": "engine.generate([seed], batch_size=1) per seed: seed -> prior -> tone + caption -> 512 px "
                  "engraving as a PIL image; then, separately, the PNG bytes with metadata",
    }
    p95 = figures["image_and_caption_ms"]["p95"]
    say(f"latency: p50 {figures['image_and_caption_ms']['p50']:.1f} ms, p95 {p95:.1f} ms over {n} seeds "
        f"(with PNG encoding p95 {figures['plus_png_encoding_ms']['p95']:.1f} ms)")
    write_result(opts, "latency", figures, {"p95_ms": target(p95, "<=", 80, "ms")}, opts.device)
    return figures


def interpolation(opts: Options) -> dict:
    from artgen_desktop.engine import Settings
    engine = _engine(opts)
    settings = Settings()
    engine.interpolate(10**9, 10**9 + 1, frames=9, settings=settings)  # warm-up
    reps = 2 if opts.quick else 12
    times = []
    watch = CpuWatch()
    for i in range(reps):
        t0 = time.perf_counter()
        frames = engine.interpolate(2 * i, 2 * i + 1, frames=9, settings=settings)
        times.append((time.perf_counter() - t0) * 1000)
        assert len(frames) == 9
    figures = {"frames": 9, "size_px": settings.size, "strips": reps, "device": opts.device,
               "torch_threads": torch.get_num_threads(),
               "other_processes_cores": watch.stop(),
               "strip_ms": {"median": round(statistics.median(times), 1), "max": round(max(times), 1),
                            "min": round(min(times), 1)},
               "method": "engine.interpolate(a, b, frames=9): 9 pictures + captions at 512 px in one batch"}
    med = figures["strip_ms"]["median"]
    say(f"interpolation: 9-frame strip median {med:.0f} ms, max {figures['strip_ms']['max']:.0f} ms")
    write_result(opts, "interpolation", figures, {"strip_ms": target(med, "<=", 400, "ms")}, opts.device)
    return figures


def breakdown(opts: Options) -> dict:
    """Milliseconds per pair in each stage, for one seed alone and for a batch: what bounds latency and
    throughput, with one torch thread and with all of them."""
    from artgen_desktop.engine import Settings
    from artgen_desktop.engine.fileio import write_bytes_atomic, write_text_atomic
    from artgen_desktop.engine.pngmeta import png_bytes
    from artgen_desktop.engine.render import engrave
    from artgen_desktop.engine.sampling import caption_generators, seed_noise
    engine = _engine(opts, "cpu")
    settings = Settings()
    reps = 1 if opts.quick else 5
    folder = opts.workdir / "breakdown"
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    default_threads = torch.get_num_threads()
    watch = CpuWatch()
    for b in (1, 4) if opts.quick else (1, 16):
        for threads in sorted({1, default_threads}):
            torch.set_num_threads(threads)
            stages: dict[str, list[float]] = {}
            for rep in range(reps + 1):  # the first round warms up and is dropped
                seeds = list(range(rep * b, rep * b + b))
                clock = _Clock(stages if rep else {}, b)
                with torch.no_grad():
                    noise = seed_noise(seeds, engine.model.cfg.latent_dim)
                    with clock("prior"):
                        z = engine.latents(noise)
                    with clock("image_decoder"):
                        tone = engine.model.decoder(z)[:, 0].clamp(0, 1)
                    with clock("captions"):
                        engine.captions(z, settings.temperature, caption_generators(seeds))
                    with clock("engrave_512"):
                        engrave(tone, settings.style, settings.size)
                results = engine.generate(seeds, settings, batch_size=b)
                with clock("png_encode"):
                    pngs = [png_bytes(r.image, r.metadata) for r in results]
                with clock("write_files"):
                    for i, (data, r) in enumerate(zip(pngs, results)):
                        write_bytes_atomic(folder / f"{i}.png", data)
                        write_text_atomic(folder / f"{i}.txt", r.caption)
            row = {k: round(statistics.median(v), 2) for k, v in stages.items()}
            row["total"] = round(sum(row.values()), 2)
            out[f"batch_{b}_threads_{threads}"] = row
    torch.set_num_threads(default_threads)
    figures = {"size_px": settings.size, "ms_per_pair": out, "other_processes_cores": watch.stop(),
               "method": "each stage timed alone (median of 5 batches after a warm-up); write_files = atomic "
                         "PNG + txt writes (temp file, fsync, rename) one after the other; metadata.jsonl not "
                         "included"}
    for k, v in out.items():
        say(f"breakdown ({k.replace('_', ' ')}), ms per pair: " + ", ".join(f"{s} {t:.1f}" for s, t in v.items()))
    write_result(opts, "breakdown", figures)
    return figures
