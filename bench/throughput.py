"""Throughput: image+caption pairs written to disk per second, ours and the prototype's architecture.

Each configuration (batch size x worker processes) shards the seeds over the workers (seed k of every n
to worker k, as `artgen generate --shard K/N`) and each worker writes PNG + caption + metadata.jsonl through
the engine's ExportWriter into its own folder. Inside a worker the main thread generates while a writer
thread encodes and writes the batch before (PNG encoding, zlib and fsync release the GIL, so the two
overlap). Workers load their model and run one warm-up batch first; the clock runs from the moment all
of them start the measured seeds to the moment the last has flushed its metadata. The cores are split
between the workers (torch threads = cores / workers). With --device cuda every worker runs its engine
(the engraving renderer included: engine/render.py draws a batch on the device it is on) and the
prototype architecture on the GPU; PNG encoding and writing stay on the CPU.

Workers are started once and kept for every configuration: the model loads once per worker.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from .common import CpuWatch, Options, say, target, write_result

BATCHES = (1, 16, 64)
FILES_AT_ONCE = 4
WORKERS = (1, 2)


def _write_batches(batches, folder: Path, files_at_once: int = FILES_AT_ONCE) -> int:
    """Writes every batch as the CLI does: engine.export.write_batches (a writer thread, a few files at once,
    metadata flushed after each batch) into a fresh ExportWriter."""
    from artgen_desktop.engine import ExportWriter
    from artgen_desktop.engine.export import write_batches
    return write_batches(ExportWriter(folder), batches, files_at_once)


def _worker_main(conn, model_path: str, proto_cfg: dict | None, device: str = "cpu") -> None:
    import torch

    from artgen_desktop.engine import Engine, Settings

    from .prototype import ProtoConfig, Prototype
    torch.set_num_threads(1)
    engine = Engine.load(model_path, device=device)
    prototype = None
    conn.send("loaded")
    while (task := conn.recv()) is not None:
        try:
            torch.set_num_threads(task["threads"])
            if task["kind"] == "ours":
                settings = Settings()

                def gen(seeds, b, settings=settings):
                    return engine.iter_generate(seeds, settings, batch_size=b)
            else:
                if prototype is None:
                    cfg = dict(proto_cfg or {})
                    if "channels" in cfg:
                        cfg["channels"] = tuple(cfg["channels"])
                    prototype = Prototype(ProtoConfig(**cfg), device=device)
                gen = prototype.iter_generate
            scratch = Path(task["out"]).with_name(Path(task["out"]).name + "-warmup")
            _write_batches(gen(task["warm_seeds"], task["batch"]), scratch)
            shutil.rmtree(scratch, ignore_errors=True)
            conn.send("warm")
            conn.recv()  # go
            t0 = time.monotonic()
            n = _write_batches(gen(task["seeds"], task["batch"]), Path(task["out"]))
            t1 = time.monotonic()
            conn.send({"start": t0, "end": t1, "pairs": n})
        except Exception as e:  # noqa: BLE001 - reported to the parent, which stops the run
            conn.send({"error": f"{type(e).__name__}: {e}"})


class WorkerPool:
    def __init__(self, n: int, model: Path, proto_cfg: dict | None, device: str = "cpu"):
        ctx = mp.get_context("spawn")
        self.conns, self.procs = [], []
        for _ in range(n):
            parent, child = ctx.Pipe()
            p = ctx.Process(target=_worker_main, args=(child, str(model), proto_cfg, device),
                               daemon=True)
            p.start()
            self.conns.append(parent)
            self.procs.append(p)
        self.loaded = False

    def wait_loaded(self) -> None:
        if not self.loaded:
            for c in self.conns:
                self._expect(c, "loaded", 600)
            self.loaded = True

    @staticmethod
    def _expect(conn, what: str, timeout: float):
        if not conn.poll(timeout):
            raise RuntimeError(f"a benchmark worker did not answer ({what}) within {timeout:.0f} s")
        msg = conn.recv()
        if isinstance(msg, dict) and "error" in msg:
            raise RuntimeError(f"benchmark worker failed: {msg['error']}")
        if what != "result" and msg != what:
            raise RuntimeError(f"benchmark worker said {msg!r}, expected {what!r}")
        return msg

    def run(self, kind: str, seeds: list[int], batch: int, workers: int, out: Path, threads: int = 1) -> dict:
        self.wait_loaded()
        conns = self.conns[:workers]
        warm = [10**12 + i for i in range(batch)]
        for k, c in enumerate(conns):
            c.send({"kind": kind, "seeds": seeds[k::workers], "warm_seeds": warm, "batch": batch,
                    "threads": threads, "out": str(out / f"shard-{k}")})
        for c in conns:
            self._expect(c, "warm", 1800)
        watch = CpuWatch([p.pid for p in self.procs])
        for c in conns:
            c.send("go")
        results = [self._expect(c, "result", 3600) for c in conns]
        other = watch.stop()
        pairs = sum(r["pairs"] for r in results)
        seconds = max(r["end"] for r in results) - min(r["start"] for r in results)
        written = sum(1 for _ in out.glob("shard-*/*.png"))
        if pairs != len(seeds) or written != len(seeds):
            raise RuntimeError(f"{kind} b{batch} w{workers}: {written} PNGs for {len(seeds)} seeds")
        return {"batch": batch, "workers": workers, "torch_threads_per_worker": threads, "pairs": pairs,
                "seconds": round(seconds, 3), "pairs_per_s": round(pairs / seconds, 2), "other_processes_cores": other,
                "mean_png_kib": round(sum(p.stat().st_size for p in out.glob("shard-*/*.png")) / written / 1024, 1)}

    def close(self) -> None:
        for c in self.conns:
            try:
                c.send(None)
            except (BrokenPipeError, OSError):
                pass
        for p in self.procs:
            p.join(30)
            if p.is_alive():
                p.kill()


def start_workers(opts: Options) -> WorkerPool:
    """Starts the worker processes (they load in the background until the first configuration runs)."""
    from .prototype import ProtoConfig
    return WorkerPool(max(WORKERS), opts.model, asdict(ProtoConfig.quick() if opts.quick else ProtoConfig()),
                      opts.device)


def run(opts: Options, pool: WorkerPool | None = None) -> dict:
    from .prototype import ProtoConfig
    batches = (1, 4) if opts.quick else BATCHES
    ours_n = opts.pairs or (8 if opts.quick else 384)
    proto_n = max(2, ours_n // 6) if opts.pairs else (8 if opts.quick else 64)
    proto_cfg = ProtoConfig.quick() if opts.quick else ProtoConfig()
    root = opts.workdir / "throughput"
    pool = pool or start_workers(opts)
    rows: dict[str, list[dict]] = {"ours": [], "prototype": []}
    extra: list[dict] = []
    configs = [(kind, n, w, b, 1) for kind, n in (("ours", ours_n), ("prototype", proto_n))
               for w in WORKERS for b in batches]
    # one more: a single worker with every core as torch threads (next to its writer thread)
    configs.append(("ours", ours_n, 1, batches[1], len(os.sched_getaffinity(0)) if not opts.quick else 1))
    try:
        for i, (kind, n, workers, batch, threads) in enumerate(configs):
            out = root / f"{kind}-b{batch}-w{workers}-t{threads}"
            row = pool.run(kind, list(range(n)), batch, workers, out, threads)
            shutil.rmtree(out, ignore_errors=True)
            (rows[kind] if i < len(configs) - 1 else extra).append(row)
            say(f"  throughput {kind:9s} batch {batch:2d} x {workers} worker(s) x {threads} thread(s): "
                f"{row['pairs_per_s']:8.2f} pairs/s  ({row['pairs']} pairs in {row['seconds']:.1f} s, "
                f"{row['mean_png_kib']:.0f} KiB/PNG; other processes {row['other_processes_cores']:.2f} cores)")
    finally:
        pool.close()
    best = {k: max(v, key=lambda r: r["pairs_per_s"]) for k, v in rows.items()}
    same = {f"b{r['batch']}-w{r['workers']}": round(r["pairs_per_s"] / p["pairs_per_s"], 1)
            for r, p in zip(rows["ours"], rows["prototype"])}
    ratio = best["ours"]["pairs_per_s"] / best["prototype"]["pairs_per_s"]
    figures = {
        "size_px": 512 if not opts.quick else None, "device": opts.device,
        "ours": rows["ours"], "prototype": rows["prototype"], "ours_one_worker_all_threads": extra,
        "best_ours": best["ours"], "best_prototype": best["prototype"],
        "ratio_best_vs_best": round(ratio, 1), "ratio_same_configuration": same,
        "prototype_config": proto_cfg.to_dict(),
        "method": "seed-sharded worker processes with one torch thread each (two OpenMP threads stall whenever "
                  "anything else, here the writer, takes a core), each writing PNG + txt + metadata.jsonl via "
                  "ExportWriter on a writer thread (4 files at a time) while the next batch generates; clock "
                  "from all workers starting the measured seeds (after loading and one warm-up batch) to the "
                  "last flush; other_processes_cores = CPU other processes took meanwhile",
    }
    targets = {"pairs_per_s": target(best["ours"]["pairs_per_s"], ">=", 50, "pairs/s"),
               "ratio_vs_prototype": target(ratio, ">=", 20, "x")}
    say(f"throughput: best {best['ours']['pairs_per_s']:.1f} pairs/s (batch {best['ours']['batch']}, "
        f"{best['ours']['workers']} workers); prototype architecture {best['prototype']['pairs_per_s']:.2f} "
        f"pairs/s; ratio {ratio:.1f}x")
    write_result(opts, "throughput", figures, targets, opts.device)
    return figures
