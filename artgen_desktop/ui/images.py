"""PIL -> QImage (the only image type widgets see) and thumbnail scaling."""

from __future__ import annotations

from PIL import Image
from PySide6.QtGui import QImage

_FORMATS = {"L": QImage.Format.Format_Grayscale8, "RGB": QImage.Format.Format_RGB888,
            "RGBA": QImage.Format.Format_RGBA8888}


def to_qimage(image: Image.Image) -> QImage:
    if image.mode not in _FORMATS:
        image = image.convert("RGB")
    data = image.tobytes()
    bytes_per_line = image.width * len(image.getbands())
    # copy(): the QImage must own its pixels, `data` is freed when this function returns
    return QImage(data, image.width, image.height, bytes_per_line, _FORMATS[image.mode]).copy()


def thumbnail(image: Image.Image, px: int) -> QImage:
    """Downscaled with a box filter: it averages hatching into tone instead of aliasing it into moiré."""
    if image.width != px:
        image = image.resize((px, px), Image.Resampling.BOX)
    return to_qimage(image)
