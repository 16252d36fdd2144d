"""The two places where the workflow reaches into Snakemake below its documented API, kept here
so that a Snakemake release that changes them fails one test (tests/unit/test_snakemake_shim.py)
instead of silently slowing or breaking runs. They are why pyproject pins snakemake < 10.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

try:
    from snakemake.common import overwrite_function_params
except ImportError:  # a Snakemake without the hook: signatures are inspected at every call
    overwrite_function_params = None


def fixed_signature(func: Callable) -> Callable:
    """Mark an input, params or unpack function of a rule: Snakemake inspects the signature of
    such a function twice at every call, i.e. in every job (about 2 s of the 1100-planet dry run);
    this hands it the signature once, through the hook its own wrappers (snakemake.ioutils) use."""
    if overwrite_function_params is not None:
        overwrite_function_params(func, inspect.signature(func).parameters)
    return func


def drop_benchmark(rule) -> None:
    """Remove a rule's benchmark after it was defined. Snakemake refuses cache-eligible rules
    with a benchmark and has no syntax for an optional one; Rule.benchmark's property setter
    cannot unset it, so its private attribute is cleared (before the cache check runs)."""
    rule._benchmark = None
