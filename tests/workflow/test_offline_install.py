"""docs/notebook.md's offline install: wheels built with internet, installed with --no-index in
a fresh virtual environment, and the installed API calibrates like this checkout."""

import io
import subprocess
import sys
import venv

import numpy as np
import pytest
from conftest import REPO, simulate_tiny

import arielcal

pytestmark = pytest.mark.workflow


def test_wheels_install_without_an_index_and_the_api_gives_the_same_bytes(tmp_path):
    wheels, env, data = tmp_path / "wheels", tmp_path / "venv", tmp_path / "data"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(wheels), str(REPO)],
        check=True,
        timeout=900,
    )
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-index", "--find-links", str(wheels), "arielcal"],
        check=True,
        timeout=900,
    )
    simulate_tiny(data, train_planets=1)
    planet = next(p.name for p in (data / "train").iterdir() if p.is_dir())
    script = (
        "import io, sys, numpy as np, arielcal\n"
        "assert 'site-packages' in arielcal.__file__, arielcal.__file__\n"
        f"p = arielcal.calibrate_observation({str(data)!r}, {planet}, 'AIRS-CH0')\n"
        "buffer = io.BytesIO(); np.save(buffer, p.calibrated); sys.stdout.buffer.write(buffer.getvalue())\n"
    )
    installed = subprocess.run(
        [python, "-c", script], check=True, capture_output=True, cwd=tmp_path, timeout=600
    ).stdout
    here = io.BytesIO()
    np.save(here, arielcal.calibrate_observation(data, int(planet), "AIRS-CH0").calibrated)
    assert installed == here.getvalue()
