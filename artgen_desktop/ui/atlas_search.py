"""The search bar above the gallery: find seeds by words in the model's seed atlas, and the atlas's build.

The atlas (engine/atlas.py) is built on the engine thread as the bridge's lowest-priority job, a batch per
step, so the preview and the gallery cut in between batches; it is searchable while it grows. Pausing
cancels the job between batches; building again (or the next start of the app, when an atlas file exists)
resumes where it stopped. Results arrive as plain seeds, captions and scores (SearchResults) and are
handed to the gallery, which shows them as a page of seeds.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QToolButton, QWidget

from artgen_desktop.engine.atlas import DEFAULT_SEEDS, default_path

from .bridge import ATLAS, EngineBridge, ModelDescription, SearchResults

SEARCHABLE_AFTER = 1_000  # a search asked of an empty atlas runs again once this many seeds are in
FIRST_RESULTS = 48  # results a search asks for first; paging past them asks for twice as many, up to
MAX_RESULTS = 384  # (a word query's cost grows with the results it ranks)
# a query that found nothing (or has words the model does not know): the gallery still shows the last results,
# so the field says the query is not what is shown until it is edited
NOT_SHOWN_STYLE = "QLineEdit { border: 1px solid #d9534f; border-radius: 2px; }"


class AtlasSearch(QWidget):
    results = Signal(object)  # SearchResults with at least one seed
    more_results = Signal(object)  # the same search asked again for more (SearchResults)
    cleared = Signal()  # the search was emptied: back to pages of seeds
    message = Signal(str, str)  # text, level
    message_outdated = Signal(str)  # a message this bar showed no longer holds (a later search found seeds)

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None):
        super().__init__(parent)
        self.bridge = bridge
        self.model: ModelDescription | None = None
        self.build_request: int | None = None
        self.search_request: int | None = None
        self.done, self.total = 0, len(DEFAULT_SEEDS)
        self._waiting: tuple[str, int | None] | None = None  # a search waiting for the atlas to fill
        self._said = ""  # the last warning or note about a search
        self.more_request: int | None = None  # a search asked again with a higher limit

        self.field = QLineEdit(placeholderText="Find seeds by words, e.g. horse or a red flower")
        self.field.setClearButtonEnabled(True)
        self.mark_not_shown(False)  # (and the tooltip)
        self.status = QLabel()
        self.build_button = QToolButton(text="Build atlas", checkable=True, autoRaise=True,
                                        toolTip="Make the seed atlas that search uses (in the background; "
                                                "searchable while it grows, resumes after a quit)")
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 2, 4, 0)
        row.addWidget(self.field, 1)
        row.addWidget(self.status)
        row.addWidget(self.build_button)
        self._show_status()

        self.field.returnPressed.connect(self.search_text)
        self.field.textChanged.connect(self._edited)
        self.build_button.toggled.connect(self._on_build_toggled)
        bridge.model_loaded.connect(self._on_model)
        bridge.search_ready.connect(self._on_results)
        bridge.atlas_progress.connect(self._on_progress)
        bridge.finished.connect(self._on_finished)
        bridge.failed.connect(self._on_failed)

    # ---- the atlas ---------------------------------------------------------------------------------------

    def _on_model(self, desc: ModelDescription) -> None:
        if self.build_request is not None:
            self.bridge.cancel(self.build_request)
            self.build_request = None
        self.model = desc
        self.done, self._waiting = 0, None
        if default_path(desc.hash).exists():
            self.start_build()  # resumes a build a quit interrupted (a complete atlas ends at its first step)
        else:
            self._set_button(False)
        self._show_status()

    def start_build(self) -> None:
        if self.model is None or self.build_request is not None:
            return
        self.build_request = self.bridge.request_atlas_build(DEFAULT_SEEDS)
        self._set_button(True)
        self._show_status()

    def pause_build(self) -> None:
        if self.build_request is not None:
            self.bridge.cancel(self.build_request)  # stops between batches; every whole batch is kept
            self.build_request = None
        self._set_button(False)
        self._show_status()

    def is_building(self) -> bool:
        return self.build_request is not None

    def _on_build_toggled(self, on: bool) -> None:
        if on:
            self.start_build()
        else:
            self.pause_build()

    def _set_button(self, on: bool) -> None:
        self.build_button.blockSignals(True)
        self.build_button.setChecked(on)
        self.build_button.blockSignals(False)
        self.build_button.setText("Pause atlas" if on else "Build atlas")
        self.build_button.setVisible(self.model is not None and (on or self.done < self.total))

    def _show_status(self) -> None:
        if self.model is None:
            text = ""
        elif self.done >= self.total:
            text = f"Atlas: {self.done:,} seeds"
        elif self.build_request is not None:
            text = f"Atlas: {self.done:,} of {self.total:,} seeds…"
        elif self.done:
            text = f"Atlas: {self.done:,} of {self.total:,} seeds (paused)"
        else:
            text = "No seed atlas yet"
        self.status.setText(text)

    def _on_progress(self, request_id: int, p) -> None:
        if request_id != self.build_request:
            return
        if p.notice:
            self.message.emit(p.notice, "warning")
        self.done, self.total = p.done, p.total
        self._show_status()
        if self._waiting is not None and p.done >= min(SEARCHABLE_AFTER, p.total):
            text, like = self._waiting
            self._waiting = None
            self._request(text, like)

    def _on_finished(self, request_id: int, channel: str, _payload) -> None:
        if channel == ATLAS and request_id == self.build_request:
            self.build_request = None
            self._set_button(False)
            self._show_status()
            if self._waiting is not None:  # (a small range: fewer than SEARCHABLE_AFTER seeds in all)
                self._request(*self._waiting)
                self._waiting = None

    def _on_failed(self, request_id: int, _channel: str, message: str) -> None:
        if request_id == self.build_request:
            self.build_request = None
            self._set_button(False)
            self._show_status()
            self.message.emit(f"The seed atlas could not be built: {message}", "error")
        elif request_id == self.search_request:
            self.message.emit(f"Could not search: {message}", "error")

    # ---- searching ---------------------------------------------------------------------------------------

    def _edited(self, text: str) -> None:
        if self.is_marked_not_shown():  # (a style sheet set per keystroke would re-polish the field each time)
            self.mark_not_shown(False)
        if not text.strip():
            self.cleared.emit()

    def mark_not_shown(self, on: bool) -> None:
        """Marks the field's query as one whose results are not on show (it failed or found nothing)."""
        self.field.setStyleSheet(NOT_SHOWN_STYLE if on else "")
        self.field.setToolTip(("That search found nothing to show; the gallery still shows what it showed. "
                               if on else "") + "Searches the seed atlas of this model (Enter); empty it to go "
                                                "back to pages")

    def empty_field(self) -> None:
        """Empties the field without the `cleared` a person emptying it sends (the caller says what is shown)."""
        self.field.blockSignals(True)
        self.field.clear()
        self.field.blockSignals(False)
        self.mark_not_shown(False)

    def is_marked_not_shown(self) -> bool:
        return bool(self.field.styleSheet())

    def search_text(self) -> int | None:
        text = self.field.text().strip()
        if not text:
            self.cleared.emit()
            return None
        return self._request(text, None)

    def more_like(self, seed: int) -> int | None:
        """Seeds whose latents are nearest this seed's."""
        return self._request("", seed)

    def can_ask_more(self, shown: SearchResults) -> bool:
        """Whether paging past `shown`'s last result can ask for more (a search shows MAX_RESULTS at most)."""
        return self.model is not None and shown.maybe_more and shown.limit < MAX_RESULTS

    def more(self, shown: SearchResults) -> int | None:
        """The search behind `shown` again, for twice as many results (the gallery pages on into them)."""
        if self.more_request is not None:
            return self.more_request  # (already asked: a second click must not page twice on its answer)
        if not self.can_ask_more(shown):
            return None
        self.more_request = self.bridge.request_search(shown.query, shown.like, min(2 * shown.limit, MAX_RESULTS))
        return self.more_request

    def _request(self, text: str, like: int | None) -> int | None:
        if self.model is None:
            self.message.emit("Open a model before searching.", "warning")
            return None
        if self.done < self.total and self.build_request is None:
            self.start_build()  # a search is the moment to fill the atlas; it keeps growing in the background
        self.search_request, self.more_request = self.bridge.request_search(text, like, FIRST_RESULTS), None
        return self.search_request

    def _on_results(self, request_id: int, res: SearchResults) -> None:
        if request_id == self.more_request:
            self.more_request = None
            if not res.error:
                self.more_results.emit(res)
            return
        if request_id != self.search_request:
            return
        if res.notice:
            self.message.emit(res.notice, "warning")
        if res.error:
            self.mark_not_shown(True)
            self._say(res.error[:1].upper() + res.error[1:] + ".", "warning")
            return
        if res.atlas_size == 0:
            self._waiting = (res.query, res.like)
            self._say("The seed atlas is being made; the search runs when its first seeds are in.", "info")
            return
        if not res.seeds:
            self.mark_not_shown(True)
            self._say(f"No seeds found for “{res.query}” among {res.atlas_size:,} seeds.", "info")
            return
        self.mark_not_shown(False)
        if self._said:
            self.message_outdated.emit(self._said)
            self._said = ""
        if res.like is not None and not res.query:
            self.empty_field()  # the field shows what is searched: no words now
        self.results.emit(res)
        if res.matches == 0:
            self._say(f"No caption in the atlas says “{res.query}”: these are the pictures the model finds "
                      "closest to the words.", "info")

    def _say(self, text: str, level: str) -> None:
        self._said = text
        self.message.emit(text, level)
