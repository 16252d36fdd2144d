# arielcal: calibration and time binning of Ariel Data Challenge raw data.
# Rules by phase: rules/common.smk (config, observations, stage chain),
# rules/simulate.smk (demo dataset), rules/calibrate.smk (staged mode: one rule per stage)
# or rules/fused.smk (fused mode: one job per observation),
# rules/collect.smk (per-split stacks, rejected observations), rules/science.smk
# (variance, light curves, transit depths, QC figures, injection-recovery).

import gc

# Snakemake builds the DAG of a competition-size dataset (26 000 jobs) from millions of
# long-lived objects, which CPython's default collector thresholds (700, 10, 10) traverse
# again and again: 7 s (15%) of the 1100-planet dry run (bench/dag_scale.py). Collect less
# often; cycles are still freed, peak RSS is unchanged.
gc.set_threshold(50_000, 20, 10)


configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/simulate.smk"


if config["mode"] == "staged":

    include: "rules/calibrate.smk"

else:

    include: "rules/fused.smk"


include: "rules/collect.smk"
include: "rules/inpaint.smk"
include: "rules/science.smk"


drop_benchmarks_of_cached_rules()


rule all:
    default_target: True
    input:
        collect_targets()
        + science_targets()
        + REPORT_TARGETS
        + (
            observation_products("calibrated_inpainted.npy")
            if config.get("inpaint", False)
            else []
        ),


# The run's end: no scheduling pass is left, so the scheduler's pending timers are cancelled
# (~1 s of waiting at exit otherwise, arielcal.snakemake_shim).
onsuccess:
    write_failure_summary()
    snakemake_shim.cancel_rescheduling_timers()


onerror:
    salvage_stacks()
    write_failure_summary()
    snakemake_shim.cancel_rescheduling_timers()
