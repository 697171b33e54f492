"""Contact sheets: a grid of pictures with their captions under them (training samples, evaluation)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont


def contact_sheet(images: Sequence[Image.Image], captions: Sequence[str], cols: int = 8, cell: int = 160,
                  text_lines: int = 3) -> Image.Image:
    font = ImageFont.load_default(size=max(10, cell // 14))
    line_h = font.size + 3
    rows = (len(images) + cols - 1) // cols
    pad = 6
    h_cell = cell + text_lines * line_h + 2 * pad
    sheet = Image.new("RGB", (cols * (cell + pad) + pad, rows * h_cell + pad), "white")
    draw = ImageDraw.Draw(sheet)
    width_chars = max(8, int(cell / (font.size * 0.55)))
    for i, (img, cap) in enumerate(zip(images, captions)):
        x = pad + (i % cols) * (cell + pad)
        y = pad + (i // cols) * h_cell
        sheet.paste(img.convert("RGB").resize((cell, cell), Image.Resampling.LANCZOS), (x, y))
        draw.rectangle([x, y, x + cell - 1, y + cell - 1], outline=(200, 200, 200))
        for j, line in enumerate(textwrap.wrap(cap, width_chars)[:text_lines]):
            draw.text((x, y + cell + 3 + j * line_h), line, fill="black", font=font)
    return sheet
