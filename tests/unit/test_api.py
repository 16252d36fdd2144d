"""The notebook API's defaults are the workflow's (config.yaml), and it refuses what it can't do."""

import pytest
from conftest import default_config

import arielcal
from arielcal import api


def test_api_defaults_are_the_workflow_defaults():
    config = default_config()
    assert {
        "stages": config["stages"],
        "airs_columns": config["airs_columns"],
        "binning": config["binning"],
        "second_read_extra_s": config["integration_time"]["second_read_extra_s"],
        "hot_pixels": config["hot_pixels"],
        "bad_pixels": config["bad_pixels"],
        "outliers": config["outliers"],
    } == api.DEFAULTS


def test_unknown_settings_and_instruments_are_refused(tmp_path):
    with pytest.raises(TypeError, match="unknown settings \\['binnning'\\]"):
        arielcal.calibrate_observation(tmp_path, 1, "AIRS-CH0", binnning=10)
    with pytest.raises(ValueError, match="instrument: expected one of"):
        arielcal.calibrate_observation(tmp_path, 1, "AIRS")


def test_missing_dataset_names_the_directory(tmp_path):
    with pytest.raises(arielcal.errors.InputError, match="no such directory"):
        arielcal.calibrate_observation(tmp_path / "nowhere", 1, "FGS1")


def test_package_import_stays_light():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", "import arielcal, sys; print('numpy' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "False"  # jobs set thread limits after `import arielcal`, before numpy
