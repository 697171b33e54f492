"""Favourites and history: seeds worth coming back to, kept between runs in the user data folder.

An entry holds everything needed to show the seed again: seed, settings, caption, model name.
History keeps one entry per seed (the latest settings), newest first; favourites keep one per
seed+settings, so the same seed starred in two styles stays two favourites.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from artgen_desktop.engine import ArtGenError, Settings

from .userdata import data_dir, read_json, write_json

HISTORY_LIMIT = 200


@dataclass(frozen=True)
class Entry:
    seed: int
    settings: dict
    caption: str = ""
    model: str = ""
    time: float = field(default_factory=time.time)

    @classmethod
    def from_dict(cls, d: dict) -> Entry | None:
        try:
            entry = cls(int(d["seed"]), dict(d["settings"]), str(d.get("caption", "")), str(d.get("model", "")),
                        float(d.get("time", 0)))
            Settings.from_dict(entry.settings)  # an entry we could not restore is not worth listing
            return entry
        except (KeyError, TypeError, ValueError, ArtGenError):
            return None

    def key(self) -> tuple:
        return self.seed, tuple(sorted((k, str(v)) for k, v in self.settings.items()))


class EntryList(QObject):
    """An ordered, persisted list of entries (newest first)."""

    changed = Signal()

    def __init__(self, path: Path, limit: int | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.path = path
        self.limit = limit
        raw = read_json(path, [])
        self._entries = [e for e in (Entry.from_dict(d) for d in raw if isinstance(d, dict)) if e][:limit]

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
        if self._entries and self._entries[0].seed == entry.seed and self._entries[0].key() == entry.key():
            return  # the same picture again (e.g. re-rendered at another size): nothing new to remember
        self._entries = [entry] + [e for e in self._entries if e.seed != entry.seed]
        if self.limit:
            del self._entries[self.limit:]
        self._save()

    def clear(self) -> None:
        self._entries = []
        self._save()


class Favourites(EntryList):
    def contains(self, seed: int, settings: dict) -> bool:
        key = Entry(seed, settings).key()
        return any(e.key() == key for e in self._entries)

    def toggle(self, entry: Entry) -> bool:
        """Adds the entry, or removes it if it is there; returns whether it is a favourite now."""
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
    def __init__(self, folder: Path | None = None, parent: QObject | None = None):
        super().__init__(parent)
        folder = folder or data_dir()
        self.history = History(folder / "history.json", HISTORY_LIMIT, self)
        self.favourites = Favourites(folder / "favourites.json", None, self)
