"""Observable state and the persisted library, without an engine."""

from __future__ import annotations

import json
import random

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
