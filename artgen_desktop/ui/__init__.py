"""The desktop app (Qt only; never touches tensors). How the modules split, after krita-ai-diffusion:

State (QObjects with signals, no widgets):
  state.py          AppState: current seed, settings, gallery page, selection
  library.py        favourites and history, persisted in the user data folder
  prefs.py          small preferences (last folders, last model, page size)
  userdata.py       where user files live (platformdirs; ARTGEN_DATA_DIR overrides)
The engine bridge (the only module that calls the engine, from its one worker thread):
  bridge.py         requests with ids, coalescing per channel, results as QImage + strings
Widgets:
  main_window.py    layout, menus, keys, status bar, drag and drop, open/export
  gallery.py, gallery_model.py   the seed grid (a QListView over a list model)
  preview.py, controls.py, interpolation.py, library_panel.py, model_box.py
  style_row.py      the style picker's live previews (the current picture in every style)
  finetune.py       the trainer as a child process;  model_summary.py, export_progress.py,
  message_bar.py, seed_box.py, image_view.py, images.py   small parts
Start-up:
  app.py            run(model, device) -> int, on a plain Qt event loop
"""

import ctypes
import sys

if sys.version_info < (3, 12) and sys.implementation.name == "cpython":
    # PySide6 6.12 on Python 3.11 drops a reference to None on some C++ -> Python returns
    # (measured: QModelIndex.data() yielding None, -1 each call); over a long session (or the test
    # run) None's count reaches zero and the interpreter aborts with "deallocating None". Python 3.12
    # made None immortal; give it a count no session can drain. Remove when PySide6 is fixed.
    ctypes.c_ssize_t.from_address(id(None)).value += 1 << 40
