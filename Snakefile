# arielcal: calibration and time binning of Ariel Data Challenge raw data.
# Rules by phase: rules/common.smk (config, observations, stage chain),
# rules/simulate.smk (demo dataset), rules/calibrate.smk (staged mode: one rule per stage)
# or rules/fused.smk (fused mode: one job per observation),
# rules/collect.smk (per-split stacks, rejected observations), rules/science.smk
# (variance, light curves, transit depths, QC figures, injection-recovery).


configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/simulate.smk"


if config["mode"] == "staged":

    include: "rules/calibrate.smk"

else:

    include: "rules/fused.smk"


include: "rules/collect.smk"
include: "rules/science.smk"


drop_benchmarks_of_cached_rules()


rule all:
    default_target: True
    input:
        collect_targets() + science_targets(),


onsuccess:
    write_failure_summary()


onerror:
    write_failure_summary()
