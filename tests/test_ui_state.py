"""Observable state and the persisted library, without an engine."""

from __future__ import annotations

import json
import random
import sys

import pytest

from artgen_desktop.engine import MAX_SEED, ArtGenError, Settings
from artgen_desktop.ui.library import HISTORY_LIMIT, Entry, Library
from artgen_desktop.ui.prefs import Preferences
from artgen_desktop.ui.state import AppState
from artgen_desktop.ui.userdata import data_dir


def test_seed_moves_the_page_and_signals(qtbot):
    state = AppState(page_size=12)
    pages, seeds = [], []
    state.page_changed.connect(pages.append)
    state.seed_changed.connect(seeds.append)
    state.set_seed(5)
    assert state.page_seeds == list(range(12)) and pages == []
    state.set_seed(30)
    assert pages == [24] and state.page_seeds == list(range(24, 36))
    state.turn_page(1)
    assert state.seed == 42  # keeps its place on the page
    state.step_seed(-100)
    assert state.seed == 0
    state.set_seed(MAX_SEED - 1)
    assert state.page_seeds[-1] == MAX_SEED - 1 and len(state.page_seeds) == (MAX_SEED - 1) % 12 + 1
    state.step_seed(1)
    assert state.seed == MAX_SEED - 1
    with pytest.raises(ArtGenError):
        state.set_seed(-3)
    assert seeds == [5, 30, 42, 0, MAX_SEED - 1]
    state.set_page_size(48)
    assert len(state.page_seeds) <= 48
    assert 0 <= state.random_seed(random.Random(3)) < 2**32


def test_emitting_a_signal_from_python_keeps_the_references_it_was_given(qtbot):
    """PySide6 6.12.0's emit() returned True without a reference of its own, so every emit took one from True,
    and a long session aborted when True ran out of them (pyproject.toml leaves that release out)."""
    state = AppState()
    state.seed_changed.connect(lambda _: None)
    before = sys.getrefcount(True)
    for seed in range(1, 501):
        state.set_seed(seed)
    assert sys.getrefcount(True) > before - 100


def test_settings_signal_only_on_change(qtbot):
    state = AppState()
    changes = []
    state.settings_changed.connect(changes.append)
    state.set_settings(Settings())
    state.set_settings(Settings(temperature=0.2))
    assert changes == [Settings(temperature=0.2)]


def test_library_persists_and_survives_damage(tmp_path, qtbot):
    lib = Library(tmp_path)
    s = Settings().to_dict()
    for seed in (1, 2, 1):
        lib.history.record(Entry(seed, s, f"caption {seed}"))
    assert [e.seed for e in lib.history.entries] == [1, 2]  # one entry per seed, newest first
    assert lib.favourites.toggle(Entry(7, s, "a ship"))
    assert lib.favourites.toggle(Entry(7, Settings(temperature=0.1).to_dict(), "a ship"))
    assert not lib.favourites.toggle(Entry(7, s))  # same seed + settings again: removed
    again = Library(tmp_path)
    assert [e.seed for e in again.history.entries] == [1, 2]
    assert [(e.seed, e.settings["temperature"]) for e in again.favourites.entries] == [(7, 0.1)]

    (tmp_path / "history.json").write_text("{not json")
    (tmp_path / "favourites.json").write_text(json.dumps([{"seed": "x"}, {"seed": 3, "settings": s}]))
    damaged = Library(tmp_path)
    assert damaged.history.entries == [] and [e.seed for e in damaged.favourites.entries] == [3]


def test_history_is_capped(tmp_path, qtbot):
    lib = Library(tmp_path)
    assert lib.history.limit == HISTORY_LIMIT
    lib.history.limit = 10  # the same code path as 200, with fewer writes
    for seed in range(30):
        lib.history.record(Entry(seed, Settings().to_dict()))
    assert [e.seed for e in lib.history.entries] == list(range(29, 19, -1))
    assert len(Library(tmp_path).history) == 10


def test_data_dir_honours_the_override(tmp_path, monkeypatch):
    monkeypatch.setenv("ARTGEN_DATA_DIR", str(tmp_path / "d"))
    assert data_dir() == tmp_path / "d" and data_dir().is_dir()
    Preferences().set("page_size", 48)
    assert Preferences().get("page_size") == 48
    assert json.loads((tmp_path / "d" / "preferences.json").read_text()) == {"page_size": 48}


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_undo_and_redo_of_a_setting(qtbot):
    clock = FakeClock()
    state = AppState(clock=clock)
    assert not state.can_undo() and state.undo_text() == "Undo"
    for t in (0.75, 0.8, 0.9):  # a slider drag: one field, changes close together -> one undo step
        state.set_settings(Settings(temperature=t))
        clock.now += 0.05
    clock.now += 5
    state.set_settings(Settings(temperature=0.9, variety=1.5))
    assert state.undo_text() == "Undo variety"
    assert state.undo() and state.settings == Settings(temperature=0.9)
    assert state.undo_text() == "Undo temperature" and state.redo_text() == "Redo variety"
    assert state.undo() and state.settings == Settings()  # the whole drag taken back at once
    assert not state.undo() and state.settings == Settings()
    assert state.redo() and state.settings == Settings(temperature=0.9)
    # a new change after an undo drops what could have been redone
    state.set_settings(Settings(temperature=0.2))
    assert not state.can_redo() and state.undo() and state.settings == Settings(temperature=0.9)


def test_undo_restores_the_controls(qtbot):
    from artgen_desktop.ui.controls import ControlsPanel
    state = AppState()
    panel = ControlsPanel(state)
    qtbot.addWidget(panel)
    panel.sliders["temperature"].setValue(1.5)
    assert state.settings.temperature == 1.5
    state.undo()
    assert state.settings.temperature == Settings().temperature
    assert panel.sliders["temperature"].value() == pytest.approx(Settings().temperature)
    state.redo()
    assert panel.sliders["temperature"].value() == pytest.approx(1.5)


def test_history_entry_records_the_model(tmp_path, qtbot):
    lib = Library(tmp_path)
    s = Settings().to_dict()
    lib.set_model("first", "aaaa111111")
    lib.history.record(Entry(4, s, "a cat"))  # the preview's entries do not know the hash: the library stamps it
    lib.favourites.toggle(Entry(4, s, "a cat"))
    lib.set_model("second", "bbbb222222")
    lib.history.record(Entry(4, s, "a dog"))
    assert not lib.favourites.contains(4, s)  # the same seed under another model is another picture
    again = Library(tmp_path)
    assert [(e.seed, e.model, e.model_hash) for e in again.history.entries] == [
        (4, "second", "bbbb222222"), (4, "first", "aaaa111111")]
    assert [(e.model, e.model_hash) for e in again.favourites.entries] == [("first", "aaaa111111")]
    again.set_model("first", "aaaa111111")
    assert again.favourites.contains(4, s)


def test_library_thumbnails_are_kept_small_and_pruned(tmp_path, qtbot):
    from PySide6.QtGui import QColor, QImage

    from artgen_desktop.ui.library import THUMB_PX
    lib = Library(tmp_path)
    lib.set_model("m", "hash000000")
    s = Settings().to_dict()
    entry = Entry(9, s, "a ship")
    lib.history.record(entry)
    image = QImage(512, 512, QImage.Format.Format_Grayscale8)
    image.fill(QColor("white"))
    added = []
    lib.thumbnail_added.connect(added.append)
    lib.store_thumbnail(Entry(10, s), image)  # not listed (e.g. a picture a drag passed through): not kept
    lib.store_thumbnail(entry, image)
    stored = lib.history.entries[0]
    assert added == [stored.thumbnail_name()]
    thumb = Library(tmp_path).thumbnail(stored)
    assert thumb is not None and thumb.width() == THUMB_PX
    (tmp_path / "thumbnails" / "orphan.png").write_bytes(b"x")
    lib.history.clear()
    Library(tmp_path)  # a start prunes thumbnails no entry refers to
    assert list((tmp_path / "thumbnails").iterdir()) == []


def test_window_fits_a_small_screens_available_geometry():
    from PySide6.QtCore import QRect, QSize

    from artgen_desktop.ui.main_window import DEFAULT_SIZE, fit_to_screen
    # 1600 x 1000 pixels at QT_SCALE_FACTOR=1.5: 1067 x 667 logical, less a 40 px panel at the top
    available = QRect(0, 40, 1067, 627)
    rect = fit_to_screen(DEFAULT_SIZE, available)
    assert available.contains(rect) and rect.height() <= available.height() - 40  # room for the title bar
    assert rect.width() >= 1000 and rect.height() >= 560  # as large as fits, not a tiny window
    small = fit_to_screen(QSize(800, 500), QRect(0, 0, 1920, 1080))
    assert small.size() == QSize(800, 500) and QRect(0, 0, 1920, 1080).contains(small)


def test_export_folder_proposed_exists(tmp_path, monkeypatch):
    from artgen_desktop.ui.userdata import default_export_dir, existing_folder
    monkeypatch.setenv("ARTGEN_DATA_DIR", str(tmp_path / "d"))
    assert default_export_dir().is_dir()  # nothing created by proposing it: the data folder itself
    assert not (tmp_path / "d" / "exports").exists()
    assert existing_folder(tmp_path / "gone" / "deeper") == tmp_path
    assert existing_folder(None) == existing_folder("") == __import__("pathlib").Path.home()
    monkeypatch.delenv("ARTGEN_DATA_DIR")
    monkeypatch.setattr("artgen_desktop.ui.userdata.user_pictures_dir", lambda: str(tmp_path / "Pictures"))
    assert default_export_dir() == tmp_path  # no Pictures folder yet: the nearest folder that exists
    (tmp_path / "Pictures").mkdir()
    assert default_export_dir() == tmp_path / "Pictures"
    (tmp_path / "Pictures" / "ArtGen").mkdir()
    assert default_export_dir() == tmp_path / "Pictures" / "ArtGen"


def test_model_refusal_reads_as_a_reason():
    from artgen_desktop.ui.main_window import model_failure_text
    text = model_failure_text("bad.safetensors", "/x/bad.safetensors",
                              "/x/bad.safetensors: not a safetensors file (bad header length)")
    assert text.startswith("Could not open bad.safetensors: it is not an ArtGen model file, or it is damaged")
    assert "bad header length" in text and "/x/" not in text
    assert model_failure_text("m.safetensors", "/x/m.safetensors", "/x/m.safetensors: no such file") == (
        "Could not open m.safetensors: no such file.")
    # the engine's own words are not said twice
    said = model_failure_text("m.safetensors", "/x/m.safetensors",
                              "/x/m.safetensors: not an ArtGen model file, or damaged (its header is not a table)")
    assert said == "Could not open m.safetensors: not an ArtGen model file, or damaged (its header is not a table)."


def test_model_summary_in_sentences(qtbot):
    from artgen_desktop.ui.bridge import ModelDescription
    from artgen_desktop.ui.model_summary import ModelSummaryDialog, summary_sentences
    summary = {"dataset": "snap", "images": 2359, "train_images": 2241, "val_images": 118, "vocabulary": 1687,
               "caption_mode": "captions", "preset": "default", "prior": "kernel", "finetune": "prior-only",
               "init": "/runs/v2.safetensors", "device": "cpu", "seconds": {"autoencoder": 0.0, "prior": 60.0},
               "init_summary": {"seconds": {"autoencoder": 1728.3, "prior": 432.0}}, "trained_at": "2026-11-27"}
    desc = ModelDescription("default", "/m/default.safetensors", "fbd16f4563", 7_500_000, "CPU", summary,
                            {"prior_bank": 4482, "prior_bandwidth": 0.3, "prior_steps": 8, "image_size": 64})
    text = " ".join(summary_sentences(desc))
    assert "Trained on the dataset “snap”: 2,359 pictures (2,241 to learn from, 118 held back" in text
    assert "Fine-tuned from v2.safetensors (training the prior only)." in text
    assert "Training took 37 min on the CPU" in text and "kernel prior" in text and "“default” preset" in text
    odd = ModelDescription("odd", "", "0", 1, "CPU", {"images": "many", "seconds": [1], "init_summary": 3}, {})
    assert summary_sentences(odd) == ["This model file records no training summary."]
    dialog = ModelSummaryDialog(desc)
    qtbot.addWidget(dialog)
    assert "2,359 pictures" in dialog.text.toPlainText() and "{" not in dialog.text.toPlainText()
