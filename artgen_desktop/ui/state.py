"""Observable application state: the current seed, settings, gallery page and selection.

Widgets read and change the state only through this object and redraw on its signals, so a seed typed
in the controls, a thumbnail clicked in the gallery and a PNG dropped on the window all take the same
path. Seeds go through `Signal(object)`: they reach 2**63, past a C++ int.
"""

from __future__ import annotations

import random

from PySide6.QtCore import QObject, Signal

from artgen_desktop.engine import MAX_SEED, Settings, check_seed

PAGE_SIZES = (12, 24, 48)
RANDOM_SEED_LIMIT = 2**32  # random seeds stay short enough to read aloud; any seed < 2**63 can be typed


class AppState(QObject):
    seed_changed = Signal(object)  # int
    settings_changed = Signal(object)  # Settings
    page_changed = Signal(object)  # int: first seed of the page
    selection_changed = Signal(list)  # list[int], the gallery's selected seeds

    def __init__(self, page_size: int = 24, parent: QObject | None = None):
        super().__init__(parent)
        self._seed = 0
        self._settings = Settings()
        self._page_size = page_size
        self._selection: list[int] = [0]

    # ---- seed and page -------------------------------------------------------------------------------

    @property
    def seed(self) -> int:
        return self._seed

    def set_seed(self, seed: int) -> None:
        seed = check_seed(seed)
        if seed == self._seed:
            return
        old_page = self.page_start
        self._seed = seed
        self.seed_changed.emit(seed)
        if self.page_start != old_page:
            self.page_changed.emit(self.page_start)

    def step_seed(self, delta: int) -> None:
        self.set_seed(min(max(self._seed + delta, 0), MAX_SEED - 1))

    def random_seed(self, rng: random.Random | None = None) -> int:
        seed = (rng or random).randrange(RANDOM_SEED_LIMIT)
        self.set_seed(seed)
        return seed

    @property
    def page_size(self) -> int:
        return self._page_size

    def set_page_size(self, size: int) -> None:
        if size == self._page_size:
            return
        self._page_size = size
        self.page_changed.emit(self.page_start)

    @property
    def page_start(self) -> int:
        return self._seed - self._seed % self._page_size

    @property
    def page_seeds(self) -> list[int]:
        return list(range(self.page_start, min(self.page_start + self._page_size, MAX_SEED)))

    def turn_page(self, pages: int) -> None:
        """Keeps the seed's place on the page, like turning a page of a contact sheet."""
        self.step_seed(pages * self._page_size)

    # ---- settings and selection ----------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self._settings

    def set_settings(self, settings: Settings) -> None:
        if settings == self._settings:
            return
        self._settings = settings
        self.settings_changed.emit(settings)

    @property
    def selection(self) -> list[int]:
        return list(self._selection)

    def set_selection(self, seeds: list[int]) -> None:
        seeds = sorted(set(seeds))
        if seeds != self._selection:
            self._selection = seeds
            self.selection_changed.emit(list(seeds))
