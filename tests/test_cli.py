import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from artgen_desktop.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_generate_with_shard_and_batch(tmp_path, tiny_model_path, capsys):
    out = tmp_path / "o"
    assert main(["generate", "--seeds", "0-9", "--shard", "1/3", "--model", str(tiny_model_path),
                 "--out", str(out), "--size", "256", "--batch-size", "2", "--temperature", "0"]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["seed-000001.png", "seed-000004.png", "seed-000007.png"]
    rows = [json.loads(x) for x in (out / "metadata.jsonl").read_text().splitlines()]
    assert {r["temperature"] for r in rows} == {0.0}


def test_interpolate_writes_frames_and_gif(tmp_path, tiny_model_path):
    out = tmp_path / "i"
    assert main(["interpolate", "3", "8", "--frames", "5", "--model", str(tiny_model_path), "--out", str(out),
                 "--size", "256"]) == 0
    assert len(list(out.glob("*frame-*.png"))) == 5
    with Image.open(out / "interpolation-3-8.gif") as gif:
        assert gif.n_frames == 8


def test_info(tiny_model_path, capsys):
    assert main(["info", str(tiny_model_path)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["config"]["image_size"] == 32 and info["vocabulary"] > 4


def run_cli(argv) -> int:
    """main() in this process; argparse's own refusals end in SystemExit, as they would in a shell."""
    try:
        return main(argv)
    except SystemExit as e:
        return e.code


def test_bad_arguments_give_one_line_exit_2_and_create_nothing(tmp_path, tiny_model_path, capsys, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    (tmp_path / "file").write_text("x")
    out = tmp_path / "new" / "out"
    model = ["--model", str(tiny_model_path)]
    gen = ["generate", "--seeds", "1", *model, "--out", str(out)]
    interp = ["interpolate", "1", "2", *model, "--out", str(out)]
    cases = {
        "--out must name a folder": ["generate", "--seeds", "1", *model, "--out", ""],
        "--out .*not a folder": ["generate", "--seeds", "1", *model, "--out", str(tmp_path / "file" / "sub")],
        "--batch-size must be between 1 and 1024, not 0": [*gen, "--batch-size", "0"],
        "--batch-size must be between 1 and 1024, not -3": [*gen, "--batch-size", "-3"],
        "--batch-size must be between 1 and 1024, not 100000": [*gen, "--batch-size", "100000"],
        "--batch-size 512 at --size 2048 would hold 2.0 GiB": [*gen, "--batch-size", "512", "--size", "2048"],
        "--workers must be between": [*gen, "--workers", "0"],
        "--workers: must be auto or a number": [*gen, "--workers", "many"],
        "--size must be between 256 and 2048, not 9": [*gen, "--size", "9"],
        "argument --size: invalid int value": [*gen, "--size", "abc"],
        "--spacing must be between 1.5 and 32, not 0": [*gen, "--spacing", "0"],
        "--temperature must be between 0 and 2, not 5": [*gen, "--temperature", "5"],
        "--temperature must be a number, not nan": [*gen, "--temperature", "nan"],
        "--variety must be a number, not inf": [*gen, "--variety", "inf"],
        "--cross must be between 0 and 1": [*gen, "--cross", "1.5"],
        "--angle must be between -90 and 90": [*gen, "--angle", "400"],
        "--outline must be between 0 and 8": [*gen, "--outline", "-1"],
        "--bend must be between 0 and 4": [*gen, "--bend", "9"],
        "invalid choice: 'watercolour'": [*gen, "--style", "watercolour"],
        "end is before the start": ["generate", "--seeds", "9-1", *model, "--out", str(out)],
        "bad seed range": ["generate", "--seeds", "abc", *model, "--out", str(out)],
        "missing.safetensors": ["generate", "--seeds", "1", "--model", str(tmp_path / "missing.safetensors"),
                                "--out", str(out)],
        "--frames must be between 2 and 1000, not 1$": [*interp, "--frames", "1"],
        "--frames must be between 2 and 1000, not 1000000": [*interp, "--frames", "1000000"],
        "--frames 500 at --size 2048": [*interp, "--frames", "500", "--size", "2048"],
        "--frame-ms must be between 20 and 10000, not -5": [*interp, "--frame-ms", "-5"],
        "--frame-ms must be between 20 and 10000, not 0": [*interp, "--frame-ms", "0"],
        "invalid choice: 'zigzag'": [*interp, "--easing", "zigzag"],
        "seed -1 is outside": ["interpolate", "-1", "2", *model, "--out", str(out)],
        "seed 9223372036854775808 is outside": ["interpolate", "1", str(2**63), *model, "--out", str(out)],
        str(tmp_path): ["info", str(tmp_path)],
    }
    for message, argv in cases.items():
        assert run_cli(argv) == 2, argv
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and err.startswith("artgen: error: "), (argv, err)
        assert re.search(message, err), (message, err)
        assert not (tmp_path / "new").exists(), argv  # nothing created
        assert list(cwd.iterdir()) == [], argv


def test_a_refusal_across_the_process_boundary_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "artgen_desktop", "generate", "--seeds", "1", "--out",
                           str(tmp_path / "o"), "--batch-size", "0"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr == "artgen: error: --batch-size must be between 1 and 1024, not 0\n"
    assert not (tmp_path / "o").exists()


def test_a_failed_generate_removes_the_folders_it_made(tmp_path, tiny_model_path, capsys, monkeypatch):
    from artgen_desktop.engine import ArtGenError
    from artgen_desktop.engine.export import ExportWriter

    def full_disk(self, result, stem=None):
        raise ArtGenError("cannot write seed-000001.png: No space left on device")

    monkeypatch.setattr(ExportWriter, "add", full_disk)
    out = tmp_path / "a" / "b"
    argv = ["generate", "--seeds", "1-3", "--model", str(tiny_model_path), "--out", str(out), "--size", "256"]
    assert run_cli(argv) == 2
    assert "No space left" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    out.mkdir(parents=True)  # a folder that was there before stays
    assert run_cli(argv) == 2
    assert out.is_dir()


def test_an_empty_shard_writes_nothing(tmp_path, tiny_model_path, capsys):
    out = tmp_path / "o"
    assert run_cli(["generate", "--seeds", "0-2", "--shard", "3/4", "--model", str(tiny_model_path),
                    "--out", str(out)]) == 0
    assert "no seeds" in capsys.readouterr().err and not out.exists()


def test_damaged_metadata_lines_are_reported_and_kept(tmp_path, tiny_model_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "metadata.jsonl").write_bytes(b'{"file_name": "x.png", "text": "A row."}\n{broken\n')
    assert run_cli(["generate", "--seeds", "1", "--model", str(tiny_model_path), "--out", str(out),
                    "--size", "256"]) == 0
    assert "1 damaged line(s) kept as they are" in capsys.readouterr().err
    lines = (out / "metadata.jsonl").read_text().splitlines()
    assert len(lines) == 3 and lines[-1] == "{broken"


def test_default_workers_follow_the_cores_and_the_seed_count(tmp_path, tiny_model_path, monkeypatch):
    """--workers auto: on a CPU one process per core when each gets enough seeds, else in-process."""
    from artgen_desktop import cli
    calls = []

    def fake_workers(model, device, seeds, settings, batch, workers, threads, out, open_writer, *_files):
        calls.append((len(seeds), batch, workers, threads))
        open_writer()
        return len(seeds)

    monkeypatch.setattr(cli, "_generate_in_workers", fake_workers)
    monkeypatch.setattr(cli, "_usable_cores", lambda: 2)
    base = ["generate", "--model", str(tiny_model_path), "--size", "256", "--device", "cpu"]
    assert run_cli([*base, "--seeds", "0-999", "--out", str(tmp_path / "a")]) == 0
    assert calls == [(1000, 64, 2, 1)]  # the bench's fastest: batch 64, 2 workers of 1 thread each
    assert run_cli([*base, "--seeds", "0-19", "--out", str(tmp_path / "b")]) == 0
    assert len(calls) == 1 and len(list((tmp_path / "b").glob("*.png"))) == 20  # few seeds: in-process
    monkeypatch.setattr(cli, "_usable_cores", lambda: 16)
    assert run_cli([*base, "--seeds", "0-999", "--out", str(tmp_path / "c")]) == 0
    assert calls[-1] == (1000, 64, 8, 2)  # at most 8 workers, the cores split between them
    assert run_cli([*base, "--seeds", "0-199", "--out", str(tmp_path / "d")]) == 0
    assert calls[-1] == (200, 64, 3, 5)  # 64+ seeds each: 200 // 64 = 3 workers


def test_the_device_is_known_without_torch_as_torch_itself_reports_its_build():
    import torch

    from artgen_desktop.cli import _cpu_only
    assert _cpu_only("auto") == (torch.version.cuda is None and torch.version.hip is None)
    assert _cpu_only("cpu") and not _cpu_only("cuda")


@pytest.mark.slow
def test_the_parent_of_generate_workers_never_loads_torch(tmp_path, tiny_model_path):
    """Workers start at once: the parent checks the options and makes the folder without importing torch (most
    of a start-up), and a model the workers refuse still leaves no folder behind."""
    code = "import sys\nfrom artgen_desktop.cli import main\nrc = main(sys.argv[1:])\nprint('torch' in sys.modules, rc)"
    command = [sys.executable, "-c", code, "generate", "--seeds", "0-3", "--size", "256", "--device", "cpu",
               "--workers", "2"]
    run = subprocess.run([*command, "--model", str(tiny_model_path), "--out", str(tmp_path / "a")],
                         capture_output=True, text=True, timeout=300)
    assert run.stdout.split()[-2:] == ["False", "0"], run.stderr
    assert len(list((tmp_path / "a").glob("*.png"))) == 4
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\0" * 64)
    run = subprocess.run([*command, "--model", str(bad), "--out", str(tmp_path / "b" / "c")],
                         capture_output=True, text=True, timeout=300)
    assert run.stdout.split()[-2:] == ["False", "2"] and "not an ArtGen model" in run.stderr
    assert not (tmp_path / "b").exists()


@pytest.mark.slow
def test_worker_processes_write_the_same_bytes(tmp_path, tiny_model_path, capsys):
    """Worker processes (spawned, sharing the folder and its metadata.jsonl) change no byte of the output."""
    common = ["generate", "--seeds", "0-19", "--model", str(tiny_model_path), "--size", "256", "--device", "cpu"]
    assert run_cli([*common, "--out", str(tmp_path / "one"), "--workers", "1", "--batch-size", "3"]) == 0
    assert run_cli([*common, "--out", str(tmp_path / "two"), "--workers", "2"]) == 0
    assert "wrote 20 pairs" in capsys.readouterr().out
    one = {p.name: p.read_bytes() for p in (tmp_path / "one").iterdir()}
    two = {p.name: p.read_bytes() for p in (tmp_path / "two").iterdir()}
    assert len(one) == 20 * 2 + 2 and one == two  # pairs, metadata.jsonl and its lock file


def test_cli_options_come_from_the_parameter_table():
    from artgen_desktop.cli import build_parser
    from artgen_desktop.engine import EASINGS, Settings
    from artgen_desktop.engine.params import GENERATION, style_params
    args = build_parser().parse_args(["generate", "--seeds", "1", "--out", "x"])
    for p in (*GENERATION, *style_params()):
        assert getattr(args, p.name) == p.default
    assert args.batch_size == 64 and args.workers is None
    from artgen_desktop.cli import _settings
    assert _settings(args) == Settings()
    it = build_parser()._subparsers._group_actions[0].choices["interpolate"]
    assert next(a for a in it._actions if a.dest == "easing").choices == list(EASINGS)


def test_prototype_api(tiny_model_path):
    from artgen_desktop import MultimodalGenerator
    gen = MultimodalGenerator(checkpoint_path=str(tiny_model_path), tokenizer_path="ignored.json")
    image, caption = gen.generate(42)
    assert image.size == (512, 512) and caption
    assert gen.generate_with_metadata(42)[2]["seed"] == 42
    batch = gen.generate_batch([42, 43])
    assert [m["seed"] for _, _, m in batch] == [42, 43] and batch[0][1] == caption
