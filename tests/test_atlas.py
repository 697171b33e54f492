"""The seed atlas (engine/atlas.py): build, resume, shards, searches, damage and another model's atlas."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from artgen_desktop.engine import Settings
from artgen_desktop.engine.atlas import (
    Atlas,
    AtlasError,
    UnknownWordsError,
    build,
    iter_build,
    like_seed,
    merge,
    search_words,
)
from artgen_desktop.engine.tokenizer import split_words

pytestmark = pytest.mark.usefixtures("one_engine_thread")
SEEDS = range(0, 160)


def _atlas(engine, path) -> Atlas:
    return Atlas(path, engine.info.hash, engine.model.cfg.latent_dim, "tiny")


@pytest.fixture(scope="module")
def built(tiny_engine, tmp_path_factory):
    """One atlas of SEEDS built in one run (the reference for the other tests)."""
    path = tmp_path_factory.mktemp("atlas") / "one.sqlite"
    with _atlas(tiny_engine, path) as a:
        assert build(tiny_engine, a, SEEDS, batch_size=32) == len(SEEDS)
        rows = a.rows()
    return path, rows


def test_build_stores_every_seed_once_with_its_greedy_caption(tiny_engine, built):
    path, rows = built
    assert [r[0] for r in rows] == list(SEEDS)
    first = tiny_engine.generate([0, 1], Settings(temperature=0.0))
    assert rows[0][2] == first[0].caption and rows[1][2] == first[1].caption
    assert all(len(blob) == 4 + tiny_engine.model.cfg.latent_dim for _, blob, _ in rows)
    with _atlas(tiny_engine, path) as a:  # building again adds nothing
        progress = list(iter_build(tiny_engine, a, SEEDS))
        assert [(p.done, p.total) for p in progress] == [(len(SEEDS), len(SEEDS))]


def test_resume_after_an_interruption_gives_the_same_atlas(tiny_engine, built, tmp_path):
    path = tmp_path / "resumed.sqlite"
    a = _atlas(tiny_engine, path)
    steps = iter_build(tiny_engine, a, SEEDS, batch_size=24)
    for p in steps:
        if p.done >= 48:
            break
    steps.close()  # as a quit or a cancel between batches
    a.close()
    with _atlas(tiny_engine, path) as a:
        assert len(a) == 48
        progress = list(iter_build(tiny_engine, a, SEEDS, batch_size=40))
        assert progress[0].done == 48 and progress[-1].done == len(SEEDS)
        assert a.rows() == built[1]


def test_shards_merge_into_the_atlas_of_one_build(tiny_engine, built, tmp_path):
    seeds = list(SEEDS)
    shards = []
    for k in range(3):
        p = tmp_path / f"shard{k}.sqlite"
        with _atlas(tiny_engine, p) as a:
            build(tiny_engine, a, seeds[k::3], batch_size=16)
        shards.append(p)
    with merge(tmp_path / "merged.sqlite", shards) as m:
        assert m.rows() == built[1]
        word = split_words(built[1][0][2])[-1]
        with _atlas(tiny_engine, built[0]) as one:
            assert sorted(m.word_matches([word], 1000)) == sorted(one.word_matches([word], 1000))


def test_word_search_puts_the_seeds_whose_caption_says_it_first(tiny_engine, built):
    path, rows = built
    counts = {}
    for _, _, caption in rows:
        for w in set(split_words(caption)):
            if w.isalpha() and w not in ("a", "an", "the", "on", "in", "with"):
                counts[w] = counts.get(w, 0) + 1
    word = max((w for w in counts if counts[w] <= 20), key=lambda w: (counts[w], w))
    expected = {s for s, _, c in rows if word in split_words(c)}
    with _atlas(tiny_engine, path) as a:
        hits = search_words(tiny_engine, a, word, limit=len(expected) + 5)
        assert {h.seed for h in hits[:len(expected)]} == expected
        for group in (hits[:len(expected)], hits[len(expected):]):  # each ranked by the decoder's score
            assert [h.score for h in group] == sorted((h.score for h in group), reverse=True)
        with pytest.raises(UnknownWordsError, match="horse"):
            search_words(tiny_engine, a, "hrose")


def test_likeness_search_returns_the_nearest_latents(tiny_engine, built):
    path, rows = built
    with _atlas(tiny_engine, path) as a:
        seeds, z = a.latents_of([r[0] for r in rows])
        c = z - z.mean(0)
        c /= np.linalg.norm(c, axis=1, keepdims=True)
        sims = c @ c[7]
        sims[7] = -np.inf
        expected = [int(seeds[i]) for i in np.argsort(-sims, kind="stable")[:5]]
        hits = like_seed(tiny_engine, a, 7, limit=5)
        assert [h.seed for h in hits] == expected
        assert 7 not in [h.seed for h in hits]
        # a seed outside the atlas is matched by its latent, made on the spot
        assert like_seed(tiny_engine, a, 10_000, limit=3)[0].seed in seeds


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other-schema"])
def test_a_damaged_atlas_is_detected_and_made_again(tiny_engine, built, tmp_path, damage, monkeypatch):
    from artgen_desktop.engine.atlas import atlas_dir
    monkeypatch.setenv("ARTGEN_CACHE_DIR", str(tmp_path / "cache"))
    atlas_dir().mkdir(parents=True)
    path = atlas_dir() / "damaged.sqlite"  # the cache folder's own files are remade
    if damage == "garbage":
        path.write_bytes(b"not a database at all " * 500)
    elif damage == "truncated":
        data = built[0].read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE pictures(x)")
        con.commit()
        con.close()
    with _atlas(tiny_engine, path) as a:
        assert "damaged" in a.notice and len(a) == 0
        build(tiny_engine, a, range(8))
        assert len(a) == 8
    with _atlas(tiny_engine, path) as a:  # the rebuilt file is whole
        assert a.notice == "" and len(a) == 8


def test_a_file_a_person_named_is_never_replaced(tiny_engine, tmp_path):
    notes = tmp_path / "notes.db"
    notes.write_text("my notes, not an atlas\n" * 50)
    with pytest.raises(AtlasError, match="not a usable seed atlas"):
        Atlas(notes, tiny_engine.info.hash, tiny_engine.model.cfg.latent_dim)
    assert notes.read_text() == "my notes, not an atlas\n" * 50


def test_an_atlas_of_another_model_is_refused_and_left_alone(tiny_engine, built, tmp_path):
    path = built[0]
    before = path.read_bytes()
    with pytest.raises(AtlasError, match="another model"):
        Atlas(path, "0123456789", tiny_engine.model.cfg.latent_dim)
    assert path.read_bytes() == before
    with _atlas(tiny_engine, tmp_path / "x.sqlite") as a:
        a.model_hash = "0123456789"
        with pytest.raises(AtlasError):
            list(iter_build(tiny_engine, a, range(4)))
    other = tmp_path / "other.sqlite"
    Atlas(other, "0123456789", tiny_engine.model.cfg.latent_dim).close()
    with pytest.raises(AtlasError, match="different models"):
        merge(tmp_path / "m.sqlite", [path, other])


def test_a_second_connection_searches_the_atlas_while_it_grows(tiny_engine, built, tmp_path):
    """WAL: a reader (the app, a CLI search) sees each committed batch of a build in another connection."""
    path = tmp_path / "growing.sqlite"
    writer, reader = _atlas(tiny_engine, path), _atlas(tiny_engine, path)
    steps = iter_build(tiny_engine, writer, SEEDS, batch_size=32)
    next(steps)
    assert len(reader) == 0 and reader.nearest(np.zeros(tiny_engine.model.cfg.latent_dim), 3) == []
    next(steps)
    assert len(reader) == 32 and len(reader.latents_of(range(32))[0]) == 32
    next(steps)
    assert len(reader.latents_of(range(64))[0]) == 64  # the in-memory copy follows the other connection
    steps.close()
    writer.close()
    reader.close()
