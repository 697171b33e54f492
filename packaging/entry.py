"""The frozen app's entry point: `ArtGen [artgen arguments]` behaves like `artgen`."""

import multiprocessing

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen child process started by multiprocessing runs its task, not the app
    from artgen_desktop.cli import main

    raise SystemExit(main())
