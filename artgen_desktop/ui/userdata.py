"""Where the app keeps its files (platformdirs), and small atomic JSON reads/writes for them.

ARTGEN_DATA_DIR overrides the folder, so tests and portable installs never touch the real one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from platformdirs import user_data_dir, user_pictures_dir

APP_NAME = "artgen-desktop"


def data_dir() -> Path:
    override = os.environ.get("ARTGEN_DATA_DIR")
    path = Path(override) if override else Path(user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    path = data_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_export_dir() -> Path:
    """Where file dialogs start the first time: an existing folder (a dialog shown a missing one says
    "Directory not found"). ~/Pictures/ArtGen once it exists, else ~/Pictures, else home; nothing is
    created until the artist picks a folder."""
    if os.environ.get("ARTGEN_DATA_DIR"):  # keep tests and portable installs self-contained
        return existing_folder(data_dir() / "exports")
    return existing_folder(Path(user_pictures_dir()) / "ArtGen")


def existing_folder(path: str | Path | None) -> Path:
    """`path` if it is a folder, else its nearest existing parent folder, else home."""
    if path:
        p = Path(path).expanduser()
        for candidate in (p, *p.parents):
            try:
                if candidate.is_dir() and candidate != Path(candidate.anchor):
                    return candidate
            except OSError:
                continue
    return Path.home()


def read_json(path: Path, default):
    """A missing or damaged file gives `default`: user data must never stop the app from starting."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def write_json(path: Path, value) -> None:
    """Temp file + rename, so a crash mid-write keeps the previous file whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(value, f, indent=1, ensure_ascii=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
