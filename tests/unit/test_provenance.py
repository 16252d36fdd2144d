"""Input checksums in every meta.json: right, and computed once per file version."""

import hashlib
import os

from arielcal import provenance


def test_checksum_is_the_files_sha256_and_is_reused_until_the_file_changes(tmp_path):
    cache = tmp_path / "cache"
    data = tmp_path / "signal.parquet"
    data.write_bytes(b"first version")
    stat = data.stat()
    assert provenance.cached_sha256(data, cache) == hashlib.sha256(b"first version").hexdigest()
    assert len(list(cache.iterdir())) == 1

    # Same size and mtime: the cached digest is used, the file is not read again.
    data.write_bytes(b"other version")
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert provenance.cached_sha256(data, cache) == hashlib.sha256(b"first version").hexdigest()

    # A new mtime is a new version: hashed again.
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert provenance.cached_sha256(data, cache) == hashlib.sha256(b"other version").hexdigest()


def test_damaged_cache_entry_is_recomputed(tmp_path):
    cache = tmp_path / "cache"
    data = tmp_path / "adc_info.csv"
    data.write_text("a,b\n1,2\n")
    provenance.cached_sha256(data, cache)
    (entry,) = cache.iterdir()
    for damaged in ("{not json", "[1, 2]", '{"path": "x"}'):
        entry.write_text(damaged)
        assert provenance.cached_sha256(data, cache) == hashlib.sha256(b"a,b\n1,2\n").hexdigest()


def test_file_record_checksums_raw_inputs_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dark.parquet").write_bytes(b"map")
    (tmp_path / "adc.npy").write_bytes(b"cube")
    raw = provenance.file_record(tmp_path / "dark.parquet")
    assert raw == {"path": str(tmp_path / "dark.parquet"), "bytes": 3, "sha256": hashlib.sha256(b"map").hexdigest()}
    assert provenance.file_record(tmp_path / "adc.npy") == {"path": str(tmp_path / "adc.npy"), "bytes": 4}
    assert (tmp_path / provenance.CHECKSUM_CACHE).is_dir()


def test_large_parquet_is_recorded_by_its_footer_digest(tmp_path, monkeypatch):
    import numpy as np
    import polars as pl
    import pyarrow.parquet as pq

    path = tmp_path / "AIRS-CH0_signal.parquet"
    pl.from_numpy(np.arange(40, dtype=np.uint16).reshape(10, 4), schema=["a", "b", "c", "d"]).write_parquet(path)
    monkeypatch.setattr(provenance, "FOOTER_DIGEST_BYTES", 0)
    footer = provenance.parquet_footer(path)
    assert len(footer) == pq.read_metadata(path).serialized_size
    record = provenance.file_record(path)
    assert record == {
        "path": str(path),
        "bytes": path.stat().st_size,
        "footer_sha256": hashlib.sha256(footer).hexdigest(),
    }

    # Another value changes the column chunk's statistics, and so the digest.
    pl.from_numpy(np.arange(1, 41, dtype=np.uint16).reshape(10, 4), schema=["a", "b", "c", "d"]).write_parquet(path)
    assert provenance.file_record(path)["footer_sha256"] != record["footer_sha256"]


def test_file_without_a_parquet_footer_gets_its_content_digest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(provenance, "FOOTER_DIGEST_BYTES", 0)
    for content in (b"short", b"not a parquet file at all, no magic"):
        (tmp_path / "dark.parquet").write_bytes(content)
        assert provenance.file_record(tmp_path / "dark.parquet")["sha256"] == hashlib.sha256(content).hexdigest()
