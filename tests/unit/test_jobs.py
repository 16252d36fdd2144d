"""In-process jobs (arielcal.jobs): a script runs with ``snakemake`` bound, fails without ending the
scheduler's thread, and concurrent jobs keep their own logs."""

import threading

import pytest
from snakemake.iocontainers import Namedlist

from arielcal import jobs, steps


def _job(tmp_path, name, **params):
    return jobs.Job(
        input=Namedlist(),
        output=Namedlist(),
        params=Namedlist(fromdict=params),
        wildcards=Namedlist(fromdict={"planet": name}),
        threads=1,
        resources=Namedlist(),
        log=Namedlist([str(tmp_path / f"{name}.log")]),
        rule="probe",
    )


def test_script_sees_the_job_as_snakemake(tmp_path):
    script = tmp_path / "probe.py"
    script.write_text(
        "from pathlib import Path\nPath(snakemake.log[0]).write_text(snakemake.rule + str(snakemake.params.n))\n"
    )
    jobs.run_script(script, _job(tmp_path, "1", n=7))
    assert (tmp_path / "1.log").read_text() == "probe7"


def test_an_error_exit_becomes_an_exception_with_the_message(tmp_path):
    script = tmp_path / "fails.py"
    script.write_text("raise SystemExit('arielcal adc: signal.parquet: expected uint16, found float32')\n")
    with pytest.raises(jobs.JobFailed, match="signal.parquet: expected uint16"):
        jobs.run_script(script, _job(tmp_path, "1"))
    script.write_text("raise SystemExit(0)\n")
    jobs.run_script(script, _job(tmp_path, "1"))


def test_concurrent_steps_write_only_their_own_log(tmp_path):
    barrier = threading.Barrier(2)

    def run(name):
        with steps.step(_job(tmp_path, name), "probe"):
            barrier.wait()
            steps.log.info("message of %s", name)
            barrier.wait()

    threads = [threading.Thread(target=run, args=(name,)) for name in ("1", "2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for mine, other in (("1", "2"), ("2", "1")):
        text = (tmp_path / f"{mine}.log").read_text()
        assert f"message of {mine}" in text and f"message of {other}" not in text
        assert "probe done in" in text
    assert not steps.log.handlers
