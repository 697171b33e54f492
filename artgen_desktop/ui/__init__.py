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
  finetune.py       the trainer as a child process;  model_summary.py, export_progress.py,
  message_bar.py, seed_box.py, image_view.py, images.py   small parts
Start-up:
  app.py            run(model, device) -> int, on a qasync event loop
"""
