"""The gallery's list model: one row per seed of the current page, thumbnails filled in as they arrive.

A view over this model paints only the visible rows, so a page costs no widgets. Thumbnails are cached
by seed + settings + model, so turning back a page or undoing a slider move shows pictures at once.
While new thumbnails render, a row keeps its previous picture (marked stale) instead of going blank.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QImage

from .bridge import Picture

SEED_ROLE = Qt.ItemDataRole.UserRole + 1
STALE_ROLE = Qt.ItemDataRole.UserRole + 2  # True while the row shows a picture made with older settings
CACHE_LIMIT = 600  # thumbnails (~25 KB each at 160 px)


@dataclass
class _Row:
    seed: int
    picture: Picture | None = None
    fresh: bool = False


class GalleryModel(QAbstractListModel):
    page_filled = Signal()  # every row shows a thumbnail made with the current settings

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._rows: list[_Row] = []
        self._key: str = ""
        self._cache: OrderedDict[tuple[int, str], Picture] = OrderedDict()
        self.notes: dict[int, str] = {}  # a line more for a seed's tooltip (why a search found it)
        self.starred: set[int] = set()  # seeds of the page that are favourites with the settings shown

    # ---- filling ---------------------------------------------------------------------------------------

    def set_page(self, seeds: list[int], key: str) -> list[int]:
        """Shows `seeds`; `key` names the settings and model. Returns the seeds that need rendering."""
        old = {r.seed: r.picture for r in self._rows}
        self.beginResetModel()
        self._key = key
        self._rows = []
        for seed in seeds:
            cached = self._cache.get((seed, key))
            if cached is not None:
                self._cache.move_to_end((seed, key))
                self._rows.append(_Row(seed, cached, True))
            else:
                self._rows.append(_Row(seed, old.get(seed), False))
        self.endResetModel()
        missing = [r.seed for r in self._rows if not r.fresh]
        if not missing:
            self.page_filled.emit()
        return missing

    def add_pictures(self, pictures: list[Picture], key: str) -> None:
        for pic in pictures:
            self._cache[(pic.seed, key)] = pic
            self._cache.move_to_end((pic.seed, key))
        while len(self._cache) > CACHE_LIMIT:
            self._cache.popitem(last=False)
        if key != self._key:
            return  # rendered for settings that have changed since: cached, not shown
        by_seed = {p.seed: p for p in pictures}
        for i, row in enumerate(self._rows):
            if row.seed in by_seed:
                row.picture, row.fresh = by_seed[row.seed], True
                idx = self.index(i)
                self.dataChanged.emit(idx, idx)
        if self.is_filled():
            self.page_filled.emit()

    # ---- queries ---------------------------------------------------------------------------------------

    def is_filled(self) -> bool:
        return bool(self._rows) and all(r.fresh for r in self._rows)

    def filled_count(self) -> int:
        return sum(r.fresh for r in self._rows)

    def seeds(self) -> list[int]:
        return [r.seed for r in self._rows]

    def row_of(self, seed: int) -> int:
        for i, r in enumerate(self._rows):
            if r.seed == seed:
                return i
        return -1

    def cell(self, row: int) -> tuple[int, Picture | None, bool] | None:
        """(seed, picture, fresh) for the delegate. Read directly, not through index.data(): with
        PySide6 6.12 on Python 3.11 every index.data() call that yields None drops a reference to None,
        and a long-running view crashes the interpreter ("deallocating None")."""
        if not 0 <= row < len(self._rows):
            return None
        r = self._rows[row]
        return r.seed, r.picture, r.fresh

    def picture(self, row: int) -> Picture | None:
        return self._rows[row].picture if 0 <= row < len(self._rows) else None

    # ---- QAbstractListModel ----------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return row.picture.caption if row.picture else ""
        if role == Qt.ItemDataRole.DecorationRole:
            return row.picture.image if row.picture else QImage()
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"Seed {row.seed}\n{row.picture.caption}" if row.picture else f"Seed {row.seed} (rendering…)"
            return tip + (f"\n{self.notes[row.seed]}" if row.seed in self.notes else "")
        if role == SEED_ROLE:
            return row.seed
        if role == STALE_ROLE:
            return not row.fresh
        return None
