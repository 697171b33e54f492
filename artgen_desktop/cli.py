"""`artgen`: the GUI by default; `generate`, `interpolate`, `info` for headless work; `--self-test`.

`artgen train ...` (not listed in the help) runs the trainer: the fine-tune dialog's route in a frozen
bundle, where there is no `python -m trainer`.

Bad arguments and bad files end with a one-line `artgen: error: …` and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys


class CliError(Exception):
    pass


def _shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"shard must look like K/N (e.g. 0/4), not {text!r}") from None
    if not (n >= 1 and 0 <= k < n):
        raise argparse.ArgumentTypeError(f"shard {text!r}: need 0 <= K < N")
    return k, n


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="model .safetensors file (default: the bundled model)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--temperature", type=float, default=0.7, help="caption temperature, 0 = greedy")
    p.add_argument("--variety", type=float, default=1.0, help="scale of the seed noise (lower = more typical)")
    p.add_argument("--size", type=int, default=512, help="output size in px (256–2048)")
    p.add_argument("--style", default="engraving", choices=["engraving", "tone"])
    p.add_argument("--spacing", type=float, default=6.0, help="line spacing, px at 512")
    p.add_argument("--angle", type=float, default=35.0, help="hatching angle in degrees")
    p.add_argument("--cross", type=float, default=0.55, help="cross-hatch threshold (darkness 0–1)")
    p.add_argument("--outline", type=float, default=1.6, help="outline width, px at 512 (0 = none)")
    p.add_argument("--bend", type=float, default=1.0, help="how far lines follow forms (0 = straight)")
    p.add_argument("--out", required=True, help="output folder")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="artgen", description="ArtGen Desktop: engravings with captions, from seeds.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--self-test", action="store_true",
                        help="generate with the bundled model offscreen, check determinism, print one line and exit")
    sub = parser.add_subparsers(dest="command")

    g = sub.add_parser("gui", help="start the desktop app (the default)")
    g.add_argument("--model")
    g.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])

    gen = sub.add_parser("generate", help="write image+caption pairs for a range of seeds")
    gen.add_argument("--seeds", required=True, help="e.g. 0-99 or 1,5,10-20")
    gen.add_argument("--batch-size", type=int, default=16)
    gen.add_argument("--shard", type=_shard, help="K/N: write only every N-th seed starting at the K-th")
    _common(gen)

    it = sub.add_parser("interpolate", help="frames and an animated GIF between two seeds")
    it.add_argument("seed_a", type=int)
    it.add_argument("seed_b", type=int)
    it.add_argument("--frames", type=int, default=9)
    it.add_argument("--easing", default="ease-in-out")
    it.add_argument("--frame-ms", type=int, default=120, help="GIF frame duration")
    _common(it)

    info = sub.add_parser("info", help="print a model file's config and training summary")
    info.add_argument("model")
    return parser


def _settings(args):
    from .engine import EngraveStyle, Settings
    style = EngraveStyle(spacing=args.spacing, angle=args.angle, cross_threshold=args.cross,
                         outline=args.outline, bend=args.bend, mode=args.style)
    return Settings(temperature=args.temperature, variety=args.variety, size=args.size, style=style)


def cmd_generate(args) -> int:
    from tqdm import tqdm

    from .engine import Engine, ExportWriter, parse_seeds
    seeds = parse_seeds(args.seeds)
    if args.shard:
        k, n = args.shard
        seeds = seeds[k::n]
    settings = _settings(args)
    writer = ExportWriter(args.out)  # checks the folder before the model loads
    engine = Engine.load(args.model, device=args.device)
    with writer, tqdm(total=len(seeds), unit="pair", desc="generate", file=sys.stderr) as bar:
        for batch in engine.iter_generate(seeds, settings, batch_size=args.batch_size):
            for r in batch:
                writer.add(r)
            writer.flush()
            bar.update(len(batch))
    print(f"wrote {len(seeds)} pairs to {writer.folder}")
    return 0


def cmd_interpolate(args) -> int:
    from .engine import Engine, ExportWriter
    from .engine.export import stem_for
    settings = _settings(args)
    writer = ExportWriter(args.out)
    engine = Engine.load(args.model, device=args.device)
    frames = engine.interpolate(args.seed_a, args.seed_b, frames=args.frames, easing=args.easing, settings=settings)
    with writer:
        for i, r in enumerate(frames):
            writer.add(r, stem=f"{stem_for(r)}-to-{args.seed_b:06d}-frame-{i:03d}")
    gif = writer.folder / f"interpolation-{args.seed_a}-{args.seed_b}.gif"
    from .engine.animation import write_animation
    write_animation(gif, [r.image for r in frames], args.frame_ms)
    print(f"wrote {len(frames)} frames and {gif}")
    return 0


def cmd_info(args) -> int:
    from .engine import read_info
    info, tok = read_info(args.model)
    print(json.dumps({"file": info.path, "hash": info.hash, "size_mb": round(info.size_bytes / 1e6, 2),
                      "vocabulary": len(tok), "config": json.loads(info.config.to_json()),
                      "summary": info.summary}, indent=2))
    return 0


def cmd_gui(args) -> int:
    from .ui.app import run
    return run(model=args.model, device=args.device)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:
        from trainer.train import main as train
        return train(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__
        print(__version__)
        return 0
    if args.self_test:
        from .selftest import run as self_test
        return self_test()
    if args.command is None:
        args = parser.parse_args(["gui", *argv])
    from .engine.errors import ArtGenError
    try:
        return {"generate": cmd_generate, "interpolate": cmd_interpolate, "info": cmd_info,
                "gui": cmd_gui}[args.command](args)
    except (ArtGenError, ValueError) as e:
        print(f"artgen: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("artgen: interrupted; files written so far are complete", file=sys.stderr)
        return 130
    except OSError as e:
        print(f"artgen: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
