"""The main window against a real (tiny) model: gallery, preview, sliders, interpolation, export, restore."""

from __future__ import annotations

import dataclasses
import json
import random
import threading

import pytest
from conftest import WAIT_MS, open_main_window, wait_preview
from PIL import Image
from PySide6.QtCore import QItemSelectionModel, QMimeData, QPoint, QPointF, QRect, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QPushButton

from artgen_desktop.engine import EngraveStyle, ExportWriter, Settings, read_png_metadata
from artgen_desktop.engine.svg import write_result_svg
from artgen_desktop.ui import bridge as bridge_module
from artgen_desktop.ui.bridge import EngineBridge
from artgen_desktop.ui.gallery import THUMB_PX
from artgen_desktop.ui.library import Library
from artgen_desktop.ui.main_window import MainWindow, fit_to_screen
from artgen_desktop.ui.prefs import Preferences
from artgen_desktop.ui.state import AppState

SMALL = Settings(size=256)


pytestmark = pytest.mark.usefixtures("one_engine_thread")


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    folder = tmp_path / "userdata"
    monkeypatch.setenv("ARTGEN_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def window(qtbot, tiny_model_path, data_dir):
    with open_main_window(qtbot, tiny_model_path, SMALL) as w:
        yield w


def pixels(image: Image.Image) -> bytes:
    return image.convert("L").tobytes()


def test_window_opens_with_tiny_model(window, tiny_model_path):
    assert window.model is not None and window.model.name == "tiny"
    assert "tiny" in window.windowTitle()
    assert window.device_label.text() == "Device: CPU"
    assert window.model_label.text().startswith("Model: tiny (")
    assert window.message_bar.text() == ""  # nothing went wrong


def test_gallery_page_fills_with_the_engines_pictures(qtbot, window, tiny_engine):
    model = window.gallery.model
    qtbot.waitUntil(model.is_filled, timeout=WAIT_MS)
    assert model.seeds() == list(range(12)) and window.gallery.range_label.text() == "Seeds 0 – 11"
    expected = tiny_engine.generate(list(range(12)), SMALL)
    for row, result in enumerate(expected):
        pic = model.picture(row)
        assert pic.caption == result.caption and pic.caption  # same seed + settings -> same caption
        assert not pic.image.isNull() and pic.image.width() == THUMB_PX
    # a gallery is a model behind one view, not a widget per thumbnail
    assert window.gallery.view.model() is model

    # next page: the next seeds, filled progressively by the same mechanism
    window.gallery.next_button.click()
    assert window.state.seed == 12
    qtbot.waitUntil(model.is_filled, timeout=WAIT_MS)
    assert model.seeds() == list(range(12, 24))


def test_seed_and_temperature_update_the_preview(qtbot, window, tiny_engine):
    wait_preview(qtbot, window, 0)
    window.controls.seed_box.setValue(42)
    pic = wait_preview(qtbot, window, 42)
    want = tiny_engine.generate([42], SMALL)[0]
    assert pic.caption == want.caption and window.preview.caption_label.text() == want.caption
    assert pixels(pic.result.image) == pixels(want.image)
    assert window.preview.seed_label.text() == "Seed 42"
    assert window.gallery.model.seeds() == list(range(36, 48))  # the gallery followed the seed to its page

    window.controls.sliders["temperature"].setValue(1.5)
    hot = Settings(temperature=1.5, size=256)
    pic = wait_preview(qtbot, window, 42, hot)
    assert pic.caption == tiny_engine.generate([42], hot)[0].caption
    assert window.state.settings.temperature == 1.5


def test_style_change_rerenders_without_changing_the_caption(qtbot, window, tiny_engine):
    first = wait_preview(qtbot, window, 0)
    window.controls.sliders["spacing"].setValue(12.0)
    wide = Settings(size=256, style=EngraveStyle(spacing=12.0))
    pic = wait_preview(qtbot, window, 0, wide)
    assert pic.caption == first.caption
    assert pixels(pic.result.image) == pixels(tiny_engine.generate([0], wide)[0].image)
    assert pixels(pic.result.image) != pixels(first.result.image)


def test_200_rapid_slider_changes_render_the_last_value_only(qtbot, window):
    wait_preview(qtbot, window, 0)
    qtbot.waitUntil(lambda: not window.bridge.is_busy(), timeout=WAIT_MS)
    before = window.bridge.calls["preview"]
    slider = window.controls.sliders["temperature"]
    values = [round(0.01 * i, 2) for i in range(1, 201)]
    for i, v in enumerate(values):
        slider.setValue(v)  # as fast as a drag delivers them; events get processed now and then
        if i % 20 == 0:
            QApplication.processEvents()
    last = Settings(temperature=values[-1], size=256)
    pic = wait_preview(qtbot, window, 0, last)
    qtbot.waitUntil(lambda: not window.bridge.is_busy(), timeout=WAIT_MS)
    renders = window.bridge.calls["preview"] - before
    assert pic.settings.temperature == 2.0 and window.preview.picture.settings.temperature == 2.0
    assert 1 <= renders <= 20, f"{renders} renders for 200 changes"


def test_interpolation_frames_live_slider_and_export(qtbot, window, tiny_engine, tmp_path):
    panel = window.interpolation
    window.tabs.setCurrentWidget(panel)
    panel.set_seeds(3, 7)
    panel.frame_count.setValue(5)
    with qtbot.waitSignal(window.bridge.strip_ready, timeout=WAIT_MS):
        panel.make_strip()
    assert len(panel.frames) == 5 and panel.filmstrip.count() == 5
    # frame 0 is seed A itself, the last frame is seed B's picture
    a, b = tiny_engine.generate([3, 7], SMALL)
    assert pixels(panel.frames[0].result.image) == pixels(a.image)
    assert pixels(panel.frames[-1].result.image) != pixels(a.image)
    assert all(f.caption for f in panel.frames)
    # a clicked frame moves the slider to it; moving the slider leaves no frame highlighted
    panel.filmstrip.setCurrentRow(2)
    t = panel.frames[2].result.t
    assert 0 < t < 1 and panel.position_value() == t and abs(panel.position.value() - t) < 0.01
    assert panel.caption_label.text() == panel.frames[2].caption

    panel.position.setValue(0.37)
    assert panel.filmstrip.currentRow() == -1
    qtbot.waitUntil(lambda: panel.live is not None and "t=0.370" in panel.live.label, timeout=WAIT_MS)
    assert panel.caption_label.text() == panel.live.caption

    assert panel.export_button.isEnabled()
    out = tmp_path / "frames"
    request = panel.export_frames(out)
    qtbot.waitUntil(lambda: panel.export.done if panel.export else True, timeout=WAIT_MS)
    assert request is not None
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == [f"seed-000003-to-000007-frame-{i:03d}.png" for i in range(5)]
    assert len(list(out.glob("*.txt"))) == 5
    rows = (out / "metadata.jsonl").read_text().splitlines()
    assert len(rows) == 5
    with Image.open(out / "interpolation-3-7.gif") as gif:
        assert gif.n_frames == 8  # A→B and back without repeating the ends: 5 + 3
    assert "Exported 5 pictures and interpolation-3-7.gif" in window.message_bar.text()


def test_export_selected_writes_pngs_captions_and_metadata(qtbot, window, tmp_path):
    qtbot.waitUntil(window.gallery.model.is_filled, timeout=WAIT_MS)
    view = window.gallery.view
    sel = view.selectionModel()
    for row in (1, 4, 5):
        sel.select(window.gallery.model.index(row), QItemSelectionModel.SelectionFlag.Select)
    sel.select(window.gallery.model.index(0), QItemSelectionModel.SelectionFlag.Deselect)
    assert window.state.selection == [1, 4, 5]
    out = tmp_path / "export"
    window.export_selected(out)
    qtbot.waitUntil(lambda: window.export.done, timeout=WAIT_MS)
    # (hidden files aside: the export folder's lock file, engine/export.py)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "metadata.jsonl", "seed-000001.png", "seed-000001.txt", "seed-000004.png", "seed-000004.txt",
        "seed-000005.png", "seed-000005.txt"]
    captions = {r.seed: r.caption for r in (window.gallery.model.picture(i) for i in (1, 4, 5))}
    for seed in (1, 4, 5):
        meta = read_png_metadata(out / f"seed-{seed:06d}.png")
        assert meta["seed"] == seed and meta["temperature"] == 0.7
        assert (out / f"seed-{seed:06d}.txt").read_text().strip() == captions[seed] == meta["caption"]
    rows = [json.loads(line) for line in (out / "metadata.jsonl").read_text().splitlines()]
    assert [r["file_name"] for r in rows] == ["seed-000001.png", "seed-000004.png", "seed-000005.png"]
    assert "Exported 3 pictures" in window.message_bar.text()


def test_export_to_an_unusable_folder_says_why(qtbot, window, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    window.export_selected(blocker / "sub")
    qtbot.waitUntil(lambda: window.export.done, timeout=WAIT_MS)
    assert window.message_bar.level == "error"
    assert "Export failed" in window.message_bar.text() and "sub" in window.message_bar.text()
    qtbot.waitUntil(lambda: not window.bridge.is_busy(), timeout=WAIT_MS)
    window.controls.seed_box.setValue(5)  # the app carries on
    wait_preview(qtbot, window, 5)


def test_export_cancel_keeps_complete_pairs(qtbot, window, tmp_path):
    window.state.set_selection(list(range(200)))
    out = tmp_path / "cancelled"
    window.export_selected(out)
    qtbot.waitUntil(lambda: (out / "metadata.jsonl").exists(), timeout=WAIT_MS)
    window.export.dialog.findChild(QPushButton).click()  # the dialog's Cancel button
    assert window.export.done and window.message_bar.level == "warning"
    qtbot.waitUntil(lambda: not window.bridge.is_busy(), timeout=WAIT_MS)
    pngs = sorted(out.glob("*.png"))
    rows = (out / "metadata.jsonl").read_text().splitlines()
    assert 1 <= len(pngs) < 200 and len(rows) == len(pngs) == len(list(out.glob("*.txt")))
    assert not list(out.glob(".*part*"))  # no half-written files


def _exported_png(engine, folder, seed: int, settings: Settings):
    with ExportWriter(folder) as w:
        return w.add(engine.generate([seed], settings)[0])


def test_dropping_an_exported_png_restores_seed_and_settings(qtbot, window, tiny_engine, tmp_path):
    settings = Settings(temperature=0.3, variety=0.8, size=256, style=EngraveStyle(spacing=9.0, angle=-20.0))
    png = _exported_png(tiny_engine, tmp_path / "made", 1234, settings)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(png))])
    event = QDropEvent(QPointF(200, 200), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert event.isAccepted()
    assert window.state.seed == 1234 and window.state.settings == settings
    assert window.controls.seed_box.value() == 1234
    assert window.controls.sliders["temperature"].value() == pytest.approx(0.3)
    assert window.controls.sliders["angle"].value() == pytest.approx(-20.0)
    pic = wait_preview(qtbot, window, 1234, settings)
    with Image.open(png) as im:
        assert pixels(pic.result.image) == pixels(im)  # the dropped picture, made again
    assert "Restored seed 1234" in window.message_bar.text()


def test_dropping_a_foreign_png_is_refused_with_a_message(qtbot, window, tmp_path):
    png = tmp_path / "photo.png"
    Image.new("RGB", (8, 8), "red").save(png)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(png))])
    assert window.handle_drop(mime) is False
    assert window.message_bar.level == "error" and "not made by ArtGen" in window.message_bar.text()
    assert window.state.seed == 0


def test_a_bad_model_file_is_refused_and_the_current_model_stays(qtbot, window, tmp_path):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"this is not a model at all, just some bytes")
    with qtbot.waitSignal(window.bridge.failed, timeout=WAIT_MS):
        window.open_model(str(bad))
    text = window.message_bar.text()
    assert window.message_bar.level == "error" and "broken.safetensors" in text and "stays loaded" in text
    assert "not an ArtGen model file, or" in text and "damaged" in text
    assert window.model.name == "tiny"
    # the status bar is back on the model in use, not "loading broken.safetensors…"
    assert window.model_label.text() == f"Model: tiny ({window.model.hash})"
    assert window.message_bar.timeout_ms == 0  # an error stays until dismissed
    window.controls.seed_box.setValue(9)  # still generating with the old model
    assert wait_preview(qtbot, window, 9).caption


def test_no_model_yet_starts_with_an_open_model_prompt(qtbot, tmp_path, data_dir, monkeypatch, tiny_model_path):
    monkeypatch.setenv("ARTGEN_DEFAULT_MODEL", str(tmp_path / "missing.safetensors"))
    w = MainWindow(bridge=EngineBridge(device="cpu"), state=AppState(page_size=12))
    qtbot.addWidget(w)
    w.show()
    w.load_initial_model(None)
    assert w.message_bar.level == "warning" and "Open a model" in w.message_bar.text()
    assert w.message_bar.action_button.isVisible()
    # a model opened later fills the gallery, and the next start remembers it
    with qtbot.waitSignal(w.bridge.model_loaded, timeout=WAIT_MS):
        w.open_model(str(tiny_model_path))
    qtbot.waitUntil(w.gallery.model.is_filled, timeout=WAIT_MS)
    assert w.message_bar.text() == ""
    assert Preferences().get("last_model") == str(tiny_model_path)
    w.shutdown()


def test_keys_step_and_randomise_the_seed(qtbot, window):
    window.activateWindow()
    window.gallery.view.setFocus()
    window.next_action.trigger()
    window.next_action.trigger()
    assert window.state.seed == 2
    window.prev_action.trigger()
    assert window.state.seed == 1
    qtbot.keyClick(window.gallery.view, Qt.Key.Key_Right)  # the gallery's own arrows step seeds too
    assert window.state.seed == 2
    random.seed(1)
    window.random_action.trigger()
    assert window.state.seed != 2 and window.controls.seed_box.value() == window.state.seed
    assert window.gallery.model.row_of(window.state.seed) >= 0  # the gallery moved to the random seed's page
    # with a slider focused, arrows move the slider and leave the seed alone
    seed = window.state.seed
    slider = window.controls.sliders["variety"]
    slider._slider.setFocus()
    before = slider.value()
    window.next_action.trigger()
    assert window.state.seed == seed and slider.value() > before
    assert window.save_action.shortcut().toString() == "Ctrl+S"
    assert window.export_action.shortcut().toString() == "Ctrl+E"


def test_save_as_writes_a_png_that_restores(qtbot, window, tmp_path):
    wait_preview(qtbot, window, 0)
    path = window.preview.save_as(tmp_path / "keep")
    assert path == tmp_path / "keep.png"
    meta = read_png_metadata(path)
    assert meta["seed"] == 0 and meta["caption"] == window.preview.picture.caption


def test_a_print_style_saves_and_exports_as_svg_that_restores(qtbot, window, tmp_path):
    combo = window.controls.mode
    combo.setCurrentIndex(combo.findData("stipple"))
    assert window.state.settings.style.mode == "stipple"
    assert window.controls.sliders["dot_size"].isEnabled() and not window.controls.sliders["bend"].isEnabled()
    picture = wait_preview(qtbot, window, 0, window.state.settings)
    with qtbot.waitSignal(window.preview.saved, timeout=WAIT_MS):  # (an SVG is written on the engine thread)
        path = window.preview.save_as(tmp_path / "keep.svg")
    assert path == tmp_path / "keep.svg" and path.read_bytes().startswith(b"<?xml")
    window.export_svg_action.trigger()  # Export writes SVGs too
    combo.setCurrentIndex(combo.findData("engraving"))
    window.controls.seed_box.setValue(5)
    assert window.restore_from_png(path) is True
    assert window.state.seed == 0 and window.state.settings == picture.settings
    out = tmp_path / "export"
    window.export_selected(out)
    qtbot.waitUntil(lambda: window.export.done, timeout=WAIT_MS)
    assert list(out.glob("*.svg")) and len(list(out.glob("*.svg"))) == len(list(out.glob("*.png")))


def test_save_as_svg_is_written_on_the_engine_thread_with_the_same_bytes(qtbot, window, tmp_path, monkeypatch):
    combo = window.controls.mode
    combo.setCurrentIndex(combo.findData("crosshatch"))
    picture = wait_preview(qtbot, window, 0, window.state.settings)
    threads = []

    def spy(path, result, page=None):
        threads.append(threading.current_thread().name)
        return write_result_svg(path, result, page)
    monkeypatch.setattr(bridge_module, "write_result_svg", spy)
    with qtbot.waitSignal(window.preview.saved, timeout=WAIT_MS) as saved:
        path = window.preview.save_as(tmp_path / "keep.svg")
    assert path == tmp_path / "keep.svg" and saved.args == [path]
    assert threads == ["artgen-engine"]
    write_result_svg(tmp_path / "direct.svg", picture.result)
    assert path.read_bytes() == (tmp_path / "direct.svg").read_bytes()
    assert window.message_bar.text() == f"Saved {path}"
    assert window.prefs.get("save_dir") == str(tmp_path)

    # a failure is a message, as before
    (tmp_path / "a-file").write_text("not a folder")
    bad = tmp_path / "a-file" / "keep.svg"
    assert window.preview.save_as(bad) == bad
    qtbot.waitUntil(lambda: not window.preview.saves_pending(), timeout=WAIT_MS)
    text = window.message_bar.text()
    assert text.startswith(f"Could not save {bad}: ") and "Error" not in text, text  # the reason, no type name


def test_closing_right_after_save_as_svg_still_writes_it(qtbot, tiny_model_path, tmp_path, data_dir):
    with open_main_window(qtbot, tiny_model_path, SMALL) as w:
        wait_preview(qtbot, w, 0)
        path = w.preview.save_as(tmp_path / "late.svg")
        w.close()
        assert path.read_bytes().startswith(b"<?xml") and not w.preview.saves_pending()


def test_favourites_and_history_survive_a_restart(qtbot, window, data_dir):
    wait_preview(qtbot, window, 0)
    window.controls.seed_box.setValue(17)
    wait_preview(qtbot, window, 17)
    assert 17 not in window.gallery.model.starred
    window.favourite_action.trigger()
    assert window.preview.favourite_button.isChecked()
    assert window.gallery.model.starred == {17}  # its thumbnail has a star …
    window.state.set_settings(dataclasses.replace(window.state.settings, temperature=0.2))
    assert window.gallery.model.starred == set()  # … with the settings it was kept with, not others
    window.state.set_settings(dataclasses.replace(window.state.settings, temperature=0.7))
    assert window.gallery.model.starred == {17}
    again = Library(data_dir)
    assert [e.seed for e in again.favourites.entries] == [17]
    assert [e.seed for e in again.history.entries][:2] == [17, 0]
    assert window.library_panel.favourites.count() == 1
    # restoring a favourite brings back its seed and settings
    window.controls.seed_box.setValue(3)
    window.library_panel.favourites.restore_requested.emit(again.favourites.entries[0])
    assert window.state.seed == 17


def test_model_summary_and_big_seeds(qtbot, window):
    window.show_summary()
    tree = window.summary_dialog.tree
    texts = [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]
    assert "Training summary" in texts and "Config" in texts
    summary = tree.topLevelItem(texts.index("Training summary"))
    assert summary.child(0).text(1) == "untrained tiny test model"

    big = 2**62 + 5
    window.controls.seed_box.setValue(big)  # past a C++ int: seeds travel as Python ints
    qtbot.waitUntil(window.gallery.model.is_filled, timeout=WAIT_MS)
    assert big in window.gallery.model.seeds()
    assert wait_preview(qtbot, window, big).seed == big



def _artgen_png(path, meta_text: str):
    """A PNG carrying `meta_text` as its ArtGen settings chunk, valid or not."""
    from PIL import PngImagePlugin
    info = PngImagePlugin.PngInfo()
    info.add_text("artgen", meta_text)
    Image.new("L", (8, 8), 255).save(path, pnginfo=info)
    return path


def test_every_restore_failure_is_a_message(qtbot, window, tmp_path):
    good = Settings().to_dict()
    bad_values = {
        "seed-minus-one": {**good, "seed": -1}, "seed-2-63": {**good, "seed": 2**63},
        "seed-true": {**good, "seed": True}, "seed-fraction": {**good, "seed": 1.9},
        "style-null": {**good, "seed": 3, "style": None}, "style-list": {**good, "seed": 3, "style": [1, 2]},
        "style-string": {**good, "seed": 3, "style": "bold"}, "no-seed": good,
        "temperature-text": {**good, "seed": 3, "temperature": "hot"},
    }
    cases = {name: _artgen_png(tmp_path / f"{name}.png", json.dumps(meta)) for name, meta in bad_values.items()}
    cases["seed-1e400"] = _artgen_png(tmp_path / "seed-1e400.png", '{"seed": 1e400}')
    cases["nested"] = _artgen_png(tmp_path / "nested.png", "[" * 100_000 + "]" * 100_000)
    cases["not-json"] = _artgen_png(tmp_path / "not-json.png", "{seed: 1")
    cases["a-list"] = _artgen_png(tmp_path / "a-list.png", "[1, 2]")
    (tmp_path / "text.png").write_text("not a picture at all")
    cases["text"] = tmp_path / "text.png"
    cases["missing"] = tmp_path / "missing.png"
    (tmp_path / "folder.png").mkdir()
    cases["folder"] = tmp_path / "folder.png"
    window.state.set_seed(21)
    before = window.state.settings
    for name, path in cases.items():
        window.message_bar.clear()
        assert window.restore_from_png(path) is False, name
        text = window.message_bar.text()
        assert window.message_bar.level == "error" and text.startswith(f"Could not restore {path.name}"), (name, text)
        assert window.state.seed == 21 and window.state.settings == before, name


def test_a_failing_reader_is_still_a_message(qtbot, window, tmp_path, monkeypatch):
    def explode(path):
        raise KeyError("seed")  # whatever the reader raises, the window answers with a message
    monkeypatch.setattr("artgen_desktop.ui.main_window.read_metadata", explode)
    assert window.restore_from_png(tmp_path / "x.png") is False
    assert window.message_bar.text().startswith("Could not restore x.png")


def test_the_message_bar_does_not_move_the_layout(qtbot, window):
    central, splitter = window.centralWidget(), window.splitter
    QApplication.processEvents()
    before = (central.geometry(), splitter.geometry(), window.controls.mapTo(window, window.controls.rect().topLeft()))
    for level in ("info", "warning", "error"):
        window.show_message("Something to say, long enough to wrap onto a second line on a narrow window " * 3, level)
        QApplication.processEvents()
        assert window.message_bar.isVisible() and window.message_bar.parentWidget() is central
        after = (central.geometry(), splitter.geometry(),
                 window.controls.mapTo(window, window.controls.rect().topLeft()))
        assert after == before, level
        bar = window.message_bar.geometry()
        assert bar.top() >= 0 and bar.bottom() <= central.height() and bar.width() <= central.width()
        # the search field stays free to type in again (a message about a search asks for just that)
        field = window.gallery.search.field
        field_rect = QRect(field.mapTo(central, QPoint(0, 0)), field.size())
        assert not bar.intersects(field_rect), level
    # notes and warnings leave by themselves; errors stay until dismissed
    window.show_message("note", "info")
    assert 0 < window.message_bar.timeout_ms <= 10_000
    window.show_message("careful", "warning")
    assert window.message_bar.timeout_ms > 0
    window.show_message("broken", "error")
    assert window.message_bar.timeout_ms == 0
    window.message_bar.show_message("note", "info", timeout_ms=50)
    qtbot.waitUntil(lambda: window.message_bar.text() == "", timeout=WAIT_MS)


def test_history_under_another_model_says_so(qtbot, window):
    from artgen_desktop.ui.library import Entry
    wait_preview(qtbot, window, 0)
    entry = window.library.history.entries[0]
    assert (entry.model, entry.model_hash) == ("tiny", window.model.hash)  # the history entry records the model
    qtbot.waitUntil(lambda: window.library.thumbnail(entry) is not None, timeout=WAIT_MS)
    row = window.library_panel.history.item(0)
    assert not row.icon().isNull() and "tiny" in row.text()
    assert window.restore_entry(entry) and window.message_bar.text() == ""  # same model: nothing to say
    other = Entry(5, Settings(size=256).to_dict(), "a cat", "old-model", model_hash="0123456789")
    window.library.favourites.toggle(other)
    assert "another model" in window.library_panel.favourites.item(0).text()
    assert window.restore_entry(other)
    assert window.state.seed == 5 and window.message_bar.level == "warning"
    assert "made with the model old-model (0123456789)" in window.message_bar.text()


def test_window_size_seed_and_model_are_remembered(qtbot, window, tiny_model_path):
    from PySide6.QtCore import QRect
    available = QRect(0, 0, 1067, 667)  # a 1600 x 1000 screen at QT_SCALE_FACTOR=1.5
    rect = window.place_window(available)
    assert available.contains(rect) and window.width() <= 1067 and window.height() <= 667
    window.resize(1000, 620)
    size = window.size()
    window.state.set_seed(31)
    window.close()
    prefs = Preferences()
    assert prefs.get("window")["width"] == size.width() and prefs.get("last_seed") == 31
    assert prefs.get("last_model") == str(tiny_model_path)
    assert [r["path"] for r in prefs.get("recent_models")] == [str(tiny_model_path)]
    again = MainWindow(bridge=EngineBridge(device="cpu"))
    qtbot.addWidget(again)
    assert again.state.seed == 31
    assert again.size() == fit_to_screen(size, again.screen().availableGeometry()).size()
    again._fill_recent_menu()
    assert any("tiny" in a.text() and a.isEnabled() for a in again.recent_menu.actions())
    with qtbot.waitSignal(again.bridge.model_loaded, timeout=WAIT_MS):
        again.load_initial_model(None)  # the last session's model, not the default one
    assert again.model.path == str(tiny_model_path)
    again.shutdown()


def test_copy_picture_help_and_about_with_credits(qtbot, window, tiny_model_path, tmp_path):
    wait_preview(qtbot, window, 0)
    assert window.copy_picture()
    assert not QApplication.clipboard().image().isNull()
    help_text = window.show_help().text.toPlainText()
    assert "Ctrl+Z" in help_text and "Temperature" in help_text and "Random seed" in help_text
    about = window.show_about()
    assert "ArtGen Desktop 0.1.0" in about.about.toPlainText() and "tiny" in about.about.toPlainText()
    assert "No credits" in about.credits.toPlainText()
    folder = tmp_path / "credited"
    folder.mkdir()
    (folder / "tiny.safetensors").write_bytes(tiny_model_path.read_bytes())
    (folder / "CREDITS.md").write_text("# Credits\n\nPictures drawn by **A. Artist**.\n")
    with qtbot.waitSignal(window.bridge.model_loaded, timeout=WAIT_MS):
        window.open_model(folder / "tiny.safetensors")
    about = window.show_about()
    assert "Pictures drawn by A. Artist." in about.credits.toPlainText()


def test_undo_from_the_edit_menu(qtbot, window):
    window.controls.sliders["variety"].setValue(1.5)
    assert window.undo_action.isEnabled() and window.undo_action.text() == "Undo variety"
    window.undo_action.trigger()
    assert window.state.settings == SMALL and window.controls.sliders["variety"].value() == pytest.approx(1.0)
    window.redo_action.trigger()
    assert window.state.settings.variety == 1.5
    assert {k.toString() for k in window.redo_action.shortcuts()} >= {"Ctrl+Shift+Z"}


def test_back_to_the_default_model(qtbot, window, tiny_model_path, tmp_path, monkeypatch):
    default = tmp_path / "default.safetensors"
    default.write_bytes(tiny_model_path.read_bytes())
    monkeypatch.setenv("ARTGEN_DEFAULT_MODEL", str(default))
    window._update_model_menu()
    assert window.default_model_action.isEnabled()
    with qtbot.waitSignal(window.bridge.model_loaded, timeout=WAIT_MS):
        window.default_model_action.trigger()
    assert window.model.path == str(default) and not window.default_model_action.isEnabled()
    assert Preferences().get("last_model") == ""  # the next start opens the default model


def test_a_damaged_last_model_falls_back_to_the_default(qtbot, data_dir, tmp_path, tiny_model_path, monkeypatch):
    default = tmp_path / "default.safetensors"
    default.write_bytes(tiny_model_path.read_bytes())
    monkeypatch.setenv("ARTGEN_DEFAULT_MODEL", str(default))
    bad = tmp_path / "last.safetensors"
    bad.write_bytes(b"\x00" * 64)
    Preferences().set("last_model", str(bad))
    w = MainWindow(bridge=EngineBridge(device="cpu"), state=AppState(page_size=12))
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.bridge.model_loaded, timeout=WAIT_MS):
        w.load_initial_model(None)
    assert w.model.path == str(default) and w.model_label.text().startswith("Model: default (")
    w.shutdown()
