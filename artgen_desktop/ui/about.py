"""Help → About: the version, the loaded model, the licences, and the model's credits.

Credits belong to a model (who made the pictures it learnt from), so they are read from a CREDITS.md
beside the model file when there is one (resources/models/CREDITS.md for the bundled model).
"""

from __future__ import annotations

import html
import platform
from pathlib import Path

import PySide6
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTabWidget, QTextBrowser, QVBoxLayout, QWidget

from artgen_desktop import __version__

from .bridge import ModelDescription

CREDITS_NAME = "CREDITS.md"
CREDITS_MAX_BYTES = 256_000  # a credits file is text; anything bigger is not read whole

# what the app is built from and under which licence (each project's own licence file says it in full)
LICENCES = (
    ("Qt and PySide6", "LGPL-3.0"),
    ("PyTorch", "BSD-3-Clause"),
    ("NumPy", "BSD-3-Clause"),
    ("Pillow", "MIT-CMU"),
    ("safetensors", "Apache-2.0"),
    ("platformdirs", "MIT"),
    ("superqt", "BSD-3-Clause"),
    ("tqdm", "MPL-2.0 and MIT"),
)


def credits_path(model: ModelDescription | None) -> Path | None:
    """The CREDITS.md beside the model file, if there is one."""
    if model is None or not model.path:
        return None
    path = Path(model.path).with_name(CREDITS_NAME)
    try:
        return path if path.is_file() else None
    except OSError:
        return None


def read_credits(model: ModelDescription | None) -> str | None:
    path = credits_path(model)
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            return f.read(CREDITS_MAX_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None


def about_html(model: ModelDescription | None) -> str:
    model_line = (f"Model: <b>{html.escape(model.name)}</b> (hash {html.escape(model.hash)}), "
                  f"{html.escape(model.path)}" if model else "No model is loaded.")
    rows = "".join(f"<tr><td style='padding-right:12px'>{html.escape(name)}</td><td>{lic}</td></tr>"
                   for name, lic in LICENCES)
    return (f"<h2>ArtGen Desktop {__version__}</h2>"
            "<p>Generated engravings with captions that describe them: one seed, one picture, its words.</p>"
            f"<p>{model_line}</p>"
            f"<p style='color:#6b665c'>Python {platform.python_version()} · Qt {qVersion()} · "
            f"PySide6 {PySide6.__version__}</p>"
            "<h3>Licence</h3><p>ArtGen Desktop is free software under the GNU General Public License, "
            "version 3 or later (GPL-3.0-or-later): you may use, study, share and change it. It comes with "
            "no warranty.</p><p>It is built on:</p>"
            f"<table>{rows}</table>")


class AboutDialog(QDialog):
    def __init__(self, model: ModelDescription | None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("About ArtGen Desktop")
        self.resize(520, 480)
        self.about = QTextBrowser(openExternalLinks=True)
        self.about.setHtml(about_html(model))
        self.credits = QTextBrowser(openExternalLinks=True)
        text = read_credits(model)
        if text is not None:
            self.credits.setMarkdown(text)
        else:
            name = model.name if model else "the model"
            self.credits.setPlainText(f"No credits are recorded for {name} (no {CREDITS_NAME} beside its file).")
        self.tabs = QTabWidget()
        self.tabs.addTab(self.about, "About")
        self.tabs.addTab(self.credits, "Model credits")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(buttons)
