"""Print styles (engine/styles/, issue 13): per style, at 512 px on the CPU with one torch thread, the PNG
render, the SVG (geometry + writing), the plotter SVG on A4 (passes, joining, ordering), and the plot's
paths (at most 5,000 in every style) and pen-up travel after ordering as a share of the travel in drawing
order; and an export in both formats, scaled to 1,000 pairs.
"""

from __future__ import annotations

import statistics
import time

from .common import CpuWatch, Options, say, target, write_result


def _median_ms(reps: int, fn, *args) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn(*args)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def run(opts: Options) -> dict:
    import numpy as np
    import torch

    from artgen_desktop.engine import Engine, EngraveStyle, ExportWriter, Settings
    from artgen_desktop.engine.export import write_batches
    from artgen_desktop.engine.plotter import parse_page
    from artgen_desktop.engine.styles import MODULES
    from artgen_desktop.engine.svg import render_svg
    torch.set_num_threads(1)  # (as the CLI's writer threads and the app's renders run)
    engine = Engine.load(opts.model, device="cpu")
    seeds = list(range(4 if opts.quick else 16))
    results = engine.generate(seeds, Settings(size=256), batch_size=len(seeds))  # (the tones; size is the model's)
    page = parse_page("A4")
    reps = 1 if opts.quick else 3
    watch = CpuWatch()
    per_style: dict[str, dict] = {}
    for mode, module in MODULES.items():
        settings = Settings(style=EngraveStyle(mode=mode))
        png_ms, svg_ms, plot_ms, kb, paths, ratio, coarser = [], [], [], [], [], [], []
        for r in results:
            tone = np.asarray(r.tone, dtype=np.float32) / 255
            png_ms.append(_median_ms(reps, module.render_png, tone, settings.style, settings.size))
            svg_ms.append(_median_ms(reps, render_svg, r.tone, settings, r.metadata))
            t = time.perf_counter()
            data, plot = render_svg(r.tone, settings, r.metadata, page)
            plot_ms.append((time.perf_counter() - t) * 1000)
            kb.append(len(render_svg(r.tone, settings, r.metadata)[0]) / 1024)
            paths.append(plot.paths)
            ratio.append(plot.travel_after / max(plot.travel_before, 1e-9))
            coarser.append(plot.coarser)
        per_style[mode] = {
            "png_ms": round(statistics.median(png_ms), 1), "svg_ms": round(statistics.median(svg_ms), 1),
            "plotter_svg_ms": round(statistics.median(plot_ms), 1), "svg_kb": round(statistics.median(kb), 1),
            "a4_paths": {"median": int(statistics.median(paths)), "max": max(paths)},
            "a4_travel_after_share": {"median": round(statistics.median(ratio), 3), "max": round(max(ratio), 3)},
            "a4_spaced_out": {"seeds": sum(c > 1 for c in coarser), "max": round(max(coarser), 2)},
        }
        s = per_style[mode]
        say(f"styles: {mode:10s} PNG {s['png_ms']:.0f} ms, SVG {s['svg_ms']:.0f} ms ({s['svg_kb']:.0f} KB), "
            f"plotter A4 {s['plotter_svg_ms']:.0f} ms, {s['a4_paths']['median']} paths, travel after ordering "
            f"{100 * s['a4_travel_after_share']['median']:.0f}% of before")
    styles_other = watch.stop()

    pairs = 16 if opts.quick else 200
    folder = opts.workdir / "styles-export"
    settings = Settings()
    watch = CpuWatch()
    t = time.perf_counter()
    writer = ExportWriter(folder, ("png", "svg"))
    write_batches(writer, engine.iter_generate(range(pairs), settings, batch_size=32))
    export_s = time.perf_counter() - t
    export_other = watch.stop()
    figures = {
        "size": 512, "seeds": len(seeds), "torch_threads": 1, "styles": per_style,
        "export_both_pairs": pairs, "export_both_s": round(export_s, 2),
        "export_both_s_per_1000": round(export_s * 1000 / pairs, 1),
        "other_processes_cores": {"styles": styles_other, "export": export_other},
        "method": "per style and seed: the median of a few calls of render_png and render_svg (picture), one "
                  "plotter render_svg on A4 (15 mm margin, 0.3 mm pen); medians over the seeds (a4_spaced_out: the "
                  "seeds whose stipple dots were spaced out to stay within plotter.MAX_DOTS, and the most). Export: "
                  "ExportWriter with png and svg through write_batches (engraving, default settings), scaled",
    }
    targets = {f"{mode}_png_ms": target(s["png_ms"], "<=", 30, "ms") for mode, s in per_style.items()}
    targets.update({f"{mode}_svg_ms": target(s["svg_ms"], "<=", 150, "ms") for mode, s in per_style.items()})
    targets.update({f"{mode}_a4_paths": target(s["a4_paths"]["max"], "<=", 5000, "paths")
                    for mode, s in per_style.items()})
    targets["engraving_a4_travel_share"] = target(per_style["engraving"]["a4_travel_after_share"]["median"], "<=",
                                                  0.3, "of the unordered travel")
    targets["export_both_s_per_1000"] = target(figures["export_both_s_per_1000"], "<=", 60, "s")
    say(f"styles: export of {pairs} pairs in PNG and SVG in {export_s:.1f} s "
        f"({figures['export_both_s_per_1000']:.0f} s per 1,000)")
    write_result(opts, "styles", figures, targets)
    return figures
