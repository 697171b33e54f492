"""The app's seed search: the atlas builds in the background, results fill the gallery, More like this."""

from __future__ import annotations

import json
import sqlite3

import pytest
from conftest import WAIT_MS, open_main_window
from PySide6.QtCore import QItemSelectionModel, Qt

from artgen_desktop.engine.atlas import Atlas, default_path
from artgen_desktop.engine.tokenizer import split_words
from artgen_desktop.ui import atlas_search

pytestmark = pytest.mark.usefixtures("one_engine_thread")


@pytest.fixture
def window(qtbot, tiny_model_path, tmp_path, monkeypatch):
    monkeypatch.setenv("ARTGEN_DATA_DIR", str(tmp_path / "userdata"))  # the atlas goes under it too
    monkeypatch.setattr(atlas_search, "DEFAULT_SEEDS", range(96))
    with open_main_window(qtbot, tiny_model_path) as w:
        yield w


def test_search_fills_the_gallery_and_its_actions_work(qtbot, window, tiny_engine, tiny_model_path, tmp_path):
    bar = window.gallery.search
    assert bar.status.text() == "No seed atlas yet"
    bar.field.setText("hrose")
    with qtbot.waitSignal(window.bridge.search_ready, timeout=WAIT_MS):
        bar.search_text()  # an empty atlas: the build starts, the search waits for the first seeds
    qtbot.waitUntil(lambda: not bar.is_building(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "horse" in window.message_bar.text(), timeout=WAIT_MS)  # did you mean
    assert bar.status.text() == "Atlas: 96 seeds"
    assert bar.is_marked_not_shown()  # the field's query is not what the gallery shows …
    bar.field.setText("hrose ")
    assert not bar.is_marked_not_shown()  # … until it is edited

    with Atlas.for_engine(tiny_engine, default_path(tiny_engine.info.hash)) as a:
        rows = a.rows()
    assert len(rows) == 96
    word = next(w for _, _, c in rows for w in split_words(c) if w.isalpha() and len(w) > 3)
    bar.field.setText(word)
    with qtbot.waitSignal(bar.results, timeout=WAIT_MS) as got:
        bar.search_text()
    res = got.args[0]
    assert word in split_words(res.captions[0])
    assert "horse" not in window.message_bar.text()  # the did-you-mean of the search before is gone
    gallery = window.gallery
    assert gallery.model.seeds() == res.seeds[:12]
    tip = gallery.model.index(0).data(Qt.ItemDataRole.ToolTipRole)  # (shown captions follow the temperature)
    assert tip.endswith(f"Found by its caption at temperature 0: “{res.captions[0]}”")
    assert window.state.seed == res.seeds[0]
    said = sum(word in split_words(c) for _, _, c in rows)
    assert gallery.range_label.text().startswith(f"“{word}”: 1–")
    assert gallery.range_label.text().endswith(f" results · {said} captions say it") and said
    assert gallery.range_label.toolTip() == f"96 seeds searched; the captions of {said} of them hold the words"
    if len(res.seeds) > 1:  # → (and the Seed menu's Next seed) steps through the results
        gallery.step(1)
        assert window.state.seed == res.seeds[1]
        gallery.step(-1)

    # gallery actions on results: select two, export them
    sel = gallery.view.selectionModel()
    for row in (0, 1):
        sel.select(gallery.model.index(row), QItemSelectionModel.SelectionFlag.Select)
    if len(res.seeds) > 1:
        assert sorted(window.state.selection) == sorted(res.seeds[:2])
    out = tmp_path / "export"
    request = window.export_selected(out)
    with qtbot.waitSignal(window.bridge.finished, timeout=WAIT_MS, check_params_cb=lambda i, *_: i == request):
        pass
    exported = [json.loads(r)["seed"] for r in (out / "metadata.jsonl").read_text().splitlines()]
    assert sorted(exported) == sorted(window.state.selection)

    # More like this (the preview's button and the thumbnails' context menu)
    assert window.more_like_action in gallery.view.actions()
    seed = res.seeds[0]
    qtbot.waitUntil(lambda: window.preview.picture is not None and window.preview.picture.seed == seed,
                    timeout=WAIT_MS)
    with qtbot.waitSignal(bar.results, timeout=WAIT_MS) as got:
        window.preview.more_like_button.click()
    like = got.args[0]
    assert like.like == seed and bar.field.text() == ""  # (the words no longer describe what is shown)
    assert like.like not in like.seeds and len(like.seeds) == 48 and gallery.model.seeds() == like.seeds[:12]
    assert gallery.range_label.text().startswith(f"Like seed {like.like}: 1–12 of 48+")
    gallery.turn_page(1)
    assert gallery.model.seeds() == like.seeds[12:24]
    # paging past the last page asks for more: the pages seen stay as they were, new seeds follow
    gallery.turn_page(2)
    assert gallery.model.seeds() == like.seeds[36:48] and gallery.next_button.isEnabled()
    with qtbot.waitSignal(bar.more_results, timeout=WAIT_MS):
        gallery.next_button.click()
        gallery.next_button.click()  # (a second click while asking does not ask twice)
    seeds = gallery.results.seeds
    assert seeds[:48] == like.seeds and len(seeds) == 95 == len(set(seeds)) and like.like not in seeds
    assert gallery.model.seeds() == seeds[48:60]
    assert gallery.range_label.text().startswith(f"Like seed {like.like}: 49–60 of 95 results")  # all: no "+"
    gallery.turn_page(10)  # the last page; nothing more to ask for
    assert gallery.model.seeds() == seeds[84:95] and not gallery.next_button.isEnabled()

    assert gallery.back_button.isVisible()
    gallery.back_button.click()  # back to pages of seeds
    assert gallery.results is None and gallery.model.seeds() == window.state.page_seeds
    assert not gallery.back_button.isVisible()

    with qtbot.waitSignal(bar.results, timeout=WAIT_MS):  # results found under one model …
        window.preview.more_like_button.click()
    assert gallery.results is not None
    with qtbot.waitSignal(window.bridge.model_loaded, timeout=WAIT_MS):  # … are dropped when another loads
        window.open_model(str(tiny_model_path))
    assert gallery.results is None and gallery.model.seeds() == window.state.page_seeds


def test_results_at_the_most_a_search_shows_words_no_caption_says_and_a_seed_off_the_page(qtbot, window,
                                                                                           tiny_engine, monkeypatch):
    bar, gallery = window.gallery.search, window.gallery
    monkeypatch.setattr(atlas_search, "MAX_RESULTS", atlas_search.FIRST_RESULTS)
    with qtbot.waitSignal(bar.results, timeout=WAIT_MS * 4) as got:  # (the atlas is built first)
        bar.more_like(3)
    assert got.args[0].maybe_more  # the atlas has more, but a search shows MAX_RESULTS at most
    gallery.turn_page(3)
    assert gallery.range_label.text().startswith("Like seed 3: 37–48 of 48 results")
    assert not gallery.next_button.isEnabled()

    # the seed box steps to a seed that is not among the results: no thumbnail stays marked as current, and
    # Export selected would export the picture the preview shows
    shown = gallery.model.seeds()
    window.state.set_seed(shown[0])
    assert gallery.view.selectionModel().selectedIndexes()
    off = next(s for s in range(1000) if s not in gallery.results.seeds)
    window.state.set_seed(off)
    assert not gallery.view.selectionModel().hasSelection() and window.state.selection == [off]

    with Atlas.for_engine(tiny_engine, default_path(tiny_engine.info.hash)) as a:
        said = {w for _, _, c in a.rows() for w in split_words(c)}
    word = next(w for w in tiny_engine.tokenizer.words if w.isalpha() and len(w) > 3 and w not in said)
    bar.field.setText(word)
    with qtbot.waitSignal(bar.results, timeout=WAIT_MS) as got:
        bar.search_text()
    assert got.args[0].matches == 0 and got.args[0].seeds  # the pictures closest to the words, and it says so
    assert gallery.range_label.text().endswith(" results · no caption says it")
    assert f"No caption in the atlas says “{word}”" in window.message_bar.text()


def test_the_build_pauses_and_resumes_where_it_stopped(qtbot, window, tiny_model_path):
    bar = window.gallery.search
    progress = []
    window.bridge.atlas_progress.connect(lambda _id, p: progress.append(p.done))
    bar.build_button.click()
    assert bar.is_building() and bar.build_button.text() == "Pause atlas"
    qtbot.waitUntil(lambda: any(d > 0 for d in progress), timeout=WAIT_MS)
    bar.build_button.click()
    assert not bar.is_building() and "paused" in bar.status.text()
    paused_at = bar.done
    assert 0 < paused_at < 96
    # a model load (as the next start of the app) resumes the build from the atlas file
    with qtbot.waitSignal(window.bridge.model_loaded, timeout=WAIT_MS):
        window.open_model(str(tiny_model_path))
    assert bar.is_building()
    qtbot.waitUntil(lambda: not bar.is_building(), timeout=WAIT_MS)
    assert bar.done == 96 and progress[progress.index(96) - 1] >= paused_at


def test_an_atlas_error_while_open_is_a_message_and_the_atlas_is_opened_again(qtbot, window, monkeypatch):
    """SQLite reports damage it meets mid-use as a DatabaseError: a message, never a crash, and the next
    search opens the file again (where the check on opening, tests/test_atlas.py, makes a damaged one anew)."""
    monkeypatch.setattr(atlas_search, "DEFAULT_SEEDS", range(32))
    bar = window.gallery.search
    bar.build_button.click()
    qtbot.waitUntil(lambda: bar.done == 32 and not bar.is_building(), timeout=WAIT_MS)
    real_len = Atlas.__len__

    def damaged_len(self):
        monkeypatch.setattr(Atlas, "__len__", real_len)
        raise sqlite3.DatabaseError("database disk image is malformed")
    monkeypatch.setattr(Atlas, "__len__", damaged_len)
    with qtbot.waitSignal(window.bridge.search_ready, timeout=WAIT_MS) as got:
        bar.more_like(3)
    assert "damaged" in got.args[1].error and "damaged" in window.message_bar.text()
    with qtbot.waitSignal(bar.results, timeout=WAIT_MS) as got:
        bar.more_like(3)
    assert got.args[0].atlas_size == 32 and 3 not in got.args[0].seeds


@pytest.mark.parametrize("kind", ["random-bytes", "another-model"])
def test_a_damaged_or_foreign_atlas_file_is_a_warning_and_made_again(qtbot, window, tiny_engine, monkeypatch, kind):
    """The app's atlas (the model's file in the cache folder) found damaged, or holding another model's atlas,
    when the build starts: a warning in the message bar, a fresh atlas, never a crash."""
    monkeypatch.setattr(atlas_search, "DEFAULT_SEEDS", range(16))
    path = default_path(tiny_engine.info.hash)
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "random-bytes":
        path.write_bytes(bytes(range(256)) * 40)
    else:
        with Atlas(path, tiny_engine.info.hash, tiny_engine.model.cfg.latent_dim) as a:
            a.con.execute("UPDATE meta SET value='0123456789' WHERE key='model_hash'")
    bar = window.gallery.search
    bar.build_button.click()
    qtbot.waitUntil(lambda: bar.done == 16 and not bar.is_building(), timeout=WAIT_MS)
    assert "being made again" in window.message_bar.text()
    with Atlas.for_engine(tiny_engine) as a:
        assert a.notice == "" and len(a) == 16
