"""Small preferences remembered between runs: last folders, last model, page size, window layout."""

from __future__ import annotations

from pathlib import Path

from .userdata import data_dir, read_json, write_json


class Preferences:
    def __init__(self, path: Path | None = None):
        self.path = path or data_dir() / "preferences.json"
        data = read_json(self.path, {})
        self._data: dict = data if isinstance(data, dict) else {}

    def get(self, key: str, default=None):
        return self._data.get(key, default)

    def set(self, key: str, value) -> None:
        if self._data.get(key) == value:
            return
        self._data[key] = value
        try:
            write_json(self.path, self._data)
        except OSError:
            pass  # preferences are a convenience; failing to save them must not interrupt work
