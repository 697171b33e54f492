"""The main window: controls | gallery | preview, interpolation and library; menus, keys, status bar.

It wires panels to the shared AppState and EngineBridge and handles what spans panels: opening models
and pictures (menus or drag and drop), exporting the selection, messages, the status bar.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, Qt
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QFileDialog,
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

from artgen_desktop.engine import ArtGenError, Settings, bundled_model_path, read_png_metadata

from .bridge import MODEL, EngineBridge, ModelDescription
from .controls import ControlsPanel
from .export_progress import ExportProgress
from .finetune import FineTuneDialog
from .gallery import GalleryPanel
from .interpolation import InterpolationPanel
from .library import Entry, Library
from .library_panel import LibraryPanel
from .message_bar import MessageBar
from .model_box import ModelBox
from .model_summary import ModelSummaryDialog
from .prefs import Preferences
from .preview import PreviewPanel
from .state import AppState
from .userdata import default_export_dir

# widgets where ←/→ already mean something (move a slider, a text cursor, a list row): they keep the keys
ARROW_OWNERS = (QAbstractSlider, QAbstractSpinBox, QComboBox, QLineEdit, QPlainTextEdit, QTextEdit, QTabBar,
                QListWidget)


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
        self._model_request: int | None = None
        self._closed = False

        self.setWindowTitle("ArtGen Desktop")
        self.setAcceptDrops(True)
        self.resize(1440, 900)

        self.message_bar = MessageBar()
        self.controls = ControlsPanel(self.state)
        self.gallery = GalleryPanel(self.state, self.bridge)
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
        layout.addWidget(self.message_bar)
        layout.addWidget(splitter, 1)
        self.setCentralWidget(central)

        self.busy_label = QLabel()
        self.device_label = QLabel("Device: –")
        self.model_label = QLabel("Model: none")
        self.time_label = QLabel("Last generation: –")
        for w in (self.busy_label, self.device_label, self.model_label, self.time_label):
            self.statusBar().addPermanentWidget(w)

        for panel in (self.controls, self.preview, self.interpolation):
            panel.message.connect(self.show_message)
        self.message_bar.action_triggered.connect(self._on_message_action)
        self.library_panel.restore_requested.connect(self.restore_entry)
        self.bridge.model_loaded.connect(self._on_model_loaded)
        self.bridge.failed.connect(self._on_failed)
        self.bridge.timing.connect(lambda s: self.time_label.setText(f"Last generation: {s:.2f} s"))
        self.bridge.busy_changed.connect(lambda busy: self.busy_label.setText("● rendering" if busy else ""))
        self.state.page_changed.connect(lambda _: self.prefs.set("page_size", self.state.page_size))
        self.gallery.refresh()

    # ---- actions and keys ----------------------------------------------------------------------------

    def _action(self, menu, text: str, slot, shortcut: str | QKeySequence.StandardKey | None = None,
                tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
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
        file.addSeparator()
        self._action(file, "Quit", self.close, "Ctrl+Q")

        model = bar.addMenu("&Model")
        self.open_model_action = self._action(model, "Open model…", self.open_model, "Ctrl+M")
        self.summary_action = self._action(model, "Training summary…", self.show_summary)
        self.finetune_action = self._action(model, "Fine-tune…", self.show_finetune)

        seed = bar.addMenu("&Seed")
        self.prev_action = self._action(seed, "Previous seed", lambda: self._arrow(-1), "Left")
        self.next_action = self._action(seed, "Next seed", lambda: self._arrow(1), "Right")
        self.random_action = self._action(seed, "Random seed", self.state.random_seed, "R")
        self._action(seed, "Previous page", lambda: self.state.turn_page(-1), "PgUp")
        self._action(seed, "Next page", lambda: self.state.turn_page(1), "PgDown")
        seed.addSeparator()
        self.favourite_action = self._action(seed, "Favourite on/off", self.preview.toggle_favourite, "F")
        self._action(seed, "Use as interpolation seed A", lambda: self._use_for_interpolation("a"))
        self._action(seed, "Use as interpolation seed B", lambda: self._use_for_interpolation("b"))
        self.gallery.view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        for a in seed.actions()[-2:] + [self.favourite_action, self.export_action]:
            self.gallery.view.addAction(a)

        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "Keyboard shortcuts", lambda: self.show_message(
            "←/→ previous/next seed · R random seed · PgUp/PgDn page · F favourite · Ctrl+S save picture · "
            "Ctrl+E export selected · Ctrl+O open picture · Ctrl+M open model. Drop an ArtGen PNG on the window "
            "to restore its seed and settings.", "info"))

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
        self.state.step_seed(delta)

    def _use_for_interpolation(self, which: str) -> None:
        self.interpolation.set_seeds(**{which: self.state.seed})
        self.tabs.setCurrentWidget(self.interpolation)

    # ---- messages ------------------------------------------------------------------------------------

    def show_message(self, text: str, level: str = "info") -> None:
        if level == "info":
            self.message_bar.show_message(text, level, timeout_ms=6000)
            self.statusBar().showMessage(text, 6000)
        else:
            self.message_bar.show_message(text, level)

    def _on_message_action(self, action: str) -> None:
        if action == "open-model":
            self.open_model()

    def _on_failed(self, request_id: int, channel: str, message: str) -> None:
        if channel == MODEL:
            keep = f" The current model ({self.model.name}) stays loaded." if self.model else ""
            self.message_bar.show_message(f"Could not open the model: {message}.{keep}", "error",
                                          "open-model", "Open model…")
        elif channel != "export":  # exports report through their progress dialog
            self.show_message(f"Could not render: {message}", "error")

    # ---- model -----------------------------------------------------------------------------------------

    def load_initial_model(self, model: str | None) -> None:
        """The model named on the command line, else the bundled one, else the last one opened."""
        if model is not None:
            self.open_model(model)
            return
        if bundled_model_path().exists():
            self.open_model(None)
            return
        last = self.prefs.get("last_model")
        if last and Path(last).is_file():
            self.open_model(last)
            return
        self.message_bar.show_message(
            "No model is loaded: this installation has no bundled default model yet. Open a model file "
            "(.safetensors) to start.", "warning", "open-model", "Open model…")
        self.preview.image_view.set_placeholder("Open a model to see pictures (Model ▸ Open model…)")

    def open_model(self, path: str | Path | None = "") -> int | None:
        """"" asks for a file; None loads the bundled default model."""
        if path == "":
            start = self.prefs.get("last_model") or str(Path.home())
            name, _ = QFileDialog.getOpenFileName(self, "Open model", start, "ArtGen models (*.safetensors)")
            if not name:
                return None
            path = name
        self.model_label.setText(f"Model: loading {Path(path).name if path else 'the default model'}…")
        self._model_request = self.bridge.load_model(path)
        return self._model_request

    def _on_model_loaded(self, desc: ModelDescription) -> None:
        self.model = desc
        self.model_label.setText(f"Model: {desc.name} ({desc.hash})")
        self.model_box.show_model(desc)
        self.model_label.setToolTip(desc.path)
        self.device_label.setText(f"Device: {desc.device}")
        self.setWindowTitle(f"ArtGen Desktop — {desc.name}")
        self.message_bar.clear("warning")
        self.message_bar.clear("error")
        if desc.path and Path(desc.path) != bundled_model_path():
            self.prefs.set("last_model", desc.path)
        if self.summary_dialog is not None:
            self.summary_dialog.close()
            self.summary_dialog = None

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
            start = self.prefs.get("export_dir", str(default_export_dir()))
            name, _ = QFileDialog.getOpenFileName(self, "Open an ArtGen picture", start, "PNG images (*.png)")
            if not name:
                return False
            path = name
        return self.restore_from_png(path)

    def restore_from_png(self, path: str | Path) -> bool:
        """Restores the seed and settings an ArtGen PNG was made with."""
        try:
            meta = read_png_metadata(path)
            settings = Settings.from_dict(meta)
            seed = int(meta["seed"])
        except (ArtGenError, ValueError) as e:
            self.show_message(f"Could not restore from this picture: {e}", "error")
            return False
        self.state.set_settings(settings)
        self.state.set_seed(seed)
        note = ""
        if self.model and meta.get("model_hash") and meta["model_hash"] != self.model.hash:
            note = (f" It was made with model {meta.get('model', '?')} ({meta['model_hash']}); with the current "
                    "model the picture may differ.")
        self.show_message(f"Restored seed {seed} and its settings from {Path(path).name}.{note}",
                          "warning" if note else "info")
        self.tabs.setCurrentWidget(self.preview)
        return True

    def restore_entry(self, entry: Entry) -> None:
        try:
            settings = Settings.from_dict(entry.settings)
        except ArtGenError as e:
            self.show_message(str(e), "error")
            return
        self.state.set_settings(settings)
        self.state.set_seed(entry.seed)
        self.tabs.setCurrentWidget(self.preview)

    def export_selected(self, folder: str | Path | None = None) -> int | None:
        if self.model is None:
            self.show_message("Open a model before exporting.", "warning")
            return None
        seeds = self.state.selection or [self.state.seed]
        if folder is None:
            start = self.prefs.get("export_dir", str(default_export_dir()))
            folder = QFileDialog.getExistingDirectory(self, f"Export {len(seeds)} picture(s) to folder", start)
            if not folder:
                return None
        self.prefs.set("export_dir", str(folder))
        request = self.bridge.request_export(seeds, self.state.settings, folder)
        self.export = ExportProgress(self.bridge, request, f"Exporting {len(seeds)} picture(s)", len(seeds), self)
        self.export.ended.connect(self.show_message)
        return request

    # ---- drag and drop -------------------------------------------------------------------------------

    @staticmethod
    def _dropped_files(mime: QMimeData) -> list[Path]:
        return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()
                and Path(u.toLocalFile()).suffix.lower() in (".png", ".safetensors")]

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
        if self.finetune_dialog is not None and self.finetune_dialog.is_running():
            self.finetune_dialog.cancel()
            self.finetune_dialog.process.waitForFinished(10_000)
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        if not self._closed:
            self._closed = True
            self.bridge.shutdown(timeout=5.0)
