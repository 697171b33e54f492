"""Export folders: seed-000042.png + seed-000042.txt + metadata.jsonl.

An export is itself a training folder in the Hugging Face `imagefolder` layout. Every file is written
atomically; metadata.jsonl is rewritten (atomically) after each batch, so a killed export leaves
complete pairs and a metadata file that lists only complete pairs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from .engine import Result
from .errors import ArtGenError
from .fileio import remove_stale_parts, write_text_atomic
from .pngmeta import write_png

METADATA = "metadata.jsonl"


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


def read_rows(folder) -> dict[str, dict]:
    path = Path(folder) / METADATA
    rows: dict[str, dict] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
                rows[row["file_name"]] = row
            except (ValueError, KeyError, TypeError):
                continue  # a row someone damaged by hand is dropped, the rest kept
    return rows


class ExportWriter:
    """Writes results into a folder; `flush()` (also on close) updates metadata.jsonl atomically."""

    def __init__(self, folder):
        self.folder = check_writable(folder)
        remove_stale_parts(self.folder)
        self.rows = read_rows(self.folder)
        self.written: list[Path] = []

    def add(self, result: Result, stem: str | None = None) -> Path:
        stem = stem or stem_for(result)
        png = self.folder / f"{stem}.png"
        meta = result.metadata
        try:
            write_png(png, result.image, meta)
            write_text_atomic(self.folder / f"{stem}.txt", result.caption + "\n")
        except OSError as e:
            raise ArtGenError(f"cannot write {png}: {e.strerror or e}") from None
        self.rows[png.name] = {"file_name": png.name, "text": result.caption, **meta}
        self.written.append(png)
        return png

    def add_all(self, results: Iterable[Result]) -> None:
        for r in results:
            self.add(r)
        self.flush()

    def flush(self) -> None:
        lines = [json.dumps(self.rows[k], sort_keys=True, ensure_ascii=False) for k in sorted(self.rows)]
        write_text_atomic(self.folder / METADATA, "".join(line + "\n" for line in lines))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.flush()


def export_results(results: Iterable[Result], folder) -> list[Path]:
    with ExportWriter(folder) as w:
        for r in results:
            w.add(r)
    return w.written
