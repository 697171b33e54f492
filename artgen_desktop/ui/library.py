"""Favourites and history: seeds worth coming back to, kept between runs in the user data folder.

An entry holds everything needed to show the seed again: seed, settings, caption, and the model that
made it (name and hash: the same seed draws another picture under another model). History keeps one
entry per seed and model (the latest settings), newest first; favourites keep one per seed+settings+model,
so the same seed starred in two styles stays two favourites.

Each entry can have a small thumbnail (THUMB_PX, PNG in thumbnails/), saved from the preview when the
picture is shown; files no entry refers to any more are pruned at start.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, Qt, Signal
from PySide6.QtGui import QImage

from artgen_desktop.engine import ArtGenError, Settings
from artgen_desktop.engine.fileio import write_bytes_atomic

from .userdata import data_dir, read_json, write_json

HISTORY_LIMIT = 200
THUMB_PX = 64


@dataclass(frozen=True)
class Entry:
    seed: int
    settings: dict
    caption: str = ""
    model: str = ""  # the model's name
    time: float = field(default_factory=time.time)
    model_hash: str = ""  # "" in entries saved before models were recorded

    @classmethod
    def from_dict(cls, d: dict) -> Entry | None:
        try:
            seed = d["seed"]
            if isinstance(seed, bool) or not isinstance(seed, int):
                return None
            entry = cls(seed, dict(d["settings"]), str(d.get("caption", "")), str(d.get("model", "")),
                        float(d.get("time", 0)), str(d.get("model_hash", "")))
            Settings.from_dict(entry.settings)  # an entry we could not restore is not worth listing
            return entry
        except (KeyError, TypeError, ValueError, ArtGenError, RecursionError):
            return None

    def key(self) -> tuple:
        return self.seed, tuple(sorted((k, str(v)) for k, v in self.settings.items())), self.model_hash

    def thumbnail_name(self) -> str:
        return hashlib.sha1(json.dumps(self.key()).encode()).hexdigest()[:20] + ".png"


class EntryList(QObject):
    """An ordered, persisted list of entries (newest first)."""

    changed = Signal()

    def __init__(self, path: Path, limit: int | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.path = path
        self.limit = limit
        self.model: tuple[str, str] = ("", "")  # name, hash of the loaded model: stamped on new entries
        raw = read_json(path, [])
        raw = raw if isinstance(raw, list) else []
        self._entries = [e for e in (Entry.from_dict(d) for d in raw if isinstance(d, dict)) if e][:limit]

    def stamped(self, entry: Entry) -> Entry:
        """The entry with the loaded model's name and hash, unless it already names its model's hash."""
        name, digest = self.model
        if entry.model_hash or not digest:
            return entry
        return replace(entry, model=entry.model or name, model_hash=digest)

    @property
    def entries(self) -> list[Entry]:
        return list(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def _save(self) -> None:
        try:
            write_json(self.path, [asdict(e) for e in self._entries])
        except OSError:
            pass  # a full or read-only disk loses the list, never the session
        self.changed.emit()


class History(EntryList):
    def record(self, entry: Entry) -> None:
        entry = self.stamped(entry)
        if self._entries and self._entries[0].key() == entry.key():
            return  # the same picture again: nothing new to remember
        same = (entry.seed, entry.model_hash)
        self._entries = [entry] + [e for e in self._entries if (e.seed, e.model_hash) != same]
        if self.limit:
            del self._entries[self.limit:]
        self._save()

    def clear(self) -> None:
        self._entries = []
        self._save()


class Favourites(EntryList):
    def contains(self, seed: int, settings: dict) -> bool:
        """Under the loaded model."""
        return seed in self.among([seed], settings)

    def among(self, seeds: list[int], settings: dict) -> set[int]:
        """Those of `seeds` that are favourites with `settings`, under the loaded model."""
        keys = {e.key() for e in self._entries}
        return {s for s in seeds if self.stamped(Entry(s, settings)).key() in keys}

    def toggle(self, entry: Entry) -> bool:
        """Adds the entry, or removes it if it is there; returns whether it is a favourite now."""
        entry = self.stamped(entry)
        key = entry.key()
        kept = [e for e in self._entries if e.key() != key]
        added = len(kept) == len(self._entries)
        self._entries = [entry] + kept if added else kept
        self._save()
        return added

    def remove(self, entry: Entry) -> None:
        self._entries = [e for e in self._entries if e.key() != entry.key()]
        self._save()


class Library(QObject):
    thumbnail_added = Signal(str)  # the thumbnail's file name
    model_changed = Signal()

    def __init__(self, folder: Path | None = None, parent: QObject | None = None):
        super().__init__(parent)
        folder = folder or data_dir()
        self.history = History(folder / "history.json", HISTORY_LIMIT, self)
        self.favourites = Favourites(folder / "favourites.json", None, self)
        self.thumb_dir = folder / "thumbnails"
        self._thumbs: dict[str, QImage] = {}
        self.prune_thumbnails()

    @property
    def model_hash(self) -> str:
        return self.history.model[1]

    def set_model(self, name: str, digest: str) -> None:
        """New entries record this model (the preview makes entries without knowing the hash)."""
        self.history.model = self.favourites.model = (name, digest)
        self.model_changed.emit()

    # ---- thumbnails ------------------------------------------------------------------------------------

    def store_thumbnail(self, entry: Entry, image: QImage) -> None:
        """Keeps a THUMB_PX copy of the entry's picture, if it is listed and has none yet (the pictures a
        slider drag passes through are not kept)."""
        name = self.history.stamped(entry).thumbnail_name()
        path = self.thumb_dir / name
        if name in self._thumbs or image.isNull():
            return
        if name not in {e.thumbnail_name() for e in self.history.entries + self.favourites.entries}:
            return
        if path.exists():
            return
        small = image.scaled(THUMB_PX, THUMB_PX, Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        if not small.save(buffer, "PNG"):
            return
        try:
            self.thumb_dir.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(path, bytes(data))  # a kill mid-write must not leave a half thumbnail for good
        except OSError:
            return  # a thumbnail is a convenience: a full disk must not interrupt work
        self._thumbs[name] = small
        self.thumbnail_added.emit(name)

    def thumbnail(self, entry: Entry) -> QImage | None:
        name = entry.thumbnail_name()
        if name not in self._thumbs:
            path = self.thumb_dir / name
            image = QImage(str(path)) if path.is_file() else QImage()
            if image.isNull():
                return None
            self._thumbs[name] = image
        return self._thumbs[name]

    def prune_thumbnails(self) -> None:
        keep = {e.thumbnail_name() for e in self.history.entries + self.favourites.entries}
        try:
            for path in list(self.thumb_dir.glob("*.png")):
                if path.name not in keep:
                    self._thumbs.pop(path.name, None)
                    path.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only library keeps its old thumbnails
