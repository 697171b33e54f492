"""What every figure shares: the machine's description, the model under test, result files."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Options:
    """One benchmark run: which model, how big, where the results go."""

    model: Path
    out: Path
    quick: bool = False
    workdir: Path = Path(".")
    pairs: int | None = None  # pairs per throughput configuration (None: the default for the mode)
    device: str = "cpu"  # where the engine and the training step run: "cpu" or "cuda" (--device)
    notes: dict = field(default_factory=dict)


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def git_commit() -> str | None:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        # the results this run rewrites do not count as changes to the code under test
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)bench/results"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return f"{head}{'+changes' if dirty else ''}" if head else None
    except (OSError, subprocess.SubprocessError):
        return None


def device_description(device: str) -> str:
    """"cpu", or "cuda (<GPU name>)": part of the machine description, as CPU and GPU figures do not compare."""
    if device == "cpu":
        return "cpu"
    import torch
    return f"cuda ({torch.cuda.get_device_name(0)})"


def machine(device: str = "cpu") -> dict:
    """The machine a figure came from: enough to tell whether two figures are comparable.
    `device`: where the figure ran (the GUI and start-up figures always run on the CPU)."""
    import numpy as np
    import PIL
    import torch
    flags = cpu_flags()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "simd": sorted(f for f in flags if f in {"avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}),
        "memory_gib": memory_gib(),
        "gpu": gpu,
        "device": device_description(device),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "numpy": np.__version__,
        "pillow": PIL.__version__,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "commit": git_commit(),
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
    }


def model_description(path: Path) -> dict:
    from artgen_desktop.engine import read_info
    info, tok = read_info(path)
    summary = info.summary or {}
    return {"file": path.name, "hash": info.hash, "bytes": info.size_bytes, "vocabulary": len(tok),
            "config": json.loads(info.config.to_json()),
            "trained": bool(summary) and "untrained" not in json.dumps(summary).lower()
            and "random" not in json.dumps(summary).lower()}


class CpuWatch:
    """How much CPU other processes took while a figure was measured (this machine is shared).

    Busy time of the whole machine (/proc/stat) minus the CPU time of this process, its reaped children
    and the given worker processes; `other_cores` = that time per wall second (0 = the machine was ours).
    """

    def __init__(self, pids: list[int] | None = None):
        self.pids = list(pids or [])
        self.t0, self.busy0, self.ours0 = time.monotonic(), self._busy(), self._ours()

    @staticmethod
    def _busy() -> float:
        try:
            with open("/proc/stat") as f:
                vals = [int(x) for x in f.readline().split()[1:]]
            return (sum(vals) - vals[3] - vals[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait
        except (OSError, ValueError, IndexError):
            return 0.0

    def _ours(self) -> float:
        total = 0.0
        for pid, with_children in [(os.getpid(), True)] + [(p, False) for p in self.pids]:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if with_children else 0)
                total += ticks / os.sysconf("SC_CLK_TCK")
            except (OSError, ValueError, IndexError):
                pass
        return total

    def stop(self) -> float:
        wall = max(time.monotonic() - self.t0, 1e-9)
        other = (self._busy() - self.busy0) - (self._ours() - self.ours0)
        return round(max(other, 0.0) / wall, 2)


def write_result(opts: Options, name: str, figures: dict, targets: dict | None = None,
                 device: str = "cpu") -> Path:
    """bench/results/<name>.json (or --out): the figures, the targets they answer, the machine, the model.
    `device`: where this figure ran (opts.device for the figures that honour --device)."""
    opts.out.mkdir(parents=True, exist_ok=True)
    doc = {"name": name, "quick": opts.quick, "figures": figures, "targets": targets or {},
           "model": model_description(opts.model), "machine": machine(device), **opts.notes}
    path = opts.out / f"{name}.json"
    tmp = path.with_suffix(".json.part")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def target(value: float, op: str, limit: float, unit: str) -> dict:
    met = value >= limit if op == ">=" else value <= limit
    return {"value": round(value, 3), "target": f"{op} {limit:g} {unit}", "met": bool(met)}


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), q in 0..100."""
    import numpy as np
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def child_env(opts: Options, **extra: str) -> dict:
    """Environment for child processes: this checkout importable, Qt offscreen (one OpenMP thread in a
    smoke run, which only checks that things run), nothing else changed."""
    env = dict(os.environ)
    if opts.quick:
        env["OMP_NUM_THREADS"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env.update(extra)
    return env


def say(text: str) -> None:
    print(text, flush=True)


PYTHON = sys.executable
