"""Export folders: seed-000042.png + seed-000042.txt + metadata.jsonl (and seed-000042.svg, or the SVG
instead of the PNG, with `formats`: engine/svg.py).

An export is itself a training folder in the Hugging Face `imagefolder` layout. Every file is written
atomically; metadata.jsonl is rewritten (atomically) after each batch, so a killed export leaves
complete pairs and a metadata file that lists only complete pairs.

Several exports may write into one folder at once (two `artgen generate` runs, the CLI's worker
processes): each flush takes an exclusive lock on the folder's `.metadata.jsonl.lock`, reads the rows the
others wrote meanwhile and adds its own, so no row is lost. Lines of metadata.jsonl that are not rows
(damaged by hand, say) are kept as they are, after the rows, and listed in `ExportWriter.damaged`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import queue
import stat
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ArtGenError
from .fileio import atomic_path, remove_stale_parts, write_text_atomic
from .pngmeta import write_png

if TYPE_CHECKING:
    from .engine import Result

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
try:
    import msvcrt
except ImportError:
    msvcrt = None

METADATA = "metadata.jsonl"
LOCK = ".metadata.jsonl.lock"  # hidden: imagefolder loaders and our trainer skip dot files
_NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


def stem_for(result: Result, index: int | None = None) -> str:
    stem = f"seed-{result.seed:06d}"
    return stem if index is None else f"{stem}-frame-{index:03d}"


def check_writable(folder) -> Path:
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ArtGenError(f"cannot create the export folder {folder}: {e.strerror or e}") from None
    if not folder.is_dir():
        raise ArtGenError(f"{folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ArtGenError(f"the export folder {folder} is not writable")
    return folder


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Exclusive between processes (and writers in one process) while held: an OS lock on a file in the
    folder, released by the OS if the holder dies."""
    nofollow = getattr(os, "O_NOFOLLOW", 0)  # (a lock file planted as a link elsewhere is refused)
    try:
        fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT | nofollow, 0o666)
    except PermissionError:  # another user's lock file in a shared folder: a read-only descriptor locks too
        fd = os.open(folder / LOCK, os.O_RDONLY | nofollow)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as e:  # a file system without locks (some network shares): merge unlocked
                if e.errno not in _NO_LOCKS:
                    raise
        elif msvcrt is not None:
            for attempt in range(30):
                try:
                    msvcrt.locking(fd, msvcrt.LK_LOCK, 1)  # (gives up after 10 s: try again, 5 min in all)
                    break
                except OSError:
                    if attempt == 29:
                        raise
        yield
    finally:
        if fcntl is None and msvcrt is not None:
            with contextlib.suppress(OSError):
                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        os.close(fd)  # (releases a flock)


@dataclass
class Metadata:
    """metadata.jsonl as found: each row's line by file name, and the lines that are not rows."""

    rows: dict[str, bytes] = field(default_factory=dict)
    damaged: list[tuple[int, bytes]] = field(default_factory=list)  # (line number from 1, the line)

    def to_bytes(self) -> bytes:
        return b"".join(self.rows[k] + b"\n" for k in sorted(self.rows)) + b"".join(
            line + b"\n" for _, line in self.damaged)


def read_metadata(folder) -> Metadata:
    """Rows are parsed line by line: a damaged line (bad JSON, bad UTF-8, no file_name) is kept aside,
    never a reason to drop the others. A later row for the same file replaces an earlier one."""
    path = Path(folder) / METADATA
    meta = Metadata()
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO or a device would hang or never end
            raise ArtGenError(f"{path} is not a regular file")
        data = path.read_bytes()
    except FileNotFoundError:
        return meta
    except OSError as e:
        raise ArtGenError(f"cannot read {path}: {e.strerror or e}") from None
    for number, line in enumerate(data.split(b"\n"), 1):
        line = line.rstrip(b"\r")
        if not line.strip():
            continue
        try:
            row = json.loads(line.decode("utf-8"))
            name = row["file_name"]
            if not isinstance(name, str) or not name:
                raise TypeError
        except (ValueError, KeyError, TypeError, RecursionError):
            meta.damaged.append((number, line))
            continue
        meta.rows[name] = line
    return meta


class ExportWriter:
    """Writes results into a folder; `flush()` (also on close) adds their rows to metadata.jsonl atomically.

    `add` may be called from several threads at once (the CLI writes a few files at a time).
    `formats`: "png", "svg" or both; `page` (plotter.Page) makes the SVGs pen-plotter drawings, whose
    paths and pen-up travel add up in `plotted` (paths, travel before, travel after ordering; mm).
    """

    def __init__(self, folder, formats=("png",), page=None):
        self.formats = tuple(dict.fromkeys(formats))
        if not self.formats or set(self.formats) - {"png", "svg"}:
            raise ArtGenError(f"formats must be png, svg or both, not {', '.join(map(str, formats)) or 'none'}")
        self.page = page
        self.plotted = [0, 0.0, 0.0]
        self.folder = check_writable(folder)
        remove_stale_parts(self.folder)
        found = read_metadata(self.folder)
        self.damaged = [number for number, _ in found.damaged]  # line numbers, for the caller to report
        self.written: list[Path] = []
        self._pending: dict[str, bytes] = {}
        self._mutex = threading.Lock()
        self._last: tuple[tuple, Metadata] | None = None  # metadata.jsonl as this writer last wrote it

    @property
    def metadata_path(self) -> Path:
        return self.folder / METADATA

    def add(self, result: Result, stem: str | None = None) -> Path:
        stem = stem or stem_for(result)
        png = self.folder / f"{stem}.png"
        svg = self.folder / f"{stem}.svg"
        meta = result.metadata
        main = png if "png" in self.formats else svg  # the row's file (imagefolder reads the PNG)
        try:
            if "png" in self.formats:
                write_png(png, result.image, meta)
            if "svg" in self.formats:
                from .svg import render_svg, write_svg  # (torch: loaded where SVGs are written)
                data, plot = render_svg(result.tone, result.settings, meta, self.page, result.image)
                write_svg(svg, data)
                if plot is not None:
                    with self._mutex:
                        self.plotted[0] += plot.paths
                        self.plotted[1] += plot.travel_before
                        self.plotted[2] += plot.travel_after
            write_text_atomic(self.folder / f"{stem}.txt", result.caption + "\n")
        except OSError as e:
            raise ArtGenError(f"cannot write {main}: {e.strerror or e}") from None
        row = {"file_name": main.name, "text": result.caption, **meta}
        line = json.dumps(row, sort_keys=True, ensure_ascii=False).encode("utf-8")
        with self._mutex:
            self._pending[main.name] = line
            self.written.append(main)
        return main

    def _current(self) -> Metadata:
        """The file as it is now: what this writer wrote last, unless someone has written it since."""
        if self._last is not None:
            with contextlib.suppress(OSError):
                if _signature(os.stat(self.metadata_path)) == self._last[0]:
                    return self._last[1]
        return read_metadata(self.folder)

    def flush(self) -> None:
        with self._mutex:
            pending, self._pending = self._pending, {}
        if not pending:
            return  # (nothing new: an export that wrote nothing leaves no metadata.jsonl behind)
        path = self.metadata_path
        try:
            with folder_lock(self.folder):
                meta = self._current()
                meta.rows.update(pending)
                with atomic_path(path) as tmp:
                    tmp.write_bytes(meta.to_bytes())
                    signature = _signature(tmp.stat())  # (the rename keeps inode and times)
                self._last = (signature, meta)
        except BaseException as e:
            with self._mutex:  # kept for the next flush
                self._pending = {**pending, **self._pending}
            self._last = None
            if isinstance(e, OSError):
                raise ArtGenError(f"cannot write {path}: {e.strerror or e}") from None
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.flush()


def _signature(st: os.stat_result) -> tuple:
    return st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size


def export_results(results: Iterable[Result], folder) -> list[Path]:
    with ExportWriter(folder) as w:
        for r in results:
            w.add(r)
    return w.written


def write_batches(writer: ExportWriter, batches: Iterable[list[Result]], files_at_once: int = 4,
                  on_batch: Callable[[int], None] | None = None) -> int:
    """Writes every batch through `writer`, flushing metadata after each, on a writer thread while the
    caller's iterator makes the next batch (PNG encoding, zlib and fsync release the GIL, so the two
    overlap). Within a batch a few files are written at once: fsyncs issued together share the disk's
    journal commits. `on_batch(n)` is called (on the writer thread) after each batch is on disk.

    Returns the number of pairs written. If the iterator stops early (an error, Ctrl-C), batches already
    made are still written and flushed before the exception goes on. As bench/throughput.py measures.
    """
    q: queue.Queue = queue.Queue(maxsize=2)
    count = 0
    failure: list[BaseException] = []
    pool = ThreadPoolExecutor(files_at_once, thread_name_prefix="artgen-file")

    def drain() -> None:
        nonlocal count
        while (batch := q.get()) is not None:
            if failure:
                continue  # keep draining so the producer never blocks
            try:
                list(pool.map(writer.add, batch))
                writer.flush()
                count += len(batch)
                if on_batch is not None:
                    on_batch(len(batch))
            except BaseException as e:  # reported to the caller
                failure.append(e)

    t = threading.Thread(target=drain, name="artgen-writer")
    t.start()
    try:
        for batch in batches:
            if failure:
                break
            q.put(batch)
    finally:
        q.put(None)
        t.join()
        pool.shutdown()
    if failure:
        raise failure[0]
    return count
