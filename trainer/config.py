"""What one training run does: TrainConfig, every option of `python -m trainer train` with its default."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path

import torch

from trainer.losses import EDGE_WEIGHT

_RESOLVED = {"resolved": True}  # marks the fields resolved() fills in: not command-line options


@dataclass(frozen=True)
class TrainConfig:
    """The options, named as the parser's dests (build_parser takes its defaults from here), then what
    resolved() works out from them once. The Trainer takes a resolved one."""

    dataset: str
    out: str
    run_dir: str | None = None  # resolved(): OUT without its suffix + ".run"
    preset: str = "default"
    init: str | None = None
    finetune: str = "all"
    time_budget: float | None = None  # seconds
    steps: int | None = None
    prior_steps: int | None = None
    batch_size: int = 32
    prior_batch: int = 256
    lr: float = 2e-3
    prior_lr: float = 1e-3
    prior: str = "kernel"
    prior_keep: float = 1.0
    prior_drawings: str | None = None  # a list of the drawings the kernel prior stores (a curated bank)
    prior_mirror: bool = True
    prior_bandwidth: float = 0.3
    caption_weight: float = 0.5
    edge_weight: float = EDGE_WEIGHT
    adv_weight: float = 0.1
    adv_start: float = 0.25
    decoder_channels: tuple[int, ...] | None = None  # None: the preset's encoder widths
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    checkpoint_every: float = 180.0  # seconds
    resume: bool = False
    half: bool = False
    tone_cache: str | None = None
    adapt_threads: bool = True
    progress_json: bool = False
    quiet: bool = False
    device_resolved: str | None = field(default=None, metadata=_RESOLVED)  # "cpu", "cuda" or "cuda:LOCAL_RANK"
    precision_resolved: str | None = field(default=None, metadata=_RESOLVED)  # "fp32" or "bf16"

    def __post_init__(self):
        # the command line's messages: main hands them to parser.error
        if not self.prior_bandwidth > 0:
            raise ValueError("--prior-bandwidth must be above 0")
        if not 0 < self.prior_keep <= 1:
            raise ValueError("--prior-keep must be above 0 and at most 1")
        if self.prior_drawings is not None and (self.prior != "kernel" or self.prior_keep != 1):
            raise ValueError("--prior-drawings names the drawings a kernel prior stores: it needs --prior kernel, "
                             "and not --prior-keep (both choose them)")
        if not (self.edge_weight >= 0 and self.adv_weight >= 0):  # (also refuses nan)
            raise ValueError("--edge-weight and --adv-weight must be 0 or more")
        if self.finetune == "decoder-prior" and self.prior != "kernel":
            raise ValueError("--finetune decoder-prior trains the latents a kernel prior stores: "
                             "it needs --prior kernel")
        if not 0 <= self.adv_start <= 1:
            raise ValueError("--adv-start must be between 0 and 1 (a share of the autoencoder stage)")

    @property
    def tuned(self) -> str:
        """What a run trains: --finetune with --init, else "all"."""
        return self.finetune if self.init else "all"

    @classmethod
    def option_defaults(cls) -> dict:
        return {f.name: f.default for f in fields(cls)
                if f.default is not dataclasses.MISSING and not f.metadata.get("resolved")}

    def resolved(self, local_rank: int | None = None) -> TrainConfig:
        """A copy with the device (auto: CUDA if there is a GPU; under torchrun, local_rank given, the rank's
        own GPU), the precision and the run folder worked out."""
        device = self.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        precision = auto_precision(device) if self.precision == "auto" else self.precision
        if device == "cuda" and local_rank is not None:
            device = f"cuda:{local_rank}"
        return dataclasses.replace(self, run_dir=self.run_dir or str(Path(self.out).with_suffix("")) + ".run",
                                   device_resolved=device, precision_resolved=precision)


def has_amx() -> bool:
    try:
        return "amx_bf16" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def auto_precision(device: str) -> str:
    """--precision auto: bf16 autocast on CUDA and on CPUs with AMX, else fp32."""
    return "bf16" if device == "cuda" or has_amx() else "fp32"

