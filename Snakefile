# arielcal: calibration and time binning of Ariel Data Challenge raw data.
# Rules by phase: rules/common.smk (config, observations, stage chain),
# rules/simulate.smk (demo dataset), rules/calibrate.smk (staged mode: one rule per stage)
# or rules/fused.smk (fused mode: one job per observation),
# rules/collect.smk (products and per-split stacks).


configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/simulate.smk"


if config["mode"] == "staged":

    include: "rules/calibrate.smk"

else:

    include: "rules/fused.smk"


include: "rules/collect.smk"


drop_benchmarks_of_cached_rules()


rule all:
    default_target: True
    input:
        collect_targets(),


onsuccess:
    write_failure_summary()


onerror:
    write_failure_summary()
