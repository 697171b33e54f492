"""`python -m bench`: every figure of DESIGN §8 / issue 6, printed and written to bench/results/<name>.json.

    python -m bench [--model FILE] [--only throughput,latency,...] [--out DIR] [--quick]

--model defaults to the bundled model (resources/models/default.safetensors). --quick is a smoke run of
a few seconds (a tiny untrained model unless --model is given; its numbers mean nothing) that writes the
same files, into a temporary folder unless --out is given.
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

FIGURES = ("gui", "cold_start", "memory", "model", "latency", "interpolation", "breakdown", "training", "throughput")


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
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    only = [f.strip() for f in args.only.split(",")] if args.only else list(FIGURES)
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
        out = Path(args.out) if args.out else (work / "results" if args.quick else RESULTS)
        opts = Options(model=model, out=out.resolve(), quick=args.quick, workdir=work, pairs=args.pairs)
        if args.quick:
            import torch
            torch.set_num_threads(1)  # a smoke run checks that everything runs, on whatever else the cores do
        from .common import machine
        m = machine()
        say(f"bench: {m['cpu']}, {m['usable_cores']} cores ({', '.join(m['simd'])}), torch {m['torch']} "
            f"({m['torch_threads']} threads), load average {m['load_average_at_start']}; model {model}")
        started = time.monotonic()
        from . import latency, startup, throughput, training
        in_process = {
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
