"""bench/dag_scale.py's tree stays a dataset the workflow accepts: its dry run plans every job.

The benchmark broke silently once (its empty placeholder files failed the pre-run checks); this
runs its tree builder at a small size so that the next such change fails here instead."""

from __future__ import annotations

import importlib.util

import pytest
from conftest import REPO, Workflow, default_config, merged

pytestmark = pytest.mark.workflow


def test_dag_scale_tree_is_a_valid_dataset(tmp_path):
    spec = importlib.util.spec_from_file_location("dag_scale", REPO / "bench" / "dag_scale.py")
    dag_scale = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dag_scale)
    observations = dag_scale.build_tree(tmp_path / "data", planets=3, two_visit=1)
    assert observations == 8  # (3 planets + 1 second visit) x 2 instruments
    wf = Workflow(tmp_path / "run", merged(default_config(), {"data_dir": str(tmp_path / "data"), "splits": ["train"]}))
    planned = wf.planned()
    assert {planned[stage] for stage in ("adc", "mask", "linearity", "dark", "cds", "outliers", "bin", "flat")} == {8}
    assert planned["transit"] == 4 and planned["stack"] == 2
