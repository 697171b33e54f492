"""Races an artist finds with the mouse: a slider dragged, released and reset at once; the preview during a drag.

A real window and a real (tiny) model; the sliders are dragged with real mouse events.
"""

from __future__ import annotations

import pytest
from conftest import WAIT_MS, open_main_window
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractSlider, QStyle, QStyleOptionSlider

from artgen_desktop.engine import Settings

SMALL = Settings(size=256)

pytestmark = pytest.mark.usefixtures("one_engine_thread")


@pytest.fixture
def window(qtbot, tiny_model_path, tmp_path, monkeypatch):
    monkeypatch.setenv("ARTGEN_DATA_DIR", str(tmp_path / "userdata"))
    with open_main_window(qtbot, tiny_model_path, SMALL) as w:
        qtbot.waitUntil(w.gallery.model.is_filled, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: not w.bridge.is_busy(), timeout=WAIT_MS)
        yield w


class Drag:
    """A mouse drag on one of the controls' sliders: press on the handle, move right, release."""

    def __init__(self, slider):
        self.inner = slider.findChild(QAbstractSlider)
        opt = QStyleOptionSlider()
        self.inner.initStyleOption(opt)
        handle = self.inner.style().subControlRect(QStyle.ComplexControl.CC_Slider, opt,
                                                   QStyle.SubControl.SC_SliderHandle, self.inner)
        self.pos = handle.center()

    def press(self):
        QTest.mousePress(self.inner, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, self.pos)

    def move(self, dx: int):
        self.pos = QPoint(self.pos.x() + dx, self.pos.y())
        QTest.mouseMove(self.inner, self.pos)

    def release(self):
        QTest.mouseRelease(self.inner, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, self.pos)


def page_settings(w) -> list[Settings]:
    model = w.gallery.model
    return [model.picture(row).settings for row in range(model.rowCount())]


def test_reset_style_right_after_releasing_a_slider_keeps_the_released_pictures_out(qtbot, window):
    w, gallery = window, window.gallery
    default = w.state.settings
    calls = w.bridge.calls["gallery"]
    drag = Drag(w.controls.sliders["outline"])
    drag.press()
    for _ in range(6):
        drag.move(15)
    drag.release()
    thick = w.state.settings
    assert thick.style.outline > default.style.outline
    # released: the page asks for thick-outline thumbnails…
    qtbot.waitUntil(lambda: not gallery.is_waiting_for_release() and w.bridge.calls["gallery"] > calls,
                    timeout=WAIT_MS)
    # …and while they render (well within 0.6 s), Reset style: the page's default pictures are cached
    w.controls.reset_style_button.click()
    assert w.state.settings == default and w.controls.sliders["outline"].value() == pytest.approx(
        default.style.outline)
    qtbot.waitUntil(lambda: not w.bridge.is_busy(), timeout=WAIT_MS)
    qtbot.wait(300)  # anything still on its way from the thick request would land now
    assert gallery.model.is_filled() and page_settings(w) == [default] * 12
    preview = w.preview.picture
    assert preview.settings == default
    row = gallery.model.row_of(preview.seed)
    assert gallery.model.picture(row).caption == preview.caption

    # the thick pictures were not cached under the default settings either: turning pages shows defaults
    w.state.turn_page(1)
    qtbot.waitUntil(gallery.model.is_filled, timeout=WAIT_MS)
    w.state.turn_page(-1)
    assert gallery.model.is_filled() and page_settings(w) == [default] * 12
    # and back at the thick settings, their own pictures are there (cached under what made them)
    w.state.set_settings(thick)
    qtbot.waitUntil(gallery.model.is_filled, timeout=WAIT_MS)
    assert page_settings(w) == [thick] * 12


def test_dragging_a_slider_moves_the_preview_and_thumbnails_wait_for_the_release(qtbot, window):
    w, gallery = window, window.gallery
    start = w.state.settings.style.outline
    gallery_calls = w.bridge.calls["gallery"]
    shown = []
    w.bridge.preview_ready.connect(shown.append)
    drag = Drag(w.controls.sliders["outline"])
    drag.press()
    for _ in range(40):  # a steady drag: a mouse event every ~25 ms, faster than a picture renders
        drag.move(2)
        qtbot.wait(25)
        # the page keeps its pictures, undimmed, and renders nothing until the release
        assert gallery.is_waiting_for_release() and gallery.model.is_filled()
    assert w.bridge.calls["gallery"] == gallery_calls
    during = {p.settings.style.outline for p in shown}
    # the preview followed: pictures of positions the drag passed through, not just the last one
    assert len(during - {start, w.state.settings.style.outline}) >= 2, during
    assert all(p.settings.style.outline >= start for p in shown)
    qtbot.waitUntil(lambda: w.preview.picture.settings == w.state.settings, timeout=WAIT_MS)
    assert not w.preview.image_view._dimmed  # holding still: the preview is the current picture
    drag.release()
    final = w.state.settings
    qtbot.waitUntil(lambda: gallery.model.is_filled() and page_settings(w) == [final] * 12, timeout=WAIT_MS)
    assert not gallery.is_waiting_for_release()
    # history remembers where the drag stopped, not every position it passed
    assert [e.settings for e in w.library.history.entries[:1]] == [final.to_dict()]
