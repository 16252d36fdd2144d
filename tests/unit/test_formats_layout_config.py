"""Format readers, dataset discovery and config validation on tiny hand-made files."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from arielcal import config, formats, layout
from arielcal.errors import InputError
from arielcal.instruments import AIRS, FGS1
from conftest import default_config


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
    (tmp_path / "g.csv").write_text("FGS1_adc_offset,FGS1_adc_gain,AIRS-CH0_adc_offset,AIRS-CH0_adc_gain\n-1000.0,0.4369,-1000.0,0.4369\n")
    assert formats.adc_constants(formats.read_adc_table(tmp_path / "g.csv"), 7, FGS1, "g") == (0.4369, -1000.0)
    (tmp_path / "d.csv").write_text(header + "1,-1,1,-1,1,0\n1,-1,1,-1,1,0\n")
    with pytest.raises(InputError, match="duplicated planet_id"):
        formats.read_adc_table(tmp_path / "d.csv")
    (tmp_path / "z.csv").write_text(header + "1,-1,1,-1,0,0\n")
    with pytest.raises(InputError, match="non-zero AIRS-CH0_adc_gain"):
        formats.adc_constants(formats.read_adc_table(tmp_path / "z.csv"), 1, AIRS, "z.csv")


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.npy"
    with pytest.raises(RuntimeError):
        with formats.atomic_path(target) as tmp:
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
        (3, 0, "AIRS-CH0"), (3, 0, "FGS1"), (20, 0, "AIRS-CH0"), (20, 0, "FGS1")
    ]
    missing = layout.missing_inputs(old, 2024, found[0])
    assert missing[0] == old / "train" / "3" / "AIRS-CH0_signal.parquet" and len(missing) == 6

    new = tmp_path / "2025"
    _touch_planet(new, "test", 1103775, ["AIRS-CH0_signal_0.parquet", "AIRS-CH0_signal_1.parquet", "FGS1_signal_0.parquet"])
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
    cfg["planets"] = ["785834", 12]  # what `--config planets=[785834,12]` may give
    config.normalize(cfg)
    assert cfg["planets"] == [785834, 12] and config.problems(cfg) == []
