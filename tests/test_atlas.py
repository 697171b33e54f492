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
    picture_groups,
    search_words,
    typicality,
)
from artgen_desktop.engine.tokenizer import Tokenizer, split_words

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
        assert len(hits) == len(expected) + 5
        with pytest.raises(UnknownWordsError, match="horse"):
            search_words(tiny_engine, a, "hrose")


def _pictures(rng, centres: np.ndarray, copies: int, spread: float = 0.02) -> np.ndarray:
    """`copies` latents near each centre: the seeds a kernel prior lands on one stored picture."""
    return np.concatenate([c + spread * rng.standard_normal((copies, centres.shape[1])) for c in centres])


def test_picture_groups_gather_the_redraws_of_one_picture_and_typicality_finds_the_odd_one():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((4, 16))
    units = _pictures(rng, centres, 3)[[0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11]]  # pictures 0 1 2 3 0 1 2 3 …
    units /= np.linalg.norm(units, axis=1, keepdims=True)
    assert picture_groups(units).tolist() == [0, 1, 2, 3] * 3
    assert picture_groups(units, most=2).tolist() == [0, 1, -1, -1] * 3
    assert picture_groups(np.array([[0, 0], [1, 0], [1, 0.01], [0, 1]])).tolist() == [0, 1, 1, 2]  # (the mean)
    pictures = np.concatenate([np.ones((5, 16)) + 0.5 * rng.standard_normal((5, 16)), -np.ones((1, 16))])
    pictures /= np.linalg.norm(pictures, axis=1, keepdims=True)
    typical = typicality(pictures, np.ones(6, bool))
    assert typical.argmin() == 5 and typical[:5].min() > typical[5] + 0.5
    assert typicality(pictures, np.eye(6, dtype=bool)[0]).tolist() == [0.0] * 6  # one picture: nothing to go by


def test_a_results_page_shows_several_pictures_and_the_misdrawn_one_last(tmp_path, monkeypatch):
    """Word search over seeds that redraw four pictures, all captioned "A cat.": three alike (cats) and one
    unlike them (a misdrawing), every latent scoring alike. The odd one ranks after the cats; and where
    pictures are alike in everything, each one's first seed comes before any one's second."""
    from artgen_desktop.engine import atlas as atlas_module
    rng = np.random.default_rng(1)
    cat = rng.standard_normal(16)
    centres = np.stack([cat + 0.5 * rng.standard_normal(16) for _ in range(3)] + [-cat])
    latents = _pictures(rng, centres, 4).astype(np.float32)  # seeds 0-3: cat 0, 4-7: cat 1, 8-11: cat 2, 12-15
    noise = rng.standard_normal((40, 16)).astype(np.float32)  # seeds 16-55, another caption
    tokenizer = Tokenizer.build(["A cat.", "A dog."])

    class Decoder:  # the engine as search_words uses it
        def __init__(self):
            self.tokenizer = tokenizer

        def score_text(self, z, words):
            return np.zeros(len(z), np.float32)

    with Atlas(tmp_path / "cats.sqlite", "0" * 10, 16) as a:
        a.add(range(56), np.concatenate([latents, noise]), ["A cat."] * 16 + ["A dog."] * 40)
        pictures = [h.seed // 4 for h in search_words(Decoder(), a, "cat", limit=16)]
        assert sorted(pictures[:12]) == [0] * 4 + [1] * 4 + [2] * 4 and pictures[12:] == [3] * 4
        monkeypatch.setattr(atlas_module, "TYPICAL_WEIGHT", 0.0)
        pictures = [h.seed // 4 for h in search_words(Decoder(), a, "cat", limit=16)]
        assert all(sorted(pictures[i:i + 4]) == [0, 1, 2, 3] for i in range(0, 16, 4))
    with Atlas(tmp_path / "one.sqlite", "0" * 10, 16) as a:  # its one latent is the atlas's mean
        a.add([5], latents[:1], ["A cat."])
        assert [h.seed for h in search_words(Decoder(), a, "cat", limit=16)] == [5]


def test_a_picture_many_seeds_name_outranks_one_seed_the_decoder_prefers(tmp_path):
    """Seeds 0-5 redraw one picture captioned "A cat.", seed 6 strays elsewhere with the same caption, and the
    decoder likes the stray better by 5. The six-vote picture comes first; its k-th seed ranks as if it had
    6 / k votes, so the stray comes after three of its seeds and before the other three."""
    from artgen_desktop.engine.atlas import VOTE_WEIGHT
    rng = np.random.default_rng(2)
    cat, stray = rng.standard_normal((2, 16))
    latents = np.concatenate([_pictures(rng, cat[None], 6), stray[None], rng.standard_normal((20, 16))])
    tokenizer = Tokenizer.build(["A cat.", "A dog."])

    class Decoder:
        def __init__(self):
            self.tokenizer = tokenizer

        def score_text(self, z, words):
            cos = z @ stray / (np.linalg.norm(z, axis=1) * np.linalg.norm(stray))
            return np.where(cos > 0.9, 5.0, 0.0).astype(np.float32)

    assert VOTE_WEIGHT * np.log(6 / 3) > 5 > VOTE_WEIGHT * np.log(6 / 4)
    with Atlas(tmp_path / "votes.sqlite", "0" * 10, 16) as a:
        a.add(range(27), latents.astype(np.float32), ["A cat."] * 7 + ["A dog."] * 20)
        hits = search_words(Decoder(), a, "cat", limit=7)
        assert ["cat" if h.seed < 6 else h.seed for h in hits] == ["cat"] * 3 + [6] + ["cat"] * 3


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


DAMAGE = {  # kind -> what the message says
    "random-bytes": "is damaged (file is not a database)",
    "truncated": "is damaged",
    "not-an-atlas": "is not a seed atlas",
    "schema-version": "was made by another version of ArtGen (schema '0'",
    "another-model": "is the seed atlas of another model (tiny, hash 0123456789)",
}


def _damage(kind: str, path, built_path) -> None:
    """Writes a damaged or foreign atlas at `path` (from the reference atlas built_path)."""
    if kind == "random-bytes":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 20_000, dtype=np.uint8).tobytes())
        return
    data = built_path.read_bytes()
    if kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
        return
    con = sqlite3.connect(path)
    if kind == "not-an-atlas":
        con.execute("CREATE TABLE pictures(x)")
    else:
        con.close()
        path.write_bytes(data)  # (the reference is closed, its WAL folded in: the file is the whole atlas)
        con = sqlite3.connect(path)
        key, value = ("schema", "0") if kind == "schema-version" else ("model_hash", "0123456789")
        con.execute("UPDATE meta SET value=? WHERE key=?", (value, key))
    con.commit()
    con.close()


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_or_foreign_default_atlas_is_made_again(tiny_engine, built, tmp_path, kind, monkeypatch):
    """The model's own file in the atlas cache folder (the app's, `artgen atlas build` without --db): a message
    (Atlas.notice, which the app and the CLI show) and a fresh atlas, never a crash."""
    from artgen_desktop.engine.atlas import default_path
    monkeypatch.setenv("ARTGEN_CACHE_DIR", str(tmp_path / "cache"))
    path = default_path(tiny_engine.info.hash)
    path.parent.mkdir(parents=True)
    _damage(kind, path, built[0])
    with _atlas(tiny_engine, path) as a:
        assert a.notice.startswith(f"The seed atlas {path.name} {DAMAGE[kind]}")
        assert a.notice.endswith("it is being made again.") and len(a) == 0
        build(tiny_engine, a, range(8))
        assert len(a) == 8
    with _atlas(tiny_engine, path) as a:  # the rebuilt file is whole, and this model's
        assert a.notice == "" and a.rows() == built[1][:8]


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_or_foreign_file_a_person_named_is_never_replaced(tiny_engine, built, tmp_path, kind):
    """--db, merge's OUT: a clear AtlasError (the CLI's one-line error), and the file as it was."""
    path = tmp_path / "mine.sqlite"
    _damage(kind, path, built[0])
    before = path.read_bytes()
    with pytest.raises(AtlasError) as e:
        _atlas(tiny_engine, path)
    assert str(e.value).startswith(f"{path} {DAMAGE[kind]}") and "left as it is" in str(e.value)
    assert path.read_bytes() == before
    with pytest.raises(AtlasError, match="left as it is"):
        merge(path, [built[0]])
    assert path.read_bytes() == before


def test_a_text_file_a_person_named_is_never_replaced(tiny_engine, tmp_path):
    notes = tmp_path / "notes.db"
    notes.write_text("my notes, not an atlas\n" * 50)
    with pytest.raises(AtlasError, match="is damaged .*not a usable seed atlas and was left as it is"):
        Atlas(notes, tiny_engine.info.hash, tiny_engine.model.cfg.latent_dim)
    assert notes.read_text() == "my notes, not an atlas\n" * 50


@pytest.mark.parametrize("where", ["cache", "named"])
def test_a_new_file_another_process_is_making_is_waited_for_not_taken_for_damage(tiny_engine, built, tmp_path, where,
                                                                                 monkeypatch):
    """Between another process's switch of a new file to WAL (the file is no longer empty) and the commit of its
    schema, the file has no tables: that is a file being made, not a damaged one or someone else's. Opening it
    waits for the maker's transaction and then uses its schema (rather than deleting the file, refusing it, or
    failing on "table meta already exists")."""
    import threading
    import time

    from artgen_desktop.engine.atlas import default_path
    monkeypatch.setenv("ARTGEN_CACHE_DIR", str(tmp_path / "cache"))
    path = default_path(tiny_engine.info.hash) if where == "cache" else tmp_path / "named.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    making, problems = threading.Event(), []

    with sqlite3.connect(built[0]) as src:  # the schema and meta rows an Atlas makes
        schema = [r[0] for r in src.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE "
                                            "'words_%' ORDER BY rowid")]
        meta = [(k, "the maker" if k == "model_name" else v) for k, v in src.execute("SELECT key, value FROM meta")]

    def make():  # another process's Atlas, stopped for a while inside its creating transaction
        con = sqlite3.connect(path, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("BEGIN IMMEDIATE")
            for sql in schema:
                con.execute(sql)
            con.executemany("INSERT INTO meta VALUES (?, ?)", meta)
            making.set()
            time.sleep(0.5)
            con.execute("COMMIT")
        except Exception as e:  # noqa: BLE001 - the test reports it
            problems.append(e)
        finally:
            making.set()
            con.close()

    thread = threading.Thread(target=make)
    thread.start()
    making.wait(timeout=60)
    t = time.perf_counter()
    try:
        a = _atlas(tiny_engine, path)
    finally:
        thread.join(timeout=60)
    assert problems == []
    with a:
        assert time.perf_counter() - t >= 0.3 and a.notice == "" and len(a) == 0
        assert dict(a.con.execute("SELECT key, value FROM meta").fetchall())["model_name"] == "the maker"
        build(tiny_engine, a, range(4))
        assert len(a) == 4


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


ROUNDS = 12  # fresh files both processes open at once, before the build


def _build_beside_another(model_path, cache_dir, user_dir, seeds, barrier, results):
    """One of two processes (e.g. the app and `artgen atlas build`, or two shard builders given one --db)."""
    import os
    from pathlib import Path

    import torch
    os.environ["ARTGEN_CACHE_DIR"] = str(cache_dir)
    torch.set_num_threads(1)
    from artgen_desktop.engine import Engine
    from artgen_desktop.engine.atlas import Atlas, atlas_dir, build
    engine = Engine.load(model_path, device="cpu")
    dim = engine.model.cfg.latent_dim
    errors = []
    for i in range(ROUNDS):  # the race itself: both create the same new file at the same moment
        path = (atlas_dir() if i % 2 else Path(user_dir)) / f"round{i}.sqlite"
        barrier.wait(timeout=120)
        try:
            Atlas(path, engine.info.hash, dim, "tiny").close()
        except Exception as e:  # noqa: BLE001 - reported to the test
            errors.append(f"round {i}: {e!r}")
    barrier.wait(timeout=120)
    try:
        with Atlas(atlas_dir() / "shared.sqlite", engine.info.hash, dim, "tiny") as a:
            build(engine, a, seeds, batch_size=8)
            if a.notice:
                errors.append(f"build: {a.notice}")
    except Exception as e:  # noqa: BLE001
        errors.append(f"build: {e!r}")
    results.put(errors)


def test_two_processes_creating_and_building_one_new_atlas_at_once(tiny_model_path, tiny_engine, built, tmp_path):
    """Two processes (the app and `artgen atlas build`, two shard builders with one --db) open the same new file
    at the same moment: neither fails, neither takes the other's half-made file for a damaged one, no row is
    lost; the atlas equals one build of both seed ranges."""
    import multiprocessing as mp
    ctx = mp.get_context("spawn")  # (a forked child would inherit the parent's OpenMP state)
    cache, user = tmp_path / "cache", tmp_path / "user"
    user.mkdir()
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_build_beside_another, args=(str(tiny_model_path), str(cache), str(user), seeds,
                                                             barrier, results))
             for seeds in (range(0, 40), range(40, 80))]
    for p in procs:
        p.start()
    errors = [results.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert errors == [[], []]
    assert all(p.exitcode == 0 for p in procs)
    for i in range(ROUNDS):
        path = (cache / "atlas" if i % 2 else user) / f"round{i}.sqlite"
        with _atlas(tiny_engine, path) as a:
            assert a.notice == "" and len(a) == 0
    with _atlas(tiny_engine, cache / "atlas" / "shared.sqlite") as a:
        assert a.notice == ""
        assert a.rows() == built[1][:80]
