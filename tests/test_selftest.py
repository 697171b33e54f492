"""`artgen --self-test`, the hidden `artgen train` route, and the packaging files (the bundle itself is built
and smoke-tested by packaging/smoke.sh, never in the default test run)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from artgen_desktop import cli
from artgen_desktop.engine import Engine, read_info

ROOT = Path(__file__).resolve().parents[1]


def run_self_test(model, tmp_path):
    """The real command in a fresh process, with an empty HOME and TMPDIR to catch stray writes."""
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ARTGEN_", "XDG_", "QT_QPA")) and k not in ("HOME", "TMPDIR")}
    env.update(ARTGEN_DEFAULT_MODEL=str(model), HOME=str(home), TMPDIR=str(tmp), PYTHONPATH=str(ROOT),
               OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "artgen_desktop", "--self-test"], env=env, capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    return proc, home, tmp


def test_self_test_passes_on_a_working_model_and_leaves_nothing_behind(tiny_model_path, tmp_path):
    proc, home, tmp = run_self_test(tiny_model_path, tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    info, _ = read_info(tiny_model_path)
    assert lines[0].startswith(f"self-test ok: model tiny (hash {info.hash}), 2 seeds (7, 42), deterministic")
    assert "Qt offscreen ok" in lines[0]
    assert list(home.iterdir()) == [] and list(tmp.iterdir()) == []


def test_self_test_fails_with_the_reason_for_a_missing_model(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ARTGEN_DEFAULT_MODEL", str(tmp_path / "gone.safetensors"))
    assert cli.main(["--self-test"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("self-test FAILED: the bundled model is missing") and "gone.safetensors" in err


def test_self_test_reports_a_damaged_model_reason(tiny_model_path, tmp_path, monkeypatch, capsys):
    bad = tmp_path / "cut.safetensors"
    bad.write_bytes(Path(tiny_model_path).read_bytes()[:-1000])
    monkeypatch.setenv("ARTGEN_DEFAULT_MODEL", str(bad))
    assert cli.main(["--self-test"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("self-test FAILED: ModelFileError") and "truncated" in err


@pytest.mark.parametrize("what", ["caption", "picture"])
def test_self_test_catches_a_second_run_that_differs(tiny_model_path, monkeypatch, capsys, what):
    real = Engine.generate
    calls = []

    def drifting(self, seeds, settings=None, batch_size=16):
        results = real(self, seeds, settings, batch_size)
        calls.append(list(seeds))
        if len(calls) == 2:  # the determinism re-run
            r = results[0]
            if what == "caption":
                r.caption += " again"
            else:
                r.image = r.image.point(lambda v: 255 - v)
        return results

    monkeypatch.setenv("ARTGEN_DEFAULT_MODEL", str(tiny_model_path))
    monkeypatch.setattr(Engine, "generate", drifting)
    assert cli.main(["--self-test"]) == 1
    assert calls == [[7, 42], [7]]
    assert f"self-test FAILED: seed 7: {what} changed between runs" in capsys.readouterr().err


def test_self_test_is_in_the_help():
    assert "--self-test" in cli.build_parser().format_help()


def test_train_route_runs_the_trainer(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["train", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--progress-json" in out and "--time-budget" in out


def test_fine_tune_dialog_runs_the_bundle_itself_when_frozen(monkeypatch):
    from artgen_desktop.ui.finetune import default_trainer_command
    assert default_trainer_command() == [sys.executable, "-m", "trainer"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    # the dialog appends "train DATASET --out …" to this: `ArtGen train …`, which cli.main routes to the trainer
    assert default_trainer_command() == [sys.executable]


def test_packaging_scripts_parse_and_the_icon_is_there():
    for script in ("build.sh", "smoke.sh"):
        path = ROOT / "packaging" / script
        assert os.access(path, os.X_OK), f"{script} is not executable"
        subprocess.run(["bash", "-n", str(path)], check=True)
    compile((ROOT / "packaging" / "artgen.spec").read_text(), "artgen.spec", "exec")
    with Image.open(ROOT / "resources" / "icons" / "artgen.png") as icon:
        assert icon.size == (256, 256) and icon.mode == "RGBA"
        assert icon.getpixel((0, 0))[3] == 0 and icon.getpixel((128, 128))[3] == 255  # rounded tile on clear

