"""Atomic file writes: a temp file beside the target, fsync, then rename over it.

A reader (or an interrupted export) sees the old file or the whole new one, never half of one.
Temp files are hidden (`.name.part-PID-XXXX`) so a killed process leaves nothing that looks like output;
`remove_stale_parts` sweeps those of processes that are gone on the next write to the folder. Files get
the permissions any program's new files get (0666 less the umask: 0644 typically), not a temp file's 0600.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import ArtGenError

PART_MARK = ".part-"
_STALE_AFTER_S = 3600  # where a writer's process cannot be asked about (Windows), a part this old is stale


def _create_part(target: Path) -> tuple[Path, int]:
    """A new, empty hidden file beside `target` and its permission bits: created with mode 0666, so they
    are what the umask gives any new file (tempfile.mkstemp would make it 0600, and the rename keep that)."""
    for _ in range(100):
        tmp = target.parent / f".{target.name}{PART_MARK}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        try:
            mode = stat.S_IMODE(os.fstat(fd).st_mode)
        finally:
            os.close(fd)
        return tmp, mode
    raise FileExistsError(f"no free temporary name beside {target}")


@contextlib.contextmanager
def atomic_path(target) -> Iterator[Path]:
    """Yields a temp path to write; on success it replaces `target`, on error it is removed."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp, mode = _create_part(target)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            if stat.S_IMODE(os.fstat(f.fileno()).st_mode) != mode:  # a writer that made its own file
                os.chmod(tmp, mode)  # (safetensors' save_file makes it 0600)
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


def _writer_gone(part: Path) -> bool:
    """True when the process that wrote this part file has ended (so the part will never be renamed)."""
    pid_text = part.name.rpartition(PART_MARK)[2].partition("-")[0]
    if not pid_text.isdigit():
        return True  # an older name without a process id
    pid = int(pid_text)
    if pid == os.getpid():
        return False  # one of ours, perhaps another thread's write in progress
    if sys.platform == "win32":  # (os.kill(pid, 0) would end the process there)
        with contextlib.suppress(OSError):
            return time.time() - part.stat().st_mtime > _STALE_AFTER_S
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # it exists (another user's, say)
    return False


def remove_stale_parts(folder) -> int:
    """Deletes temp files that killed writers left behind; returns how many. Parts of writers still running
    (another export into the same folder) are left alone."""
    n = 0
    for p in Path(folder).glob(f".*{PART_MARK}*"):
        if _writer_gone(p):
            with contextlib.suppress(OSError):
                p.unlink()
                n += 1
    return n


def open_regular(path: Path, noun: str):
    """A file opened for reading in binary, or a clear ArtGenError: only regular files are opened (a FIFO
    would hang the read, a device never end). `noun` names it in the message ("image", "style preset")."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise ArtGenError(f"{path}: not a readable {noun} (not a regular file)")
        return open(path, "rb")
    except FileNotFoundError:
        raise ArtGenError(f"{path}: no such file") from None
    except OSError as e:
        raise ArtGenError(f"{path}: cannot be read ({e.strerror or e})") from None
