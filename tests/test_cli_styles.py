"""`artgen generate --style … --format png|svg|both --plotter --page --margin --pen` (cli.py)."""

import json
import re

import pytest

from artgen_desktop.cli import main
from artgen_desktop.engine.svg import read_metadata


def test_generate_both_formats_in_a_style(tmp_path, tiny_model_path, capsys):
    out = tmp_path / "o"
    assert main(["generate", "--seeds", "1-2", "--model", str(tiny_model_path), "--out", str(out), "--size", "256",
                 "--style", "crosshatch", "--families", "4", "--spacing", "5", "--format", "both"]) == 0
    assert sorted(p.name for p in out.glob("seed-*")) == [
        f"seed-00000{i}.{ext}" for i in (1, 2) for ext in ("png", "svg", "txt")]
    meta = read_metadata(out / "seed-000002.svg")
    assert meta == read_metadata(out / "seed-000002.png")
    assert meta["style"]["mode"] == "crosshatch" and meta["style"]["families"] == 4 and meta["style"]["spacing"] == 5


def test_generate_plotter_svgs_and_report(tmp_path, tiny_model_path, capsys):
    out = tmp_path / "p"
    assert main(["generate", "--seeds", "3", "--model", str(tiny_model_path), "--out", str(out), "--plotter",
                 "--page", "200x150mm", "--margin", "10", "--pen", "0.5"]) == 0
    assert [p.name for p in out.glob("seed-*.*") if p.suffix != ".txt"] == ["seed-000003.svg"]
    text = (out / "seed-000003.svg").read_text()
    assert 'width="200mm" height="150mm"' in text and 'stroke-width="0.5"' in text
    assert "plotter: " in capsys.readouterr().out
    assert json.loads((out / "metadata.jsonl").read_text())["file_name"] == "seed-000003.svg"


def plotter_report(out: str) -> tuple[int, float, float]:
    """(paths, pen-up travel in drawing order, ordered; m) from the generate command's plotter line."""
    found = re.findall(r"^plotter: (\d+) paths; pen-up travel ([\d.]+) m in drawing order, ([\d.]+) m ordered",
                       out, re.MULTILINE)
    assert len(found) == 1, out
    paths, before, after = found[0]
    return int(paths), float(before), float(after)


@pytest.mark.slow
def test_the_plotter_report_sums_every_workers_plots(tmp_path, tiny_model_path, capsys):
    """With worker processes each sends its plots' figures to the command, which reports their sum: the same
    report as one process writing the same seeds."""
    common = ["generate", "--seeds", "0-3", "--model", str(tiny_model_path), "--device", "cpu", "--size", "256",
              "--plotter", "--page", "200x150mm"]
    assert main([*common, "--out", str(tmp_path / "one"), "--workers", "1"]) == 0
    one = plotter_report(capsys.readouterr().out)
    assert main([*common, "--out", str(tmp_path / "two"), "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "wrote 4 pairs" in out
    two = plotter_report(out)
    assert one[0] > 0 and two[0] == one[0]
    assert two[1:] == pytest.approx(one[1:], abs=0.11)  # (sums of the same numbers in another order, to 0.1 m)
    assert len(list((tmp_path / "two").glob("seed-*.svg"))) == 4


@pytest.mark.parametrize("argv, message", [
    (["--plotter", "--format", "png"], "--plotter writes SVGs"),
    (["--plotter", "--page", "B7"], "page must be A4, A3, letter or WxHmm"),
    (["--plotter", "--margin", "200"], "no room"),
    (["--plotter", "--pen", "0"], "pen width must be between"),
    (["--plotter", "--style", "tone"], "no lines for a plotter"),
    (["--style", "crosshatch", "--families", "9"], "--families must be between 2 and 4, not 9"),
    (["--style", "stipple", "--dot-size", "0"], "--dot-size must be between 1 and 8"),
    (["--levels", "1.5"], "--levels: invalid int value"),
    (["--format", "pdf"], "invalid choice: 'pdf'"),
])
def test_bad_options_are_refused_before_anything_is_made(tmp_path, tiny_model_path, capsys, argv, message):
    out = tmp_path / "never"
    try:
        code = main(["generate", "--seeds", "1", "--model", str(tiny_model_path), "--out", str(out), *argv])
    except SystemExit as e:  # argparse's own refusals
        code = e.code
    assert code == 2 and message in capsys.readouterr().err and not out.exists()
