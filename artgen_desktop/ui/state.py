"""Observable application state: the current seed, settings, gallery page and selection.

Widgets read and change the state only through this object and redraw on its signals, so a seed typed
in the controls, a thumbnail clicked in the gallery and a PNG dropped on the window all take the same
path. Seeds go through `Signal(object)`: they reach 2**63, past a C++ int.

Settings changes are kept for Edit → Undo/Redo. A slider drag sends dozens of changes to one field;
changes to the same fields less than UNDO_MERGE_S apart are one undo step, so Undo takes the whole
drag back. Seeds are not undone: ←/→ and R already move through them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from artgen_desktop.engine import MAX_SEED, Settings, check_seed
from artgen_desktop.engine.params import PARAMS, style_params

PAGE_SIZES = (12, 24, 48)
RANDOM_SEED_LIMIT = 2**32  # random seeds stay short enough to read aloud; any seed < 2**63 can be typed
UNDO_MERGE_S = 1.0
UNDO_LIMIT = 100
# menu words for each setting ("Undo line spacing"), from the one parameter table
FIELD_NAMES = {**{name: p.label.lower() for name, p in PARAMS.items()}, "mode": "style"}


def changed_fields(a: Settings, b: Settings) -> frozenset[str]:
    """The settings (style fields by their own name) that differ between a and b."""
    da, db = a.to_dict(), b.to_dict()
    sa, sb = da.pop("style", {}), db.pop("style", {})
    return frozenset([k for k in da if da[k] != db.get(k)] + [k for k in sa if sa[k] != sb.get(k)])


STYLE_FIELDS = frozenset([p.name for p in style_params()] + ["mode"])


def describe_fields(fields: frozenset[str]) -> str:
    """"temperature", "style" … for menu texts like "Undo temperature"."""
    if len(fields) == 1:
        return FIELD_NAMES.get(next(iter(fields)), "settings")
    return "style" if fields <= STYLE_FIELDS else "settings"


class AppState(QObject):
    seed_changed = Signal(object)  # int
    settings_changed = Signal(object)  # Settings
    page_changed = Signal(object)  # int: first seed of the page
    selection_changed = Signal(list)  # list[int], the gallery's selected seeds
    undo_changed = Signal()  # what Undo / Redo would do changed

    def __init__(self, page_size: int = 24, parent: QObject | None = None,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__(parent)
        self._seed = 0
        self._settings = Settings()
        self._page_size = page_size
        self._selection: list[int] = [0]
        self._clock = clock
        # (settings before the step, fields the step changed); newest last
        self._undo: list[tuple[Settings, frozenset[str]]] = []
        self._redo: list[tuple[Settings, frozenset[str]]] = []
        self._last_change: tuple[float, frozenset[str]] | None = None  # for merging a drag into one step

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
        """A change the artist made: recorded for Undo."""
        if settings == self._settings:
            return
        fields = changed_fields(self._settings, settings)
        now = self._clock()
        last = self._last_change
        if not (self._undo and last and last[1] == fields and now - last[0] < UNDO_MERGE_S):
            self._undo.append((self._settings, fields))
            del self._undo[:-UNDO_LIMIT]
        self._last_change = (now, fields)
        self._redo.clear()
        self._apply(settings)

    def _apply(self, settings: Settings) -> None:
        self._settings = settings
        self.settings_changed.emit(settings)
        self.undo_changed.emit()

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo_text(self) -> str:
        return f"Undo {describe_fields(self._undo[-1][1])}" if self._undo else "Undo"

    def redo_text(self) -> str:
        return f"Redo {describe_fields(self._redo[-1][1])}" if self._redo else "Redo"

    def undo(self) -> bool:
        if not self._undo:
            return False
        before, fields = self._undo.pop()
        self._redo.append((self._settings, fields))
        self._last_change = None  # the next change is a new step, however soon it comes
        self._apply(before)
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        after, fields = self._redo.pop()
        self._undo.append((self._settings, fields))
        self._last_change = None
        self._apply(after)
        return True

    @property
    def selection(self) -> list[int]:
        return list(self._selection)

    def set_selection(self, seeds: list[int]) -> None:
        seeds = sorted(set(seeds))
        if seeds != self._selection:
            self._selection = seeds
            self.selection_changed.emit(list(seeds))
