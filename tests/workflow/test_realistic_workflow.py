"""The workflow on a realistic simulation (cosmic rays, saturating stars, jitter, drift, limb
darkening, grazing transits): staged and fused mode give the same bytes, the outlier stage's
counts reach meta.json, saturated pixels are excluded, and the in-painted product fills them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import tiny_simulation

from arielcal.dq import DQ

pytestmark = pytest.mark.workflow

PRODUCT = ("calibrated.npy", "dq.npy", "nvalid.npy")


def test_realistic_data_staged_equals_fused(make_workflow):
    simulation = tiny_simulation(realistic=True, airs_frames=600, fgs1_frames=7200, train_planets=1, test_planets=0)
    common = {"splits": ["train"], "binning": {"AIRS-CH0": 5, "FGS1": 60}, "science": {"extract": False}}
    staged = make_workflow("staged", simulation=simulation, inpaint=True, **common)
    staged.run()
    data = str(staged.path(simulation["out_dir"]))
    fused = make_workflow("fused", mode="fused", data_dir=data, **common)
    fused.run()
    found = sorted(p.parent for p in staged.path("results").glob("*/*/*/*/calibrated.npy"))
    assert len(found) == 2
    for obs in found:
        rel = obs.relative_to(staged.workdir)
        for name in PRODUCT:
            assert (fused.workdir / rel / name).read_bytes() == (obs / name).read_bytes(), rel / name
        meta = json.loads((obs / "meta.json").read_text())
        fused_meta = json.loads((fused.workdir / rel / "meta.json").read_text())
        (stage,) = [s for s in meta["stages"] if s["stage"] == "outliers"]
        (fused_stage,) = [s for s in fused_meta["stages"] if s["stage"] == "outliers"]
        assert stage["rejected_frames"] == fused_stage["rejected_frames"] > 0
        dq = np.load(obs / "dq.npy")
        assert meta["dq_counts"]["JUMP_DET"] == np.count_nonzero(dq & DQ.JUMP_DET) > 0
        saturated = (dq & DQ.SATURATED) != 0
        assert saturated.any() and np.all(dq[saturated] & DQ.DO_NOT_USE)
        n_valid = np.load(obs / "nvalid.npy")
        assert np.all(n_valid[:, saturated] == 0)
        calibrated = np.load(obs / "calibrated.npy")
        inpainted = np.load(obs / "calibrated_inpainted.npy")
        assert np.isnan(calibrated).any() and not np.isnan(inpainted).any()
        finite = np.isfinite(calibrated)
        np.testing.assert_array_equal(inpainted[finite], calibrated[finite])
