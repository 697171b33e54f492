"""The style picker's row of live previews (ui/style_row.py), against a real (tiny) model in the main window."""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import WAIT_MS, wait_preview
from PySide6.QtGui import QImage

from artgen_desktop.engine import Settings
from artgen_desktop.engine.params import STYLES
from artgen_desktop.ui.bridge import THUMB_RENDER_SIZE, StyleThumb
from artgen_desktop.ui.images import thumbnail
from artgen_desktop.ui.style_row import STYLE_THUMB_PX, thumb_key

SMALL = Settings(size=256)

pytestmark = pytest.mark.usefixtures("one_engine_thread")


@pytest.fixture
def window(small_window):
    return small_window


def expected_thumbs(engine, picture) -> dict[str, QImage]:
    """Each style's thumbnail of a picture, made here from its stored tone as the row should make it."""
    out = {}
    for name in STYLES:
        settings = Settings(size=THUMB_RENDER_SIZE, style=replace(picture.settings.style, mode=name))
        out[name] = thumbnail(engine.render(picture.result.tone, settings), STYLE_THUMB_PX)
    return out


def test_the_row_has_one_thumbnail_per_style_and_a_click_picks_it(qtbot, window):
    row, combo = window.controls.style_row, window.controls.mode
    assert list(row.buttons) == list(STYLES) == [combo.itemData(i) for i in range(combo.count())]
    assert row.buttons["engraving"].isChecked()
    wait_preview(qtbot, window, 0)
    before = window.state.settings

    row.buttons["woodcut"].click()
    assert window.state.settings.style.mode == "woodcut" and combo.currentData() == "woodcut"
    assert row.buttons["woodcut"].isChecked() and not row.buttons["engraving"].isChecked()
    assert window.controls.sliders["contrast"].isEnabled()  # as the combo does: the woodcut's sliders show
    assert window.state.undo_text() == "Undo style"
    wait_preview(qtbot, window, 0, window.state.settings)
    row.buttons["woodcut"].click()  # the style already chosen: no change, no undo step, still marked
    assert row.buttons["woodcut"].isChecked()

    assert window.state.undo() and window.state.settings == before  # one step takes the click back
    assert combo.currentData() == "engraving"
    assert row.buttons["engraving"].isChecked()
    combo.setCurrentIndex(combo.findData("stipple"))  # and the combo moves the row's mark
    assert row.buttons["stipple"].isChecked()


def test_thumbnails_come_for_the_current_picture_and_stale_ones_are_dropped(qtbot, window, tiny_engine):
    row = window.controls.style_row
    picture = wait_preview(qtbot, window, 0)
    qtbot.waitUntil(lambda: not row.pending(), timeout=WAIT_MS)
    want = expected_thumbs(tiny_engine, picture)
    for name in STYLES:
        assert row.images[name] == want[name], name  # rendered from the stored tone in each style
        assert not row.buttons[name].icon().isNull()
    assert window.bridge.calls["styles"] == len(STYLES)  # one render per style, no more

    old_keys = dict(row.keys)
    window.controls.seed_box.setValue(7)
    seven = wait_preview(qtbot, window, 7)
    assert row.keys != old_keys
    # a thumbnail of seed 0's picture, late: not shown
    late = StyleThumb(old_keys["stipple"], "stipple", want["stipple"])
    window.bridge.style_thumb_ready.emit(999, late)
    assert row.images["stipple"] is None or row.images["stipple"] != want["stipple"]
    qtbot.waitUntil(lambda: not row.pending(), timeout=WAIT_MS)
    want7 = expected_thumbs(tiny_engine, seven)
    assert all(row.images[name] == want7[name] for name in STYLES)
    assert want7["stipple"] != want["stipple"]  # (so the late one would show if it were let through)
    window.bridge.style_thumb_ready.emit(999, late)  # still not shown once the right ones are there
    assert row.images["stipple"] == want7["stipple"]


def test_a_style_parameter_redraws_only_the_styles_that_use_it(qtbot, window, tiny_engine):
    row = window.controls.style_row
    wait_preview(qtbot, window, 0)
    qtbot.waitUntil(lambda: not row.pending(), timeout=WAIT_MS)
    tone_thumb = row.images["tone"]
    window.controls.sliders["spacing"].setValue(12.0)
    picture = wait_preview(qtbot, window, 0, window.state.settings)
    users = [name for name, spec in STYLES.items() if "spacing" in {p.name for p in spec.every}]
    assert users and sorted(row.pending()) == sorted(users)  # placeholders until they come
    assert row.images["tone"] is tone_thumb
    qtbot.waitUntil(lambda: not row.pending(), timeout=WAIT_MS)
    want = expected_thumbs(tiny_engine, picture)
    assert all(row.images[name] == want[name] for name in STYLES)
    # picking another style changes no thumbnail
    calls = window.bridge.calls["styles"]
    row.buttons["contour"].click()
    wait_preview(qtbot, window, 0, window.state.settings)
    assert not row.pending() and window.bridge.calls["styles"] == calls


def test_thumb_key_ignores_the_chosen_style_and_the_size(qtbot, window):
    picture = wait_preview(qtbot, window, 0)
    other = replace(picture, settings=replace(picture.settings, size=512,
                                              style=replace(picture.settings.style, mode="stipple")))
    assert all(thumb_key(picture, name) == thumb_key(other, name) for name in STYLES)
    assert thumb_key(replace(picture, result=None), "engraving") is None
