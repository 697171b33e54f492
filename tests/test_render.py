import pytest
import torch

from artgen_desktop.engine import EngraveStyle, engrave


def ink(img: torch.Tensor) -> float:
    return float((255 - img.float()).mean() / 255)


def test_white_tone_stays_white_at_every_size():
    for size in (256, 512, 1024, 2048):
        out = engrave(torch.ones(1, 32, 32), EngraveStyle(), size)
        assert out.shape == (1, size, size) and out.dtype == torch.uint8
        assert int(out.min()) == 255


def test_darker_tone_gives_more_ink_monotonically():
    levels = torch.linspace(1, 0, 21)
    amounts = [ink(engrave(torch.full((1, 16, 16), float(v)), EngraveStyle(), 256)) for v in levels]
    assert all(b > a for a, b in zip(amounts[1:], amounts[2:])), amounts  # strictly after the paper level
    assert amounts[0] == 0 and amounts[-1] > 0.9


def test_cross_hatching_only_in_dark_tones():
    style = EngraveStyle(angle=0, cross_threshold=0.5, bend=0, outline=0)
    light = engrave(torch.full((1, 16, 16), 0.7), style, 256)[0]
    dark = engrave(torch.full((1, 16, 16), 0.2), style, 256)[0]
    # with angle 0 the main lines are vertical, so a crossing family shows up as ink varying down a column
    assert light[:, 100].float().std() == 0
    assert dark[:, 100].float().std() > 0


def test_outline_traces_a_silhouette_and_can_be_switched_off():
    tone = torch.ones(1, 64, 64)
    tone[:, 16:48, 16:48] = 0.55
    tone = torch.nn.functional.avg_pool2d(tone[None], 5, 1, 2, count_include_pad=False)[0]
    with_outline = engrave(tone, EngraveStyle(outline=3.0), 512)
    without = engrave(tone, EngraveStyle(outline=0), 512)
    assert ink(with_outline) > ink(without)
    assert int(with_outline[0, :60].min()) == 255  # paper away from the drawing stays clean


def test_bend_moves_lines_over_forms():
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 64), torch.linspace(-1, 1, 64), indexing="ij")
    blob = (0.3 + 0.7 * (xx**2 + yy**2).sqrt()).clamp(0, 1)[None]
    straight = engrave(blob, EngraveStyle(bend=0, outline=0), 256)
    bent = engrave(blob, EngraveStyle(bend=2, outline=0), 256)
    assert not torch.equal(straight, bent)


def test_tone_mode_and_batch_and_bad_values():
    tones = torch.rand(3, 32, 32)
    out = engrave(tones, EngraveStyle(mode="tone"), 256)
    assert out.shape == (3, 256, 256)
    assert torch.equal(engrave(tones[1:2], EngraveStyle(), 256)[0], engrave(tones, EngraveStyle(), 256)[1])
    with pytest.raises(ValueError):
        EngraveStyle(mode="watercolour")
    with pytest.raises(ValueError):
        EngraveStyle(spacing=0)
    with pytest.raises(ValueError):
        engrave(tones, EngraveStyle(), 10)
