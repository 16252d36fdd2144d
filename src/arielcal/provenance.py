"""Provenance of every meta.json: checksums of raw inputs (each file version hashed once; large
parquet files by their footer), sizes of intermediates, package versions (once per process: jobs
share one, arielcal.jobs)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import platform
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

import numpy as np

from . import formats

# Raw inputs are checksummed; our own intermediates are only sized (they are re-derivable).
_CHECKSUMMED_SUFFIXES = (".parquet", ".csv")
_VERSIONED = ("arielcal", "numpy", "polars", "pyarrow", "pandas", "astropy", "snakemake")


# A full-size signal parquet (100-300 MB) takes ~0.15-0.3 s to hash, a third of a fused job, and
# the first run hashes every one of them. Above this size a parquet file is identified by its
# size and the sha256 of its footer instead: the schema and, for every column chunk, its offset,
# compressed size and statistics, so an edit of the data changes it in practice (not by
# construction, as a content hash would).
FOOTER_DIGEST_BYTES = 16 << 20
_PARQUET_MAGIC = b"PAR1"

# Content digests are computed once per file version (size, mtime, inode) and reused by every
# later job and run. Relative to the run's working directory, as every job's cwd.
CHECKSUM_CACHE = Path(".snakemake") / "arielcal" / "sha256"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cached_sha256(path: Path, cache: Path = CHECKSUM_CACHE) -> str:
    """The sha256 of ``path``, computed once per file version (size, mtime, inode) per cache."""
    real = Path(os.path.realpath(path))
    stat = real.stat()
    version = {"path": str(real), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns, "inode": stat.st_ino}
    entry = cache / (hashlib.sha1(str(real).encode()).hexdigest() + ".json")
    with contextlib.suppress(OSError, ValueError, KeyError, AttributeError):  # absent or damaged
        known = formats.load_json(entry)
        if {key: known.get(key) for key in version} == version:
            return known["sha256"]
    digest = sha256_of(real)
    with contextlib.suppress(OSError):  # a read-only working directory only loses the cache
        entry.parent.mkdir(parents=True, exist_ok=True)
        formats.save_json(entry, {**version, "sha256": digest})
    return digest


def parquet_footer(path: Path) -> bytes | None:
    """The serialized footer (FileMetaData) of a parquet file, or None if it has none."""
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size < 12:
            return None
        fh.seek(size - 8)
        tail = fh.read(8)
        length = int.from_bytes(tail[:4], "little")
        if tail[4:] != _PARQUET_MAGIC or length > size - 12:
            return None
        fh.seek(size - 8 - length)
        return fh.read(length)


def file_record(path: str | os.PathLike) -> dict:
    path = Path(path)
    record = {"path": str(path), "bytes": path.stat().st_size}
    if path.suffix not in _CHECKSUMMED_SUFFIXES:
        return record
    footer = parquet_footer(path) if path.suffix == ".parquet" and record["bytes"] > FOOTER_DIGEST_BYTES else None
    if footer is not None:
        record["footer_sha256"] = hashlib.sha256(footer).hexdigest()
    else:
        record["sha256"] = cached_sha256(path)
    return record


@functools.cache
def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in _VERSIONED:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def versions() -> dict[str, str]:
    """Python's and the packages' versions (looked up once per process)."""
    return dict(_versions())


def jsonable(value):
    """``value`` with numpy scalars as Python numbers and non-finite floats as strings (JSON-safe)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    return value
