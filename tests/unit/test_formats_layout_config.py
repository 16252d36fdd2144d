"""Format readers, dataset discovery and config validation on tiny hand-made files."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import default_config

from arielcal import config, formats, layout
from arielcal.errors import InputError
from arielcal.instruments import AIRS, FGS1


def test_signal_round_trip_is_pixel_major_without_copy(tmp_path):
    cube = np.arange(32 * 32 * 4, dtype=np.uint16).reshape(32, 32, 4)
    formats.write_signal(tmp_path / "s.parquet", cube)
    column = pq.ParquetFile(tmp_path / "s.parquet").schema.column(5)
    assert (column.name, column.physical_type, column.converted_type) == ("column_5", "INT32", "UINT_16")
    back = formats.read_signal(tmp_path / "s.parquet", FGS1)
    assert back.flags.c_contiguous and back.dtype == np.uint16
    np.testing.assert_array_equal(back, cube)
    np.testing.assert_array_equal(formats.read_signal(tmp_path / "s.parquet", FGS1, (3, 7)), cube[:, 3:7])


def test_signal_column_names_are_row_major():
    names = formats.signal_column_names(AIRS, (39, 41))
    assert names[:3] == ["column_39", "column_40", "column_395"]


@pytest.mark.parametrize(
    "content, found",
    [
        (b"not a parquet file", "readable parquet"),
        (None, "no such file"),
    ],
)
def test_bad_signal_file_is_named(tmp_path, content, found):
    path = tmp_path / "AIRS-CH0_signal.parquet"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=found) as err:
        formats.read_signal(path, AIRS)
    assert str(path) in str(err.value)


def test_wrong_column_count_and_odd_frames(tmp_path):
    formats.write_signal(tmp_path / "s.parquet", np.zeros((32, 32, 4), np.uint16))
    with pytest.raises(InputError, match="11392 columns"):
        formats.read_signal(tmp_path / "s.parquet", AIRS)
    formats.write_signal(tmp_path / "odd.parquet", np.zeros((32, 32, 3), np.uint16))
    with pytest.raises(InputError, match="even number of frames"):
        formats.read_signal(tmp_path / "odd.parquet", FGS1)


def test_adc_table_both_editions_and_float_ids(tmp_path):
    header = "planet_id,FGS1_adc_offset,FGS1_adc_gain,AIRS-CH0_adc_offset,AIRS-CH0_adc_gain,star\n"
    (tmp_path / "a.csv").write_text(header + "1103775.0,-343.3,0.83,-778.9,0.92,1\n")
    table = formats.read_adc_table(tmp_path / "a.csv")
    assert formats.adc_constants(table, 1103775, AIRS, tmp_path / "a.csv") == (0.92, -778.9)
    with pytest.raises(InputError, match="row for planet_id 5"):
        formats.adc_constants(table, 5, AIRS, tmp_path / "a.csv")
    (tmp_path / "g.csv").write_text(
        "FGS1_adc_offset,FGS1_adc_gain,AIRS-CH0_adc_offset,AIRS-CH0_adc_gain\n-1000.0,0.4369,-1000.0,0.4369\n"
    )
    assert formats.adc_constants(formats.read_adc_table(tmp_path / "g.csv"), 7, FGS1, "g") == (0.4369, -1000.0)
    (tmp_path / "d.csv").write_text(header + "1,-1,1,-1,1,0\n1,-1,1,-1,1,0\n")
    with pytest.raises(InputError, match="duplicated planet_id"):
        formats.read_adc_table(tmp_path / "d.csv")
    (tmp_path / "z.csv").write_text(header + "1,-1,1,-1,0,0\n")
    with pytest.raises(InputError, match="finite positive AIRS-CH0_adc_gain"):
        formats.adc_constants(formats.read_adc_table(tmp_path / "z.csv"), 1, AIRS, "z.csv")


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.npy"
    with pytest.raises(RuntimeError), formats.atomic_path(target) as tmp:
        tmp.write_bytes(b"partial")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def _touch_planet(root, split, planet, names):
    folder = root / split / str(planet)
    folder.mkdir(parents=True)
    for name in names:
        (folder / name).touch()


def test_discovery_2024_and_2025(tmp_path):
    old = tmp_path / "2024"
    _touch_planet(old, "train", 20, ["AIRS-CH0_signal.parquet", "FGS1_signal.parquet"])
    _touch_planet(old, "train", 3, ["FGS1_signal.parquet"])
    (old / "train" / "notes").mkdir()
    (old / "train_adc_info.csv").touch()
    edition, found = layout.discover(old, ["train"])
    assert edition == 2024
    # Planet 3 lacks its AIRS signal: the observation exists and reports the missing file.
    assert [(o.planet_id, o.visit, o.instrument) for o in found] == [
        (3, 0, "AIRS-CH0"),
        (3, 0, "FGS1"),
        (20, 0, "AIRS-CH0"),
        (20, 0, "FGS1"),
    ]
    missing = layout.missing_inputs(old, 2024, found[0])
    assert missing[0] == old / "train" / "3" / "AIRS-CH0_signal.parquet" and len(missing) == 6

    new = tmp_path / "2025"
    _touch_planet(
        new, "test", 1103775, ["AIRS-CH0_signal_0.parquet", "AIRS-CH0_signal_1.parquet", "FGS1_signal_0.parquet"]
    )
    (new / "adc_info.csv").touch()
    edition, found = layout.discover(new, ["test"], instruments=["AIRS-CH0"])
    assert edition == 2025 and [o.visit for o in found] == [0, 1]
    first_missing = layout.missing_inputs(new, 2025, found[1])[0]
    assert first_missing.relative_to(new).as_posix() == "test/1103775/AIRS-CH0_calibration_1/dark.parquet"
    assert layout.signal_file(new, 2025, "test", 1103775, 1, "FGS1").name == "FGS1_signal_1.parquet"


def test_discovery_errors_name_the_problem(tmp_path):
    with pytest.raises(InputError, match="no such directory"):
        layout.discover(tmp_path / "missing", ["train"])
    with pytest.raises(InputError, match="neither"):
        layout.discover(tmp_path, ["train"])
    (tmp_path / "train_adc_info.csv").touch()
    _touch_planet(tmp_path, "train", 1, ["AIRS-CH0_signal_0.parquet"])
    with pytest.raises(InputError, match="other edition"):
        layout.discover(tmp_path, ["train"])
    (tmp_path / "train" / "1" / "AIRS-CH0_signal_0.parquet").unlink()
    (tmp_path / "test").mkdir()
    with pytest.raises(InputError, match="test: expected planet folders"):
        layout.discover(tmp_path, ["train", "test"])


def test_default_config_is_valid_and_errors_name_keys():
    cfg = default_config()
    assert config.problems(cfg) == []
    cfg["binning"]["FGS1"] = 0
    cfg["bad_pixels"]["hot"] = "mask"
    cfg["airs_columns"] = [300, 39]
    found = config.problems(cfg)
    assert any(p.startswith("config key 'binning.FGS1'") for p in found)
    assert any(p.startswith("config key 'bad_pixels.hot'") for p in found)
    assert any("start 300 must be below stop 39" in p for p in found)
    with pytest.raises(InputError, match="binning.FGS1"):
        config.validate(cfg)


def test_command_line_planet_ids_become_integers():
    cfg = default_config()
    cfg["planets"] = ["785834", 12, "0123", "0785834"]  # what `--config planets=[785834,12,...]` may give
    config.normalize(cfg)
    assert cfg["planets"] == [785834, 12, 123, 785834] and config.problems(cfg) == []


# --------------------------------------------------------------------------- issue 12: strict names, physics


def _map_frame(values: np.ndarray, names=None):
    import polars as pl

    values = values.reshape(-1, values.shape[-1])
    names = names or [f"column_{i}" for i in range(values.shape[1])]
    return pl.DataFrame({name: values[:, i] for i, name in enumerate(names)})


def test_calibration_map_is_read_by_name_whatever_the_stored_order(tmp_path):
    values = np.arange(32 * 32, dtype=np.float64).reshape(32, 32)
    frame = _map_frame(values)
    frame.select(list(reversed(frame.columns))).write_parquet(tmp_path / "dark.parquet")
    assert pq.ParquetFile(tmp_path / "dark.parquet").schema.column(0).name == "column_31"
    np.testing.assert_array_equal(formats.read_calibration(tmp_path / "dark.parquet", FGS1, "dark"), values)
    coefficients = np.arange(6 * 32 * 32, dtype=np.float64).reshape(6, 32, 32)
    frame = _map_frame(coefficients)
    frame.select(frame.columns[5:] + frame.columns[:5]).write_parquet(tmp_path / "lin.parquet")
    np.testing.assert_array_equal(formats.read_calibration(tmp_path / "lin.parquet", FGS1, "linear_corr"), coefficients)


@pytest.mark.parametrize(
    "rename, found",
    [
        ({"column_7": "colunm_7"}, "found unexpected column 'colunm_7' (position 7)"),
        ({"column_7": " column_7"}, "found column ' column_7' (position 7) with stray spaces"),
        ({"column_31": "column_32"}, "found unexpected column 'column_32' (position 31)"),
    ],
)
def test_calibration_map_wrong_names_name_the_first_wrong_one(tmp_path, rename, found):
    frame = _map_frame(np.ones((32, 32)))
    frame.rename(rename).write_parquet(tmp_path / "flat.parquet")
    with pytest.raises(InputError) as err:
        formats.read_calibration(tmp_path / "flat.parquet", FGS1, "flat")
    assert str(err.value) == (
        f"{tmp_path / 'flat.parquet'}: expected 32 columns column_0..column_31 (FGS1 flat), {found}"
    )


def test_calibration_map_missing_and_extra_columns(tmp_path):
    frame = _map_frame(np.ones((32, 33)))
    frame.write_parquet(tmp_path / "extra.parquet")
    with pytest.raises(InputError, match=r"found unexpected column 'column_32' \(position 32\)$"):
        formats.read_calibration(tmp_path / "extra.parquet", FGS1, "flat")
    frame.drop("column_3", "column_32").write_parquet(tmp_path / "short.parquet")
    with pytest.raises(InputError, match=r"found no column 'column_3' \(31 columns\)$"):
        formats.read_calibration(tmp_path / "short.parquet", FGS1, "flat")


def test_signal_columns_out_of_order_name_the_first_misplaced_one(tmp_path):
    cube = np.zeros((32, 32, 2), np.uint16)
    formats.write_signal(tmp_path / "s.parquet", cube)
    import polars as pl

    frame = pl.read_parquet(tmp_path / "s.parquet")
    names = frame.columns
    frame.select(names[:40] + [names[41], names[40]] + names[42:]).write_parquet(tmp_path / "swapped.parquet")
    with pytest.raises(InputError) as err:
        formats.read_signal(tmp_path / "swapped.parquet", FGS1)
    assert str(err.value).endswith("found column 'column_41' at position 40, where 'column_40' belongs")
    assert str(err.value).startswith(f"{tmp_path / 'swapped.parquet'}: expected 1024 columns column_0..column_1023")


def test_null_samples_in_a_signal_are_named(tmp_path):
    import polars as pl

    formats.write_signal(tmp_path / "s.parquet", np.ones((32, 32, 4), np.uint16))
    frame = pl.read_parquet(tmp_path / "s.parquet")
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 2).then(None).otherwise(pl.col("column_9")).alias("column_9")
    )
    assert frame.schema["column_9"] == pl.UInt16
    frame.write_parquet(tmp_path / "nulls.parquet")
    with pytest.raises(InputError) as err:
        formats.read_signal(tmp_path / "nulls.parquet", FGS1)
    assert str(err.value) == (
        f"{tmp_path / 'nulls.parquet'}: expected uint16 samples (no null samples), "
        "found 1 null samples, first in column 'column_9' (1 there)"
    )


def _axis(n_airs=8, n_fgs1=16):
    return {
        "AIRS-CH0-axis0-h": np.arange(n_airs, dtype=float),
        formats.AXIS_WAVELENGTH: np.linspace(4, 2, 356),
        formats.AXIS_INTEGRATION: np.tile([0.1, 4.5], n_airs // 2),
        "FGS1-axis0-h": np.arange(n_fgs1, dtype=float),
    }


def test_axis_info_interior_nan_is_named_not_counted(tmp_path):
    columns = _axis()
    formats.write_axis_info(tmp_path / "axis_info.parquet", columns, n_rows=400)
    read = formats.read_axis_info(tmp_path / "axis_info.parquet")
    assert {name: values.size for name, values in read.items()} == {
        "AIRS-CH0-axis0-h": 8,
        formats.AXIS_WAVELENGTH: 356,
        formats.AXIS_INTEGRATION: 8,
        "FGS1-axis0-h": 16,
    }
    columns["FGS1-axis0-h"][5] = np.nan
    formats.write_axis_info(tmp_path / "bad.parquet", columns, n_rows=400)
    with pytest.raises(InputError) as err:
        formats.read_axis_info(tmp_path / "bad.parquet")
    assert str(err.value) == (
        f"{tmp_path / 'bad.parquet'}: expected finite values in column 'FGS1-axis0-h' followed only by null padding, "
        "found 1 interior NaN/null value(s) among its 16 values, first at row 5"
    )


def test_axis_info_columns_by_name(tmp_path):
    import pandas as pd

    columns = {name: np.pad(v, (0, 400 - v.size), constant_values=np.nan) for name, v in _axis().items()}
    pd.DataFrame(dict(reversed(list(columns.items())))).to_parquet(tmp_path / "reordered.parquet", index=False)
    np.testing.assert_array_equal(
        formats.read_axis_info(tmp_path / "reordered.parquet")["FGS1-axis0-h"], np.arange(16.0)
    )
    renamed = {("FGS1-axis0-h " if name == "FGS1-axis0-h" else name): v for name, v in columns.items()}
    pd.DataFrame(renamed).to_parquet(tmp_path / "spaces.parquet", index=False)
    with pytest.raises(InputError, match=r"found column 'FGS1-axis0-h ' \(position 3\) with stray spaces$"):
        formats.read_axis_info(tmp_path / "spaces.parquet")


ADC_HEADER = "planet_id,FGS1_adc_offset,FGS1_adc_gain,AIRS-CH0_adc_offset,AIRS-CH0_adc_gain,star\n"


@pytest.mark.parametrize(
    "header, row, instrument, found",
    [
        (
            ADC_HEADER,
            "1,-343.3,0.83,-778.9,-0.92,1",
            AIRS,
            "expected a finite positive AIRS-CH0_adc_gain for planet 1, found -0.92",
        ),
        # gain and offset swapped
        (
            ADC_HEADER,
            "1,0.83,-343.3,-778.9,0.92,1",
            FGS1,
            "expected a finite positive FGS1_adc_gain for planet 1, found -343.3",
        ),
        (
            ADC_HEADER,
            "1,-343.3,inf,-778.9,0.92,1",
            FGS1,
            "expected a finite positive FGS1_adc_gain for planet 1, found inf",
        ),
    ],
)
def test_adc_gain_must_be_positive(tmp_path, header, row, instrument, found):
    (tmp_path / "a.csv").write_text(header + row + "\n")
    with pytest.raises(InputError) as err:
        formats.adc_constants(formats.read_adc_table(tmp_path / "a.csv"), 1, instrument, tmp_path / "a.csv")
    assert str(err.value) == f"{tmp_path / 'a.csv'}: {found}"


@pytest.mark.parametrize(
    "header, found",
    [
        (
            "planet_id,FGS1_adc_offset, FGS1_adc_gain,AIRS-CH0_adc_offset,AIRS-CH0_adc_gain,star",
            "found column ' FGS1_adc_gain' (position 2) with stray spaces",
        ),
        (
            "planet_id,FGS1_adc_offset,FGS1_adc_gain,AIRS-CH0_adc_offset,AIRS_CH0_adc_gain,star",
            "found unexpected column 'AIRS_CH0_adc_gain' (position 4)",
        ),
    ],
)
def test_adc_header_problems_are_named(tmp_path, header, found):
    (tmp_path / "a.csv").write_text(header + "\n1,-343.3,0.83,-778.9,0.92,1\n")
    with pytest.raises(InputError) as err:
        formats.read_adc_table(tmp_path / "a.csv")
    assert str(err.value).endswith(found) and str(err.value).startswith(f"{tmp_path / 'a.csv'}: expected the columns")


@pytest.mark.parametrize(
    "kind, edit, found_in",
    [
        (
            "dark",
            lambda v: v.fill(np.nan),
            "expected at least one pixel with a finite value in columns 39..320 (dark map)",
        ),
        (
            "flat",
            lambda v: v.fill(0.0),
            "expected at least one pixel with a finite positive value in columns 39..320 (flat map)",
        ),
        # Usable pixels outside the science columns only: still no usable pixel for the observation.
        (
            "flat",
            lambda v: v[:, 39:321].fill(-1.0),
            "expected at least one pixel with a finite positive value in columns 39..320 (flat map)",
        ),
    ],
)
def test_map_without_a_usable_pixel_is_rejected(tmp_path, kind, edit, found_in):
    values = np.ones((32, 356))
    edit(values)
    formats.write_calibration(tmp_path / f"{kind}.parquet", values)
    formats.read_calibration(tmp_path / f"{kind}.parquet", AIRS, kind)  # no columns: no physics check
    with pytest.raises(InputError) as err:
        formats.read_calibration(tmp_path / f"{kind}.parquet", AIRS, kind, (39, 321))
    assert str(err.value) == f"{tmp_path / f'{kind}.parquet'}: {found_in}, found no usable pixel"


def test_a_directory_in_place_of_a_file_is_said_so(tmp_path):
    (tmp_path / "dark.parquet").mkdir()
    (tmp_path / "adc.csv").mkdir()
    (tmp_path / "c.npy").mkdir()
    for read in (
        lambda: formats.read_calibration(tmp_path / "dark.parquet", FGS1, "dark"),
        lambda: formats.read_adc_table(tmp_path / "adc.csv"),
        lambda: formats.load_npy(tmp_path / "c.npy"),
    ):
        with pytest.raises(InputError, match=r"found a directory \(this path is a directory, not a file\)$"):
            read()


def test_truncated_npy_is_detected_from_its_header(tmp_path):
    formats.save_npy(tmp_path / "c.npy", np.ones((4, 5, 6), np.float32))
    assert formats.npy_damage(tmp_path / "c.npy") is None
    data = (tmp_path / "c.npy").read_bytes()
    (tmp_path / "c.npy").write_bytes(data[:-7])
    assert formats.npy_damage(tmp_path / "c.npy") == (
        f"{len(data) - 7} bytes where its header (4, 5, 6) float32 needs {len(data)} (truncated or damaged)"
    )
    with pytest.raises(InputError, match=r"c.npy: expected a complete .npy array, found .* \(truncated or damaged\)$"):
        formats.load_npy(tmp_path / "c.npy")
    (tmp_path / "c.npy").write_bytes(b"junk")
    assert formats.npy_damage(tmp_path / "c.npy").startswith("an unreadable .npy header")


def test_zip_archive_as_data_dir_says_extract_it(tmp_path):
    import zipfile

    from arielcal import preflight

    with zipfile.ZipFile(tmp_path / "ariel-data-challenge-2024.zip", "w") as archive:
        archive.writestr("train_adc_info.csv", "x")
    with pytest.raises(InputError) as err:
        preflight.check_data_dir(tmp_path / "ariel-data-challenge-2024.zip")
    assert str(err.value) == (
        f"{tmp_path / 'ariel-data-challenge-2024.zip'}: expected a competition data directory, found a zip archive: "
        "extract it (unzip it into a folder) and set data_dir to that folder"
    )
    preflight.check_data_dir(tmp_path)  # a directory passes


def test_planet_folder_with_leading_zero_is_named_as_it_is(tmp_path):
    from arielcal import preflight

    _touch_planet(tmp_path, "train", "0785834", ["AIRS-CH0_signal.parquet"])
    (tmp_path / "train_adc_info.csv").touch()
    edition, found = layout.discover(tmp_path, ["train"], instruments=["AIRS-CH0"])
    reasons = preflight.rejections(tmp_path, edition, found)
    assert reasons == {
        found[0]: f"{tmp_path / 'train' / '0785834'}: expected a planet folder named 785834 (its integer id, "
        "no leading zeros), found '0785834': rename it to 785834"
    }


def test_a_directory_in_place_of_a_signal_is_rejected_as_such(tmp_path):
    from arielcal import preflight

    _touch_planet(tmp_path, "train", 5, [])
    (tmp_path / "train" / "5" / "FGS1_signal.parquet").mkdir()
    (tmp_path / "train_adc_info.csv").touch()
    edition, found = layout.discover(tmp_path, ["train"], instruments=["FGS1"])
    (reason,) = preflight.rejections(tmp_path, edition, found).values()
    assert reason == (
        f"{tmp_path / 'train' / '5' / 'FGS1_signal.parquet'}: expected an existing file, found a directory "
        "(this path is a directory, not a file) (and 5 more files of this observation)"
    )


def test_command_line_values_take_the_yaml_types():
    from snakemake.cli import parse_config

    cfg = default_config()
    given = parse_config(
        [
            "keep_intermediates=true",
            "airs_columns=[39,300]",
            "stages={mask: false}",
            "planets=[785834, 12]",
            "data_dir=/data/2024",
            "mode=fused",
            "simulation={edition: 2025}",
        ]
    )
    assert given["keep_intermediates"] == "true" and given["airs_columns"] == ["39", "300"]  # what Snakemake hands over
    for key, value in given.items():
        cfg[key] = {**cfg[key], **value} if isinstance(value, dict) else value
    config.normalize(cfg)
    assert cfg["keep_intermediates"] is True
    assert cfg["airs_columns"] == [39, 300]
    assert cfg["stages"]["mask"] is False and cfg["stages"]["dark"] is True
    assert cfg["planets"] == [785834, 12]
    assert cfg["data_dir"] == "/data/2024" and cfg["mode"] == "fused"
    assert cfg["simulation"]["edition"] == 2025
    assert config.problems(cfg) == []
    cfg["keep_intermediates"] = "maybe"
    config.normalize(cfg)
    assert config.problems(cfg) == ["config key 'keep_intermediates': 'maybe' is not of type 'boolean'"]


def test_integers_mean_integers():
    cfg = default_config()
    cfg["airs_columns"] = [39.0, 321.0]
    cfg["binning"]["FGS1"] = 360.0
    assert config.problems(cfg) == [
        "config key 'airs_columns.0': 39.0 is not of type 'integer'",
        "config key 'airs_columns.1': 321.0 is not of type 'integer'",
        "config key 'binning.FGS1': 360.0 is not of type 'integer'",
    ]
    cfg = default_config()
    cfg["keep_intermediates"] = 1
    cfg["hot_pixels"]["maxiters"] = True
    assert config.problems(cfg) == [
        "config key 'hot_pixels.maxiters': True is not of type 'integer'",
        "config key 'keep_intermediates': 1 is not of type 'boolean'",
    ]


def test_planets_in_none_of_the_splits_stop_the_run():
    config.unknown_planets(None, {1, 2}, ["train"], "data")
    config.unknown_planets({1}, {1, 2}, ["train"], "data")
    with pytest.raises(InputError) as err:
        config.unknown_planets({1, 785843, 99}, {1, 2}, ["train", "test"], "data")
    assert (
        str(err.value)
        == "data: expected every requested planet in the splits ['train', 'test'], found no planet folder for 99, 785843"
    )


# --------------------------------------------------------------------------- write errors in words


def test_a_write_error_names_the_file_and_the_cause(tmp_path):
    import errno

    target = tmp_path / "out" / "cube.npy"
    with pytest.raises(formats.FileError) as err, formats.atomic_path(target) as tmp:
        tmp.write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "fwrite failed")
    assert str(err.value) == f"{target}: cannot write: No space left on device"
    assert err.value.errno == errno.ENOSPC
    assert list((tmp_path / "out").iterdir()) == []


def test_numpys_short_write_on_a_full_disk_is_said_in_words(tmp_path, monkeypatch):
    import os
    from types import SimpleNamespace

    def short_write(*args, **kwargs):
        raise OSError("1082880 requested and 618464 written")

    monkeypatch.setattr(np, "save", short_write)
    monkeypatch.setattr(os, "statvfs", lambda _: SimpleNamespace(f_bavail=0, f_frsize=4096))
    with pytest.raises(formats.FileError) as err:
        formats.save_npy(tmp_path / "c.npy", np.zeros(3))
    assert str(err.value) == (
        f"{tmp_path / 'c.npy'}: cannot write: No space left on device (1082880 requested and 618464 written)"
    )
    assert list(tmp_path.iterdir()) == []


def test_unexpected_errors_are_described_with_their_file():
    import errno

    from arielcal import failures

    assert (
        failures.describe(PermissionError(errno.EACCES, "x", "/r/dark.parquet")) == "/r/dark.parquet: Permission denied"
    )
    assert failures.describe(OSError(errno.EIO, "x")) == "OSError: Input/output error"
    assert failures.describe(ValueError("bad")) == "ValueError: bad"


@pytest.mark.skipif(not hasattr(np, "save") or __import__("os").geteuid() != 0, reason="mounting a tmpfs needs root")
def test_a_real_full_disk(tmp_path):
    import subprocess

    full = tmp_path / "full"
    full.mkdir()
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(full)], capture_output=True, timeout=30
    ).returncode:
        pytest.skip("cannot mount a tmpfs")
    try:
        # numpy's short write ("N requested and M written", no errno), said in words from the free space
        with pytest.raises(
            formats.FileError,
            match=r"big.npy: cannot write: No space left on device \(100000 requested and \d+ written\)$",
        ):
            formats.save_npy(full / "big.npy", np.zeros(100_000))
        with (
            pytest.raises(formats.FileError, match=r"stack.npy: cannot write: No space left on device$"),
            formats.npy_writer(full / "stack.npy", (100_000,), np.float32) as out,
        ):
            out[:] = 1.0
        assert list(full.iterdir()) == []
    finally:
        subprocess.run(["umount", str(full)], timeout=30)


def test_dataset_wide_layout_defects_stop_the_run_but_one_bad_observation_does_not(tmp_path):
    from arielcal import preflight

    observations = [layout.Observation("train", planet, 0, "FGS1") for planet in (1, 2, 3)]
    for obs in observations:
        for kind in layout.CALIBRATION_MAPS:
            rows = 192 if kind == "linear_corr" else 32
            values = np.zeros((rows, 32), bool) if kind == "dead" else np.ones((rows, 32))
            formats.write_calibration(
                layout.calibration_file(tmp_path, 2024, "train", obs.planet_id, 0, "FGS1", kind), values
            )
    flat = {p: layout.calibration_file(tmp_path, 2024, "train", p, 0, "FGS1", "flat") for p in (1, 2, 3)}
    preflight.check_layouts(tmp_path, 2024, observations)
    formats.write_calibration(flat[1], np.ones((33, 32)))
    preflight.check_layouts(tmp_path, 2024, observations)  # the first only: left to its stage
    dark = layout.calibration_file(tmp_path, 2024, "train", 3, 0, "FGS1", "dark")
    formats.write_calibration(dark, np.ones((32, 31)))
    preflight.check_layouts(tmp_path, 2024, observations)  # another file wrong in the last: per observation
    formats.write_calibration(dark, np.ones((32, 32)))
    formats.write_calibration(flat[3], np.ones((33, 32)))
    with pytest.raises(InputError) as err:
        preflight.check_layouts(tmp_path, 2024, observations)
    assert (
        str(err.value)
        == f"{flat[1]}: expected 32 rows (FGS1 flat), found 33 rows (and so does the last of its 3 observations)"
    )
    with pytest.raises(InputError, match=r"found 33 rows$"):
        preflight.check_layouts(tmp_path, 2024, observations[:1])


def test_axis_info_lengths_and_binning_against_the_frames(tmp_path):
    from arielcal import preflight

    formats.write_axis_info(tmp_path / "axis_info.parquet", _axis(n_airs=8, n_fgs1=16), n_rows=400)
    assert preflight.check_dataset(tmp_path, ["AIRS-CH0", "FGS1"], {"AIRS-CH0": 4, "FGS1": 8}) == {
        "AIRS-CH0": 8,
        "FGS1": 16,
    }
    with pytest.raises(InputError) as err:
        preflight.check_dataset(tmp_path, ["FGS1"], {"AIRS-CH0": 4, "FGS1": 9})
    assert str(err.value) == (
        f"{tmp_path / 'axis_info.parquet'}: expected at least binning.FGS1 = 9 CDS frames per observation, "
        "found 8 CDS frames (16 FGS1 raw frames)"
    )
    preflight.check_dataset(tmp_path, ["FGS1"], None)  # no binning: any length
    columns = _axis(n_airs=8, n_fgs1=16)
    columns[formats.AXIS_INTEGRATION] = columns[formats.AXIS_INTEGRATION][:6]
    formats.write_axis_info(tmp_path / "axis_info.parquet", columns, n_rows=400)
    with pytest.raises(
        InputError,
        match=r"expected as many 'AIRS-CH0-integration_time' values as 'AIRS-CH0-axis0-h' time stamps \(8\), found 6$",
    ):
        preflight.check_dataset(tmp_path, ["AIRS-CH0"], None)


def test_a_damaged_json_sidecar_is_named(tmp_path):
    (tmp_path / "meta.json").write_text('{"stage": "adc"')
    with pytest.raises(InputError, match=r"meta.json: expected a readable JSON file, found JSONDecodeError: "):
        formats.load_json(tmp_path / "meta.json")
    with pytest.raises(ValueError):  # still what json raises, for callers that expect it
        formats.load_json(tmp_path / "meta.json")
    with pytest.raises(FileNotFoundError):
        formats.load_json(tmp_path / "nothing.json")
