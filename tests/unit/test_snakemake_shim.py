"""The Snakemake internals arielcal.snakemake_shim relies on are still there and still work."""

from snakemake.common import get_input_function_aux_params
from snakemake.rules import Rule

from arielcal import snakemake_shim


def test_fixed_signature_is_what_snakemake_reads():
    def inputs(wildcards, attempt):
        return []

    snakemake_shim.fixed_signature(inputs)
    assert snakemake_shim.overwrite_function_params is not None, "snakemake.common.overwrite_function_params is gone"
    assert set(get_input_function_aux_params(inputs, {"wildcards": 1, "attempt": 2, "threads": 3})) == {"wildcards", "attempt"}


def test_drop_benchmark_clears_what_rule_benchmark_returns():
    assert isinstance(Rule.__dict__.get("benchmark"), property), "Rule.benchmark is no longer a property"

    class Probe:
        benchmark = Rule.__dict__["benchmark"]
        _benchmark = "benchmarks/x.tsv"

    probe = Probe()
    snakemake_shim.drop_benchmark(probe)
    assert probe.benchmark is None
