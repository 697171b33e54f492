"""`artgen atlas build|merge` and `artgen search` on a tiny model (engine/atlas.py does the work)."""

from __future__ import annotations

import json

import pytest

from artgen_desktop.cli import main
from artgen_desktop.engine.atlas import Atlas
from artgen_desktop.engine.tokenizer import split_words

pytestmark = pytest.mark.usefixtures("one_engine_thread")


def _rows(path, engine):
    with Atlas(path, engine.info.hash, engine.model.cfg.latent_dim) as a:
        return a.rows()


def test_shards_merge_search_and_export(tiny_model_path, tiny_engine, tmp_path, capsys):
    model = str(tiny_model_path)
    shards = [tmp_path / f"s{k}.sqlite" for k in range(2)]
    for k, db in enumerate(shards):
        assert main(["atlas", "build", "--model", model, "--device", "cpu", "--seeds", "0-63", "--shard", f"{k}/2",
                     "--db", str(db), "--batch-size", "16"]) == 0
    one = tmp_path / "one.sqlite"
    assert main(["atlas", "build", "--model", model, "--device", "cpu", "--seeds", "0-63", "--db", str(one)]) == 0
    merged = tmp_path / "merged.sqlite"
    assert main(["atlas", "merge", str(merged), *map(str, shards)]) == 0
    assert _rows(merged, tiny_engine) == _rows(one, tiny_engine)
    assert "64 seeds" in capsys.readouterr().out

    word = next(w for _, _, c in _rows(one, tiny_engine) for w in split_words(c) if w.isalpha() and len(w) > 3)
    assert main(["search", word, "--model", model, "--device", "cpu", "--db", str(one), "--limit", "5",
                 "--export", str(tmp_path / "out")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert 1 <= len(lines) <= 5
    seeds = [int(line.split("\t")[0]) for line in lines]
    assert word in split_words(lines[0].split("\t")[2])
    rows = [json.loads(r) for r in (tmp_path / "out" / "metadata.jsonl").read_text().splitlines()]
    assert sorted(r["seed"] for r in rows) == sorted(seeds)

    assert main(["search", "--like", "3", "--model", model, "--device", "cpu", "--db", str(one), "--limit", "4"]) == 0
    like = [int(line.split("\t")[0]) for line in capsys.readouterr().out.strip().splitlines()]
    assert len(like) == 4 and 3 not in like


def test_search_refusals_are_one_line(tiny_model_path, tmp_path, capsys):
    model = str(tiny_model_path)
    assert main(["search", "horse", "--model", model, "--device", "cpu", "--db", str(tmp_path / "none.sqlite")]) == 2
    assert "no seed atlas" in capsys.readouterr().err
    db = tmp_path / "a.sqlite"
    assert main(["atlas", "build", "--model", model, "--device", "cpu", "--seeds", "0-7", "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["search", "hrose", "--model", model, "--device", "cpu", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "hrose" in err and "horse" in err
    assert main(["search", "--model", model, "--db", str(db)]) == 2
    assert main(["atlas", "merge", str(tmp_path / "m.sqlite"), str(tmp_path / "missing.sqlite")]) == 2


@pytest.mark.parametrize("kind", ["random-bytes", "schema-version"])
def test_a_damaged_atlas_is_a_one_line_error_under_db_and_made_again_in_the_cache(tiny_model_path, tiny_engine,
                                                                                   tmp_path, monkeypatch, capsys,
                                                                                   kind):
    import sqlite3

    import numpy as np

    from artgen_desktop.engine.atlas import default_path
    model = str(tiny_model_path)
    good = tmp_path / "good.sqlite"
    assert main(["atlas", "build", "--model", model, "--device", "cpu", "--seeds", "0-7", "--db", str(good)]) == 0

    def damaged(path):
        if kind == "random-bytes":
            path.write_bytes(np.random.default_rng(1).integers(0, 256, 8192, dtype=np.uint8).tobytes())
        else:
            path.write_bytes(good.read_bytes())
            with sqlite3.connect(path) as con:
                con.execute("UPDATE meta SET value='0' WHERE key='schema'")
            con.close()
        return path.read_bytes()

    mine = tmp_path / "mine.sqlite"  # a file a person named: refused in one line, left as it was
    before = damaged(mine)
    capsys.readouterr()
    for argv in (["atlas", "build", "--seeds", "0-7"], ["search", "horse"], ["search", "--like", "3"]):
        assert main([*argv, "--model", model, "--device", "cpu", "--db", str(mine)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"artgen: error: {mine} ") and "left as it is" in err
        assert mine.read_bytes() == before
    assert main(["atlas", "merge", str(mine), str(good)]) == 2
    assert "left as it is" in capsys.readouterr().err and mine.read_bytes() == before

    monkeypatch.setenv("ARTGEN_CACHE_DIR", str(tmp_path / "cache"))  # the model's own file: made again
    path = default_path(tiny_engine.info.hash)
    path.parent.mkdir(parents=True)
    damaged(path)
    assert main(["atlas", "build", "--model", model, "--device", "cpu", "--seeds", "0-7"]) == 0
    out = capsys.readouterr()
    assert out.err.startswith(f"artgen: warning: The seed atlas {path.name} ") and "being made again" in out.err
    assert "8 seeds" in out.out
    assert _rows(path, tiny_engine) == _rows(good, tiny_engine)


def test_atlas_build_batch_size_default_is_atlas_build_batch(monkeypatch, capsys):
    """One definition: the CLI's default and its help follow engine/atlas.py's BUILD_BATCH."""
    import importlib

    from artgen_desktop import cli
    from artgen_desktop.engine import atlas
    monkeypatch.setattr(atlas, "BUILD_BATCH", 48)  # a value no one typed anywhere else
    try:
        parser = importlib.reload(cli).build_parser()  # (cli may import it at the top or in build_parser)
        assert parser.parse_args(["atlas", "build"]).batch_size == 48
        with pytest.raises(SystemExit):
            parser.parse_args(["atlas", "build", "--help"])
        assert "(default 48)" in capsys.readouterr().out
    finally:
        monkeypatch.undo()
        importlib.reload(cli)
