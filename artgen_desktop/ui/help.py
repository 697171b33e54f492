"""Help → ArtGen Help: how the app works, every key, and what each control does.

The keys and the control descriptions are read from the live menus and widgets (their shortcuts and
tooltips), so this page cannot drift from what the app does.
"""

from __future__ import annotations

import html

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

OVERVIEW = (
    "<p>Every whole number (a <b>seed</b>) is one picture and its caption. The <b>gallery</b> shows a page "
    "of seeds; click one to see it large in the <b>preview</b>. The controls on the left change how the "
    "caption is written and how the picture is engraved; the same seed with the same settings always gives "
    "the same picture.</p>"
    "<p><b>Interpolate</b> slides from one seed to another. <b>Library</b> keeps your favourites and the "
    "seeds you looked at. <b>Export</b> writes the selected seeds as PNG + caption files; each PNG remembers "
    "its seed and settings, so opening it (File → Open picture, or dropping it on the window) brings it "
    "back.</p>"
    "<p><b>Model → Open</b> loads another model file; the same seed draws a different picture under another "
    "model. <b>Fine-tune</b> teaches the model your own pictures.</p>")


def help_html(keys: list[tuple[str, str]], controls: list[tuple[str, str]]) -> str:
    """keys: (what, key) pairs; controls: (name, what it does) pairs."""
    key_rows = "".join(f"<tr><td style='padding-right:16px'><b>{html.escape(k)}</b></td>"
                       f"<td>{html.escape(what)}</td></tr>" for what, k in keys)
    control_rows = "".join(f"<tr><td style='padding-right:16px; vertical-align:top'><b>{html.escape(name)}</b>"
                           f"</td><td>{html.escape(tip)}</td></tr>" for name, tip in controls)
    return (f"<h2>ArtGen Desktop</h2>{OVERVIEW}"
            f"<h3>Keys</h3><table>{key_rows}</table>"
            "<p>←/→ move a focused slider instead of the seed.</p>"
            f"<h3>Controls</h3><table>{control_rows}</table>")


class HelpDialog(QDialog):
    def __init__(self, keys: list[tuple[str, str]], controls: list[tuple[str, str]],
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("ArtGen Help")
        self.resize(560, 640)
        self.text = QTextBrowser()
        self.text.setHtml(help_html(keys, controls))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
