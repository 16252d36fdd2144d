"""Shared fixtures: tiny simulated datasets and a runner for real Snakemake in a temporary directory."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]

# Small enough to run in seconds, large enough for two whole bins of the default bin sizes
# (30 AIRS / 360 FGS1 CDS frames) and for a transit with baseline on both sides.
TINY_FRAMES = {"airs_frames": 120, "fgs1_frames": 1440}


# Under CI (.ci/run sets ARIELCAL_CI=1) every test CI selects must run: a skip there means a tool
# CI installs is missing or a test turned a regression into a skip, so it fails the run.
CI = os.environ.get("ARIELCAL_CI") == "1"


def _fail_skip_under_ci(report) -> None:
    if CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under ARIELCAL_CI=1, where every selected test must run: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_skip_under_ci(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_skip_under_ci(outcome.get_result())


def simulate_tiny(out: Path, train_planets: int, test_planets: int = 0) -> None:
    """A tiny dataset (TINY_FRAMES) written by the simulator's command line, as a user would."""
    subprocess.run(
        [sys.executable, "-m", "arielcal.simulate", "--out", str(out), "--train-planets", str(train_planets),
         "--test-planets", str(test_planets), "--airs-frames", str(TINY_FRAMES["airs_frames"]),
         "--fgs1-frames", str(TINY_FRAMES["fgs1_frames"])],
        check=True,
        capture_output=True,
    )  # fmt: skip


def default_config() -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())


def merged(base: dict, overrides: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def tiny_simulation(**overrides) -> dict:
    return {
        **default_config()["simulation"],
        **TINY_FRAMES,
        "train_planets": 1,
        "test_planets": 1,
        **overrides,
    }


class Workflow:
    """A working directory with its own config.yaml, driven by the repository's Snakefile."""

    def __init__(self, workdir: Path, config: dict):
        self.workdir = workdir
        self.config = config
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "config.yaml").write_text(yaml.safe_dump(config))

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [
            *SNAKEMAKE,
            "--snakefile",
            str(REPO / "Snakefile"),
            "--directory",
            str(self.workdir),
            "--cores",
            "2",
            *args,
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        if check and done.returncode != 0:
            raise AssertionError(
                f"snakemake {' '.join(args)} failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-8000:]}"
            )
        return done

    def planned(self, *args: str) -> dict[str, int]:
        """Dry run: the job count of each rule, from Snakemake's job stats table."""
        out = self.run("-n", *args).stdout
        table = out.split("Job stats:", 1)[1].split("total", 1)[0] if "Job stats:" in out else ""
        return {
            words[0]: int(words[1])
            for words in map(str.split, table.splitlines())
            if len(words) == 2 and words[1].isdigit()
        }

    def path(self, *parts) -> Path:
        return self.workdir.joinpath(*map(str, parts))


@pytest.fixture
def make_workflow(tmp_path):
    def _make(name: str = "wf", **overrides) -> Workflow:
        return Workflow(tmp_path / name, merged(default_config(), overrides))

    return _make


class FakeSnakemake:
    """The ``snakemake`` object a script sees, built from Snakemake's own Namedlist."""

    def __init__(self, *, input, output, params=None, wildcards=None, log, threads=1):
        from snakemake.iocontainers import Namedlist

        def named(mapping, files=True):
            """Like Snakemake: file lists are flattened, their name spanning the range."""
            out = Namedlist()
            for name, value in mapping.items():
                start = len(out)
                if files and isinstance(value, list):
                    out.extend(map(str, value))
                else:
                    out.append(str(value) if isinstance(value, Path) else value)
                out._set_name(name, start, len(out) if files and isinstance(value, list) else None)
            return out

        self.input = named(input)
        self.output = named(output)
        self.params = named(params or {}, files=False)
        self.wildcards = named(wildcards or {}, files=False)
        self.log = Namedlist([str(log)])
        self.threads = threads
        self.resources = named({}, files=False)
        self.config = {}
        self.rule = "fake"


def run_script(name: str, **kwargs) -> FakeSnakemake:
    """Run ``scripts/<name>.py`` as Snakemake would, with a fake ``snakemake`` object."""
    import runpy

    smk = FakeSnakemake(**kwargs)
    runpy.run_path(str(REPO / "scripts" / f"{name}.py"), init_globals={"snakemake": smk}, run_name="__main__")
    return smk


CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=10000",
)


def render_in_chromium(page: Path, scratch: Path):
    """Open an HTML page in headless Chromium: (visible text after its JavaScript ran, screenshot
    pixels at 1400x1000). Skips when no Chromium is installed."""
    import numpy as np

    chromium = next((path for path in map(shutil.which, CHROMIUM_NAMES) if path), None)
    if chromium is None:
        pytest.skip("headless Chromium not installed (Debian: apt-get install -y chromium)")

    def browse(*args):
        profile = scratch / f"chromium-profile{len(list(scratch.iterdir()))}"
        profile.mkdir()
        return subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
            capture_output=True,
            text=True,
            timeout=180,
        )

    dom = browse("--dump-dom").stdout
    visible = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    visible = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", visible))
    screenshot = scratch / "chromium-screenshot.png"
    browse("--window-size=1400,1000", f"--screenshot={screenshot}")
    assert screenshot.is_file(), "Chromium wrote no screenshot"
    import matplotlib.pyplot as plt

    return visible, np.asarray(plt.imread(screenshot))[..., :3]
