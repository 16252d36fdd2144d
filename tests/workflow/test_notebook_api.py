"""The notebook API gives the workflow's products, to the byte, and opens what it wrote."""

import io

import numpy as np
import pytest
from conftest import TINY_FRAMES, Workflow, default_config, merged, simulate_tiny

import arielcal


def npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    data = root / "data"
    simulate_tiny(data, train_planets=2)
    runs = {}
    for mode in ("staged", "fused"):
        config = merged(
            default_config(), {"data_dir": str(data), "mode": mode, "splits": ["train"], "science": {"extract": False}}
        )
        wf = Workflow(root / mode, config)
        wf.run()
        runs[mode] = wf
    return data, runs


@pytest.mark.parametrize("mode", ["staged", "fused"])
def test_calibrate_observation_equals_the_workflow_product_byte_for_byte(dataset, mode):
    data, runs = dataset
    results = runs[mode].path("results", "train")
    planets = sorted(p.name for p in results.iterdir() if p.is_dir())
    assert len(planets) == 2
    for planet in planets:
        for instrument in ("AIRS-CH0", "FGS1"):
            product = arielcal.calibrate_observation(data, int(planet), instrument)
            directory = results / planet / "0" / instrument
            for name in ("calibrated", "dq", "nvalid"):
                assert npy_bytes(getattr(product, name)) == (directory / f"{name}.npy").read_bytes(), (
                    planet,
                    instrument,
                    name,
                )
            written = arielcal.open_product(directory)
            for key in ("axes", "shape", "columns", "wavelength_um", "time_h", "dq_counts", "excluded_pixels"):
                assert product.meta[key] == written.meta[key], key
            np.testing.assert_array_equal(product.time_h, written.time_h)
            if instrument == "AIRS-CH0":
                assert product.wavelength_um.shape == (282,) and np.all(np.diff(product.wavelength_um) < 0)
            else:
                assert product.wavelength_um is None


def test_settings_reach_the_calibration(dataset):
    data, _ = dataset
    planet = sorted(p.name for p in (data / "train").iterdir() if p.is_dir())[0]
    default = arielcal.calibrate_observation(data, int(planet), "AIRS-CH0")
    coarse = arielcal.calibrate_observation(data, int(planet), "AIRS-CH0", binning=60, airs_columns=[39, 300])
    assert coarse.calibrated.shape == (default.calibrated.shape[0] // 2, 261, 32)
    unbinned = arielcal.calibrate_observation(data, int(planet), "FGS1", stages={"bin": False})
    assert unbinned.nvalid is None and unbinned.calibrated.shape[0] == TINY_FRAMES["fgs1_frames"] // 2


def test_open_split_gives_stacks_with_their_axes(dataset):
    _, runs = dataset
    split = arielcal.open_split(runs["staged"].path("results"), "train")
    assert len(split.observations) == 2
    assert split.stacks["AIRS-CH0"].shape[:1] == (2,) and split.stacks["FGS1"].shape[0] == 2
    assert split.wavelength_um.shape == (split.stacks["AIRS-CH0"].shape[2],)
    assert split.time_h["AIRS-CH0"].shape == (split.stacks["AIRS-CH0"].shape[1],)
    with pytest.raises(arielcal.errors.InputError, match="observations.csv"):
        arielcal.open_split(runs["staged"].path("results"), "test")
