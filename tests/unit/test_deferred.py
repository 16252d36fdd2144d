"""Stages that never touch parquet must not pay for polars (bench/job_cost.py)."""

import subprocess
import sys

from arielcal.deferred import DeferredModule


def imported_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_step_wrapper_imports_neither_polars_nor_pyarrow_nor_matplotlib():
    modules = imported_after("import arielcal.steps, arielcal.calib, arielcal.science")
    assert "arielcal.steps" in modules
    assert not {"polars", "pyarrow", "matplotlib", "numba"} & modules


def test_reading_parquet_still_imports_polars():
    modules = imported_after("from arielcal import formats; formats.pl.DataFrame")
    assert "polars" in modules


def test_deferred_module_imports_on_first_attribute():
    deferred = DeferredModule("json")
    assert "not imported yet" in repr(deferred)
    assert deferred.dumps([1]) == "[1]"
    assert "imported" in repr(deferred) and "not" not in repr(deferred)
