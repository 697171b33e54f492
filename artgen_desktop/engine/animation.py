"""Animated GIF / WebP of interpolation frames (format from the file suffix), written atomically."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from .errors import ArtGenError
from .fileio import write_bytes_atomic


def write_animation(path, frames: Sequence[Image.Image], frame_ms: int = 120, pingpong: bool = True) -> None:
    path = Path(path)
    fmt = {".gif": "GIF", ".webp": "WEBP"}.get(path.suffix.lower())
    if fmt is None:
        raise ArtGenError(f"{path.name}: an animation must be .gif or .webp")
    if not frames:
        raise ArtGenError("no frames to animate")
    seq = list(frames) + (list(frames[-2:0:-1]) if pingpong else [])  # A→B→A loops without a jump
    buf = io.BytesIO()
    extra = {"lossless": True} if fmt == "WEBP" else {"optimize": False}
    seq[0].save(buf, format=fmt, save_all=True, append_images=seq[1:], duration=frame_ms, loop=0, **extra)
    write_bytes_atomic(path, buf.getvalue())
