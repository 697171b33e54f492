"""The main window: controls | gallery | preview, interpolation and library; menus, keys, status bar.

It wires panels to the shared AppState and EngineBridge and handles what spans panels: opening models
and pictures (menus or drag and drop), exporting the selection, undo, messages, the status bar, and
what is remembered between runs (window size, last model, recent models, last seed).
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QRect, QSize, Qt
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMainWindow,
    QPlainTextEdit,
    QScrollArea,
    QSplitter,
    QTabBar,
    QTabWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from artgen_desktop.engine import Settings, bundled_model_path, check_seed
from artgen_desktop.engine.svg import read_metadata

from .about import AboutDialog
from .bridge import MODEL, SAVE, EngineBridge, ModelDescription, Picture
from .controls import ControlsPanel
from .export_progress import ExportProgress
from .finetune import FineTuneDialog
from .gallery import GalleryPanel
from .help import HelpDialog
from .interpolation import InterpolationPanel, frame_from_metadata
from .library import Entry, Library
from .library_panel import LibraryPanel
from .message_bar import MessageBar
from .model_box import ModelBox
from .model_summary import ModelSummaryDialog
from .prefs import Preferences
from .preview import PreviewPanel
from .state import AppState
from .userdata import default_export_dir, existing_folder

# widgets where ←/→ already mean something (move a slider, a text cursor, a list row): they keep the keys
ARROW_OWNERS = (QAbstractSlider, QAbstractSpinBox, QComboBox, QLineEdit, QPlainTextEdit, QTextEdit, QTabBar,
                QListWidget)
DEFAULT_SIZE = QSize(1440, 900)
# room for the window manager's frame and title bar, which the available geometry does not subtract
FRAME_ALLOWANCE = QSize(16, 48)
RECENT_LIMIT = 8
SAVE_WAIT_S = 30.0  # the longest closing waits for an SVG being saved
KEY_NAMES = {"Left": "←", "Right": "→", "PgDown": "PgDn"}  # as the keys are printed on a keyboard
NOT_A_MODEL_HINT = "not an ArtGen model file, or it is damaged"
# refusals that already say what the file is (engine/checkpoint.py words most so); others get the hint
SELF_EXPLAINING = ("artgen model", "damaged", "truncated", "pickled", "no such file", "folder", "cannot be read",
                   "permission")


def fit_to_screen(wanted: QSize, available: QRect) -> QRect:
    """The window's geometry: `wanted` shrunk to fit `available` (less the frame's allowance), centred there."""
    width = max(1, min(wanted.width(), available.width() - FRAME_ALLOWANCE.width()))
    height = max(1, min(wanted.height(), available.height() - FRAME_ALLOWANCE.height()))
    x = available.x() + (available.width() - width) // 2
    y = available.y() + max((available.height() - FRAME_ALLOWANCE.height() - height) // 2, 0)
    return QRect(x, y, width, height)


def model_failure_text(name: str, path: str, message: str) -> str:
    """The engine's refusal, as an artist reads it: what the file is not, then the engine's detail."""
    problem = message
    for prefix in (f"{path}: ", f"{Path(path).name}: "):
        if path and problem.startswith(prefix):
            problem = problem[len(prefix):]
    if any(w in problem.lower() for w in SELF_EXPLAINING):
        return f"Could not open {name}: {problem}."
    return f"Could not open {name}: it is {NOT_A_MODEL_HINT} ({problem})."


def same_file(a: str | Path | None, b: str | Path | None) -> bool:
    if not a or not b:
        return False
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


class MainWindow(QMainWindow):
    def __init__(self, bridge: EngineBridge | None = None, state: AppState | None = None,
                 library: Library | None = None, prefs: Preferences | None = None,
                 trainer_command: list[str] | None = None):
        super().__init__()
        self.prefs = prefs or Preferences()
        self.state = state or AppState(page_size=int(self.prefs.get("page_size", 24)))
        self.bridge = bridge or EngineBridge()
        self.library = library or Library()
        self.trainer_command = trainer_command
        self.model: ModelDescription | None = None
        self.export: ExportProgress | None = None
        self.finetune_dialog: FineTuneDialog | None = None
        self.summary_dialog: ModelSummaryDialog | None = None
        self.about_dialog: AboutDialog | None = None
        self.help_dialog: HelpDialog | None = None
        self._model_request: int | None = None
        self._model_request_path = ""
        self._fallback_to_default = False  # the last session's model failed to open: take the bundled one
        self._closed = False
        if state is None:  # a real start (tests pass their own state): carry on from the last seed
            self._restore_seed()

        self.setWindowTitle("ArtGen Desktop")
        self.setAcceptDrops(True)

        self.controls = ControlsPanel(self.state, bridge=self.bridge)
        self.gallery = GalleryPanel(self.state, self.bridge)
        self.gallery.show_favourites(self.library)
        self.preview = PreviewPanel(self.state, self.bridge, self.library, self.prefs)
        self.interpolation = InterpolationPanel(self.state, self.bridge, self.prefs)
        self.library_panel = LibraryPanel(self.library)

        self._build_actions()
        self.model_box = ModelBox(self.open_model_action, self.summary_action, self.finetune_action)
        self.controls.layout().insertWidget(self.controls.layout().count() - 1, self.model_box)
        controls_scroll = QScrollArea()
        controls_scroll.setWidget(self.controls)
        controls_scroll.setWidgetResizable(True)
        controls_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        controls_scroll.setMinimumWidth(self.controls.minimumSizeHint().width() + 16)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.preview, "Preview")
        self.tabs.addTab(self.interpolation, "Interpolate")
        self.tabs.addTab(self.library_panel, "Library")
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(controls_scroll)
        splitter.addWidget(self.gallery)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(1, 3)
        splitter.setStretchFactor(2, 2)
        splitter.setSizes([300, 700, 440])
        self.splitter = splitter
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 0)
        layout.addWidget(splitter, 1)
        self.setCentralWidget(central)
        self.message_bar = MessageBar(central)  # floats over the panels: showing it moves nothing

        self.busy_label = QLabel()
        self.device_label = QLabel("Device: –")
        self.model_label = QLabel("Model: none")
        self.time_label = QLabel("Last generation: –")
        for w in (self.busy_label, self.device_label, self.model_label, self.time_label):
            self.statusBar().addPermanentWidget(w)

        for panel in (self.controls, self.preview, self.interpolation, self.gallery):
            panel.message.connect(self.show_message)
        self.preview.more_like.connect(self.more_like)
        self.gallery.search.message_outdated.connect(self._clear_message)
        self.message_bar.action_triggered.connect(self._on_message_action)
        self.library_panel.restore_requested.connect(self.restore_entry)
        self.preview.picture_shown.connect(self._keep_thumbnail)
        self.state.undo_changed.connect(self._update_undo_actions)
        self._update_undo_actions()
        self.bridge.model_loaded.connect(self._on_model_loaded)
        self.bridge.failed.connect(self._on_failed)
        self.bridge.timing.connect(lambda s: self.time_label.setText(f"Last generation: {s:.2f} s"))
        self.bridge.busy_changed.connect(lambda busy: self.busy_label.setText("● rendering" if busy else ""))
        self.state.page_changed.connect(lambda _: self.prefs.set("page_size", self.state.page_size))
        self.gallery.refresh()
        self.place_window()

    # ---- actions and keys ----------------------------------------------------------------------------

    def _action(self, menu, text: str, slot, shortcut: str | QKeySequence.StandardKey | None = None,
                tip: str = "") -> QAction:
        action = QAction(text, self)
        if isinstance(shortcut, QKeySequence.StandardKey):
            action.setShortcuts(shortcut)  # every platform binding, e.g. Redo is Ctrl+Shift+Z and Ctrl+Y
        elif shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        return action

    def _build_actions(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self.open_picture_action = self._action(file, "Open picture…", self.open_picture, "Ctrl+O",
                                                "Restore the seed and settings stored in an ArtGen PNG")
        self.save_action = self._action(file, "Save picture as…", self.preview.save_as, "Ctrl+S")
        self.export_action = self._action(file, "Export selected…", self.export_selected, "Ctrl+E",
                                          "Write the selected seeds as PNG + caption pairs to a folder")
        self.export_svg_action = self._action(file, "Export SVG too", self._export_svg_changed,
                                              tip="Export writes each picture as an SVG beside its PNG")
        self.export_svg_action.setCheckable(True)
        self.export_svg_action.setChecked(bool(self.prefs.get("export_svg", False)))
        file.addSeparator()
        self.save_preset_action = self._action(file, "Save style preset…", self.controls.save_preset,
                                               tip="Save the print style and its settings as a preset file")
        self.load_preset_action = self._action(file, "Load style preset…", self.controls.load_preset,
                                               tip="Take the print style and its settings from a preset file")
        file.addSeparator()
        self._action(file, "Quit", self.close, "Ctrl+Q")

        edit = bar.addMenu("&Edit")
        self.undo_action = self._action(edit, "Undo", self.state.undo, QKeySequence.StandardKey.Undo,
                                        "Take back the last change of the settings")
        self.redo_action = self._action(edit, "Redo", self.state.redo, QKeySequence.StandardKey.Redo)
        edit.addSeparator()
        self.copy_picture_action = self._action(edit, "Copy picture", self.copy_picture,
                                                QKeySequence.StandardKey.Copy,
                                                "Copy the preview's picture, to paste into another program")
        self._action(edit, "Copy caption", self.preview.copy_caption)
        self._action(edit, "Copy seed", self.preview.copy_seed)

        model = bar.addMenu("&Model")
        self.open_model_action = self._action(model, "Open model…", self.open_model, "Ctrl+M")
        self.recent_menu = model.addMenu("Recent models")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._fill_recent_menu()
        self.default_model_action = self._action(model, "Back to the default model", lambda: self.open_model(None),
                                                 tip="Load the model that comes with ArtGen")
        model.addSeparator()
        self.summary_action = self._action(model, "Summary…", self.show_summary,
                                           tip="What the model was trained on, and how")
        self.finetune_action = self._action(model, "Fine-tune…", self.show_finetune)
        model.aboutToShow.connect(self._update_model_menu)
        self._update_model_menu()

        seed = bar.addMenu("&Seed")
        self.prev_action = self._action(seed, "Previous seed", lambda: self._arrow(-1), "Left")
        self.next_action = self._action(seed, "Next seed", lambda: self._arrow(1), "Right")
        self.random_action = self._action(seed, "Random seed", self.state.random_seed, "R")
        self._action(seed, "Previous page", lambda: self.gallery.turn_page(-1), "PgUp")  # (of results, in a search)
        self._action(seed, "Next page", lambda: self.gallery.turn_page(1), "PgDown")
        seed.addSeparator()
        self.favourite_action = self._action(seed, "Favourite on/off", self.preview.toggle_favourite, "F")
        self._action(seed, "Use as interpolation seed A", lambda: self._use_for_interpolation("a"))
        self._action(seed, "Use as interpolation seed B", lambda: self._use_for_interpolation("b"))
        self.more_like_action = self._action(seed, "More like this", lambda: self.more_like(self.state.seed),
                                             tip="Seeds whose pictures are most like this one (seed atlas)")
        self.gallery.view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        for a in seed.actions()[-3:] + [self.favourite_action, self.export_action]:
            self.gallery.view.addAction(a)

        help_menu = bar.addMenu("&Help")
        self.help_action = self._action(help_menu, "ArtGen Help", self.show_help, QKeySequence.StandardKey.HelpContents,
                                        "How the app works, its keys and controls")
        self.about_action = self._action(help_menu, "About ArtGen Desktop", self.show_about)

    def _arrow(self, delta: int) -> None:
        """←/→ step the seed, except where the focused widget uses arrows itself."""
        focus = QApplication.focusWidget()
        if isinstance(focus, QAbstractSlider):
            # superqt's sliders have no key handling of their own, so step them here
            focus.setValue(focus.value() + delta * focus.singleStep())
            return
        if isinstance(focus, ARROW_OWNERS):
            # straight to the widget's handler: sending the event again would hit this shortcut again
            key = Qt.Key.Key_Left if delta < 0 else Qt.Key.Key_Right
            focus.keyPressEvent(QKeyEvent(QEvent.Type.KeyPress, key, Qt.KeyboardModifier.NoModifier))
            return
        self.gallery.step(delta)  # the next seed, or the next search result

    def _use_for_interpolation(self, which: str) -> None:
        self.interpolation.set_seeds(**{which: self.state.seed})
        self.tabs.setCurrentWidget(self.interpolation)

    def more_like(self, seed: int) -> None:
        """Seeds like this one from the model's seed atlas, as a page of the gallery."""
        self.gallery.more_like(seed)

    def _export_svg_changed(self) -> None:
        self.prefs.set("export_svg", self.export_svg_action.isChecked())

    def _update_undo_actions(self) -> None:
        self.undo_action.setEnabled(self.state.can_undo())
        self.undo_action.setText(self.state.undo_text())
        self.redo_action.setEnabled(self.state.can_redo())
        self.redo_action.setText(self.state.redo_text())

    def copy_picture(self) -> bool:
        picture = self.preview.picture
        if picture is None or picture.image.isNull():
            self.show_message("There is no picture to copy yet.", "warning")
            return False
        QGuiApplication.clipboard().setImage(picture.image)
        self.statusBar().showMessage(f"Copied the picture of seed {picture.seed}", 3000)
        return True

    # ---- help ------------------------------------------------------------------------------------------

    def shortcuts(self) -> list[tuple[str, str]]:
        """(what, key) for every menu action with a shortcut, in menu order."""
        out = []
        for menu_action in self.menuBar().actions():
            menu = menu_action.menu()
            for a in menu.actions() if menu else []:
                keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in a.shortcuts()]
                keys = [KEY_NAMES.get(k, k) for k in keys if k]
                if keys:
                    out.append((a.text().replace("&", ""), " or ".join(keys)))
        return out

    def control_descriptions(self) -> list[tuple[str, str]]:
        """(label, tooltip) of every control in the controls' forms."""
        out = []
        for form in self.controls.findChildren(QFormLayout):
            for row in range(form.rowCount()):
                label = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
                field = form.itemAt(row, QFormLayout.ItemRole.FieldRole)
                widget = field.widget() if field else None
                text = label.widget().text() if label and isinstance(label.widget(), QLabel) else ""
                if widget is not None and text and widget.toolTip():
                    out.append((text.replace("&", ""), widget.toolTip()))
        return out

    def show_help(self) -> HelpDialog:
        self.help_dialog = HelpDialog(self.shortcuts(), self.control_descriptions(), self)
        self.help_dialog.show()
        return self.help_dialog

    def show_about(self) -> AboutDialog:
        self.about_dialog = AboutDialog(self.model, self)
        self.about_dialog.show()
        return self.about_dialog

    # ---- window geometry and what is remembered ---------------------------------------------------

    def place_window(self, available: QRect | None = None) -> QRect:
        """The last session's size (or DEFAULT_SIZE), fitted to the screen's available geometry."""
        if available is None:
            screen = self.screen() or QGuiApplication.primaryScreen()
            available = screen.availableGeometry() if screen else QRect(0, 0, 1440, 900)
        saved = self.prefs.get("window")
        wanted = DEFAULT_SIZE
        if isinstance(saved, dict):
            try:
                wanted = QSize(int(saved["width"]), int(saved["height"]))
            except (KeyError, TypeError, ValueError, OverflowError):
                pass
        rect = fit_to_screen(wanted, available)
        # the panels' minimum must not hold the window bigger than a small screen
        hint = self.minimumSizeHint()
        self.setMinimumSize(min(hint.width(), rect.width()), min(hint.height(), rect.height()))
        self.setGeometry(rect)
        if isinstance(saved, dict) and saved.get("maximized") is True:
            self.setWindowState(Qt.WindowState.WindowMaximized)
        return rect

    def _remember_window(self) -> None:
        size = self.normalGeometry().size() if self.isMaximized() else self.size()
        self.prefs.set("window", {"width": size.width(), "height": size.height(), "maximized": self.isMaximized()})
        self.prefs.set("last_seed", self.state.seed)

    def _restore_seed(self) -> None:
        try:
            self.state.set_seed(check_seed(self.prefs.get("last_seed", 0)))
        except ValueError:
            pass  # a damaged preference starts at seed 0

    # ---- messages ------------------------------------------------------------------------------------

    def show_message(self, text: str, level: str = "info") -> None:
        self.message_bar.show_message(text, level)

    def _clear_message(self, text: str) -> None:
        """Hides the bar if it still shows `text` (a later message stays)."""
        if self.message_bar.text() == text:
            self.message_bar.clear()

    def _on_message_action(self, action: str) -> None:
        if action == "open-model":
            self.open_model()
        elif action.startswith("open-model:"):
            self.open_model(action.split(":", 1)[1])

    def _on_failed(self, request_id: int, channel: str, message: str) -> None:
        if channel == MODEL:
            self._show_model_status()
            path = self._model_request_path
            name = Path(path).name if path else "the default model"
            text = model_failure_text(name, path, message)
            if self._fallback_to_default and request_id == self._model_request:
                self._fallback_to_default = False
                self.show_message(f"{text} Opening the default model instead.", "warning")
                self.open_model(None)
                return
            if self.model:
                text += f" The current model ({self.model.name}) stays loaded."
            self.message_bar.show_message(text, "error", "open-model", "Open another model…")
        elif channel not in ("export", SAVE):  # exports report through their progress dialog, saves the preview
            self.show_message(f"Could not render: {message}", "error")

    # ---- model -----------------------------------------------------------------------------------------

    def load_initial_model(self, model: str | None) -> None:
        """The model named on the command line, else the last session's, else the bundled one."""
        if model is not None:
            self.open_model(model)
            return
        last = self.prefs.get("last_model")
        has_default = bundled_model_path().exists()
        if isinstance(last, str) and last and Path(last).is_file():
            self.open_model(last)
            self._fallback_to_default = has_default
            return
        if has_default:
            self.open_model(None)
            return
        self.message_bar.show_message(
            "No model is loaded: this installation has no bundled default model yet. Open a model file "
            "(.safetensors) to start.", "warning", "open-model", "Open model…")
        self.preview.image_view.set_placeholder("Open a model to see pictures (Model ▸ Open model…)")

    def open_model(self, path: str | Path | None = "") -> int | None:
        """"" asks for a file; None loads the bundled default model."""
        if path == "":
            start = str(existing_folder(self.prefs.get("model_dir") or self.prefs.get("last_model")))
            name, _ = QFileDialog.getOpenFileName(self, "Open model", start, "ArtGen models (*.safetensors)")
            if not name:
                return None
            path = name
        self._fallback_to_default = False
        self._model_request_path = str(path) if path else ""
        self.model_label.setText(f"Model: loading {Path(path).name if path else 'the default model'}…")
        self._model_request = self.bridge.load_model(path)
        return self._model_request

    def _show_model_status(self) -> None:
        """The status bar's model field for the model in use (after a load, or after a refused one)."""
        if self.model is None:
            self.model_label.setText("Model: none")
            self.model_label.setToolTip("")
        else:
            self.model_label.setText(f"Model: {self.model.name} ({self.model.hash})")
            self.model_label.setToolTip(self.model.path)

    def _on_model_loaded(self, desc: ModelDescription) -> None:
        self.model = desc
        self._fallback_to_default = False
        self._show_model_status()
        self.model_box.show_model(desc)
        self.device_label.setText(f"Device: {desc.device}")
        self.setWindowTitle(f"ArtGen Desktop — {desc.name}")
        self.library.set_model(desc.name, desc.hash)
        self.message_bar.clear("warning")
        self.message_bar.clear("error")
        if self.is_default_model(desc):
            self.prefs.set("last_model", "")  # the next start opens the default model too
        elif desc.path:
            self.prefs.set("last_model", desc.path)
            self.prefs.set("model_dir", str(Path(desc.path).parent))
            self._remember_recent(desc)
        self._update_model_menu()
        if self.summary_dialog is not None:
            self.summary_dialog.close()
            self.summary_dialog = None

    @staticmethod
    def is_default_model(desc: ModelDescription | None) -> bool:
        return desc is not None and same_file(desc.path, bundled_model_path())

    def recent_models(self) -> list[dict]:
        """Models opened before, newest first: {"path", "name", "hash"} (the default model is not listed)."""
        raw = self.prefs.get("recent_models", [])
        if not isinstance(raw, list):
            return []
        return [r for r in raw if isinstance(r, dict) and isinstance(r.get("path"), str)]

    def _remember_recent(self, desc: ModelDescription) -> None:
        entry = {"path": desc.path, "name": desc.name, "hash": desc.hash}
        rest = [r for r in self.recent_models() if not same_file(r["path"], desc.path)]
        self.prefs.set("recent_models", [entry] + rest[:RECENT_LIMIT - 1])

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.recent_models()
        for r in recent:
            path = r["path"]
            action = self.recent_menu.addAction(f"{r.get('name') or Path(path).stem} — {path}")
            action.setEnabled(Path(path).is_file())  # moved or deleted since: shown, greyed
            action.triggered.connect(lambda _checked=False, p=path: self.open_model(p))
        if not recent:
            self.recent_menu.addAction("No models opened yet").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear the list", lambda: self.prefs.set("recent_models", []))

    def _update_model_menu(self) -> None:
        self.default_model_action.setEnabled(bundled_model_path().exists() and not self.is_default_model(self.model))
        self.summary_action.setEnabled(self.model is not None)

    def show_summary(self) -> None:
        if self.model is None:
            self.show_message("No model is loaded.", "warning")
            return
        self.summary_dialog = ModelSummaryDialog(self.model, self)
        self.summary_dialog.show()

    def show_finetune(self) -> FineTuneDialog:
        if self.finetune_dialog is None or not self.finetune_dialog.is_running():
            current = self.model.path if self.model else None
            self.finetune_dialog = FineTuneDialog(current, self.prefs, self, self.trainer_command)
            self.finetune_dialog.load_requested.connect(self.open_model)
            # the trainer takes the cores: one generation thread stays fast beside it, two collapse
            self.finetune_dialog.running_changed.connect(lambda on: self.bridge.set_threads(1 if on else None))
        self.finetune_dialog.show()
        self.finetune_dialog.raise_()
        return self.finetune_dialog

    # ---- pictures in and out -------------------------------------------------------------------------

    def open_picture(self, path: str | Path | None = None) -> bool:
        if path is None:
            start = str(existing_folder(self.prefs.get("export_dir") or default_export_dir()))
            kinds = "ArtGen pictures (*.png *.svg);;PNG images (*.png);;SVG vectors (*.svg)"
            name, _ = QFileDialog.getOpenFileName(self, "Open an ArtGen picture", start, kinds)
            if not name:
                return False
            path = name
        return self.restore_from_png(path)

    def restore_from_png(self, path: str | Path) -> bool:
        """Restores the seed and settings an ArtGen PNG (or SVG) was made with; any failure is a message, never a
        crash."""
        name = Path(path).name
        try:
            meta = read_metadata(path)
            if not isinstance(meta, dict):
                raise ValueError("its ArtGen data is not a set of named values")
            settings = Settings.from_dict(meta)
            if "seed" not in meta:
                raise ValueError("it records no seed")
            seed = check_seed(meta["seed"])  # an integer in range: true, 1.9 or 2**63 are refused
            made_with = str(meta.get("model") or "?"), str(meta.get("model_hash") or "")
            frame = frame_from_metadata(meta)  # (seed B, t) for an interpolation frame
        except Exception as e:  # noqa: BLE001 - a dropped file is untrusted: whatever it breaks is a message
            reason = _reason(e)
            for prefix in (f"{path}: ", f"{name}: "):  # the engine names the file; the message already does
                reason = reason.removeprefix(prefix)
            self.show_message(f"Could not restore {name}: {reason}", "error")
            return False
        self.state.set_settings(settings)
        self.state.set_seed(seed)
        note = self._other_model_note(*made_with)
        self.show_message(f"Restored seed {seed} and its settings from {name}.{note}", "warning" if note else "info")
        self.tabs.setCurrentWidget(self.preview)
        if frame is not None:  # that frame, not seed A's own picture
            self.interpolation.show_frame(seed, *frame)
            self.tabs.setCurrentWidget(self.interpolation)
        return True

    def _other_model_note(self, name: str, digest: str) -> str:
        """A sentence when a picture was made by another model than the loaded one ("" when the same)."""
        if self.model is None or not digest or digest == self.model.hash:
            return ""
        return (f" It was made with the model {name} ({digest}); the current model ({self.model.name}) draws "
                "this seed differently.")

    def restore_entry(self, entry: Entry) -> bool:
        try:
            settings = Settings.from_dict(entry.settings)
            seed = check_seed(entry.seed)
        except Exception as e:  # noqa: BLE001 - a hand-edited library file must not crash the app
            self.show_message(f"Could not restore seed {entry.seed}: {_reason(e)}", "error")
            return False
        self.state.set_settings(settings)
        self.state.set_seed(seed)
        self.tabs.setCurrentWidget(self.preview)
        note = self._other_model_note(entry.model or "?", entry.model_hash)
        if note:
            known = [r for r in self.recent_models() if r.get("hash") == entry.model_hash and Path(r["path"]).is_file()]
            if self.model is not None and entry.model_hash and known:
                action, label = f"open-model:{known[0]['path']}", f"Open {entry.model or 'that model'}"
            else:
                action, label = "", ""
            self.message_bar.show_message(f"Restored seed {seed}.{note}", "warning", action, label)
        return True

    def _keep_thumbnail(self, picture: Picture) -> None:
        """A small copy of each picture shown, for the library's rows (history and favourites)."""
        self.library.store_thumbnail(Entry(picture.seed, picture.settings.to_dict(), picture.caption), picture.image)

    def export_selected(self, folder: str | Path | None = None) -> int | None:
        if self.model is None:
            self.show_message("Open a model before exporting.", "warning")
            return None
        seeds = self.state.selection or [self.state.seed]
        if folder is None:
            start = str(existing_folder(self.prefs.get("export_dir") or default_export_dir()))
            folder = QFileDialog.getExistingDirectory(self, f"Export {len(seeds)} picture(s) to folder", start)
            if not folder:
                return None
        self.prefs.set("export_dir", str(folder))
        formats = ("png", "svg") if self.export_svg_action.isChecked() else ("png",)
        request = self.bridge.request_export(seeds, self.state.settings, folder, formats)
        self.export = ExportProgress(self.bridge, request, f"Exporting {len(seeds)} picture(s)", len(seeds), self)
        self.export.ended.connect(self.show_message)
        return request

    # ---- drag and drop -------------------------------------------------------------------------------

    @staticmethod
    def _dropped_files(mime: QMimeData) -> list[Path]:
        return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()
                and Path(u.toLocalFile()).suffix.lower() in (".png", ".svg", ".safetensors")]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_files(event.mimeData()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        if self._dropped_files(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        if self.handle_drop(event.mimeData()):
            event.acceptProposedAction()

    def handle_drop(self, mime: QMimeData) -> bool:
        """A dropped ArtGen PNG restores its seed and settings; a dropped .safetensors opens as the model."""
        files = self._dropped_files(mime)
        if not files:
            return False
        path = files[0]  # several files: the first decides; one picture can be shown at a time
        if path.suffix.lower() == ".safetensors":
            self.open_model(path)
            return True
        return self.restore_from_png(path)

    # ---- shutdown --------------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        self._remember_window()
        if self.finetune_dialog is not None and self.finetune_dialog.is_running():
            self.finetune_dialog.cancel()
            self.finetune_dialog.process.waitForFinished(10_000)
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        if not self._closed:
            self._closed = True
            self._finish_saves()
            self.bridge.shutdown(timeout=5.0)

    def _finish_saves(self, limit_s: float = SAVE_WAIT_S) -> None:
        """An SVG still being saved (on the engine thread) is finished before the thread stops: Save then Quit
        keeps the file."""
        deadline = time.monotonic() + limit_s
        while self.preview.saves_pending() and time.monotonic() < deadline:
            QApplication.processEvents()
            time.sleep(0.02)


def _reason(e: BaseException) -> str:
    """An exception as a reason a person can read (the engine's own messages are already sentences)."""
    if isinstance(e, RecursionError):
        return "its data is nested too deeply"
    if isinstance(e, MemoryError):
        return "it is too large to read"
    text = str(e) or type(e).__name__
    return text if isinstance(e, ValueError) else f"{type(e).__name__}: {text}"
