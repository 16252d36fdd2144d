# arielcal: calibration and time binning of Ariel Data Challenge raw data.
# Rules by phase: rules/common.smk (config, observations, stage chain),
# rules/simulate.smk (demo dataset), rules/calibrate.smk (one rule per stage),
# rules/collect.smk (products and per-split stacks).


configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/simulate.smk"
include: "rules/calibrate.smk"
include: "rules/collect.smk"


rule all:
    default_target: True
    input:
        collect_targets(),
