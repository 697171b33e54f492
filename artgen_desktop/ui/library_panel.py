"""Favourites and history as two lists; double-click (or Enter) brings a seed back with its settings."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
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

from .library import Entry, EntryList, Library

ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1


class EntryListWidget(QListWidget):
    restore_requested = Signal(object)  # Entry

    def __init__(self, entries: EntryList, parent: QWidget | None = None):
        super().__init__(parent)
        self.entries = entries
        self.setAlternatingRowColors(True)
        self.setWordWrap(True)
        entries.changed.connect(self.reload)
        self.itemActivated.connect(lambda item: self.restore_requested.emit(item.data(ENTRY_ROLE)))
        self.reload()

    def reload(self) -> None:
        self.clear()
        for e in self.entries.entries:
            style = e.settings.get("style", {})
            mode = "tone" if style.get("mode") == "tone" else "engraving"
            item = QListWidgetItem(f"{e.seed}  ·  {e.caption or '—'}")
            item.setToolTip(f"Seed {e.seed}, temperature {e.settings.get('temperature')}, "
                            f"variety {e.settings.get('variety')}, {mode}, model {e.model or '?'}")
            item.setData(ENTRY_ROLE, e)
            self.addItem(item)

    def selected_entry(self) -> Entry | None:
        item = self.currentItem()
        return item.data(ENTRY_ROLE) if item else None


class LibraryPanel(QWidget):
    restore_requested = Signal(object)  # Entry

    def __init__(self, library: Library, parent: QWidget | None = None):
        super().__init__(parent)
        self.library = library
        self.favourites = EntryListWidget(library.favourites)
        self.history = EntryListWidget(library.history)
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
