"""PNG metadata, export folders, atomic writes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from artgen_desktop.engine import ArtGenError, Settings, export_results, read_png_metadata
from artgen_desktop.engine.animation import write_animation
from artgen_desktop.engine.fileio import atomic_path, write_text_atomic
from artgen_desktop.engine.pngmeta import png_bytes


def test_png_metadata_round_trip(tmp_path, tiny_engine):
    settings = Settings(temperature=0.3, variety=0.8, size=256)
    r = tiny_engine.generate([42], settings)[0]
    export_results([r], tmp_path)
    png = tmp_path / "seed-000042.png"
    meta = read_png_metadata(png)
    assert meta["seed"] == 42 and meta["caption"] == r.caption
    assert Settings.from_dict(meta) == settings
    params = Image.open(png).text["parameters"]
    assert params.startswith(r.caption + "\n")
    assert "Seed: 42, Temperature: 0.3" in params and f"Model hash: {tiny_engine.info.hash}" in params
    # regenerating from the stored settings gives the same bytes
    again = tiny_engine.generate([meta["seed"]], Settings.from_dict(meta))[0]
    assert png_bytes(again.image, again.metadata) == png.read_bytes()


def test_foreign_png_and_non_image_are_clear_errors(tmp_path):
    Image.new("L", (8, 8)).save(tmp_path / "plain.png")
    with pytest.raises(ArtGenError, match="not made by ArtGen"):
        read_png_metadata(tmp_path / "plain.png")
    (tmp_path / "x.png").write_text("nope")
    with pytest.raises(ArtGenError, match="not a readable image"):
        read_png_metadata(tmp_path / "x.png")


def test_export_folder_is_an_imagefolder(tmp_path, tiny_engine):
    results = tiny_engine.generate([1, 2, 3], Settings(size=256))
    export_results(results, tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "metadata.jsonl").read_text().splitlines()]
    assert [r["file_name"] for r in rows] == ["seed-000001.png", "seed-000002.png", "seed-000003.png"]
    for row, res in zip(rows, results):
        assert row["text"] == res.caption and row["seed"] == res.seed
        assert (tmp_path / row["file_name"]).exists()
        assert (tmp_path / row["file_name"]).with_suffix(".txt").read_text().strip() == res.caption
        assert Image.open(tmp_path / row["file_name"]).size == (256, 256)
    # a second export into the same folder keeps the earlier rows
    export_results(tiny_engine.generate([9], Settings(size=256)), tmp_path)
    assert len((tmp_path / "metadata.jsonl").read_text().splitlines()) == 4


def test_unwritable_export_folder_is_a_clear_error(tmp_path, tiny_engine):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ArtGenError, match="cannot create the export folder|not a folder"):
        export_results(tiny_engine.generate([1]), blocker / "sub")


def test_atomic_write_failure_leaves_nothing(tmp_path):
    target = tmp_path / "out.png"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half a file")
            raise RuntimeError("killed mid-write")
    assert list(tmp_path.iterdir()) == []
    write_text_atomic(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("new but unfinished")
            raise RuntimeError
    assert target.read_text() == "old"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_killed_export_leaves_only_complete_files(tmp_path, tiny_model_path, workers):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "artgen_desktop", "generate", "--seeds", "0-5000",
                             "--model", str(tiny_model_path), "--out", str(out), "--batch-size", "4",
                             "--size", "1024", "--workers", workers], env=env, stderr=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL)
    deadline = time.time() + 90
    while time.time() < deadline and len(list(out.glob("*.png"))) < 6:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(1)
    count = len(list(out.glob("*.png")))
    time.sleep(2)
    assert len(list(out.glob("*.png"))) == count  # worker processes ended with the command
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) >= 6
    for png in pngs:  # every visible PNG is whole: it decodes and carries its settings
        assert read_png_metadata(png)["seed"] == int(png.stem.split("-")[1])
    rows = [json.loads(line) for line in (out / "metadata.jsonl").read_text().splitlines()]
    assert all((out / r["file_name"]).exists() for r in rows)
    # the next export into that folder sweeps any hidden temp file the kill left behind
    export_results([], out)
    assert not [p for p in out.iterdir() if ".part-" in p.name]


def test_animation_gif_and_webp(tmp_path, tiny_engine):
    frames = [r.image for r in tiny_engine.interpolate(1, 2, frames=4, settings=Settings(size=256))]
    write_animation(tmp_path / "a.gif", frames, 100)
    write_animation(tmp_path / "a.webp", frames, 100)
    with Image.open(tmp_path / "a.gif") as im:
        assert im.n_frames == 6  # ping-pong: 4 forward + 2 back
    with Image.open(tmp_path / "a.webp") as im:
        assert im.n_frames == 6
    with pytest.raises(ArtGenError):
        write_animation(tmp_path / "a.bmp", frames)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_written_files_respect_the_umask(tmp_path, tiny_engine, umask_022):
    from artgen_desktop.engine import save_checkpoint, write_png
    r = tiny_engine.generate([3], Settings(size=256))[0]
    export_results([r], tmp_path / "export")
    write_png(tmp_path / "saved.png", r.image, r.metadata)
    write_animation(tmp_path / "a.gif", [r.image, r.image], 100)
    save_checkpoint(tmp_path / "model.safetensors", tiny_engine.model, tiny_engine.tokenizer)
    files = [*(tmp_path / "export").iterdir(), tmp_path / "saved.png", tmp_path / "a.gif",
             tmp_path / "model.safetensors"]
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in files} == {p.name: "0o644" for p in files}
    os.umask(0o077)
    write_text_atomic(tmp_path / "private.txt", "x")
    assert (tmp_path / "private.txt").stat().st_mode & 0o777 == 0o600


def test_damaged_metadata_lines_are_kept_and_reported(tmp_path, tiny_engine):
    good = json.dumps({"file_name": "old.png", "text": "An old row."})
    damaged = [b'{"file_name": "half.png", "te', b"caf\xe9 latin-1 bytes", b'{"text": "no file name"}', b"[1, 2]"]
    (tmp_path / "metadata.jsonl").write_bytes(b"\n".join([good.encode(), *damaged[:2], b"", *damaged[2:]]) + b"\n")
    from artgen_desktop.engine import ExportWriter
    with ExportWriter(tmp_path) as w:
        assert w.damaged == [2, 3, 5, 6]  # line numbers, for the caller to report
        w.add(tiny_engine.generate([1], Settings(size=256))[0])
    lines = (tmp_path / "metadata.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b"" and lines[2:-1] == damaged  # every damaged line, as it was, after the rows
    assert [json.loads(x)["file_name"] for x in lines[:2]] == ["old.png", "seed-000001.png"]


def test_two_writers_in_one_folder_keep_every_row(tmp_path, tiny_engine):
    """Each flush merges the rows others wrote since: interleaved writers lose nothing."""
    from artgen_desktop.engine import ExportWriter
    results = tiny_engine.generate(list(range(8)), Settings(size=256))
    a, b = ExportWriter(tmp_path), ExportWriter(tmp_path)
    for i in range(0, 8, 2):
        a.add(results[i])
        b.add(results[i + 1])
        b.flush()
        a.flush()
    rows = [json.loads(x) for x in (tmp_path / "metadata.jsonl").read_text().splitlines()]
    assert [r["seed"] for r in rows] == list(range(8))
    # writing again what is already there changes nothing; a flush with nothing new writes nothing
    before = (tmp_path / "metadata.jsonl").read_bytes()
    a.add(results[0])
    a.flush()
    b.flush()
    assert (tmp_path / "metadata.jsonl").read_bytes() == before


def test_an_export_that_writes_nothing_leaves_no_metadata(tmp_path):
    export_results([], tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_concurrent_generate_runs_lose_no_rows(tmp_path, tiny_model_path):
    """Two `artgen generate` processes into one folder at once: every row of both is kept."""
    out = tmp_path / "shared"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    procs = [subprocess.Popen([sys.executable, "-m", "artgen_desktop", "generate", "--seeds", seeds,
                               "--model", str(tiny_model_path), "--out", str(out), "--batch-size", "2",
                               "--size", "256", "--workers", "1"], env=env, stderr=subprocess.PIPE,
                              stdout=subprocess.DEVNULL) for seeds in ("0-39", "40-79")]
    for p in procs:
        assert p.wait(300) == 0, p.stderr.read().decode()
        p.stderr.close()
    rows = [json.loads(x) for x in (out / "metadata.jsonl").read_text().splitlines()]
    assert [r["seed"] for r in rows] == list(range(80))


def test_only_parts_of_ended_writers_are_swept(tmp_path):
    from artgen_desktop.engine.fileio import remove_stale_parts
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                           text=True).stdout.strip()
    stale = tmp_path / f".seed-000001.png.part-{ended}-abcd"
    legacy = tmp_path / ".seed-000002.png.part-x8k2j1"  # the earlier naming, no process id
    live = tmp_path / f".seed-000003.png.part-{os.getppid()}-abcd"  # another export, still running
    mine = tmp_path / f".seed-000004.png.part-{os.getpid()}-abcd"  # another thread of this process
    for p in (stale, legacy, live, mine):
        p.write_bytes(b"half")
    assert remove_stale_parts(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, mine.name])


def test_a_file_system_without_locks_still_exports(tmp_path, tiny_engine, monkeypatch):
    import errno

    from artgen_desktop.engine import export

    class NoLocks:
        LOCK_EX = 2

        @staticmethod
        def flock(fd, op):
            raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(export, "fcntl", NoLocks)
    export_results(tiny_engine.generate([5], Settings(size=256)), tmp_path)
    assert json.loads((tmp_path / "metadata.jsonl").read_text())["seed"] == 5
