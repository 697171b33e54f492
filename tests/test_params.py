"""One table of parameters (engine/params.py): the engine, the CLI and the app's sliders agree with it."""

import pytest

from artgen_desktop.engine import ArtGenError, EngraveStyle, Settings
from artgen_desktop.engine.params import GENERATION, PARAMS, SIZE, STYLES, style_params


def test_defaults_are_the_tables():
    s = Settings()
    for p in GENERATION:
        assert getattr(s, p.name) == p.default
    for p in style_params():
        assert getattr(s.style, p.name) == p.default
    assert s.style.mode in STYLES


@pytest.mark.parametrize("param", list(PARAMS.values()), ids=list(PARAMS))
def test_every_range_is_enforced_by_the_engine(param):
    def make(value):
        if param in GENERATION:
            return Settings(**{param.name: value})
        return EngraveStyle(**{param.name: value})

    make(param.minimum if param.kind is float else int(param.minimum))
    make(param.maximum if param.kind is float else int(param.maximum))
    step = param.step if param.kind is float else 1
    for bad in (param.minimum - step, param.maximum + step, True, "1", None, float("nan")):
        if param.kind is int and isinstance(bad, float) and bad == bad:
            bad = int(bad)
        with pytest.raises(ArtGenError, match=param.label):
            make(bad)


def test_style_groups_name_real_fields():
    names = {f for f in EngraveStyle.__dataclass_fields__}
    for style in STYLES.values():
        assert {p.name for p in style.params} <= names
    with pytest.raises(ArtGenError, match="style must be one of"):
        EngraveStyle(mode="watercolour")


def test_the_sliders_are_built_from_the_table(qtbot):
    from artgen_desktop.ui.controls import ControlsPanel
    from artgen_desktop.ui.state import AppState
    panel = ControlsPanel(AppState())
    qtbot.addWidget(panel)
    assert set(panel.sliders) == {"temperature", "variety", *(p.name for p in style_params())}
    for name, slider in panel.sliders.items():
        p = PARAMS[name]
        assert (slider.minimum(), slider.maximum(), slider.singleStep(), slider.decimals()) == \
            pytest.approx((p.minimum, p.maximum, p.step, p.decimals)), name
        assert slider.toolTip() == p.help
    assert [panel.size.itemData(i) for i in range(panel.size.count())] == list(SIZE.presets)
    assert [panel.mode.itemData(i) for i in range(panel.mode.count())] == list(STYLES)
    assert panel.settings() == Settings()
    # the raw tone view has no parameters: its sliders cannot be moved
    panel.mode.setCurrentIndex(list(STYLES).index("tone"))
    assert not any(panel.sliders[p.name].isEnabled() for p in style_params())
    # a value at the table's maximum (a PNG made by the CLI) shows without clamping
    edge = Settings(style=EngraveStyle(spacing=PARAMS["spacing"].maximum, outline=PARAMS["outline"].maximum))
    panel.set_from_settings(edge)
    assert panel.sliders["spacing"].value() == pytest.approx(PARAMS["spacing"].maximum)
    assert panel.sliders["outline"].value() == pytest.approx(PARAMS["outline"].maximum)
