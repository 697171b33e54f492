"""`python -m bench`: every figure of docs/architecture.md ("Benchmarks") and issue 6, printed and written
to bench/results/<name>.json.

    python -m bench [--model FILE] [--only throughput,latency,...] [--out DIR] [--quick] [--device cpu|cuda|auto]

--model defaults to the bundled model (resources/models/default.safetensors). --quick is a smoke run of
a few seconds (a tiny untrained model unless --model is given; its numbers mean nothing) that writes the
same files, into a temporary folder unless --out is given.

--device cuda (or auto on a machine with a CUDA GPU) runs the throughput, latency, interpolation and
training figures with the engine and the training step on the GPU, and by default only those (and the
model size); their results go to bench/results/cuda/ unless --out is given, so the CPU figures stay.
Figures named in --only that have no GPU path (gui, cold_start, memory, breakdown) still run on the CPU,
and each result's machine description says which device it ran on.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .common import RESULTS, Options, say

FIGURES = ("gui", "cold_start", "memory", "model", "latency", "interpolation", "breakdown", "training", "throughput",
           "atlas", "styles")
# the figures that run on --device; the others time the app's own processes, which use the CPU
DEVICE_FIGURES = ("latency", "interpolation", "training", "throughput", "atlas")


def _tiny_model(folder: Path) -> Path:
    import torch

    from artgen_desktop.engine import ArtGenModel, ModelConfig, Tokenizer, save_checkpoint
    tok = Tokenizer.build(["A penguin on the ice.", "A red ball.", "An old teapot with flowers.",
                           "A horse running in a field."])
    torch.manual_seed(0)
    path = folder / "tiny.safetensors"
    save_checkpoint(path, ArtGenModel(ModelConfig.preset("tiny", vocab_size=len(tok))), tok,
                    summary={"note": "untrained tiny model for bench --quick"})
    return path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="model file (default: the bundled model)")
    p.add_argument("--only", help=f"comma-separated figures: {', '.join(FIGURES)}")
    p.add_argument("--out", help="folder for the JSON results (default: bench/results, or a temp folder with --quick)")
    p.add_argument("--quick", action="store_true", help="smoke run: seconds, tiny sizes, meaningless numbers")
    p.add_argument("--pairs", type=int, help="pairs per throughput configuration (default 384; the prototype 64)")
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"],
                   help=f"where {', '.join(DEVICE_FIGURES)} run (default cpu; auto: cuda when there is a GPU)")
    return p


def resolve_device(asked: str) -> str | None:
    """"cpu" or "cuda"; None when cuda was asked for and torch sees no CUDA GPU."""
    import torch
    if asked == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if asked == "cuda" and not torch.cuda.is_available():
        return None
    return asked


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    device = resolve_device(args.device)
    if device is None:
        import torch
        print(f"bench: error: --device cuda but torch {torch.__version__} sees no CUDA GPU "
              f"(built for CUDA {torch.version.cuda or 'none'}); use --device cpu", file=sys.stderr)
        return 2
    default_figures = FIGURES if device == "cpu" else ("model", *DEVICE_FIGURES)
    only = [f.strip() for f in args.only.split(",")] if args.only else list(default_figures)
    unknown = set(only) - set(FIGURES)
    if unknown:
        print(f"bench: error: unknown figure(s) {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    from artgen_desktop.engine import bundled_model_path
    with tempfile.TemporaryDirectory(prefix="artgen-bench-") as tmp:
        work = Path(tmp)
        if args.model:
            model = Path(args.model).resolve()
        elif args.quick:
            model = _tiny_model(work)
        else:
            model = bundled_model_path()
        if not model.is_file():
            print(f"bench: error: no model file at {model}; pass --model FILE", file=sys.stderr)
            return 2
        results = RESULTS if device == "cpu" else RESULTS / device
        out = Path(args.out) if args.out else (work / "results" if args.quick else results)
        opts = Options(model=model, out=out.resolve(), quick=args.quick, workdir=work, pairs=args.pairs,
                       device=device)
        if args.quick:
            import torch
            torch.set_num_threads(1)  # a smoke run checks that everything runs, on whatever else the cores do
        from .common import machine
        m = machine(device)
        say(f"bench: {m['cpu']}, {m['usable_cores']} cores ({', '.join(m['simd'])}), torch {m['torch']} "
            f"({m['torch_threads']} threads), load average {m['load_average_at_start']}; device {m['device']}; "
            f"model {model}")
        started = time.monotonic()
        from . import atlas, latency, startup, styles, throughput, training
        in_process = {
            "atlas": atlas.run, "styles": styles.run,
            "model": startup.model_size, "latency": latency.latency, "interpolation": latency.interpolation,
            "breakdown": latency.breakdown, "training": training.run, "throughput": throughput.run,
        }
        # --quick: the child-process figures and the throughput workers' loading run beside the in-process
        # figures (a smoke run's numbers mean nothing, and this keeps it to seconds); a real run measures
        # one figure at a time
        workers = throughput.start_workers(opts) if args.quick and "throughput" in only else None
        in_process["throughput"] = lambda opts: throughput.run(opts, workers)
        with ThreadPoolExecutor(3 if args.quick else 1) as pool:
            gui = pool.submit(startup.gui, opts) if "gui" in only else None
            if not args.quick and gui is not None:
                gui.result()
            jobs = [gui] if gui is not None else []
            if "cold_start" in only and not (args.quick and "memory" in only):  # (--quick: memory does it)
                jobs.append(pool.submit(startup.cold_start, opts))
                if not args.quick:
                    jobs[-1].result()
            if "memory" in only:
                jobs.append(pool.submit(startup.memory, opts, gui))
                if not args.quick:
                    jobs[-1].result()
            for name in FIGURES:
                if name in only and name in in_process:
                    t0 = time.monotonic()
                    in_process[name](opts)
                    if args.quick:
                        say(f"  ({name}: {time.monotonic() - t0:.1f} s)")
            for job in jobs:
                job.result()
        say(f"bench: done in {time.monotonic() - started:.0f} s; results in {opts.out}")
        if args.quick and not args.out:
            # the temporary folder goes away: say so rather than leave the reader looking for files
            say("bench: (--quick without --out: results were temporary)")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    raise SystemExit(main())
