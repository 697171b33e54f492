"""The generative engine: torch only, no Qt. Its public API is what the GUI, CLI and scripts use."""

from .checkpoint import ModelInfo, bundled_model_path, load_checkpoint, read_info, resource_path, save_checkpoint
from .engine import Engine, Result, Settings, pick_device, set_threads
from .errors import ArtGenError, ModelFileError, SeedError
from .export import ExportWriter, export_results
from .model import ArtGenModel, ModelConfig
from .pngmeta import read_png_metadata, write_png
from .render import EngraveStyle, engrave
from .sampling import EASINGS, MAX_SEED, check_seed, parse_seeds
from .tokenizer import Tokenizer

__all__ = [
    "ArtGenError", "ArtGenModel", "EASINGS", "Engine", "EngraveStyle", "ExportWriter", "MAX_SEED",
    "ModelConfig", "ModelFileError", "ModelInfo", "Result", "SeedError", "Settings", "Tokenizer",
    "bundled_model_path", "check_seed", "engrave", "export_results", "load_checkpoint", "parse_seeds",
    "pick_device", "read_info", "read_png_metadata", "resource_path", "save_checkpoint", "set_threads", "write_png",
]
