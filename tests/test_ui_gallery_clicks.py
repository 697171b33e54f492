"""Clicking thumbnails as an artist does: Ctrl-click adds to the selection, a right-click keeps it."""

from __future__ import annotations

import pytest
from conftest import WAIT_MS, open_main_window
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtTest import QTest

from artgen_desktop.engine import Settings

pytestmark = pytest.mark.usefixtures("one_engine_thread")


@pytest.fixture
def window(qtbot, tiny_model_path, tmp_path, monkeypatch):
    monkeypatch.setenv("ARTGEN_DATA_DIR", str(tmp_path / "userdata"))
    with open_main_window(qtbot, tiny_model_path, Settings(size=256)) as w:
        qtbot.waitUntil(w.gallery.model.is_filled, timeout=WAIT_MS)
        yield w


def _click(window, row: int, button=Qt.MouseButton.LeftButton, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    view = window.gallery.view
    centre = view.visualRect(window.gallery.model.index(row)).center()
    QTest.mouseClick(view.viewport(), button, modifiers, centre)


def test_ctrl_click_adds_thumbnails_to_the_selection(window):
    _click(window, 1)
    _click(window, 3, modifiers=Qt.KeyboardModifier.ControlModifier)
    _click(window, 5, modifiers=Qt.KeyboardModifier.ControlModifier)
    assert window.state.selection == [1, 3, 5] and window.state.seed == 5
    _click(window, 3, modifiers=Qt.KeyboardModifier.ControlModifier)  # and a second Ctrl-click takes one out
    assert window.state.selection == [1, 5]


def test_shift_click_and_a_right_click_on_a_selected_thumbnail_keep_the_selection(window):
    _click(window, 1)
    _click(window, 2, modifiers=Qt.KeyboardModifier.ShiftModifier)  # (one row: icon mode selects rectangles)
    assert window.state.selection == [1, 2]
    for row in (4, 5):
        _click(window, row, modifiers=Qt.KeyboardModifier.ControlModifier)
    _click(window, 2, button=Qt.MouseButton.RightButton)  # the context menu's actions work on all of them
    assert window.state.selection == [1, 2, 4, 5] and window.state.seed == 2


def test_a_current_thumbnail_with_nothing_selected_is_selected(qtbot, window):
    """E.g. the view takes the focus and makes its first thumbnail current without selecting it."""
    sel = window.gallery.view.selectionModel()
    sel.clear()
    sel.setCurrentIndex(window.gallery.model.index(2), QItemSelectionModel.SelectionFlag.NoUpdate)
    assert window.state.seed == 2
    qtbot.waitUntil(lambda: [i.row() for i in sel.selectedIndexes()] == [2], timeout=WAIT_MS)
    assert window.state.selection == [2]
