"""`artgen`: the GUI by default; `generate`, `interpolate`, `info`, `atlas`, `search` for headless work; `--self-test`.

`artgen train ...` (not listed in the help) runs the trainer: the fine-tune dialog's route in a frozen
bundle, where there is no `python -m trainer`.

Bad arguments and bad files end with a one-line `artgen: error: …` and exit status 2, never a traceback.
Arguments are checked before anything is created: a refused command leaves no folder and no file.
The picture settings' options, ranges and defaults come from engine/params.py (as the app's sliders do).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import sys
from dataclasses import replace
from pathlib import Path

from .engine.atlas import BUILD_BATCH
from .engine.errors import ArtGenError
from .engine.params import DEFAULT_STYLE, FRAME_MS, FRAMES, GENERATION, STYLES, Param, style_params

# run options of `generate` (not settings of a picture, so not in params.py)
BATCH = Param("batch_size", int, 1, 1024, 64, 1, 0, "Batch size", "Seeds generated together.")
WORKERS = Param("workers", int, 1, 64, 1, 1, 0, "Workers", "worker processes")
MAX_PIXELS_AT_ONCE = 1 << 29  # pictures held in memory at once (8-bit): 512 MiB, e.g. 128 at 2048 px
SEEDS_PER_WORKER = 64  # --workers auto starts another process only when each gets this many seeds (a start loads torch)
MAX_AUTO_WORKERS = 8
FORMATS = {"png": ("png",), "svg": ("svg",), "both": ("png", "svg")}  # --format: the files of each picture


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line like every other refusal, not argparse's usage block
        self.exit(2, f"artgen: error: {message} (see `{self.prog} --help`)\n")


def _shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"shard must look like K/N (e.g. 0/4), not {text!r}") from None
    if not (n >= 1 and 0 <= k < n):
        raise argparse.ArgumentTypeError(f"shard {text!r}: need 0 <= K < N")
    return k, n


def _workers(text: str) -> int | None:
    if text == "auto":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be auto or a number, not {text!r}") from None


class _Given(argparse.Action):
    """Stores the value and notes that the option was given (`args.given`): told apart from its default, a
    given style option overrides a --preset's value and a default one does not."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        namespace.given = frozenset(getattr(namespace, "given", ())) | {self.dest}


def _add_param(p, param: Param, action=None) -> None:
    p.add_argument(param.option, dest=param.name, type=param.kind, default=param.default, action=action,
                   metavar=param.kind.__name__.upper(), help=_help(param))


def _help(param: Param) -> str:
    return f"{param.help} ({param.minimum:g} to {param.maximum:g}; default {param.default:g})"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="model .safetensors file (default: the bundled model)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    for param in GENERATION:
        _add_param(p, param)
    styles = ", ".join(f"{s.name} ({s.help.rstrip('.').lower()})" for s in STYLES.values())
    p.set_defaults(given=frozenset())  # the style options given (_Given)
    p.add_argument("--style", default=DEFAULT_STYLE, choices=list(STYLES), action=_Given,
                   help=f"print style: {styles}")
    p.add_argument("--preset", metavar="FILE",
                   help="start from the style and style settings in a style preset file (JSON, made by "
                        "--save-preset or the app's Save style preset); style options given alongside override "
                        "the preset's values, and --style, if given, must name the preset's own style")
    p.add_argument("--save-preset", metavar="FILE",
                   help="also save this command's style and its settings as a style preset file (JSON), once "
                        "the options are checked")
    for style in STYLES.values():
        if style.params:
            group = p.add_argument_group(f"{style.name} style")
            for param in style.params:
                _add_param(group, param, _Given)
    p.add_argument("--out", required=True, help="output folder (created if missing)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="artgen", description="ArtGen Desktop: engravings with captions, from seeds.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--self-test", action="store_true",
                        help="generate with the bundled model offscreen, check determinism, print one line and exit")
    sub = parser.add_subparsers(dest="command")

    g = sub.add_parser("gui", help="start the desktop app (the default)")
    g.add_argument("--model")
    g.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])

    gen = sub.add_parser("generate", help="write image+caption pairs for a range of seeds")
    gen.add_argument("--seeds", required=True, help="e.g. 0-99 or 1,5,10-20")
    gen.add_argument("--batch-size", type=int, default=BATCH.default, metavar="N", help=_help(BATCH))
    gen.add_argument("--workers", type=_workers, default=None, metavar="auto|N",
                     help="worker processes, each writing its share of the seeds into the output folder "
                          f"(auto: on a CPU one per core, at most {MAX_AUTO_WORKERS}, when each gets "
                          f"{SEEDS_PER_WORKER}+ seeds; else 1)")
    gen.add_argument("--shard", type=_shard, metavar="K/N", help="K/N: write only every N-th seed starting at the K-th")
    gen.add_argument("--format", default=None, choices=list(FORMATS),
                     help="png (the default), svg (vectors that remember their settings as the PNG does) or both")
    gen.add_argument("--plotter", action="store_true",
                     help="SVGs for a pen plotter: strokes only, in mm on --page, one Inkscape layer per pen pass, "
                          "paths joined and ordered to cut pen-up travel (implies --format svg unless both)")
    gen.add_argument("--page", default="A4", help="plotter page: A4, A3, letter or WxHmm, e.g. 300x300mm (default A4)")
    gen.add_argument("--margin", type=float, default=15.0, metavar="MM", help="plotter page margin, mm (default 15)")
    gen.add_argument("--pen", type=float, default=0.3, metavar="MM",
                     help="plotter pen width, mm (default 0.3): wider lines take extra passes")
    _common(gen)

    it = sub.add_parser("interpolate", help="frames and an animated GIF between two seeds")
    it.add_argument("seed_a", type=int)
    it.add_argument("seed_b", type=int)
    it.add_argument("--frames", type=int, default=FRAMES.default, metavar="N", help=_help(FRAMES))
    it.add_argument("--easing", default="ease-in-out", choices=["linear", "ease-in-out", "ease-in", "ease-out"])
    it.add_argument("--frame-ms", type=int, default=FRAME_MS.default, metavar="MS", help=_help(FRAME_MS))
    _common(it)

    info = sub.add_parser("info", help="print a model file's config and training summary")
    info.add_argument("model")

    # the seed atlas (engine/atlas.py): every seed's latent and greedy caption, for `search` and the app
    atlas = sub.add_parser("atlas", help="build or merge the seed atlas that `search` and the app's search use")
    atlas_sub = atlas.add_subparsers(dest="atlas_command", required=True)
    ab = atlas_sub.add_parser("build", help="add seeds to a model's atlas (resumable: seeds done are skipped)")
    ab.add_argument("--model", help="model .safetensors file (default: the bundled model)")
    ab.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ab.add_argument("--seeds", default="0-99999", help="e.g. 0-99999 (the default) or 1,5,10-20")
    ab.add_argument("--shard", type=_shard, metavar="K/N", help="K/N: only every N-th seed starting at the K-th")
    ab.add_argument("--db", help="atlas file (default: the model's atlas in the user cache folder)")
    ab.add_argument("--batch-size", type=int, default=BUILD_BATCH, metavar="N",
                    help=f"seeds per step (default {BUILD_BATCH})")
    am = atlas_sub.add_parser("merge", help="merge atlases of one model (e.g. shards) into OUT")
    am.add_argument("out", help="the merged atlas file (made if missing)")
    am.add_argument("inputs", nargs="+", help="atlas files to add")

    se = sub.add_parser("search", help="find seeds by words (and/or by likeness to a seed) in the seed atlas")
    se.add_argument("words", nargs="?", default="", help='e.g. "horse" or "a red flower"')
    se.add_argument("--like", type=int, metavar="SEED", help="seeds whose latent is nearest this seed's")
    se.add_argument("--limit", type=int, default=50, metavar="N", help="results (1 to 10000; default 50)")
    se.add_argument("--export", metavar="DIR", help="also write the results as PNG + caption pairs to DIR")
    se.add_argument("--model", help="model .safetensors file (default: the bundled model)")
    se.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    se.add_argument("--db", help="atlas file (default: the model's atlas in the user cache folder)")
    return parser


# ---- checks before anything is made -------------------------------------------------------------------

def _settings(args):
    """The picture settings the options ask for; a value out of range names its option. With --preset the
    preset's style and values are the starting point and the style options given override them."""
    from .engine import EngraveStyle, Settings
    for param in (*GENERATION, *style_params()):
        param.check(getattr(args, param.name), param.option)
    values = {p.name: getattr(args, p.name) for p in style_params()}
    style = EngraveStyle(mode=args.style, **values)
    if getattr(args, "preset", None) is not None:
        from .engine.presets import load_preset
        preset = load_preset(args.preset)
        given = getattr(args, "given", frozenset())
        if "style" in given and args.style != preset.style:
            raise ArtGenError(f"--style {args.style} conflicts with the {preset.style} style of the preset "
                              f"{args.preset}: leave --style out, or give the preset's style")
        style = replace(preset.apply(style), **{k: v for k, v in values.items() if k in given})
    if getattr(args, "save_preset", None) is not None:
        _check_preset_target(args.save_preset)
    return Settings(style=style, **{p.name: getattr(args, p.name) for p in GENERATION})


def _check_preset_target(text: str) -> None:
    """--save-preset FILE can be written: its folder exists and is writable, and it is not a folder."""
    path = Path(text)
    if not text.strip() or path.is_dir():
        raise ArtGenError(f"--save-preset {text!r}: give a file name for the preset")
    parent = path.absolute().parent
    if not parent.is_dir():
        raise ArtGenError(f"--save-preset {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ArtGenError(f"--save-preset {path}: the folder {parent} is not writable")


def _save_preset(args, settings) -> None:
    """Writes --save-preset's file (after every check has passed: a refused command writes nothing)."""
    if getattr(args, "save_preset", None) is not None:
        from .engine.presets import save_preset
        save_preset(args.save_preset, settings.style)
        print(f"saved the {settings.style.mode} style preset to {args.save_preset}")


def _formats(args, settings):
    """The files each picture gets and the plotter page (None unless --plotter), from --format, --plotter,
    --page, --margin and --pen."""
    formats = FORMATS[args.format or ("svg" if args.plotter else "png")]
    page = None
    if args.plotter:
        from .engine.plotter import parse_page  # (torch: only a plotter needs it)
        if "svg" not in formats:
            raise ArtGenError("--plotter writes SVGs: use --format svg or both")
        page = parse_page(args.page, args.margin, args.pen)
    if "svg" in formats and page is not None and settings.style.mode == "tone":
        raise ArtGenError("--style tone has no lines for a plotter: pick a print style")
    return formats, page


def _check_pixels(count: int, size: int, option: str) -> None:
    """`count` pictures of `size` px are held in memory at once: refuse what would not fit on a usual machine."""
    if count * size * size > MAX_PIXELS_AT_ONCE:
        most = MAX_PIXELS_AT_ONCE // (size * size)
        raise ArtGenError(f"{option} {count} at --size {size} would hold {count * size * size / 2**30:.1f} GiB "
                          f"of pictures at once; at this size use at most {most}")


def _check_out(text: str) -> Path:
    """The output folder, if it exists and is writable or can be created; nothing is created here."""
    if not text.strip():
        raise ArtGenError("--out must name a folder (it is empty)")
    out = Path(text)
    if out.exists():
        if not out.is_dir():
            raise ArtGenError(f"--out {out}: exists and is not a folder")
        if not os.access(out, os.W_OK | os.X_OK):
            raise ArtGenError(f"--out {out}: the folder is not writable")
        return out
    parent = next(p for p in out.absolute().parents if p.exists())
    if not parent.is_dir():
        raise ArtGenError(f"--out {out}: cannot be created, {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ArtGenError(f"--out {out}: cannot be created, {parent} is not writable")
    return out


@contextlib.contextmanager
def _output_folder(out: Path):
    """On failure, removes the folders this command created if they are still empty."""
    missing = [p for p in (out, *out.parents) if not p.exists()]  # deepest first
    try:
        yield
    except BaseException:
        for p in missing:
            with contextlib.suppress(OSError):
                p.rmdir()  # (only empty ones)
        raise


def _warn_damaged(writer) -> None:
    if writer.damaged:
        lines = ", ".join(map(str, writer.damaged[:10])) + (" …" if len(writer.damaged) > 10 else "")
        print(f"artgen: warning: {writer.metadata_path}: {len(writer.damaged)} damaged line(s) kept as they "
              f"are, after the rows (line {lines})", file=sys.stderr)


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # (not on every platform)
        return os.cpu_count() or 1


# ---- generate ---------------------------------------------------------------------------------------

def _cpu_only(device: str) -> bool:
    """Whether generation runs on the CPU, known without loading torch (seconds): asked for, or `auto` with a
    torch built for no GPU (its version.py names the CUDA or ROCm version a build has, None for neither)."""
    if device != "auto":
        return device == "cpu"
    import ast
    import importlib.util
    try:
        spec = importlib.util.find_spec("torch")
        tree = ast.parse((Path(next(iter(spec.submodule_search_locations))) / "version.py").read_text())
    except (AttributeError, TypeError, StopIteration, ImportError, OSError, SyntaxError, ValueError):
        return False  # no readable version.py: the model's device decides
    values = {}
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Constant):
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                if isinstance(target, ast.Name):
                    values[target.id] = node.value.value
    return "cuda" in values and values["cuda"] is None and values.get("hip") is None


def cmd_generate(args) -> int:
    from .engine.export import ExportWriter, write_batches
    from .engine.seeds import parse_seeds

    settings = _settings(args)
    batch = BATCH.check(args.batch_size, "--batch-size")
    _check_pixels(batch, settings.size, "--batch-size")
    if args.workers is not None:
        WORKERS.check(args.workers, "--workers")
    seeds = parse_seeds(args.seeds)
    if args.shard:
        k, n = args.shard
        seeds = seeds[k::n]
    formats, page = _formats(args, settings)
    out = _check_out(args.out)
    if not seeds:
        print(f"shard {args.shard[0]}/{args.shard[1]} of {args.seeds} has no seeds: nothing to write", file=sys.stderr)
        return 0
    cores = _usable_cores()
    auto = max(1, min(cores, MAX_AUTO_WORKERS, len(seeds) // SEEDS_PER_WORKER))  # on a CPU
    if args.workers is not None:
        workers = min(args.workers, len(seeds))
    else:
        workers = auto if _cpu_only(args.device) else None  # None: the model's device decides
    engine = None
    if workers != 1 and workers is not None:
        model = args.model  # each worker loads it; none writes before all have (_generate_in_workers)
    else:
        from .engine import Engine, set_threads
        engine = Engine.load(args.model, device=args.device)  # a bad model is refused before any folder is made
        model = engine.info.path or args.model
        if workers is None:
            workers = auto if engine.device.type == "cpu" else 1
    made: list[ExportWriter] = []

    def open_writer() -> ExportWriter:  # every check has passed and the model loaded: the command writes
        _save_preset(args, settings)
        made.append(ExportWriter(out, formats, page))
        _warn_damaged(made[0])
        return made[0]

    with _output_folder(out):
        if workers == 1:
            from tqdm import tqdm
            writer = open_writer()
            if engine.device.type == "cpu":
                set_threads(max(1, cores - 1))  # a core for the writer thread (two OpenMP threads stall otherwise)
            with tqdm(total=len(seeds), unit="pair", desc="generate", file=sys.stderr) as bar:
                written = write_batches(writer, engine.iter_generate(seeds, settings, batch_size=batch),
                                        on_batch=bar.update)
        else:
            written = _generate_in_workers(model, args.device, seeds, settings, batch, workers,
                                           max(1, cores // workers), out, open_writer, formats, page)
    writer = made[0]
    print(f"wrote {written} pairs to {writer.folder}")
    if page is not None:  # (with workers: the sum of the plots each reported)
        paths, before, after = writer.plotted
        print(f"plotter: {paths} paths; pen-up travel {before / 1000:.1f} m in drawing order, {after / 1000:.1f} m "
              f"ordered ({100 * after / max(before, 1e-9):.0f}%)")
    return 0


def _die_with_parent(parent: int) -> None:
    """A worker ends when its command does, even one killed outright (kill -9), rather than write on alone."""
    import signal
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # (gone already)
        os._exit(1)


def _worker(k: int, model: str | None, device: str, seeds: list[int], settings, batch: int, threads: int, out: str,
            events, go, stop, parent: int, formats=("png",), page=None) -> None:
    """One worker process: its share of the seeds into the shared folder (as `--shard K/N` would)."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops workers between batches
    _die_with_parent(parent)
    try:
        from .engine import Engine, ExportWriter, set_threads
        from .engine.export import write_batches
        set_threads(threads)
        engine = Engine.load(model, device=device)
        events.put(("ready", k, None))
        while not go.wait(0.25):  # the parent makes the folder once every worker has loaded the model
            if stop.is_set() or os.getppid() != parent:
                events.put(("done", k, 0))
                return
        writer = ExportWriter(out, formats, page)

        def batches():
            for b in engine.iter_generate(seeds, settings, batch_size=batch):
                yield b
                if stop.is_set() or os.getppid() != parent:  # (the second where there is no PDEATHSIG)
                    return

        n = write_batches(writer, batches(), on_batch=lambda m: events.put(("progress", k, m)))
        if page is not None:  # its plots' paths and pen-up travel, for the parent's report
            events.put(("plotted", k, tuple(writer.plotted)))
        events.put(("done", k, n))
    except (ArtGenError, OSError) as e:
        events.put(("error", k, str(e)))
    except BaseException as e:  # noqa: BLE001 - reported by the parent as one line
        events.put(("error", k, f"worker {k}: {type(e).__name__}: {e}"))


def _generate_in_workers(model: str | None, device: str, seeds: list[int], settings, batch: int, workers: int,
                         threads: int, out: Path, open_writer, formats=("png",), page=None) -> int:
    """Seed-sharded worker processes with `threads` torch threads each, all writing into `out` (the folder
    lock keeps metadata.jsonl whole). As bench/throughput.py runs them. Each loads the model (None: the
    bundled one) while this process waits (it need not load torch): once all have, `open_writer()` makes
    the folder and returns its ExportWriter, and they write; a model they refuse leaves nothing made.
    Returns the pairs written; with a plotter `page`, the workers' plots (paths, pen-up travel before and
    after ordering, mm) are added into the writer's `plotted`."""
    import multiprocessing as mp

    from tqdm import tqdm
    ctx = mp.get_context("spawn")  # (fork would copy torch's thread pools)
    events, go, stop = ctx.Queue(), ctx.Event(), ctx.Event()
    procs = [ctx.Process(target=_worker, name=f"artgen-worker-{k}", daemon=True,
                         args=(k, model, device, seeds[k::workers], settings, batch, threads,
                               str(out.absolute()), events, go, stop, os.getpid(), formats, page))
             for k in range(workers)]
    for p in procs:
        p.start()
    writer, bar, ready = None, None, set()
    written, finished, silent, error = 0, set(), set(), None
    try:
        while len(finished) < workers:
            try:
                kind, k, value = events.get(timeout=0.5)
            except queue.Empty:
                for k, p in enumerate(procs):
                    if k not in finished and p.exitcode is not None:
                        if k in silent:  # ended without a word, twice looked at: killed (out of memory?)
                            error = error or f"worker {k} stopped unexpectedly (exit code {p.exitcode})"
                            finished.add(k)
                            stop.set()
                        silent.add(k)
                continue
            if kind == "ready":
                ready.add(k)
                if len(ready) == workers and error is None:
                    if any(p.exitcode is not None for p in procs):  # (one died after it said ready)
                        stop.set()
                        continue
                    writer = open_writer()
                    bar = tqdm(total=len(seeds), unit="pair", desc=f"generate ({workers} workers)",
                               file=sys.stderr)
                    go.set()
            elif kind == "progress":
                written += value
                bar.update(value)
            elif kind == "plotted":
                for i, v in enumerate(value):
                    writer.plotted[i] += v
            else:
                finished.add(k)
                if kind == "error":
                    error = error or value
                    stop.set()
    finally:
        if bar is not None:
            bar.close()
        stop.set()  # (after Ctrl-C too: each worker writes the batch it has and stops)
        for p in procs:
            p.join(120)
            if p.is_alive():
                p.terminate()
                p.join()
    if error:
        raise ArtGenError(error)
    return written


# ---- interpolate, info, gui -------------------------------------------------------------------------

def cmd_interpolate(args) -> int:
    from .engine import Engine, ExportWriter, check_seed
    from .engine.animation import write_animation
    from .engine.export import stem_for
    settings = _settings(args)
    seed_a, seed_b = check_seed(args.seed_a), check_seed(args.seed_b)
    FRAMES.check(args.frames, "--frames")
    _check_pixels(args.frames, settings.size, "--frames")
    FRAME_MS.check(args.frame_ms, "--frame-ms")
    out = _check_out(args.out)
    engine = Engine.load(args.model, device=args.device)
    _save_preset(args, settings)
    frames = engine.interpolate(seed_a, seed_b, frames=args.frames, easing=args.easing, settings=settings)
    with _output_folder(out):
        with ExportWriter(out) as writer:
            _warn_damaged(writer)
            for i, r in enumerate(frames):
                writer.add(r, stem=f"{stem_for(r)}-to-{seed_b:06d}-frame-{i:03d}")
        gif = writer.folder / f"interpolation-{seed_a}-{seed_b}.gif"
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


def cmd_atlas(args) -> int:
    from .engine import Engine, parse_seeds
    from .engine.atlas import Atlas, iter_build, merge
    if args.atlas_command == "merge":
        with merge(args.out, args.inputs) as atlas:
            if atlas.notice:
                print(f"artgen: warning: {atlas.notice}", file=sys.stderr)
            print(f"atlas {atlas.path}: {len(atlas)} seeds")
        return 0
    BATCH.check(args.batch_size, "--batch-size")  # (the same range as generate's)
    seeds = parse_seeds(args.seeds)
    if args.shard:
        seeds = seeds[args.shard[0]::args.shard[1]]
    engine = Engine.load(args.model, device=args.device)
    from tqdm import tqdm
    with Atlas.for_engine(engine, args.db) as atlas:
        if atlas.notice:
            print(f"artgen: warning: {atlas.notice}", file=sys.stderr)
        with tqdm(total=len(seeds), unit="seed", desc="atlas", file=sys.stderr) as bar:
            for p in iter_build(engine, atlas, seeds, args.batch_size):
                bar.update(p.done - bar.n)
        print(f"atlas {atlas.path}: {len(atlas)} seeds ({p.done} of the {len(seeds)} asked for)")
    return 0


def cmd_search(args) -> int:
    from .engine import Engine, Settings, check_seed
    from .engine.atlas import Atlas, default_path, search
    if not 1 <= args.limit <= 10_000:
        raise ArtGenError(f"--limit must be between 1 and 10000, not {args.limit}")
    if args.like is not None:
        check_seed(args.like)
    elif not args.words.strip():
        raise ArtGenError('give words to search for (e.g. artgen search "horse") or --like SEED')
    out = _check_out(args.export) if args.export else None
    engine = Engine.load(args.model, device=args.device)
    path = Path(args.db) if args.db else default_path(engine.info.hash)
    build_hint = f"build it with `artgen atlas build{' --model ' + args.model if args.model else ''}`"
    if not path.is_file():
        raise ArtGenError(f"model {engine.info.name} ({engine.info.hash}) has no seed atlas at {path} yet: "
                          f"{build_hint}")
    with Atlas.for_engine(engine, path) as atlas:
        if atlas.notice:
            print(f"artgen: warning: {atlas.notice}", file=sys.stderr)
        if not len(atlas):
            raise ArtGenError(f"the seed atlas {path} is empty: {build_hint}")
        hits = search(engine, atlas, args.words, args.like, args.limit)
        print(f"{len(hits)} result(s) among the {len(atlas):,} seeds of the atlas {path}", file=sys.stderr)
    for h in hits:
        print(f"{h.seed}\t{h.score:.3f}\t{h.caption}")
    if out is not None and hits:
        from .engine import ExportWriter
        from .engine.export import write_batches
        with _output_folder(out):
            writer = ExportWriter(out)
            _warn_damaged(writer)
            # greedy captions, as the atlas searched; the other settings are the defaults
            settings = Settings(temperature=0.0)
            n = write_batches(writer, engine.iter_generate([h.seed for h in hits], settings, batch_size=16))
        print(f"wrote {n} pairs to {writer.folder}", file=sys.stderr)
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
    try:
        return {"generate": cmd_generate, "interpolate": cmd_interpolate, "info": cmd_info,
                "atlas": cmd_atlas, "search": cmd_search, "gui": cmd_gui}[args.command](args)
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
