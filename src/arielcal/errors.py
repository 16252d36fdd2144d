"""The one error type for bad input: it names the file, what was expected and what was found."""

from __future__ import annotations

import os


class InputError(Exception):
    """Bad input data or configuration.

    The message always reads ``<path>: expected <expected>, found <found>`` so a
    user can fix the file without reading a traceback.
    """

    def __init__(self, path: str | os.PathLike | None, expected: str, found: str):
        self.path = None if path is None else os.fspath(path)
        self.expected = expected
        self.found = found
        where = self.path if self.path is not None else "<input>"
        super().__init__(f"{where}: expected {expected}, found {found}")
