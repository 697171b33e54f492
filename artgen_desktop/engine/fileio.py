"""Atomic file writes: a temp file beside the target, fsync, then rename over it.

A reader (or an interrupted export) sees the old file or the whole new one, never half of one.
Temp files are hidden (`.name.part-XXXX`) so a killed process leaves nothing that looks like output;
`remove_stale_parts` sweeps them on the next write to the folder.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

PART_MARK = ".part-"


@contextlib.contextmanager
def atomic_path(target) -> Iterator[Path]:
    """Yields a temp path to write; on success it replaces `target`, on error it is removed."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}{PART_MARK}", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(target, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target, text: str) -> None:
    write_bytes_atomic(target, text.encode("utf-8"))


def remove_stale_parts(folder) -> int:
    """Deletes temp files a killed writer left behind; returns how many."""
    n = 0
    for p in Path(folder).glob(f".*{PART_MARK}*"):
        with contextlib.suppress(OSError):
            p.unlink()
            n += 1
    return n
