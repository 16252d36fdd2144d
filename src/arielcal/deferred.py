"""Modules imported on first use, so a job pays only for the libraries its stage touches.

polars (with pyarrow) costs ~0.08 s to import, a third of a small job; matplotlib ~0.35 s.
``formats`` serves every stage, but only some of them read or write parquet.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class DeferredModule:
    """Stands for a module and imports it at the first attribute access."""

    def __init__(self, name: str):
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str):
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)

    def __repr__(self) -> str:
        state = "imported" if self._module is not None else "not imported yet"
        return f"<deferred module {self._name!r}, {state}>"
