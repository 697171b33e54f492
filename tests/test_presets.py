"""Style presets (engine/presets.py): save and load, every value checked against the parameter table, hostile
files refused with a reason; the CLI's --preset / --save-preset and the app's Save/Load style preset."""

import json
import os

import pytest

from artgen_desktop.cli import main
from artgen_desktop.engine import ArtGenError, EngraveStyle, Settings
from artgen_desktop.engine.params import PARAMS, STYLES
from artgen_desktop.engine.presets import MAX_PRESET_BYTES, Preset, load_preset, parse_preset, save_preset
from artgen_desktop.engine.svg import read_metadata


def _write(tmp_path, doc, name="p.json") -> str:
    path = tmp_path / name
    path.write_bytes(doc if isinstance(doc, bytes) else (doc if isinstance(doc, str) else json.dumps(doc)).encode())
    return str(path)


def _doc(style="stipple", **params) -> dict:
    return {"artgen": "style-preset", "version": 1, "style": style, "params": params}


@pytest.mark.parametrize("mode", list(STYLES))
def test_every_style_round_trips(tmp_path, mode):
    style = EngraveStyle(mode=mode)
    style = Preset(mode, {p.name: p.maximum if p.kind is int else (p.minimum + p.maximum) / 3
                          for p in STYLES[mode].every}).apply(style)
    path = tmp_path / f"{mode}.json"
    save_preset(path, style)
    preset = load_preset(path)
    assert preset == Preset.from_style(style) and preset.style == mode
    assert set(preset.params) == {p.name for p in STYLES[mode].every}  # its own settings, no other style's
    assert preset.apply() == EngraveStyle(mode=mode, **preset.params)
    for p in STYLES[mode].every:
        assert type(preset.params[p.name]) is p.kind
    assert [f.name for f in tmp_path.iterdir()] == [f"{mode}.json"]  # (no temp file left beside it)


def test_apply_keeps_the_other_styles_settings_and_saving_replaces_atomically(tmp_path):
    before = EngraveStyle(mode="engraving", spacing=9.0, families=4)
    after = Preset("stipple", {"dot_size": 5.5}).apply(before)
    assert after.mode == "stipple" and after.dot_size == 5.5 and after.dot_spacing == PARAMS["dot_spacing"].default
    assert after.spacing == 9.0 and after.families == 4  # switching back restores them
    path = tmp_path / "p.json"
    save_preset(path, after)
    save_preset(path, EngraveStyle(mode="contour", levels=9))
    assert load_preset(path) == Preset("contour", {"levels": 9, "line_width": PARAMS["line_width"].default})
    assert json.loads(path.read_text()) == _doc("contour", line_width=1.5, levels=9)
    assert sorted(os.listdir(tmp_path)) == ["p.json"]


def test_missing_parameters_take_their_defaults_and_ints_pass_for_floats(tmp_path):
    preset = load_preset(_write(tmp_path, _doc("stipple", dot_size=4)))
    assert preset.params == {"dot_spacing": 4.0, "dot_size": 4.0, "dot_min": 0.5}
    assert isinstance(preset.params["dot_size"], float)
    assert load_preset(_write(tmp_path, {"artgen": "style-preset", "version": 1, "style": "tone"})).params == {}


@pytest.mark.parametrize("doc, message", [
    (_doc("oil"), "style must be one of engraving, crosshatch, stipple, woodcut, contour, tone, not 'oil'"),
    (_doc(None), "style must be one of"),
    (_doc("stipple", dots=3), "'dots' is not a parameter of the stipple style (its parameters: dot_spacing, "
                              "dot_size, dot_min)"),
    (_doc("stipple", families=3), "'families' is not a parameter of the stipple style"),  # another style's
    (_doc("tone", spacing=3), "'spacing' is not a parameter of the tone style (its parameters: none)"),
    (_doc("stipple", dot_size=9), "dot_size must be between 1 and 8, not 9"),
    (_doc("crosshatch", spacing=0.5), "spacing must be between 1.5 and 32, not 0.5"),  # a shared parameter
    (_doc("crosshatch", families=3.0), "families must be a whole number, not 3.0"),
    (_doc("crosshatch", families=True), "families must be a whole number, not True"),
    (_doc("stipple", dot_size="3"), "dot_size must be a number, not '3'"),
    (_doc("stipple", dot_size=None), "dot_size must be a number, not None"),
    (_doc("stipple", dot_size=[3]), "dot_size must be a number, not [3]"),
    ('{"artgen": "style-preset", "version": 1, "style": "stipple", "params": {"dot_size": NaN}}',
     "dot_size must be a number, not nan"),
    ('{"artgen": "style-preset", "version": 1, "style": "stipple", "params": {"dot_size": 1e999}}',
     "dot_size must be a number, not inf"),
    ({**_doc(), "params": [1, 2]}, "params must be a JSON object"),
    ({**_doc(), "colour": "red"}, "unknown field 'colour'"),
    ({**_doc(), "version": 2}, "version 2, made by a newer ArtGen"),
    ({**_doc(), "version": "1"}, "version must be a whole number"),
    ({k: v for k, v in _doc().items() if k != "style"}, "names no style"),
    ({"seed": 1, "style": {"mode": "stipple"}}, 'not an ArtGen style preset (no "artgen": "style-preset"'),
    ([1, 2, 3], "not an ArtGen style preset"),
    ('{"artgen": "style-preset", "artgen": "style-preset", "version": 1}', "has the field 'artgen' twice"),
    ('{"artgen": "style-preset", "version": 1, "style": "stipple"', "not JSON"),
    ("", "not JSON"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "not UTF-8 text"),
    ("[" * 30000 + "]" * 30000, "damaged JSON"),  # nested past the parser's depth
    ('{"artgen": "style-preset", "version": 1, "style": "stipple", "params": {"dot_size": ' + "9" * 5000 + "}}",
     "damaged JSON"),  # a number too long to convert
])
def test_bad_presets_are_refused_naming_the_file_and_field(tmp_path, doc, message):
    path = _write(tmp_path, doc)
    with pytest.raises(ArtGenError) as e:
        load_preset(path)
    assert str(e.value).startswith(f"{path}: ") and message in str(e.value), str(e.value)


def test_a_huge_file_is_refused_after_a_bounded_read(tmp_path):
    path = tmp_path / "huge.json"
    with open(path, "wb") as f:
        f.write(json.dumps(_doc()).encode() + b" ")
        f.truncate(8 << 30)  # 8 GiB, sparse: reading it whole would take the machine's memory
    with pytest.raises(ArtGenError, match=f"too large to be a style preset \\(over {MAX_PRESET_BYTES // 1024} KiB"):
        load_preset(path)
    with pytest.raises(ArtGenError, match="too large"):
        parse_preset(b" " * (MAX_PRESET_BYTES + 1))


def test_files_that_cannot_be_presets_are_refused_unread(tmp_path):
    with pytest.raises(ArtGenError, match="no such file"):
        load_preset(tmp_path / "missing.json")
    with pytest.raises(ArtGenError, match="not a regular file"):
        load_preset(tmp_path)
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.json")
        with pytest.raises(ArtGenError, match="not a regular file"):
            load_preset(tmp_path / "pipe.json")  # (opening it would block)
    with pytest.raises(ArtGenError, match="is a folder"):
        save_preset(tmp_path, EngraveStyle())
    with pytest.raises(ArtGenError, match="dot_size must be between"):
        Preset("stipple", {"dot_size": 0})  # a preset made in code is checked as well


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anywhere")
def test_saving_into_a_read_only_folder_is_a_clear_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(ArtGenError, match="cannot write the style preset"):
            save_preset(folder / "p.json", EngraveStyle())
    finally:
        folder.chmod(0o700)


# ---- the command line ------------------------------------------------------------------------------------

def _generate(tiny_model_path, out, *argv):
    try:
        return main(["generate", "--seeds", "1", "--model", str(tiny_model_path), "--out", str(out), "--size", "256",
                     *argv])
    except SystemExit as e:  # argparse's own refusals
        return e.code


def test_cli_preset_with_options_overriding_it(tmp_path, tiny_model_path, capsys):
    preset = tmp_path / "dots.json"
    save_preset(preset, EngraveStyle(mode="stipple", dot_size=4.5, dot_spacing=6.0))
    out = tmp_path / "a"
    assert _generate(tiny_model_path, out, "--preset", str(preset)) == 0
    style = read_metadata(out / "seed-000001.png")["style"]
    assert style["mode"] == "stipple" and style["dot_size"] == 4.5 and style["dot_spacing"] == 6.0
    out = tmp_path / "b"  # an option given alongside overrides the preset's value; --style may repeat it
    assert _generate(tiny_model_path, out, "--preset", str(preset), "--style", "stipple", "--dot-size", "2") == 0
    style = read_metadata(out / "seed-000001.png")["style"]
    assert style["mode"] == "stipple" and style["dot_size"] == 2 and style["dot_spacing"] == 6.0


def test_cli_save_preset_then_use_it(tmp_path, tiny_model_path, capsys):
    preset = tmp_path / "hatch.json"
    assert _generate(tiny_model_path, tmp_path / "a", "--style", "crosshatch", "--families", "4", "--angle", "10",
                     "--save-preset", str(preset)) == 0
    assert "saved the crosshatch style preset" in capsys.readouterr().out
    assert load_preset(preset) == Preset("crosshatch", {"spacing": 6.0, "angle": 10.0, "families": 4,
                                                        "line_width": 1.5})
    assert _generate(tiny_model_path, tmp_path / "b", "--preset", str(preset)) == 0
    a, b = (read_metadata(tmp_path / d / "seed-000001.png") for d in "ab")
    assert Settings.from_dict(a) == Settings.from_dict(b)


@pytest.mark.parametrize("preset_doc, argv, message", [
    (_doc("stipple"), ["--style", "engraving"],
     "--style engraving conflicts with the stipple style of the preset"),
    (_doc("stipple", dot_size=12), [], "dot_size must be between 1 and 8, not 12"),
    ("{not json", [], "not a style preset (not JSON"),
    (_doc("stipple"), ["--dot-size", "0"], "--dot-size must be between 1 and 8"),
    (None, ["--preset", "/no/such/preset.json"], "no such file"),
    (_doc("stipple"), ["--save-preset", "/no/such/folder/p.json"], "does not exist"),
])
def test_cli_refuses_bad_presets_before_anything_is_made(tmp_path, tiny_model_path, capsys, preset_doc, argv,
                                                         message):
    out = tmp_path / "never"
    saved = tmp_path / "saved.json"
    extra = [] if preset_doc is None else ["--preset", _write(tmp_path, preset_doc)]
    if "--save-preset" not in argv:
        extra += ["--save-preset", str(saved)]
    assert _generate(tiny_model_path, out, *extra, *argv) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert not out.exists() and not saved.exists()


def test_cli_help_says_how_options_and_a_preset_combine(capsys):
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--preset FILE" in text and "--save-preset FILE" in text
    assert "style options given alongside override the preset's values" in text
    assert "--style, if given, must name the preset's own style" in text


# ---- the app ----------------------------------------------------------------------------------------------

def test_app_saves_and_loads_presets_through_the_engine_module(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from artgen_desktop.ui.controls import ControlsPanel
    from artgen_desktop.ui.state import AppState
    state = AppState(page_size=12)
    state.set_settings(Settings(size=256, temperature=0.3, style=EngraveStyle(mode="woodcut", contrast=3.5)))
    panel = ControlsPanel(state)
    qtbot.addWidget(panel)
    messages = []
    panel.message.connect(lambda text, level: messages.append((level, text)))

    path = tmp_path / "cut.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    panel.save_preset_button.click()
    assert load_preset(path) == Preset.from_style(state.settings.style) and messages[-1][0] == "info"

    state.set_settings(Settings(size=512, temperature=0.9, style=EngraveStyle(mode="engraving", spacing=8.0)))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    panel.load_preset_button.click()
    s = state.settings
    assert s.style.mode == "woodcut" and s.style.contrast == 3.5 and s.style.spacing == 6.0  # the preset's
    assert s.size == 512 and s.temperature == 0.9  # not a style setting: untouched
    assert panel.mode.currentData() == "woodcut" and panel.sliders["contrast"].value() == pytest.approx(3.5)
    assert state.undo() and state.settings.style.mode == "engraving"  # one step to undo

    bad = _write(tmp_path, _doc("stipple", dot_size=99), "bad.json")
    before = state.settings
    assert not panel.load_preset(bad)
    assert state.settings == before
    assert messages[-1][0] == "error" and "dot_size must be between 1 and 8, not 99" in messages[-1][1]
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: ("", ""))  # cancelled
    assert not panel.load_preset() and state.settings == before


def test_main_window_file_menu_has_the_preset_actions(qtbot, tiny_model_path, tmp_path, monkeypatch):
    from conftest import open_main_window
    monkeypatch.setenv("ARTGEN_DATA_DIR", str(tmp_path / "userdata"))
    path = tmp_path / "dots.json"
    save_preset(path, EngraveStyle(mode="stipple", dot_min=0.8))
    with open_main_window(qtbot, tiny_model_path) as w:
        texts = [a.text() for a in w.menuBar().actions()[0].menu().actions()]
        assert "Save style preset…" in texts and "Load style preset…" in texts
        from PySide6.QtWidgets import QFileDialog
        monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
        w.load_preset_action.trigger()
        assert w.state.settings.style.mode == "stipple" and w.state.settings.style.dot_min == 0.8
        assert "Loaded the Stipple style preset" in w.message_bar.text()
