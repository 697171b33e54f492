"""Favourites and history as two lists; double-click (or Enter) brings a seed back with its settings.

Each row shows the picture small (when the library has its thumbnail), the seed, the caption and the
model that made it, marked when that is not the loaded model.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .library import THUMB_PX, Entry, EntryList, Library

ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1


class EntryListWidget(QListWidget):
    restore_requested = Signal(object)  # Entry

    def __init__(self, entries: EntryList, library: Library | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.entries = entries
        self.library = library
        self.setAlternatingRowColors(True)
        self.setWordWrap(True)
        self.setIconSize(QSize(THUMB_PX, THUMB_PX))
        entries.changed.connect(self.reload)
        if library is not None:
            library.model_changed.connect(self.reload)
            library.thumbnail_added.connect(self._thumbnail_added)
        self.itemActivated.connect(lambda item: self.restore_requested.emit(item.data(ENTRY_ROLE)))
        self.reload()

    def reload(self) -> None:
        self.clear()
        current = self.library.model_hash if self.library is not None else ""
        for e in self.entries.entries:
            style = e.settings.get("style", {})
            mode = "tone" if isinstance(style, dict) and style.get("mode") == "tone" else "engraving"
            other = bool(current and e.model_hash and e.model_hash != current)
            model = (e.model or "unknown model") + (" — another model" if other else "")
            item = QListWidgetItem(f"{e.seed}  ·  {e.caption or '—'}\n{model}")
            item.setToolTip(f"Seed {e.seed}, temperature {e.settings.get('temperature')}, "
                            f"variety {e.settings.get('variety')}, {mode}; made with model {e.model or '?'}"
                            + (f" ({e.model_hash})" if e.model_hash else "")
                            + (". The loaded model draws this seed differently." if other else ""))
            item.setData(ENTRY_ROLE, e)
            self._set_icon(item, e)
            self.addItem(item)

    def _set_icon(self, item: QListWidgetItem, entry: Entry) -> None:
        image = self.library.thumbnail(entry) if self.library is not None else None
        if image is not None:
            item.setIcon(QIcon(QPixmap.fromImage(image)))

    def _thumbnail_added(self, name: str) -> None:
        for row in range(self.count()):
            item = self.item(row)
            entry = item.data(ENTRY_ROLE)
            if entry.thumbnail_name() == name:
                self._set_icon(item, entry)

    def selected_entry(self) -> Entry | None:
        item = self.currentItem()
        return item.data(ENTRY_ROLE) if item else None


class LibraryPanel(QWidget):
    restore_requested = Signal(object)  # Entry

    def __init__(self, library: Library, parent: QWidget | None = None):
        super().__init__(parent)
        self.library = library
        self.favourites = EntryListWidget(library.favourites, library)
        self.history = EntryListWidget(library.history, library)
        self.remove_button = QPushButton("Remove favourite")
        self.clear_button = QPushButton("Clear history")
        tabs = QTabWidget()
        fav_page, hist_page = QWidget(), QWidget()
        for page, lst, button in ((fav_page, self.favourites, self.remove_button),
                                  (hist_page, self.history, self.clear_button)):
            lay = QVBoxLayout(page)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.addWidget(lst, 1)
            row = QHBoxLayout()
            row.addWidget(QLabel("Double-click to restore"), 1)
            row.addWidget(button)
            lay.addLayout(row)
        tabs.addTab(fav_page, "★ Favourites")
        tabs.addTab(hist_page, "History")
        self.tabs = tabs
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(tabs)
        for lst in (self.favourites, self.history):
            lst.restore_requested.connect(self.restore_requested)
        self.remove_button.clicked.connect(self._remove_favourite)
        self.clear_button.clicked.connect(library.history.clear)

    def _remove_favourite(self) -> None:
        entry = self.favourites.selected_entry()
        if entry is not None:
            self.library.favourites.remove(entry)
