"""Cold start, the GUI's first thumbnail, peak memory and model size: everything that needs a fresh process.

Each figure runs a child process and times it from this side of fork/exec (time.monotonic() is one clock for
all processes), so interpreter start, imports and model loading are all inside the figure.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from .common import PYTHON, CpuWatch, Options, child_env, say, target, write_result

FIRST_PICTURE = """
import sys, time
from artgen_desktop.engine import Engine
engine = Engine.load(sys.argv[1], device="cpu")
result = engine.generate([0])[0]
print("FIRST", time.monotonic(), result.image.size[0], flush=True)
"""


def _run(cmd: list[str], env: dict, timeout: float) -> tuple[float, str]:
    """Runs cmd; returns (monotonic time just before it started, its stdout)."""
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{' '.join(cmd[:4])}… took longer than {timeout:.0f} s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}… failed ({proc.returncode}): {proc.stderr[-1500:]}")
    return t0, proc.stdout


def _run_rss(cmd: list[str], env: dict, timeout: float, out_file: Path,
             watch_for: Path | None = None) -> tuple[float, int, float | None]:
    """Runs cmd with stdout to a file; returns (wall seconds, peak RSS KiB of this child from wait4, seconds
    until the file `watch_for` appeared, if given)."""
    t0 = time.monotonic()
    appeared = None
    with open(out_file, "w") as f:
        proc = subprocess.Popen(cmd, env=env, stdout=f, stderr=subprocess.STDOUT)
        deadline = t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if watch_for is not None and appeared is None and watch_for.exists():
                appeared = time.monotonic() - t0
            if time.monotonic() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                proc.returncode = -9
                raise RuntimeError(f"{' '.join(cmd[:4])}… took longer than {timeout:.0f} s")
            time.sleep(0.01)
    wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}… failed ({proc.returncode}): {out_file.read_text()[-1500:]}")
    return wall, usage.ru_maxrss, appeared


def cold_start(opts: Options) -> dict:
    env = child_env(opts)
    runs = 1 if opts.quick else 5
    api, cli = [], []
    folder = opts.workdir / "cold-start"
    watch = CpuWatch()
    for _ in range(runs):
        t0, out = _run([PYTHON, "-c", FIRST_PICTURE, str(opts.model)], env, 300)
        line = next(x for x in out.splitlines() if x.startswith("FIRST "))
        api.append(float(line.split()[1]) - t0)
        if opts.quick:
            continue  # (a smoke run: the memory figure runs the CLI already)
        shutil.rmtree(folder, ignore_errors=True)
        t0 = time.monotonic()
        _run([PYTHON, "-m", "artgen_desktop", "generate", "--seeds", "0", "--out", str(folder),
              "--model", str(opts.model), "--device", "cpu"], env, 300)
        cli.append(time.monotonic() - t0)
        if not (folder / "seed-000000.png").exists():
            raise RuntimeError("artgen generate wrote no picture")
    shutil.rmtree(folder, ignore_errors=True)
    figures = {
        "runs": runs, "other_processes_cores": watch.stop(),
        "first_picture_s": {"median": round(statistics.median(api), 3), "first_run": round(api[0], 3),
                            "all": [round(x, 3) for x in api]},
        "cli_generate_one_pair_s": {"median": round(statistics.median(cli), 3) if cli else None,
                                    "all": [round(x, 3) for x in cli]},
        "method": "fresh `python -c` process: import the engine, load the model, generate seed 0 at 512 px; timed "
                  "from before the process starts to the moment the picture exists. Also `artgen generate "
                  "--seeds 0` from process start to exit (PNG + txt + metadata written)",
    }
    med = figures["first_picture_s"]["median"]
    cli_text = f"; `artgen generate --seeds 0` {statistics.median(cli):.2f} s to exit" if cli else ""
    say(f"cold start: first picture {med:.2f} s after process start (median of {runs}){cli_text}")
    write_result(opts, "cold_start", figures, {"first_picture_s": target(med, "<=", 3, "s")})
    return figures


def gui(opts: Options) -> dict:
    runs = 1 if opts.quick else 3
    rows = []
    watch = CpuWatch()
    for i in range(runs):
        data = opts.workdir / f"gui-userdata-{i}"
        shutil.rmtree(data, ignore_errors=True)
        env = child_env(opts, ARTGEN_DATA_DIR=str(data), QT_QPA_PLATFORM="offscreen")
        log = opts.workdir / "gui-probe.log"
        t0 = time.monotonic()
        wall, rss, _ = _run_rss([PYTHON, "-m", "bench.gui_probe", str(opts.model), "240"], env, 300, log)
        line = next((x for x in log.read_text().splitlines() if x.startswith("GUI_PROBE ")), None)
        if line is None:
            raise RuntimeError(f"the GUI probe printed nothing: {log.read_text()[-1500:]}")
        m = json.loads(line[len("GUI_PROBE "):])
        rows.append({"first_thumbnail_s": round(m["first_thumbnail"] - t0, 3),
                     "page_filled_s": round(m["page_filled"] - t0, 3),
                     "window_shown_s": round(m["window_shown"] - t0, 3),
                     "imports_done_s": round(m["imported"] - t0, 3),
                     "thumbnails": m["thumbnails"],
                     "peak_rss_mib_page_shown": round(m["peak_rss_kib"] / 1024, 1),
                     "peak_rss_mib_whole_run": round(rss / 1024, 1), "wall_s": round(wall, 2)})
        shutil.rmtree(data, ignore_errors=True)
    first = statistics.median(r["first_thumbnail_s"] for r in rows)
    filled = statistics.median(r["page_filled_s"] for r in rows)
    rss = max(r["peak_rss_mib_page_shown"] for r in rows)
    figures = {"runs": rows, "other_processes_cores": watch.stop(),
               "first_thumbnail_s": round(first, 3), "page_filled_s": round(filled, 3),
               "peak_rss_mib": rss,
               "method": "fresh process, QT_QPA_PLATFORM=offscreen, empty user-data folder, the real main window "
                         "(ui.app.build_window) on the CPU; times from before the process starts to the gallery "
                         "model's first filled row and to the whole page; RSS = VmHWM with the page shown"}
    say(f"GUI: first thumbnail {first:.2f} s, page of {rows[0]['thumbnails']} filled {filled:.2f} s after process "
        f"start; peak RSS {rss:.0f} MiB with the page shown")
    write_result(opts, "gui", figures, {"peak_rss_mib": target(rss, "<=", 700, "MiB")})
    return figures


def memory(opts: Options, gui_figures=None) -> dict:
    """Peak RSS of a 1,000-pair `artgen generate`; with the app's figure from `gui` (a dict or a Future).

    Also times the run's first pair on disk; a smoke run (--quick) takes its cold-start figure from that
    instead of starting more processes (each costs seconds of CPU in `import torch` alone)."""
    n = 16 if opts.quick else 1000
    folder = opts.workdir / "memory-run"
    shutil.rmtree(folder, ignore_errors=True)
    log = opts.workdir / "memory-run.log"
    watch = CpuWatch()
    wall, rss, first = _run_rss([PYTHON, "-m", "artgen_desktop", "generate", "--seeds", f"0-{n - 1}", "--out",
                                 str(folder), "--model", str(opts.model), "--device", "cpu"], child_env(opts), 3600,
                                log, watch_for=folder / "seed-000000.png")
    other = watch.stop()
    written = sum(1 for _ in folder.glob("*.png"))
    rows = len((folder / "metadata.jsonl").read_text().splitlines())
    shutil.rmtree(folder, ignore_errors=True)
    if written != n or rows != n:
        raise RuntimeError(f"artgen generate wrote {written} PNGs and {rows} metadata rows for {n} seeds")
    if gui_figures is not None and hasattr(gui_figures, "result"):
        gui_figures = gui_figures.result()
    figures = {"generate_pairs": n, "other_processes_cores": other, "generate_peak_rss_mib": round(rss / 1024, 1),
               "generate_wall_s": round(wall, 2), "generate_pairs_per_s_end_to_end": round(n / wall, 2),
               "generate_first_pair_on_disk_s": round(first, 3) if first is not None else None,
               "app_peak_rss_mib": gui_figures["peak_rss_mib"] if gui_figures else None,
               "method": f"`artgen generate --seeds 0-{n - 1}` with its default flags (batch 64, --workers auto) in a "
                         "child process, peak RSS from wait4's ru_maxrss; wall time includes start-up"}
    say(f"memory: `artgen generate` of {n} pairs peaks at {figures['generate_peak_rss_mib']:.0f} MiB RSS "
        f"({wall:.1f} s, {n / wall:.1f} pairs/s end to end with the CLI's default flags)"
        + (f"; the app with a gallery page {gui_figures['peak_rss_mib']:.0f} MiB" if gui_figures else ""))
    targets = {}
    if gui_figures:
        targets["app_peak_rss_mib"] = target(gui_figures["peak_rss_mib"], "<=", 700, "MiB")
    write_result(opts, "memory", figures, targets)
    if opts.quick and first is not None:
        write_result(opts, "cold_start", {
            "runs": 1, "other_processes_cores": other, "first_picture_s": {"median": round(first, 3)},
            "method": "smoke run: process start to the first PNG on disk in the memory figure's `artgen generate`"},
            {"first_picture_s": target(first, "<=", 3, "s")})
    return figures


def model_size(opts: Options) -> dict:
    import torch
    from safetensors import safe_open

    from artgen_desktop.engine import read_info

    from .prototype import ProtoConfig, Prototype
    info, tok = read_info(opts.model)
    with safe_open(str(opts.model), "pt") as f:
        dtypes = sorted({str(f.get_slice(k).get_dtype()) for k in f.keys()})
        sizes = {k: int(torch.tensor(f.get_slice(k).get_shape()).prod()) for k in f.keys()}
    stored = sizes.pop("prior.bank", 0)  # a kernel prior's stored training latents: data, not weights
    params = sum(sizes.values())
    proto_params = ProtoConfig().num_parameters()
    small = ProtoConfig.quick()
    if small.num_parameters() != Prototype(small).num_parameters():  # the count is checked on a miniature
        raise RuntimeError("bench.prototype: the parameter count from shapes disagrees with the network")
    figures = {"file_bytes": info.size_bytes, "file_mb": round(info.size_bytes / 1e6, 2),
               "parameters": params, "stored_latent_numbers": stored, "stored_dtypes": dtypes, "vocabulary": len(tok),
               "prototype_architecture_parameters": proto_params,
               "prototype_architecture_fp32_mb": round(proto_params * 4 / 1e6, 1),
               "prototype_reported_mb": 388}
    bank = f" + {stored / 1e6:.2f} M numbers of stored latents" if stored else ""
    say(f"model: {figures['file_mb']:.1f} MB on disk ({params / 1e6:.2f} M parameters{bank}, {', '.join(dtypes)}); "
        f"the prototype's architecture has {proto_params / 1e6:.0f} M parameters "
        f"({figures['prototype_architecture_fp32_mb']:.0f} MB in fp32; it reported 388 MB)")
    write_result(opts, "model", figures, {"file_mb": target(figures["file_mb"], "<=", 30, "MB")})
    return figures
