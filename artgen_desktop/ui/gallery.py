"""The gallery panel: a page of seeds as thumbnails with captions, paging, multi-select.

The panel keeps the view in step with AppState (seed, page, selection) and asks the bridge for the
thumbnails its model lacks. It never blocks: rows show placeholders until their batch arrives.

Each request remembers the settings and model it renders, and its thumbnails are cached and shown under
those only, so a request overtaken by a quick change (a slider released, then Reset style) can never
fill the page with the wrong pictures. While a slider is being dragged the page waits for the release:
the preview follows the drag, and a page of thumbnails per position would only slow it down.

A search (the bar above, ui/atlas_search.py) turns the pages into pages of its results: every gallery
action works on them as on any seeds; paging past the last page asks for more of them (add_results);
emptying the search goes back to the seed's own page.
"""

from __future__ import annotations

import dataclasses
import json
import time

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QGuiApplication, QImage, QKeyEvent, QKeySequence, QPainter, QPen, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from artgen_desktop.engine import MAX_SEED, Settings

from .atlas_search import AtlasSearch
from .bridge import EngineBridge, ModelDescription, SearchResults
from .gallery_model import SEED_ROLE, GalleryModel
from .library import Favourites, Library
from .state import PAGE_SIZES, AppState

THUMB_PX = 192  # thumbnails are rendered this size and drawn at MIN_THUMB_PX..THUMB_PX to fill the row
RELEASE_POLL_MS = 40  # while a drag holds the page back: how often to look whether the button is up
HOLD_LIMIT_S = 1.5  # a drag paused this long fills the page anyway (and a stuck button state cannot freeze it)
MIN_THUMB_PX = 140
CAPTION_LINES = 3
STAR_COLOUR = QColor(214, 150, 0)  # a favourite's star on its thumbnail (the Library's ★ Favourites)


class ThumbnailDelegate(QStyledItemDelegate):
    """Thumbnail, seed, and up to three lines of caption; a soft frame marks the selection."""

    def __init__(self, view: QListView):
        super().__init__(view)
        self.thumb_px = MIN_THUMB_PX  # set by the view so the cells fill its width

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return cell_size(self.thumb_px, option.fontMetrics.height())

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        model = index.model()
        cell = model.cell(index.row()) if isinstance(model, GalleryModel) else None
        if cell is None:
            return
        seed, picture, fresh = cell
        painter.save()
        r = option.rect.adjusted(3, 3, -3, -3)
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.setPen(QPen(palette.highlight().color(), 2))
            fill = QColor(palette.highlight().color())
            fill.setAlpha(40)
            painter.setBrush(fill)
            painter.drawRoundedRect(r, 6, 6)

        px = self.thumb_px
        img_rect = QRect(r.x() + (r.width() - px) // 2, r.y() + 5, px, px)
        image = picture.image if picture is not None else None
        if isinstance(image, QImage) and not image.isNull():
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(img_rect, image)
            if not fresh:  # made with the previous settings: dimmed until the new one lands
                painter.fillRect(img_rect, QColor(255, 255, 255, 110))
        else:
            painter.fillRect(img_rect, palette.alternateBase())
            painter.setPen(palette.placeholderText().color())
            painter.drawText(img_rect, Qt.AlignmentFlag.AlignCenter, "rendering…")
        painter.setPen(QPen(palette.mid().color(), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(img_rect.adjusted(0, 0, -1, -1))
        if isinstance(model, GalleryModel) and seed in model.starred:
            star = QFont(option.font)
            star.setPointSizeF(star.pointSizeF() * 1.6)
            painter.setFont(star)
            corner = QRect(img_rect.right() - 30, img_rect.top() + 2, 28, 28)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(255, 255, 255, 220))  # (readable on a dark engraving too)
            painter.drawEllipse(corner.adjusted(2, 2, -2, -2))
            painter.setPen(STAR_COLOUR)
            painter.drawText(corner, Qt.AlignmentFlag.AlignCenter, "★")

        fm = option.fontMetrics
        line = fm.height()
        text_rect = QRect(r.x() + 4, img_rect.bottom() + 4, r.width() - 8, line)
        small = QFont(option.font)
        small.setPointSizeF(max(small.pointSizeF() * 0.85, 6.0))
        painter.setFont(small)
        painter.setPen(palette.placeholderText().color())
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter, f"seed {seed}")
        painter.setFont(option.font)
        painter.setPen(palette.text().color())
        # line by line, as wrapped here: letting drawText wrap again can split a line that just fits
        for i, text in enumerate(_elide_lines(picture.caption if picture else "", fm, text_rect.width())):
            painter.drawText(QRect(text_rect.x(), text_rect.bottom() + 1 + i * line, text_rect.width(), line),
                             Qt.AlignmentFlag.AlignHCenter, text)
        painter.restore()


def cell_size(thumb_px: int, line_height: int) -> QSize:
    """Thumbnail + a margin, the seed line and the caption lines."""
    return QSize(thumb_px + 16, thumb_px + 16 + line_height * (CAPTION_LINES + 1))


def _elide_lines(text: str, fm, width: int) -> list[str]:
    """Word-wraps into CAPTION_LINES lines and elides the last one, so long captions end with '…'."""
    words, lines, current = text.split(), [], ""
    for word in words:
        trial = f"{current} {word}".strip()
        if fm.horizontalAdvance(trial) <= width or not current:
            current = trial
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    if len(lines) > CAPTION_LINES:
        lines = lines[:CAPTION_LINES - 1] + [" ".join(lines[CAPTION_LINES - 1:])]
    if lines:
        lines[-1] = fm.elidedText(lines[-1], Qt.TextElideMode.ElideRight, width)
    return lines


class GalleryView(QListView):
    """Icon grid; ←/→ step the seed (crossing page edges), ↑/↓ move by rows as usual."""

    step_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.delegate = ThumbnailDelegate(self)
        self.setItemDelegate(self.delegate)
        self.setWordWrap(True)

    def resizeEvent(self, event) -> None:
        # as many columns as fit at the smallest thumbnail size, then widen the cells to fill the row
        width = self.viewport().width() - 4
        line = self.fontMetrics().height()
        columns = max(1, width // cell_size(MIN_THUMB_PX, line).width())
        px = max(MIN_THUMB_PX, min(THUMB_PX, width // columns - 16))
        if px != self.delegate.thumb_px or self.gridSize().isEmpty():
            self.delegate.thumb_px = px
            self.setGridSize(cell_size(px, line))
        super().resizeEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Left, Qt.Key.Key_Right) and not event.modifiers():
            self.step_requested.emit(-1 if event.key() == Qt.Key.Key_Left else 1)
            return
        super().keyPressEvent(event)


def settings_key(settings: Settings, model: ModelDescription | None) -> str:
    return json.dumps([settings.to_dict(), model.hash if model else ""], sort_keys=True)


class GalleryPanel(QWidget):
    message = Signal(str, str)  # text, level

    def __init__(self, state: AppState, bridge: EngineBridge, parent: QWidget | None = None):
        super().__init__(parent)
        self.state, self.bridge = state, bridge
        self.model = GalleryModel(self)
        self.view = GalleryView(self)
        self.view.setModel(self.model)
        self._model_desc: ModelDescription | None = None
        self._request: int | None = None
        self._request_key = ""  # the settings + model that self._request renders
        self._key = ""
        self._syncing = False
        self._from_view = False  # the seed changes because the view's current thumbnail did
        self._held = QTimer(self, interval=RELEASE_POLL_MS)  # runs while a drag holds back a settings change
        self._held_change = 0.0  # when the last held-back change came
        self._held.timeout.connect(self._check_release)
        self.results: SearchResults | None = None  # shown instead of pages of seeds while set
        self.favourites: Favourites | None = None  # starred on the thumbnails (show_favourites)
        self._result_page = 0
        self.search = AtlasSearch(bridge, self)

        self.prev_button = QToolButton(text="◀", toolTip="Previous page (Page Up)", autoRaise=True)
        self.next_button = QToolButton(text="▶", toolTip="Next page (Page Down)", autoRaise=True)
        self.range_label = QLabel()
        self.back_button = QToolButton(text="Back to seeds", autoRaise=True, visible=False,
                                       toolTip="Leave the search results for pages of seeds (Esc)")
        self.page_size = QComboBox(toolTip="Thumbnails per page")
        for n in PAGE_SIZES:
            self.page_size.addItem(f"{n} per page", n)
        self.page_size.setCurrentIndex(PAGE_SIZES.index(state.page_size) if state.page_size in PAGE_SIZES else 1)
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        bar.addWidget(self.prev_button)
        bar.addWidget(self.range_label, 1)
        bar.addWidget(self.back_button)
        bar.addWidget(self.next_button)
        bar.addWidget(self.page_size)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.search)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)

        self.prev_button.clicked.connect(lambda: self.turn_page(-1))
        self.next_button.clicked.connect(lambda: self.turn_page(1))
        self.back_button.clicked.connect(self.leave_results)
        leave = QShortcut(QKeySequence(Qt.Key.Key_Escape), self, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        leave.activated.connect(self._on_escape)
        self.page_size.currentIndexChanged.connect(lambda _: state.set_page_size(self.page_size.currentData()))
        self.view.step_requested.connect(self.step)
        self.search.results.connect(self.show_results)
        self.search.more_results.connect(self.add_results)
        self.search.cleared.connect(self.clear_results)
        self.search.message.connect(self.message)
        self.view.selectionModel().selectionChanged.connect(self._on_view_selection)
        self.view.selectionModel().currentChanged.connect(self._on_view_current)
        state.page_changed.connect(lambda _: self.refresh())
        state.settings_changed.connect(lambda _: self._settings_changed())
        state.seed_changed.connect(self._select_seed)
        bridge.gallery_batch.connect(self._on_batch)
        bridge.model_loaded.connect(self._on_model)

    # ---- filling ---------------------------------------------------------------------------------------

    def _settings_changed(self) -> None:
        if QGuiApplication.mouseButtons() != Qt.MouseButton.NoButton:
            # a slider (or a spin box arrow) is held: the page keeps its pictures, undimmed, until release
            self._held_change = time.monotonic()
            self._held.start()
            return
        self.refresh()

    def _check_release(self) -> None:
        if (QGuiApplication.mouseButtons() == Qt.MouseButton.NoButton
                or time.monotonic() - self._held_change > HOLD_LIMIT_S):
            self.refresh()

    def is_waiting_for_release(self) -> bool:
        return self._held.isActive()

    # ---- search results --------------------------------------------------------------------------------

    def show_results(self, results: SearchResults) -> None:
        """A page of search results instead of a page of seeds; the best result becomes the current seed."""
        self.results, self._result_page = results, 0
        self.refresh()
        self.state.set_seed(results.seeds[0])

    def add_results(self, more: SearchResults) -> None:
        """The shown search's results asked again with a higher limit: the new ones go after those shown (a
        bigger candidate set can reorder the top, and pages already seen must not change under the
        artist), and the gallery turns to the next page."""
        r = self.results
        if r is None or (more.query, more.like) != (r.query, r.like):
            return  # another search (or none) is on show now
        shown = set(r.seeds)
        new = [i for i, s in enumerate(more.seeds) if s not in shown]
        self.results = dataclasses.replace(
            r, seeds=r.seeds + [more.seeds[i] for i in new], captions=r.captions + [more.captions[i] for i in new],
            scores=r.scores + [more.scores[i] for i in new], atlas_size=more.atlas_size,
            limit=more.limit if new and more.maybe_more else 0)  # (0: the atlas has no more to give)
        self.turn_page(1)

    def clear_results(self) -> None:
        if self.results is not None:
            self.results = None
            self.refresh()

    def _on_escape(self) -> None:
        if self.results is not None:
            self.leave_results()

    def leave_results(self) -> None:
        """Back to pages of seeds, the search field emptied (Back to seeds, Esc)."""
        self.search.empty_field()
        self.clear_results()

    def more_like(self, seed: int) -> int | None:
        return self.search.more_like(seed)

    def turn_page(self, pages: int) -> None:
        if self.results is None:
            self.state.turn_page(pages)
            return
        last = (len(self.results.seeds) - 1) // self.state.page_size
        if self._result_page + pages > last and self.search.more(self.results) is not None:
            return  # past the last page of a search that may have more: asked; add_results turns the page
        self._result_page = min(max(self._result_page + pages, 0), last)
        self.refresh()
        self.view.scrollToTop()  # (a page of seeds scrolls to its current seed; results start at the top)

    def step(self, delta: int) -> None:
        """←/→: the next seed, or among results the next result (turning the page at its edges)."""
        if self.results is None or self.state.seed not in self.results.seeds:
            self.state.step_seed(delta)
            return
        seeds = self.results.seeds
        i = min(max(seeds.index(self.state.seed) + delta, 0), len(seeds) - 1)
        page = i // self.state.page_size
        if page != self._result_page:
            self._result_page = page
            self.refresh()
        self.state.set_seed(seeds[i])

    def page_seeds(self) -> list[int]:
        if self.results is None:
            return self.state.page_seeds
        n = self.state.page_size
        self._result_page = min(self._result_page, (len(self.results.seeds) - 1) // n)  # (after a page size change)
        return self.results.seeds[self._result_page * n:(self._result_page + 1) * n]

    def _show_range(self, seeds: list[int]) -> None:
        self.back_button.setVisible(self.results is not None)
        if self.results is None:
            first, last = seeds[0], seeds[-1]
            self.range_label.setText(f"Seeds {first:,} – {last:,}")
            self.range_label.setToolTip("")
            self.prev_button.setEnabled(first > 0)
            self.next_button.setEnabled(last < MAX_SEED - 1)
            return
        r, n = self.results, self.state.page_size
        what = f"Like seed {r.like}" if r.like is not None and not r.query else f"“{r.query}”"
        if r.like is not None and r.query:
            what += f" like seed {r.like}"
        start = self._result_page * n
        more = self.search.can_ask_more(r)  # (more are asked for on paging past the last)
        said = "" if r.matches is None else f" · {r.matches:,} captions say it" if r.matches else \
            " · no caption says it"
        self.range_label.setText(f"{what}: {start + 1}–{start + len(seeds)} of {len(r.seeds)}{'+' if more else ''} "
                                 f"results{said}")
        self.range_label.setToolTip(f"{r.atlas_size:,} seeds searched" + (
            "" if r.matches is None else f"; the captions of {r.matches:,} of them hold the words"))
        self.prev_button.setEnabled(self._result_page > 0)
        self.next_button.setEnabled(start + n < len(r.seeds) or more)

    def refresh(self) -> None:
        self._held.stop()  # this shows the current settings: nothing is held back any more
        seeds = self.page_seeds()
        self._show_range(seeds)
        if self._model_desc is None:
            return  # nothing can render yet; the page fills when a model loads
        key = settings_key(self.state.settings, self._model_desc)
        # the caption shown follows the temperature; the search read each seed's caption at temperature 0
        found = {} if self.results is None else dict(zip(self.results.seeds, self.results.captions))
        self.model.notes = {s: f"Found by its caption at temperature 0: “{found[s]}”" for s in seeds if found.get(s)}
        self._update_stars(seeds)
        self._syncing = True
        try:
            missing = self.model.set_page(seeds, key)
            self._key = key
            self._select_seed(self.state.seed)
        finally:
            self._syncing = False
        if missing:
            self._request = self.bridge.request_gallery(missing, self.state.settings, THUMB_PX)
            self._request_key = key
        elif self._request is not None:
            # all cached (e.g. Reset style back to settings shown before): a request still rendering the
            # previous settings must not deliver into this page
            self.bridge.cancel(self._request)
            self._request = None

    def _on_batch(self, request_id: int, pictures: list) -> None:
        if request_id == self._request:
            # cached and shown under the settings the request was made with, whatever is current now
            self.model.add_pictures(pictures, self._request_key)

    def _on_model(self, desc: ModelDescription) -> None:
        self._model_desc = desc
        # results were ranked in the previous model's atlas: under this one they would name other pictures
        self.results = None
        self.refresh()

    def show_favourites(self, library: Library) -> None:
        """Stars the thumbnails of seeds that are favourites with the settings shown (under the loaded model:
        the library learns of a new model after the gallery has refreshed for it)."""
        self.favourites = library.favourites
        library.favourites.changed.connect(lambda: self._update_stars(self.model.seeds()))
        library.model_changed.connect(lambda: self._update_stars(self.model.seeds()))
        self._update_stars(self.model.seeds())

    def _update_stars(self, seeds: list[int]) -> None:
        starred = set() if self.favourites is None else self.favourites.among(seeds, self.state.settings.to_dict())
        if starred != self.model.starred:
            self.model.starred = starred
            self.view.viewport().update()

    # ---- selection <-> state ---------------------------------------------------------------------------

    def _select_seed(self, seed: int) -> None:
        if self._from_view:
            return
        row = self.model.row_of(seed)
        if row < 0:
            # a seed off this page of results (the seed box's arrows): no thumbnail stays marked as if current,
            # and the selection becomes that seed, so Export selected exports the picture in the preview
            if self.results is not None and self.view.selectionModel().hasSelection():
                self.view.selectionModel().clear()
            return
        idx = self.model.index(row)
        sel = self.view.selectionModel()
        if sel.currentIndex() == idx and sel.isSelected(idx):
            return
        was = self._syncing
        self._syncing = True
        try:
            flags = QItemSelectionModel.SelectionFlag.ClearAndSelect
            if len(self.state.selection) > 1 and seed in self.state.selection:
                flags = QItemSelectionModel.SelectionFlag.Select  # keep a multi-selection while browsing in it
            sel.setCurrentIndex(idx, flags)
            self.view.scrollTo(idx)
        finally:
            self._syncing = was

    def _on_view_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid() and not self._syncing:
            # a click or key in the view: it updates its own selection next (Ctrl-click adds to it, a right-click
            # keeps it), so the seed change must not select the thumbnail here; a current thumbnail with nothing
            # selected (the view took the focus) is selected once the event is done
            self._from_view = True
            try:
                self.state.set_seed(current.data(SEED_ROLE))
            finally:
                self._from_view = False
            QTimer.singleShot(0, self._select_current_if_none)

    def _select_current_if_none(self) -> None:
        sel = self.view.selectionModel()
        if not sel.hasSelection() and sel.currentIndex().isValid():
            sel.select(sel.currentIndex(), QItemSelectionModel.SelectionFlag.Select)

    def _on_view_selection(self, *_args) -> None:
        seeds = [i.data(SEED_ROLE) for i in self.view.selectionModel().selectedIndexes()]
        self.state.set_selection(seeds or [self.state.seed])
