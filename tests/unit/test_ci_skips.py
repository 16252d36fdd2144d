"""Under CI (ARIELCAL_CI=1) a skipped test fails the run; an expected failure stays one."""

from __future__ import annotations

import pytest
from conftest import REPO

pytest_plugins = ["pytester"]

SAMPLE = """
import pytest

def test_skips():
    pytest.skip("tool missing")

@pytest.mark.skipif(True, reason="never here")
def test_skipped_by_marker():
    pass

@pytest.mark.xfail(strict=True, reason="a known bug")
def test_known_bug():
    assert False

def test_passes():
    pass
"""


@pytest.mark.parametrize(
    "ci, outcomes",
    [("1", {"failed": 1, "errors": 1, "xfailed": 1, "passed": 1}), ("", {"skipped": 2, "xfailed": 1, "passed": 1})],
)
def test_skips_fail_only_under_ci(pytester, monkeypatch, ci, outcomes):
    pytester.makeconftest((REPO / "tests" / "conftest.py").read_text())
    pytester.makepyfile(test_sample=SAMPLE)
    monkeypatch.setenv("ARIELCAL_CI", ci)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(**outcomes)
    if ci:
        result.stdout.fnmatch_lines(["*skipped under ARIELCAL_CI=1, where every selected test must run*tool missing*"])
