import json
import subprocess
import sys
from pathlib import Path

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


def test_bad_arguments_give_one_line_and_exit_2(tmp_path, tiny_model_path):
    cases = [
        ["generate", "--seeds", "9-1", "--model", str(tiny_model_path), "--out", str(tmp_path)],
        ["generate", "--seeds", "abc", "--model", str(tiny_model_path), "--out", str(tmp_path)],
        ["generate", "--seeds", "-5", "--model", str(tiny_model_path), "--out", str(tmp_path)],
        ["generate", "--seeds", "1", "--model", str(tmp_path / "missing.safetensors"), "--out", str(tmp_path)],
        ["generate", "--seeds", "1", "--model", str(tiny_model_path), "--out", str(tmp_path), "--size", "9"],
        ["generate", "--seeds", "1", "--model", str(tiny_model_path), "--out", str(tmp_path), "--spacing", "0"],
        ["interpolate", "1", "2", "--frames", "1", "--model", str(tiny_model_path), "--out", str(tmp_path)],
        ["info", str(tmp_path)],
    ]
    for argv in cases:
        proc = subprocess.run([sys.executable, "-m", "artgen_desktop", *argv], capture_output=True, text=True,
                              cwd=ROOT)
        assert proc.returncode == 2, (argv, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert lines[-1].startswith("artgen: error:") or "usage:" in proc.stderr, (argv, proc.stderr)
        assert "Traceback" not in proc.stderr, proc.stderr


def test_prototype_api(tiny_model_path):
    from artgen_desktop import MultimodalGenerator
    gen = MultimodalGenerator(checkpoint_path=str(tiny_model_path), tokenizer_path="ignored.json")
    image, caption = gen.generate(42)
    assert image.size == (512, 512) and caption
    assert gen.generate_with_metadata(42)[2]["seed"] == 42
    batch = gen.generate_batch([42, 43])
    assert [m["seed"] for _, _, m in batch] == [42, 43] and batch[0][1] == caption
